//! Map areas: the points inside a latitude/longitude box, or, when there are too many, their
//! exact counts and centroids per H3 cell (clusters).
//!
//! The shops are kept sorted by their resolution-9 cell. An H3 index orders its digits from the
//! coarsest resolution down, so every cell's descendants are one contiguous run of that order,
//! at every resolution. Over those runs sits a hierarchy of nodes, one per non-empty cell at
//! resolutions 0 to [`FINEST`], each holding the bounding box of its shops' coordinates and a
//! tally (count and fixed-point coordinate sums) per service and status. A query walks the
//! hierarchy: a node whose shops' box misses the query box is skipped, one whose box lies inside
//! it is taken whole from its tally, and only nodes cut by the box's edge are opened, down to
//! resolution-7 nodes whose shops are checked one by one. The node boxes are the shops' own
//! coordinates, not the cells' outlines, so no H3 approximation (a child cell sticks out of its
//! parent) can make a count wrong: the answer is the brute-force scan's, to the last point.
//!
//! Centroids are sums of coordinates in units of 1e-7 degree held as integers, so a tally
//! taken from nodes and one taken point by point are the same number, in any order, and the
//! index can subtract a changed shop exactly. Filters the tallies cannot know (open at an
//! instant, free slots, staged stock) make the walk check every shop inside the box instead.
//!
//! Shops added or moved since the last build are not in the sorted runs; they are checked one
//! by one on every query, as the k-d tree's `extra` list is (the index rebuilds both past
//! [`super::REBUILD_AFTER`] of them).
//!
//! Kept in one file past 500 lines: the runs, the node tallies, their incremental updates and
//! the walk share one invariant (a node's tallies are exactly its run's shops) that is easier
//! to check read together; the tests are in `search_tests.rs`.

use super::{found_as, GeoIndex, IndexedShop, SearchFilter, Slot, ACTIVE, HIDDEN, PAUSED};
use crate::network::hours::local_weekday_minute;
use chrono_tz::Tz;
use h3o::{CellIndex, LatLng, Resolution};
use rayon::prelude::*;

/// Finest resolution with nodes; below it shops are checked one by one (a resolution-7 cell
/// is about 5 km², a few hundred shops at most in the densest city of the seed networks).
const FINEST: usize = 7;
/// Tallies kept per node: one per service (4), and one for any service, each for active and
/// paused shops.
const CLASSES: usize = 10;
/// The class pair of "any service".
const ANY_SERVICE: usize = 4;
/// Degrees to the fixed-point units of the centroid sums.
const FIXED: f64 = 1e7;
/// Cells wanted across the longer side of a box when clustering.
const CELLS_ACROSS: f64 = 12.0;

/// A map area in degrees. `west > east` means the box crosses the antimeridian (as a GeoJSON
/// bbox does, RFC 7946 § 5.2): it holds longitudes from `west` to 180 and from -180 to `east`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Western longitude, -180 to 180.
    pub west: f64,
    /// Southern latitude, -90 to 90.
    pub south: f64,
    /// Eastern longitude, -180 to 180.
    pub east: f64,
    /// Northern latitude, -90 to 90, above `south`.
    pub north: f64,
}

impl BoundingBox {
    /// Whether a coordinate lies inside the box, edges included.
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let lon_in = if self.west <= self.east {
            (self.west..=self.east).contains(&lon)
        } else {
            self.west <= lon || lon <= self.east
        };
        lon_in && (self.south..=self.north).contains(&lat)
    }

    /// The box as one or two boxes that do not cross the antimeridian.
    fn parts(&self) -> impl Iterator<Item = BoundingBox> {
        let (a, b) = if self.west <= self.east {
            (*self, None)
        } else {
            (
                BoundingBox {
                    east: 180.0,
                    ..*self
                },
                Some(BoundingBox {
                    west: -180.0,
                    ..*self
                }),
            )
        };
        std::iter::once(a).chain(b)
    }

    /// The H3 resolution whose cells fit the box: about a dozen cells across its longer side,
    /// from 0 (a continent) to 9 (a street).
    pub fn cluster_resolution(&self) -> Resolution {
        let lon_span = if self.west <= self.east {
            self.east - self.west
        } else {
            360.0 - (self.west - self.east)
        };
        let mid_lat = ((self.south + self.north) / 2.0).to_radians();
        let width_km = lon_span * 111.32 * mid_lat.cos().max(0.01);
        let height_km = (self.north - self.south) * 110.57;
        let size = width_km.max(height_km);
        Resolution::range(Resolution::Zero, Resolution::Nine)
            .find(|r| size / (3f64.sqrt() * r.edge_length_km()) >= CELLS_ACROSS)
            .unwrap_or(Resolution::Nine)
    }
}

/// One cluster: the matching shops of one H3 cell inside the box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    /// The H3 cell (at the answer's resolution).
    pub cell: u64,
    /// How many matching shops of the cell lie inside the box.
    pub count: u32,
    /// Their mean latitude, degrees (sums in 1e-7 degree units).
    pub lat: f64,
    /// Their mean longitude, degrees.
    pub lon: f64,
}

/// What a box holds.
#[derive(Debug, Clone)]
pub enum AreaAnswer<'a> {
    /// At most the filter's `limit` shops: all of them, in no particular order.
    Points(Vec<&'a IndexedShop>),
    /// More than that: every matching shop counted in its cell, cells in index order.
    Clusters {
        /// The cells' resolution.
        resolution: Resolution,
        /// The cells with at least one matching shop inside the box.
        clusters: Vec<Cluster>,
    },
}

/// Count and coordinate sums of a set of shops.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tally {
    count: u32,
    lat: i64,
    lon: i64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.count += other.count;
        self.lat += other.lat;
        self.lon += other.lon;
    }

    fn sub(&mut self, other: Tally) {
        self.count -= other.count;
        self.lat -= other.lat;
        self.lon -= other.lon;
    }

    fn of(lat: f64, lon: f64) -> Self {
        Self {
            count: 1,
            lat: (lat * FIXED).round() as i64,
            lon: (lon * FIXED).round() as i64,
        }
    }

    /// The cluster of these shops (the mean of the fixed-point coordinates).
    pub(super) fn cluster(&self, cell: u64) -> Cluster {
        let n = f64::from(self.count.max(1));
        Cluster {
            cell,
            count: self.count,
            lat: self.lat as f64 / n / FIXED,
            lon: self.lon as f64 / n / FIXED,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct AreaPoint {
    cell: u64,
    lat: f64,
    lon: f64,
    slot: u32,
    found_as: u8,
    services: u8,
}

#[derive(Debug, Clone)]
struct Node {
    cell: u64,
    /// Shops of the cell: `points[start..end]`.
    start: u32,
    end: u32,
    /// Child nodes at the next level: `levels[r + 1][first_child..end_child]`.
    first_child: u32,
    end_child: u32,
    /// Bounding box of the shops' coordinates (kept when shops leave: still a bound).
    south: f64,
    north: f64,
    west: f64,
    east: f64,
    tallies: [Tally; CLASSES],
}

impl Node {
    fn misses(&self, b: &BoundingBox) -> bool {
        self.north < b.south || self.south > b.north || self.east < b.west || self.west > b.east
    }

    fn inside(&self, b: &BoundingBox) -> bool {
        b.south <= self.south && self.north <= b.north && b.west <= self.west && self.east <= b.east
    }
}

/// The sorted runs and their node hierarchy; see the module documentation.
#[derive(Debug, Default, Clone)]
pub(super) struct AreaIndex {
    points: Vec<AreaPoint>,
    levels: Vec<Vec<Node>>,
    /// Position in `points` of each slot's shop, or `u32::MAX`.
    position: Vec<u32>,
    /// Slots added since the build, checked one by one.
    extra: Vec<u32>,
}

/// The classes a shop counts in: one per service it offers, active or paused.
fn classes(found: u8, services: u8) -> impl Iterator<Item = usize> {
    let paused = usize::from(found == PAUSED);
    (0..=ANY_SERVICE)
        .filter(move |&s| found != HIDDEN && (s == ANY_SERVICE || services & (1 << s) != 0))
        .map(move |s| s * 2 + paused)
}

/// The parent of a cell at `res` (bit operations on a valid index, as h3o's own).
fn parent(cell: u64, res: u8) -> u64 {
    let cell_res = ((cell >> 52) & 0xf) as u8;
    if res >= cell_res {
        return cell;
    }
    let unused = (1u64 << ((15 - u64::from(res)) * 3)) - 1;
    (cell & !(0xf << 52)) | (u64::from(res) << 52) | unused
}

/// The resolution-9 cell of a shop: its stored cell, or one computed from its coordinates.
pub(super) fn shop_cell(shop: &IndexedShop) -> u64 {
    match CellIndex::try_from(shop.h3_cell as u64) {
        Ok(c) if c.resolution() == Resolution::Nine => c.into(),
        _ => LatLng::new(shop.latitude, shop.longitude)
            .map(|p| u64::from(p.to_cell(Resolution::Nine)))
            .unwrap_or(0),
    }
}

/// The nodes of one resolution: one per run of points sharing their parent cell there.
fn level_nodes(points: &[AreaPoint], res: usize) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let cell = parent(p.cell, res as u8);
        if nodes.last().is_none_or(|n| n.cell != cell) {
            nodes.push(Node {
                cell,
                start: i as u32,
                end: i as u32,
                first_child: 0,
                end_child: 0,
                south: f64::INFINITY,
                north: f64::NEG_INFINITY,
                west: f64::INFINITY,
                east: f64::NEG_INFINITY,
                tallies: [Tally::default(); CLASSES],
            });
        }
        if let Some(n) = nodes.last_mut() {
            n.end = i as u32 + 1;
            n.south = n.south.min(p.lat);
            n.north = n.north.max(p.lat);
            n.west = n.west.min(p.lon);
            n.east = n.east.max(p.lon);
            for c in classes(p.found_as, p.services) {
                n.tallies[c].add(Tally::of(p.lat, p.lon));
            }
        }
    }
    nodes
}

impl AreaIndex {
    /// Builds the runs over the live slots.
    pub(super) fn build(slots: &[Slot]) -> Self {
        let mut points: Vec<AreaPoint> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live)
            .map(|(i, s)| AreaPoint {
                cell: shop_cell(&s.shop),
                lat: s.shop.latitude,
                lon: s.shop.longitude,
                slot: i as u32,
                found_as: found_as(true, s.shop.status),
                services: s.shop.services.bits(),
            })
            .collect();
        points.sort_unstable_by_key(|p| (p.cell, p.slot));
        let mut position = vec![u32::MAX; slots.len()];
        for (i, p) in points.iter().enumerate() {
            position[p.slot as usize] = i as u32;
        }
        // Each level is one pass over the points, independent of the others.
        let mut levels: Vec<Vec<Node>> = (0..=FINEST)
            .into_par_iter()
            .map(|res| level_nodes(&points, res))
            .collect();
        // Children: the next level's nodes whose runs start inside the parent's run.
        for res in 0..FINEST {
            let (upper, lower) = levels.split_at_mut(res + 1);
            let (parents, children) = (&mut upper[res], &lower[0]);
            let mut c = 0usize;
            for n in parents.iter_mut() {
                n.first_child = c as u32;
                while c < children.len() && children[c].start < n.end {
                    c += 1;
                }
                n.end_child = c as u32;
            }
        }
        Self {
            points,
            levels,
            position,
            extra: Vec::new(),
        }
    }

    /// A slot added since the build (a new shop, or a shop's new position).
    pub(super) fn add_extra(&mut self, slot: u32) {
        self.extra.push(slot);
    }

    /// Brings a built shop's status and services up to date, in its point and in the tallies
    /// of every node above it.
    pub(super) fn sync(&mut self, slot: u32, found: u8, services: u8) {
        let Some(&pos) = self.position.get(slot as usize) else {
            return;
        };
        let Some(p) = self.points.get_mut(pos as usize) else {
            return;
        };
        if p.found_as == found && p.services == services {
            return;
        }
        let old = *p;
        (p.found_as, p.services) = (found, services);
        let one = Tally::of(old.lat, old.lon);
        for (res, nodes) in self.levels.iter_mut().enumerate() {
            let cell = parent(old.cell, res as u8);
            if let Ok(i) = nodes.binary_search_by_key(&cell, |n| n.cell) {
                for c in classes(old.found_as, old.services) {
                    nodes[i].tallies[c].sub(one);
                }
                for c in classes(found, services) {
                    nodes[i].tallies[c].add(one);
                }
            }
        }
    }

    /// Approximate heap bytes held.
    pub(super) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.points.capacity() * size_of::<AreaPoint>()
            + self
                .levels
                .iter()
                .map(|l| l.capacity() * size_of::<Node>())
                .sum::<usize>()
            + self.position.capacity() * 4
            + self.extra.capacity() * 4
    }
}

/// The checks of a filter, with each time zone's local time computed once per query.
pub(super) struct Check<'f> {
    filter: &'f SearchFilter<'f>,
    service_bit: u8,
    active: usize,
    paused: Option<usize>,
    dynamic: bool,
    local_times: Vec<(Tz, (usize, u16))>,
}

impl<'f> Check<'f> {
    pub(super) fn new(filter: &'f SearchFilter<'f>) -> Self {
        let service = filter.service.map_or(ANY_SERVICE, |s| s as usize);
        Self {
            filter,
            service_bit: filter.service.map_or(0, |s| 1 << (s as u8)),
            active: service * 2,
            paused: filter.include_paused.then_some(service * 2 + 1),
            dynamic: filter.needs_record(),
            local_times: Vec::new(),
        }
    }

    /// The node's matching shops as its tallies count them (an upper bound when dynamic).
    fn tally(&self, n: &Node) -> Tally {
        let mut t = n.tallies[self.active];
        if let Some(p) = self.paused {
            t.add(n.tallies[p]);
        }
        t
    }

    pub(super) fn kind(&self, found: u8, services: u8) -> bool {
        (found == ACTIVE || (found == PAUSED && self.paused.is_some()))
            && services & self.service_bit == self.service_bit
    }

    pub(super) fn record(&mut self, shop: &IndexedShop) -> bool {
        if !self.dynamic {
            return true;
        }
        let f = self.filter;
        if f.min_free.is_some_and(|m| shop.capacity - shop.live < m) {
            return false;
        }
        if let Some(at) = f.open_at {
            let tz = shop.timezone;
            let t = match self.local_times.iter().find(|(z, _)| *z == tz) {
                Some(&(_, t)) => t,
                None => {
                    let t = local_weekday_minute(tz, at);
                    self.local_times.push((tz, t));
                    t
                }
            };
            if !shop.hours.is_open_local(t.0, t.1) || shop.closures.contains(at) {
                return false;
            }
        }
        f.accept.is_none_or(|accept| accept(shop))
    }
}

/// Where a walk puts what it finds.
enum Sink {
    /// Tallies per cell at a resolution, as (cell, tally) runs merged at the end.
    Cells(u8, Vec<(u64, Tally)>),
    /// The matching slots.
    Slots(Vec<u32>),
}

impl Sink {
    fn add(&mut self, cell: u64, t: Tally, slot: u32) {
        match self {
            Sink::Cells(res, runs) => {
                let c = parent(cell, *res);
                match runs.last_mut() {
                    Some((last, acc)) if *last == c => acc.add(t),
                    _ => runs.push((c, t)),
                }
            }
            Sink::Slots(v) => v.push(slot),
        }
    }
}

struct Walk<'i, 'f> {
    index: &'i GeoIndex,
    area: &'i AreaIndex,
    check: Check<'f>,
    sink: Sink,
}

impl Walk<'_, '_> {
    fn level(&mut self, b: &BoundingBox, res: usize, range: std::ops::Range<usize>) {
        for i in range {
            let n = &self.area.levels[res][i];
            if n.misses(b) || self.check.tally(n).count == 0 {
                continue;
            }
            if n.inside(b) {
                self.whole(b, res, i);
            } else if res == FINEST {
                self.scan(b, n.start as usize..n.end as usize, true);
            } else {
                self.level(b, res + 1, n.first_child as usize..n.end_child as usize);
            }
        }
    }

    /// A node all of whose shops lie in the box.
    fn whole(&mut self, b: &BoundingBox, res: usize, i: usize) {
        let n = &self.area.levels[res][i];
        let counted = match &self.sink {
            Sink::Cells(r, _) if !self.check.dynamic => usize::from(*r) <= res,
            _ => false,
        };
        if counted {
            let t = self.check.tally(n);
            self.sink.add(n.cell, t, 0);
        } else if res < FINEST && matches!(self.sink, Sink::Cells(r, _) if usize::from(r) > res) {
            for c in n.first_child as usize..n.end_child as usize {
                if self.check.tally(&self.area.levels[res + 1][c]).count > 0 {
                    self.whole(b, res + 1, c);
                }
            }
        } else {
            self.scan(b, n.start as usize..n.end as usize, false);
        }
    }

    fn scan(&mut self, b: &BoundingBox, range: std::ops::Range<usize>, edge: bool) {
        for p in &self.area.points[range] {
            if !self.check.kind(p.found_as, p.services) || (edge && !b.contains(p.lat, p.lon)) {
                continue;
            }
            if self.check.dynamic && !self.check.record(&self.index.slots[p.slot as usize].shop) {
                continue;
            }
            self.sink.add(p.cell, Tally::of(p.lat, p.lon), p.slot);
        }
    }

    fn extras(&mut self, whole: &BoundingBox) {
        for &slot in &self.area.extra {
            let s = &self.index.slots[slot as usize];
            let shop = &s.shop;
            if !self
                .check
                .kind(found_as(s.live, shop.status), shop.services.bits())
                || !whole.contains(shop.latitude, shop.longitude)
                || !self.check.record(shop)
            {
                continue;
            }
            self.sink.add(
                shop_cell(shop),
                Tally::of(shop.latitude, shop.longitude),
                slot,
            );
        }
    }
}

impl GeoIndex {
    /// The matching shops inside `area`: all of them when there are at most `filter.limit`,
    /// else their clusters at [`BoundingBox::cluster_resolution`]. Uses the filter's status,
    /// service, `open_at`, `min_free` and `accept`; `max_distance_m` does not apply.
    pub fn in_area(&self, area: &BoundingBox, filter: &SearchFilter<'_>) -> AreaAnswer<'_> {
        let resolution = area.cluster_resolution();
        let clusters = self.walk(area, filter, Sink::Cells(u8::from(resolution), Vec::new()));
        let Sink::Cells(_, mut runs) = clusters else {
            return AreaAnswer::Points(Vec::new());
        };
        runs.sort_unstable_by_key(|r| r.0);
        let mut merged: Vec<(u64, Tally)> = Vec::with_capacity(runs.len());
        for (cell, t) in runs {
            match merged.last_mut() {
                Some((c, acc)) if *c == cell => acc.add(t),
                _ => merged.push((cell, t)),
            }
        }
        let total: usize = merged.iter().map(|(_, t)| t.count as usize).sum();
        if total > filter.limit {
            return AreaAnswer::Clusters {
                resolution,
                clusters: merged.iter().map(|(c, t)| t.cluster(*c)).collect(),
            };
        }
        let Sink::Slots(slots) = self.walk(area, filter, Sink::Slots(Vec::new())) else {
            return AreaAnswer::Points(Vec::new());
        };
        AreaAnswer::Points(
            slots
                .into_iter()
                .map(|s| &self.slots[s as usize].shop)
                .collect(),
        )
    }

    fn walk(&self, area: &BoundingBox, filter: &SearchFilter<'_>, sink: Sink) -> Sink {
        let mut walk = Walk {
            index: self,
            area: &self.area,
            check: Check::new(filter),
            sink,
        };
        if let Some(top) = self.area.levels.first() {
            for part in area.parts() {
                walk.level(&part, 0, 0..top.len());
            }
        }
        walk.extras(area);
        walk.sink
    }
}

/// The clusters of `shops` (already filtered) inside `area` at `res`, by brute force: the
/// reference the index is tested against.
#[cfg(test)]
pub(super) fn brute_force_clusters<'a>(
    shops: impl Iterator<Item = &'a IndexedShop>,
    area: &BoundingBox,
    res: Resolution,
) -> Vec<Cluster> {
    let mut cells: std::collections::BTreeMap<u64, Tally> = Default::default();
    for s in shops.filter(|s| area.contains(s.latitude, s.longitude)) {
        let cell = u64::from(
            CellIndex::try_from(shop_cell(s))
                .ok()
                .and_then(|c| c.parent(res))
                .expect("valid cell"),
        );
        cells
            .entry(cell)
            .or_default()
            .add(Tally::of(s.latitude, s.longitude));
    }
    cells.iter().map(|(c, t)| t.cluster(*c)).collect()
}
