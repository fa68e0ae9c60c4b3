//! The in-memory geo index: exact k-nearest active shops by great-circle distance.
//!
//! Shops are kept as unit vectors in a static k-d tree. The chord between two unit vectors
//! grows strictly with their great-circle distance, so the tree prunes in 3-D space with no
//! special case at the antimeridian or the poles, and every candidate that survives pruning
//! is ranked by [`haversine_m`] and then by id: the same key a brute-force scan uses, so the
//! answer is exactly the brute-force answer.
//!
//! The tree is immutable; a shop added or moved since the last build lives in a short
//! `extra` list scanned linearly, and the tree is rebuilt when that list grows past
//! [`REBUILD_AFTER`]. Attribute changes (status, capacity, hours) are applied in place.
//!
//! A general-purpose k-d tree crate was not used because search must filter candidates
//! (status, opening hours, free capacity) inside the traversal and break distance ties by id.

use super::geo::{chord_for_distance, haversine_m, Point};
use super::hours::{local_weekday_minute, WeeklyHours};
use super::shop::ShopStatus;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;

/// Points per leaf of the k-d tree.
const LEAF_SIZE: usize = 8;
/// Shops added or moved since the last build that trigger a rebuild of the tree.
pub const REBUILD_AFTER: usize = 512;
/// Slack on chord bounds (unit sphere, about 6 mm on Earth) so rounding never prunes a
/// candidate that the exact haversine comparison would keep.
const CHORD_SLACK: f64 = 1e-9;

/// What the index knows of one shop: enough to search and to list it without the database.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedShop {
    /// pudo's shop id.
    pub id: i64,
    /// The partner's reference.
    pub external_id: Box<str>,
    /// Display name.
    pub name: Box<str>,
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// H3 cell (resolution 9) as stored.
    pub h3_cell: i64,
    /// Parcel slots.
    pub capacity: i32,
    /// Parcels reserved or waiting at the shop (follows the database within a second or so;
    /// the database alone decides whether a reservation fits).
    pub live: i32,
    /// active, paused or closed.
    pub status: ShopStatus,
    /// Time zone of the opening hours.
    pub timezone: Tz,
    /// Weekly opening hours.
    pub hours: WeeklyHours,
}

/// Search options: how many, how far, and which shops qualify.
pub struct SearchFilter<'a> {
    /// Number of shops wanted (the k of k-nearest).
    pub limit: usize,
    /// Only shops within this great-circle distance.
    pub max_distance_m: Option<f64>,
    /// Only shops open at this instant in their own time zone.
    pub open_at: Option<DateTime<Utc>>,
    /// Only shops with at least this many free slots.
    pub min_free: Option<i32>,
    /// Any further condition (e.g. free slots), checked last.
    pub accept: Option<&'a (dyn Fn(&IndexedShop) -> bool + Sync)>,
}

impl SearchFilter<'_> {
    /// The `limit` nearest active shops, with no other condition.
    pub fn nearest(limit: usize) -> Self {
        Self {
            limit,
            max_distance_m: None,
            open_at: None,
            min_free: None,
            accept: None,
        }
    }
}

/// One search result.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The shop.
    pub shop: &'a IndexedShop,
    /// Its haversine distance from the query point, in metres.
    pub distance_m: f64,
}

#[derive(Debug, Clone)]
struct Slot {
    shop: IndexedShop,
    point: Point,
    schedule: u32,
    live: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    v: [f64; 3],
    slot: u32,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Split axis, or `LEAF` for a leaf.
    axis: u8,
    split: f64,
    /// Leaf: entry range. Inner: child node indices.
    a: u32,
    b: u32,
}

const LEAF: u8 = 3;

/// The geo index of the whole network; see the module documentation.
#[derive(Debug, Default, Clone)]
pub struct GeoIndex {
    slots: Vec<Slot>,
    entries: Vec<Entry>,
    nodes: Vec<Node>,
    extra: Vec<Entry>,
    by_id: HashMap<i64, u32>,
    schedules: Vec<WeeklyHours>,
    schedule_ids: HashMap<WeeklyHours, u32>,
    live: usize,
}

impl GeoIndex {
    /// Builds the index over a set of shops (any status; only active ones are found).
    pub fn build(shops: impl IntoIterator<Item = IndexedShop>) -> Self {
        let mut index = Self::default();
        for shop in shops {
            index.push_slot(shop);
        }
        index.rebuild_tree();
        index
    }

    /// Number of shops held (any status).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the index holds no shop.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The shop with this id, if held.
    pub fn get(&self, id: i64) -> Option<&IndexedShop> {
        self.by_id.get(&id).map(|&s| &self.slots[s as usize].shop)
    }

    /// Every shop held, in no particular order.
    pub fn shops(&self) -> impl Iterator<Item = &IndexedShop> {
        self.slots.iter().filter(|s| s.live).map(|s| &s.shop)
    }

    /// Sets the live parcel count of a shop; unknown ids are ignored.
    pub fn set_live(&mut self, id: i64, live: i32) {
        if let Some(&slot) = self.by_id.get(&id) {
            self.slots[slot as usize].shop.live = live;
        }
    }

    /// Adds a shop or replaces the one with the same id (keeping its live parcel count).
    pub fn upsert(&mut self, mut shop: IndexedShop) {
        if let Some(&slot) = self.by_id.get(&shop.id) {
            let old = &mut self.slots[slot as usize];
            shop.live = old.shop.live;
            if old.shop.latitude == shop.latitude && old.shop.longitude == shop.longitude {
                let schedule = intern(&mut self.schedules, &mut self.schedule_ids, &shop.hours);
                let old = &mut self.slots[slot as usize];
                old.schedule = schedule;
                old.shop = shop;
                return;
            }
            old.live = false;
            self.live -= 1;
        }
        let slot = self.push_slot(shop);
        self.extra.push(Entry {
            v: self.slots[slot as usize].point.unit_vector(),
            slot,
        });
        if self.extra.len() > REBUILD_AFTER {
            self.compact();
        }
    }

    /// Removes a shop (e.g. deleted); unknown ids are ignored.
    pub fn remove(&mut self, id: i64) {
        if let Some(slot) = self.by_id.remove(&id) {
            self.slots[slot as usize].live = false;
            self.live -= 1;
        }
    }

    /// Approximate heap bytes held, for the memory-per-shop figure.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let strings: usize = self
            .slots
            .iter()
            .map(|s| s.shop.external_id.len() + s.shop.name.len())
            .sum();
        self.slots.capacity() * size_of::<Slot>()
            + (self.entries.capacity() + self.extra.capacity()) * size_of::<Entry>()
            + self.nodes.capacity() * size_of::<Node>()
            + self.by_id.capacity() * (size_of::<(i64, u32)>() + 1)
            + strings
    }

    /// The nearest qualifying active shops to (`lat`, `lon`), nearest first, ties by id.
    pub fn search(&self, lat: f64, lon: f64, filter: &SearchFilter<'_>) -> Vec<Hit<'_>> {
        let mut search = Search::new(self, Point::from_degrees(lat, lon), filter);
        if filter.limit == 0 {
            return Vec::new();
        }
        if !self.nodes.is_empty() {
            search.visit(0);
        }
        for entry in &self.extra {
            search.consider(entry);
        }
        search
            .best
            .into_iter()
            .map(|(distance_m, _, slot)| Hit {
                shop: &self.slots[slot as usize].shop,
                distance_m,
            })
            .collect()
    }

    fn push_slot(&mut self, shop: IndexedShop) -> u32 {
        let schedule = intern(&mut self.schedules, &mut self.schedule_ids, &shop.hours);
        let slot = self.slots.len() as u32;
        let point = Point::from_degrees(shop.latitude, shop.longitude);
        if let Some(old) = self.by_id.insert(shop.id, slot) {
            // A repeated id in `build` input: the later one wins.
            if self.slots[old as usize].live {
                self.slots[old as usize].live = false;
                self.live -= 1;
            }
        }
        self.slots.push(Slot {
            shop,
            point,
            schedule,
            live: true,
        });
        self.live += 1;
        slot
    }

    /// Drops dead slots and rebuilds the tree over every live shop.
    fn compact(&mut self) {
        let slots = std::mem::take(&mut self.slots);
        *self = Self::build(slots.into_iter().filter(|s| s.live).map(|s| s.shop));
    }

    fn rebuild_tree(&mut self) {
        self.extra.clear();
        self.entries = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live)
            .map(|(i, s)| Entry {
                v: s.point.unit_vector(),
                slot: i as u32,
            })
            .collect();
        self.nodes.clear();
        if !self.entries.is_empty() {
            let len = self.entries.len();
            build_node(&mut self.nodes, &mut self.entries, 0, len);
        }
    }
}

fn intern(
    schedules: &mut Vec<WeeklyHours>,
    ids: &mut HashMap<WeeklyHours, u32>,
    hours: &WeeklyHours,
) -> u32 {
    if let Some(&id) = ids.get(hours) {
        return id;
    }
    let id = schedules.len() as u32;
    schedules.push(hours.clone());
    ids.insert(hours.clone(), id);
    id
}

fn build_node(nodes: &mut Vec<Node>, entries: &mut [Entry], start: usize, end: usize) -> u32 {
    let me = nodes.len() as u32;
    if end - start <= LEAF_SIZE {
        nodes.push(Node {
            axis: LEAF,
            split: 0.0,
            a: start as u32,
            b: end as u32,
        });
        return me;
    }
    let part = &mut entries[start..end];
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for e in part.iter() {
        for d in 0..3 {
            lo[d] = lo[d].min(e.v[d]);
            hi[d] = hi[d].max(e.v[d]);
        }
    }
    let axis = (0..3)
        .max_by(|&x, &y| (hi[x] - lo[x]).total_cmp(&(hi[y] - lo[y])))
        .unwrap_or(0);
    let mid = part.len() / 2;
    part.select_nth_unstable_by(mid, |p, q| p.v[axis].total_cmp(&q.v[axis]));
    let split = part[mid].v[axis];
    nodes.push(Node {
        axis: axis as u8,
        split,
        a: 0,
        b: 0,
    });
    let left = build_node(nodes, entries, start, start + mid);
    let right = build_node(nodes, entries, start + mid, end);
    nodes[me as usize].a = left;
    nodes[me as usize].b = right;
    me
}

/// One k-nearest traversal: the best hits so far, sorted, and the chord² bound for pruning.
struct Search<'i, 'f> {
    index: &'i GeoIndex,
    filter: &'f SearchFilter<'f>,
    query: Point,
    qv: [f64; 3],
    best: Vec<(f64, i64, u32)>,
    bound2: f64,
    local_times: Vec<(Tz, (usize, u16))>,
}

impl<'i, 'f> Search<'i, 'f> {
    fn new(index: &'i GeoIndex, query: Point, filter: &'f SearchFilter<'f>) -> Self {
        let bound = filter.max_distance_m.map_or(2.0, chord_for_distance);
        Self {
            index,
            filter,
            query,
            qv: query.unit_vector(),
            best: Vec::with_capacity(filter.limit.min(128) + 1),
            bound2: (bound + CHORD_SLACK).powi(2),
            local_times: Vec::new(),
        }
    }

    fn visit(&mut self, node: u32) {
        let n = self.index.nodes[node as usize];
        if n.axis == LEAF {
            for i in n.a..n.b {
                let entry = self.index.entries[i as usize];
                self.consider(&entry);
            }
            return;
        }
        let diff = self.qv[n.axis as usize] - n.split;
        let (near, far) = if diff < 0.0 { (n.a, n.b) } else { (n.b, n.a) };
        self.visit(near);
        if diff * diff <= self.bound2 {
            self.visit(far);
        }
    }

    fn consider(&mut self, entry: &Entry) {
        let dx = entry.v[0] - self.qv[0];
        let dy = entry.v[1] - self.qv[1];
        let dz = entry.v[2] - self.qv[2];
        if dx * dx + dy * dy + dz * dz > self.bound2 {
            return;
        }
        let slot = &self.index.slots[entry.slot as usize];
        if !slot.live || slot.shop.status != ShopStatus::Active {
            return;
        }
        let distance = haversine_m(&self.query, &slot.point);
        if self.filter.max_distance_m.is_some_and(|max| distance > max) {
            return;
        }
        if self
            .filter
            .min_free
            .is_some_and(|min| slot.shop.capacity - slot.shop.live < min)
        {
            return;
        }
        let key = (distance, slot.shop.id);
        let full = self.best.len() >= self.filter.limit;
        if full {
            if let Some(&(d, id, _)) = self.best.last() {
                if key >= (d, id) {
                    return;
                }
            }
        }
        if let Some(at) = self.filter.open_at {
            let (weekday, minute) = self.local_time(slot.shop.timezone, at);
            if !self.index.schedules[slot.schedule as usize].is_open_local(weekday, minute) {
                return;
            }
        }
        if let Some(accept) = self.filter.accept {
            if !accept(&slot.shop) {
                return;
            }
        }
        let pos = self.best.partition_point(|&(d, id, _)| (d, id) < key);
        self.best.insert(pos, (distance, slot.shop.id, entry.slot));
        if self.best.len() > self.filter.limit {
            self.best.pop();
        }
        if self.best.len() >= self.filter.limit {
            if let Some(&(worst, _, _)) = self.best.last() {
                self.bound2 = self
                    .bound2
                    .min((chord_for_distance(worst) + CHORD_SLACK).powi(2));
            }
        }
    }

    /// Local weekday and minute at `at` in `tz`, computed once per zone per search.
    fn local_time(&mut self, tz: Tz, at: DateTime<Utc>) -> (usize, u16) {
        if let Some(&(_, t)) = self.local_times.iter().find(|(z, _)| *z == tz) {
            return t;
        }
        let t = local_weekday_minute(tz, at);
        self.local_times.push((tz, t));
        t
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
