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
//! index can subtract a changed shop exactly.
//!
//! Opening at an instant (`open_at`) is counted the same way, from tallies per schedule class
//! (shops with the same zone, hours and closures, `schedule_classes.rs`) and kind: a node
//! keeps them when they are fewer than its shops by [`CLASS_TALLY_RATIO`], and the query adds
//! up those of the classes open at the instant, deciding each class once. Nodes without them
//! are opened to their children, and shops are checked one by one only at resolution 7, on
//! their class without reading their record. Capabilities (`capability=`) are counted from the
//! same tallies: their key holds the shops' capability bits too (a network has few
//! combinations, and `open_24_7` follows the schedule class), so a filter on them sums the
//! tallies of the combinations it covers, and a node without class tallies is opened as for
//! `open_at`. Filters no tally can know (free slots, staged stock) make the walk check every
//! shop inside the box on its record instead.
//!
//! Shops added or moved since the last build are not in the sorted runs; they are checked one
//! by one on every query, as the k-d tree's `extra` list is (the index rebuilds both past
//! [`super::REBUILD_AFTER`] of them).
//!
//! Kept in one file (about 900 lines): the runs, the node tallies, their incremental updates and
//! the walk share one invariant (a node's tallies are exactly its run's shops) that is easier
//! to check read together; the tests are in `search_tests.rs`.

use super::schedule_classes::{OpenClasses, ScheduleClasses, IRREGULAR};
use super::{found_as, GeoIndex, IndexedShop, SearchFilter, Slot, ACTIVE, HIDDEN, PAUSED};
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
/// A node keeps its tallies per schedule class and kind when they are at most one per this
/// many of its shops: below that, adding them up costs about what checking the shops does, and
/// the memory would grow with the shops instead of with the schedules.
const CLASS_TALLY_RATIO: usize = 4;
/// A node without tallies per class.
const NO_CLASSES: u32 = u32::MAX;

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
    /// Capabilities bits, derived ones included.
    capabilities: u8,
    /// Schedule class (`schedule_classes.rs`), or [`IRREGULAR`].
    class: u16,
}

/// The shops of a node of one schedule class and kind: 24 bytes.
#[derive(Debug, Clone, Copy)]
struct ClassTally {
    /// [`class_key`]: capabilities, class, then found-as and services bits.
    key: u32,
    count: u32,
    lat: i64,
    lon: i64,
}

/// The key of a class tally. Capabilities take the top byte: a shop's capabilities are few
/// combinations in a network (none, in the seeds), so a node's tallies grow little with them,
/// and a capability filter sums the tallies it covers instead of checking shops one by one.
fn class_key(class: u16, found: u8, services: u8, capabilities: u8) -> u32 {
    (u32::from(capabilities) << 24)
        | (u32::from(class) << 8)
        | (u32::from(found) << 4)
        | u32::from(services & 0xf)
}

impl ClassTally {
    fn of(p: &AreaPoint) -> Self {
        let t = Tally::of(p.lat, p.lon);
        Self {
            key: class_key(p.class, p.found_as, p.services, p.capabilities),
            count: 1,
            lat: t.lat,
            lon: t.lon,
        }
    }

    fn tally(&self) -> Tally {
        Tally {
            count: self.count,
            lat: self.lat,
            lon: self.lon,
        }
    }
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
    /// Tallies per schedule class and kind: `class_tallies[r][classes..classes_end]`, sorted
    /// by key; `classes` is [`NO_CLASSES`] when the node has none.
    classes: u32,
    classes_end: u32,
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
    /// Per level, the nodes' tallies per schedule class and kind.
    class_tallies: Vec<Vec<ClassTally>>,
    /// The shops' schedule classes.
    pub(super) schedules: ScheduleClasses,
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
                classes: NO_CLASSES,
                classes_end: NO_CLASSES,
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

/// The nodes' tallies per schedule class and kind, level by level from the finest: a node's
/// are its children's merged (at the finest level, its shops'). Each node keeps its own when
/// they are few enough ([`CLASS_TALLY_RATIO`]) and it holds no [`IRREGULAR`] shop.
fn class_tallies(points: &[AreaPoint], levels: &mut [Vec<Node>]) -> Vec<Vec<ClassTally>> {
    let mut kept: Vec<Vec<ClassTally>> = vec![Vec::new(); levels.len()];
    // Every node's merged tallies at the level below: `below[range]`, `None` when it holds an
    // irregular shop.
    let mut below: Vec<ClassTally> = Vec::new();
    let mut below_ranges: Vec<Option<(u32, u32)>> = Vec::new();
    let mut scratch: Vec<ClassTally> = Vec::new();
    for res in (0..levels.len()).rev() {
        let mut merged: Vec<ClassTally> = Vec::with_capacity(below.len());
        let mut ranges = Vec::with_capacity(levels[res].len());
        for n in levels[res].iter_mut() {
            scratch.clear();
            let regular = if res + 1 == kept.len() {
                points[n.start as usize..n.end as usize]
                    .iter()
                    .filter(|p| p.found_as != HIDDEN)
                    .all(|p| {
                        scratch.push(ClassTally::of(p));
                        p.class != IRREGULAR
                    })
            } else {
                (n.first_child..n.end_child).all(|c| match below_ranges[c as usize] {
                    Some((a, b)) => {
                        scratch.extend_from_slice(&below[a as usize..b as usize]);
                        true
                    }
                    None => false,
                })
            };
            if !regular {
                ranges.push(None);
                continue;
            }
            scratch.sort_unstable_by_key(|t| t.key);
            let start = merged.len();
            for t in &scratch {
                match merged[start..].last_mut() {
                    Some(last) if last.key == t.key => {
                        (last.count, last.lat, last.lon) =
                            (last.count + t.count, last.lat + t.lat, last.lon + t.lon);
                    }
                    _ => merged.push(*t),
                }
            }
            ranges.push(Some((start as u32, merged.len() as u32)));
            let own = &merged[start..];
            if own.len() * CLASS_TALLY_RATIO <= (n.end - n.start) as usize {
                n.classes = kept[res].len() as u32;
                kept[res].extend_from_slice(own);
                n.classes_end = kept[res].len() as u32;
            }
        }
        below = merged;
        below_ranges = ranges;
    }
    for level in &mut kept {
        level.shrink_to_fit();
    }
    kept
}

impl AreaIndex {
    /// Builds the runs over the live slots.
    pub(super) fn build(slots: &[Slot]) -> Self {
        let mut schedules = ScheduleClasses::default();
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
                capabilities: s.shop.capabilities().bits(),
                class: schedules.class_of(&s.shop),
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
        let class_tallies = class_tallies(&points, &mut levels);
        Self {
            points,
            levels,
            class_tallies,
            schedules,
            position,
            extra: Vec::new(),
        }
    }

    /// A slot added since the build (a new shop, or a shop's new position).
    pub(super) fn add_extra(&mut self, slot: u32) {
        self.extra.push(slot);
    }

    /// Brings a built shop's status, services, capabilities and schedule class up to date, in
    /// its point and in the tallies of every node above it. A node that has no tally yet for
    /// the shop's new class and kind gives up its class tallies (its children are opened
    /// instead) until the next build.
    pub(super) fn sync(
        &mut self,
        slot: u32,
        found: u8,
        services: u8,
        capabilities: u8,
        shop: &IndexedShop,
    ) {
        let Some(&pos) = self.position.get(slot as usize) else {
            return;
        };
        let Some(p) = self.points.get_mut(pos as usize) else {
            return;
        };
        // A shop no search finds keeps its class: it is in no class tally.
        let class = if found == HIDDEN {
            p.class
        } else {
            self.schedules.class_of(shop)
        };
        if p.found_as == found
            && p.services == services
            && p.capabilities == capabilities
            && p.class == class
        {
            return;
        }
        let old = *p;
        (p.found_as, p.services, p.capabilities, p.class) = (found, services, capabilities, class);
        let one = Tally::of(old.lat, old.lon);
        for (res, nodes) in self.levels.iter_mut().enumerate() {
            let cell = parent(old.cell, res as u8);
            let Ok(i) = nodes.binary_search_by_key(&cell, |n| n.cell) else {
                continue;
            };
            let n = &mut nodes[i];
            for c in classes(old.found_as, old.services) {
                n.tallies[c].sub(one);
            }
            for c in classes(found, services) {
                n.tallies[c].add(one);
            }
            if n.classes == NO_CLASSES {
                continue;
            }
            let entries = &mut self.class_tallies[res][n.classes as usize..n.classes_end as usize];
            let mut kept = true;
            if old.found_as != HIDDEN {
                let key = class_key(old.class, old.found_as, old.services, old.capabilities);
                match entries.binary_search_by_key(&key, |t| t.key) {
                    Ok(e) => {
                        let t = &mut entries[e];
                        (t.count, t.lat, t.lon) = (t.count - 1, t.lat - one.lat, t.lon - one.lon);
                    }
                    Err(_) => kept = false,
                }
            }
            if found != HIDDEN {
                let key = class_key(class, found, services, capabilities);
                match entries.binary_search_by_key(&key, |t| t.key) {
                    Ok(e) if class != IRREGULAR => {
                        let t = &mut entries[e];
                        (t.count, t.lat, t.lon) = (t.count + 1, t.lat + one.lat, t.lon + one.lon);
                    }
                    _ => kept = false,
                }
            }
            if !kept {
                n.classes = NO_CLASSES;
            }
        }
    }

    /// How many nodes keep tallies per schedule class (tests check that they are used).
    #[cfg(test)]
    pub(super) fn class_tallied_nodes(&self) -> usize {
        self.levels
            .iter()
            .flatten()
            .filter(|n| n.classes != NO_CLASSES)
            .count()
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
            + self
                .class_tallies
                .iter()
                .map(|l| l.capacity() * size_of::<ClassTally>())
                .sum::<usize>()
            + self.schedules.memory_bytes()
            + self.position.capacity() * 4
            + self.extra.capacity() * 4
    }
}

/// The checks of a filter, with each schedule class (and time zone) decided once per query.
pub(super) struct Check<'f, 'c> {
    filter: &'f SearchFilter<'f>,
    service_bit: u8,
    /// Capabilities every shop found must have (0: any).
    capability_bits: u8,
    active: usize,
    paused: Option<usize>,
    /// Whether a shop's record must be read: free slots or `accept`.
    dynamic: bool,
    /// The classes open at `open_at`, when one is given.
    open: Option<OpenClasses<'c>>,
}

impl<'f, 'c> Check<'f, 'c> {
    pub(super) fn new(filter: &'f SearchFilter<'f>, schedules: &'c ScheduleClasses) -> Self {
        let service = filter.service.map_or(ANY_SERVICE, |s| s as usize);
        Self {
            filter,
            service_bit: filter.service.map_or(0, |s| 1 << (s as u8)),
            capability_bits: filter.capabilities.bits(),
            active: service * 2,
            paused: filter.include_paused.then_some(service * 2 + 1),
            dynamic: filter.min_free.is_some() || filter.accept.is_some(),
            open: filter.open_at.map(|at| OpenClasses::new(schedules, at)),
        }
    }

    /// The node's shops of the wanted status and service as its tallies count them: exact
    /// without `open_at`, capabilities and record checks, else an upper bound.
    fn tally(&self, n: &Node) -> Tally {
        let mut t = n.tallies[self.active];
        if let Some(p) = self.paused {
            t.add(n.tallies[p]);
        }
        t
    }

    /// Whether the node's tallies per class and kind are needed to count it exactly: with
    /// `open_at` or capabilities (and no check of shops' records).
    fn by_class(&self) -> bool {
        (self.open.is_some() || self.capability_bits != 0) && !self.dynamic
    }

    /// The node's matching shops exactly, when its tallies can say: `None` when a shop's record
    /// must be read, or when `open_at` or capabilities are given and the node has no class
    /// tallies.
    fn exact(&mut self, area: &AreaIndex, res: usize, n: &Node) -> Option<Tally> {
        if self.dynamic {
            return None;
        }
        if self.open.is_none() && self.capability_bits == 0 {
            return Some(self.tally(n));
        }
        if n.classes == NO_CLASSES {
            return None;
        }
        let (service_bit, paused) = (self.service_bit, self.paused.is_some());
        let capability_bits = self.capability_bits;
        let mut sum = Tally::default();
        for t in &area.class_tallies[res][n.classes as usize..n.classes_end as usize] {
            let (found, services) = (((t.key >> 4) & 0xf) as u8, (t.key & 0xf) as u8);
            let capabilities = (t.key >> 24) as u8;
            if t.count > 0
                && (found == ACTIVE || (found == PAUSED && paused))
                && services & service_bit == service_bit
                && capabilities & capability_bits == capability_bits
                && self
                    .open
                    .as_mut()
                    .is_none_or(|open| open.open(((t.key >> 8) & 0xffff) as u16))
            {
                sum.add(t.tally());
            }
        }
        Some(sum)
    }

    /// Whether a shop is of the wanted status, service and capabilities.
    pub(super) fn kind(&self, found: u8, services: u8, capabilities: u8) -> bool {
        (found == ACTIVE || (found == PAUSED && self.paused.is_some()))
            && services & self.service_bit == self.service_bit
            && capabilities & self.capability_bits == self.capability_bits
    }

    /// Whether a shop of the wanted kind passes the rest of the filter, read from its record.
    pub(super) fn record(&mut self, shop: &IndexedShop) -> bool {
        if let Some(open) = &mut self.open {
            if !open.open_as(shop.timezone, &shop.hours, &shop.closures) {
                return false;
            }
        }
        self.rest(shop)
    }

    /// [`Check::record`] for a point of the area index: its class decides `open_at`, and the
    /// record (`shop`, only read when needed) the rest.
    fn point<'s>(&mut self, class: u16, shop: impl FnOnce() -> &'s IndexedShop) -> bool {
        let open = match &mut self.open {
            Some(_) if class == IRREGULAR => return self.record(shop()),
            Some(open) => open.open(class),
            None => true,
        };
        open && (!self.dynamic || self.rest(shop()))
    }

    /// Free slots and `accept`.
    fn rest(&self, shop: &IndexedShop) -> bool {
        let f = self.filter;
        f.min_free.is_none_or(|m| shop.capacity - shop.live >= m)
            && f.accept.is_none_or(|accept| accept(shop))
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
    check: Check<'f, 'i>,
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

    /// A node all of whose shops lie in the box: counted whole from its tallies when they are
    /// exact and the clusters are no finer than it, else its children are (which prunes the
    /// closed ones with `open_at`), else its shops one by one.
    fn whole(&mut self, b: &BoundingBox, res: usize, i: usize) {
        let area = self.area;
        let n = &area.levels[res][i];
        let exact = self.check.exact(area, res, n);
        if exact.is_some_and(|t| t.count == 0) {
            return;
        }
        let cluster_res = match &self.sink {
            Sink::Cells(r, _) => Some(usize::from(*r)),
            Sink::Slots(_) => None,
        };
        if let (Some(r), Some(t)) = (cluster_res, exact) {
            if r <= res {
                self.sink.add(n.cell, t, 0);
                return;
            }
        }
        let by_class = self.check.by_class();
        if res < FINEST && (cluster_res.is_some_and(|r| r > res) || by_class) {
            for c in n.first_child as usize..n.end_child as usize {
                if self.check.tally(&area.levels[res + 1][c]).count > 0 {
                    self.whole(b, res + 1, c);
                }
            }
        } else {
            self.scan(b, n.start as usize..n.end as usize, false);
        }
    }

    fn scan(&mut self, b: &BoundingBox, range: std::ops::Range<usize>, edge: bool) {
        let index = self.index;
        for p in &self.area.points[range] {
            if !self.check.kind(p.found_as, p.services, p.capabilities)
                || (edge && !b.contains(p.lat, p.lon))
            {
                continue;
            }
            if !self
                .check
                .point(p.class, || &index.slots[p.slot as usize].shop)
            {
                continue;
            }
            self.sink.add(p.cell, Tally::of(p.lat, p.lon), p.slot);
        }
    }

    fn extras(&mut self, whole: &BoundingBox) {
        for &slot in &self.area.extra {
            let s = &self.index.slots[slot as usize];
            let shop = &s.shop;
            if !self.check.kind(
                found_as(s.live, shop.status),
                shop.services.bits(),
                shop.capabilities().bits(),
            ) || !whole.contains(shop.latitude, shop.longitude)
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
    /// service, capabilities, `open_at`, `min_free` and `accept`; `max_distance_m` does not
    /// apply.
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
            check: Check::new(filter, &self.area.schedules),
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
