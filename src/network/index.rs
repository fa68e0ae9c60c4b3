//! The in-memory geo index: exact k-nearest active shops by great-circle distance.
//!
//! Shops are kept as unit vectors in a static k-d tree. The chord between two unit vectors
//! grows strictly with their great-circle distance, so the tree prunes in 3-D space with no
//! special case at the antimeridian or the poles. The traversal keeps the k best candidates by
//! chord and every candidate within a tiny slack of the k-th chord; only those few are then
//! ranked by [`haversine_m`] and id — the same key a brute-force scan uses — so the answer is
//! exactly the brute-force answer, whatever the rounding of either computation.
//!
//! The traversal touches only the tree's own compact entries (vector, slot, active flag);
//! the shop's full record is read for candidates that pass the distance bound. The tree is
//! immutable; a shop added or moved since the last build lives in a short `extra` list
//! scanned linearly, and the tree is rebuilt when that list grows past [`REBUILD_AFTER`].
//! Attribute changes (status, capacity, hours, live parcels) are applied in place. A build lays
//! the shops' records and names out in tree order, so the shops of one answer share cache lines
//! (see `lay_out_in_tree_order`).
//!
//! A general-purpose k-d tree crate was not used because search must filter candidates
//! (status, opening hours, free capacity) inside the traversal and break distance ties by id.
//!
//! Kept in one file (about 780 lines) on purpose: the shop record the tree lays out, the
//! filter its traversal applies, the tree's layout, its traversal and the pending list of
//! changed shops share invariants (exactness against a scan, the tree-order layout, the slot
//! numbers the child indexes hold) that are easier to check when read together. What could
//! stand apart does: the map areas in `area.rs`, the word index in `text.rs`, the tests in
//! `index_tests.rs` and `search_tests.rs`.

use super::address::{Localized, ShopDetails};
use super::capabilities::{Capabilities, Profile};
#[path = "area.rs"]
pub mod area;
#[path = "schedule_classes.rs"]
mod schedule_classes;
#[path = "text.rs"]
pub mod text;

use super::closures::ClosedSpans;
use super::geo::{chord_for_distance, haversine_m, Point};
use super::hours::{local_weekday_minute, WeeklyHours};
use super::services::{Service, Services};
use super::shop::ShopStatus;
use super::sizes::{free_for, DoesNotFit, Held, ParcelSize, ShopSizes};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::Arc;

/// Points per leaf of the k-d tree.
const LEAF_SIZE: usize = 32;
/// Shops added or moved since the last build that trigger a rebuild of the tree.
pub const REBUILD_AFTER: usize = 512;
/// Slack on chord bounds (unit sphere, about 6 mm on Earth), far above the rounding of
/// either distance computation, so no candidate of the exact top k is ever pruned.
const CHORD_SLACK: f64 = 1e-9;
/// Marks a slot whose shop is not in the tree but in the `extra` list.
const NOT_IN_TREE: u32 = u32::MAX;

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
    /// Weekly opening hours (shared between the many shops with the same hours).
    pub hours: Arc<WeeklyHours>,
    /// What the shop offers.
    pub services: Services,
    /// When the shop is closed for a period (holidays), in UTC.
    pub closures: ClosedSpans,
    /// Address, phone and localised texts; `None` when none are known. Interned: shops with
    /// equal details (the seeded shops of one place) share one copy.
    pub details: Option<Arc<ShopDetails>>,
    /// What the shop declares about parcel sizes, and its slots held of classes S and M.
    pub sizes: Sizes,
    /// Its declared capabilities and photo.
    pub profile: Profile,
}

/// A shop's size declaration and its slots held per class, as the index knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    /// Slots by class, maximum weight and dimensions.
    pub declared: ShopSizes,
    /// Of `live`, the slots of class S.
    pub live_s: i32,
    /// Of `live`, the slots of class M.
    pub live_m: i32,
}

impl IndexedShop {
    /// Slots held per class.
    pub fn held(&self) -> Held {
        Held {
            live: self.live,
            live_s: self.sizes.live_s,
            live_m: self.sizes.live_m,
        }
    }

    /// Free slots a parcel of `size` may take here, or the limit it exceeds.
    pub fn room_for(&self, size: &ParcelSize) -> Result<i32, DoesNotFit> {
        let placement = self.sizes.declared.place(self.capacity, size)?;
        Ok(free_for(
            &self.sizes.declared,
            self.capacity,
            &self.held(),
            &placement,
        ))
    }
}

impl IndexedShop {
    /// Its capabilities: the declared ones and `open_24_7` when its hours say so.
    pub fn capabilities(&self) -> Capabilities {
        self.profile.capabilities.with_hours(&self.hours)
    }

    /// Whether the shop is open at `at`: within its weekly hours and not closed for a period.
    pub fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        self.hours.is_open_at(self.timezone, at) && !self.closures.contains(at)
    }

    /// The next instant after `now` at which the shop opens (weekly hours in its time zone,
    /// closures skipped); `None` when it is open at `now` or never opens again.
    pub fn next_open_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open_at(now) {
            return None;
        }
        let mut t = now;
        // Each turn passes a closure or a range start inside one; closures are few.
        for _ in 0..64 {
            if let Some(end) = self.closures.reopens_after(t) {
                t = end;
                if self.hours.is_open_at(self.timezone, t) {
                    return Some(t);
                }
            }
            let next = self.hours.next_opening(self.timezone, t)?;
            if !self.closures.contains(next) {
                return Some(next);
            }
            t = next;
        }
        None
    }
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
    /// Any further condition (e.g. staged stock), checked last.
    pub accept: Option<&'a (dyn Fn(&IndexedShop) -> bool + Sync)>,
    /// Whether paused shops are found too (shown to customers as not selectable); closed
    /// shops never are.
    pub include_paused: bool,
    /// Only shops offering this service.
    pub service: Option<Service>,
    /// Only shops with every one of these capabilities (none: any shop).
    pub capabilities: Capabilities,
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
            include_paused: false,
            service: None,
            capabilities: Capabilities::none(),
        }
    }

    fn needs_record(&self) -> bool {
        self.open_at.is_some() || self.min_free.is_some() || self.accept.is_some()
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
    live: bool,
    /// Position of the shop's entry in `entries`, or [`NOT_IN_TREE`].
    entry: u32,
}

/// The compact record the traversal reads: 32 bytes (the services and capabilities bytes fit
/// in the padding).
#[derive(Debug, Clone, Copy)]
struct Entry {
    v: [f64; 3],
    slot: u32,
    /// [`HIDDEN`], [`ACTIVE`] or [`PAUSED`].
    found_as: u8,
    /// The shop's [`Services`] bits, filtered without reading the shop's record.
    services: u8,
    /// The shop's [`Capabilities`] bits (derived ones included), likewise.
    capabilities: u8,
}

/// An entry no search finds: a closed shop, or a slot whose shop moved or left.
const HIDDEN: u8 = 0;
/// An active shop: found by every search.
const ACTIVE: u8 = 1;
/// A paused shop: found only by searches that include paused shops.
const PAUSED: u8 = 2;

/// How searches see a shop in a live or dead slot.
fn found_as(live: bool, status: ShopStatus) -> u8 {
    match (live, status) {
        (true, ShopStatus::Active) => ACTIVE,
        (true, ShopStatus::Paused) => PAUSED,
        _ => HIDDEN,
    }
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
    schedules: HashMap<Arc<WeeklyHours>, ()>,
    details: HashMap<Arc<ShopDetails>, ()>,
    live: usize,
    /// The shops sorted by H3 cell, for map areas (`area.rs`).
    area: area::AreaIndex,
    /// The shops' words, for text search (`text.rs`).
    text: text::TextIndex,
}

impl GeoIndex {
    /// Builds the index over a set of shops (any status; only active ones are found).
    pub fn build(shops: impl IntoIterator<Item = IndexedShop>) -> Self {
        let mut index = Self::default();
        let shops = shops.into_iter();
        // Room for all at once, rather than reallocating the records some twenty times.
        index.slots.reserve(shops.size_hint().0);
        index.by_id.reserve(shops.size_hint().0);
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

    /// Sets the slots held at a shop, in all and per class; unknown ids are ignored.
    pub fn set_held(&mut self, id: i64, held: Held) {
        if let Some(&slot) = self.by_id.get(&id) {
            let shop = &mut self.slots[slot as usize].shop;
            shop.live = held.live;
            shop.sizes.live_s = held.live_s;
            shop.sizes.live_m = held.live_m;
        }
    }

    /// Adds a shop or replaces the one with the same id (keeping its live parcel count).
    pub fn upsert(&mut self, mut shop: IndexedShop) {
        shop.hours = self.intern(&shop.hours);
        shop.details = self.intern_details(shop.details.take());
        if let Some(&slot) = self.by_id.get(&shop.id) {
            let old = &mut self.slots[slot as usize];
            shop.live = old.shop.live;
            shop.sizes.live_s = old.shop.sizes.live_s;
            shop.sizes.live_m = old.shop.sizes.live_m;
            if old.shop.latitude == shop.latitude && old.shop.longitude == shop.longitude {
                let renamed = text::FIELDS.iter().any(|f| f(&old.shop) != f(&shop));
                old.shop = shop;
                self.sync_entry(slot);
                if renamed && self.text.touch(slot) {
                    self.text = text::TextIndex::build(&self.slots);
                }
                return;
            }
            old.live = false;
            self.live -= 1;
            self.sync_entry(slot);
        }
        let slot = self.push_slot(shop);
        let s = &self.slots[slot as usize];
        self.extra.push(Entry {
            v: s.point.unit_vector(),
            slot,
            found_as: found_as(true, s.shop.status),
            services: s.shop.services.bits(),
            capabilities: s.shop.capabilities().bits(),
        });
        self.area.add_extra(slot);
        if self.extra.len() > REBUILD_AFTER {
            self.compact();
        } else if self.text.touch(slot) {
            self.text = text::TextIndex::build(&self.slots);
        }
    }

    /// Removes a shop (e.g. deleted); unknown ids are ignored.
    pub fn remove(&mut self, id: i64) {
        if let Some(slot) = self.by_id.remove(&id) {
            self.slots[slot as usize].live = false;
            self.live -= 1;
            self.sync_entry(slot);
        }
    }

    /// Approximate heap bytes held, for the memory-per-shop figure.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let strings: usize = self
            .slots
            .iter()
            .map(|s| {
                s.shop.external_id.len()
                    + s.shop.name.len()
                    + s.shop.profile.photo_url.as_ref().map_or(0, |u| u.len())
            })
            .sum();
        let schedules: usize = self.schedules.len()
            * (size_of::<WeeklyHours>() + 7 * 2 * size_of::<(u16, u16)>() + 32);
        let details: usize = self
            .details
            .keys()
            .map(|d| details_bytes(d) + size_of::<(Arc<ShopDetails>, ())>() + 1)
            .sum();
        self.slots.capacity() * size_of::<Slot>()
            + details
            + (self.entries.capacity() + self.extra.capacity()) * size_of::<Entry>()
            + self.nodes.capacity() * size_of::<Node>()
            + self.by_id.capacity() * (size_of::<(i64, u32)>() + 1)
            + strings
            + schedules
            + self.area.memory_bytes()
            + self.text.memory_bytes()
    }

    /// The nearest qualifying active (and, if asked, paused) shops to (`lat`, `lon`), nearest
    /// first, ties by id.
    pub fn search(&self, lat: f64, lon: f64, filter: &SearchFilter<'_>) -> Vec<Hit<'_>> {
        if filter.limit == 0 {
            return Vec::new();
        }
        let query = Point::from_degrees(lat, lon);
        let mut search = Search::new(self, query, filter);
        if !self.nodes.is_empty() {
            search.visit(0, &mut [0.0; 3], 0.0);
        }
        for entry in &self.extra {
            search.consider(entry);
        }
        search.finish()
    }

    fn intern(&mut self, hours: &Arc<WeeklyHours>) -> Arc<WeeklyHours> {
        if let Some((shared, _)) = self.schedules.get_key_value(hours) {
            return shared.clone();
        }
        self.schedules.insert(hours.clone(), ());
        hours.clone()
    }

    /// The shared copy of equal details; a replaced shop's old details stay in the table
    /// (few: imports change addresses rarely, and a rebuild starts a new table).
    fn intern_details(&mut self, details: Option<Arc<ShopDetails>>) -> Option<Arc<ShopDetails>> {
        let details = details?;
        if let Some((shared, _)) = self.details.get_key_value(&details) {
            return Some(shared.clone());
        }
        self.details.insert(details.clone(), ());
        Some(details)
    }

    fn push_slot(&mut self, mut shop: IndexedShop) -> u32 {
        shop.hours = self.intern(&shop.hours);
        shop.details = self.intern_details(shop.details.take());
        let slot = self.slots.len() as u32;
        let point = Point::from_degrees(shop.latitude, shop.longitude);
        if let Some(old) = self.by_id.insert(shop.id, slot) {
            // A repeated id in `build` input: the later one wins.
            if self.slots[old as usize].live {
                self.slots[old as usize].live = false;
                self.live -= 1;
                self.sync_entry(old);
            }
        }
        self.slots.push(Slot {
            shop,
            point,
            live: true,
            entry: NOT_IN_TREE,
        });
        self.live += 1;
        slot
    }

    /// Copies a slot's searchability into its tree or extra entry.
    fn sync_entry(&mut self, slot: u32) {
        let s = &self.slots[slot as usize];
        let kind = found_as(s.live, s.shop.status);
        let services = s.shop.services.bits();
        let capabilities = s.shop.capabilities().bits();
        self.area.sync(slot, kind, services, capabilities, &s.shop);
        if s.entry != NOT_IN_TREE {
            let e = &mut self.entries[s.entry as usize];
            (e.found_as, e.services, e.capabilities) = (kind, services, capabilities);
        } else if let Some(e) = self.extra.iter_mut().find(|e| e.slot == slot) {
            (e.found_as, e.services, e.capabilities) = (kind, services, capabilities);
        }
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
                found_as: found_as(true, s.shop.status),
                services: s.shop.services.bits(),
                capabilities: s.shop.capabilities().bits(),
            })
            .collect();
        self.nodes.clear();
        if !self.entries.is_empty() {
            let len = self.entries.len();
            build_node(&mut self.nodes, &mut self.entries, 0, len);
        }
        self.lay_out_in_tree_order();
        // Independent of each other: built side by side.
        (self.area, self.text) = rayon::join(
            || area::AreaIndex::build(&self.slots),
            || text::TextIndex::build(&self.slots),
        );
    }

    /// Puts the slots (and the strings they own) in the order of the tree's entries, dropping
    /// dead slots. Neighbours on Earth are then neighbours in memory: the few records and
    /// names an answer reads share cache lines and pages instead of costing a cache miss each,
    /// whatever order the shops were imported in.
    fn lay_out_in_tree_order(&mut self) {
        let mut old: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        self.slots.reserve_exact(self.entries.len());
        // Each old slot's new position: `by_id` is renumbered in place, without hashing.
        let mut moved = vec![u32::MAX; old.len()];
        for (i, e) in self.entries.iter_mut().enumerate() {
            // Each entry names a distinct live slot (`rebuild_tree` made them so): taken once.
            let Some(mut slot) = old[e.slot as usize].take() else {
                continue;
            };
            // Fresh copies are allocated one after another, next to their neighbours'; the
            // old ones are freed with `old`.
            slot.shop.external_id = slot.shop.external_id.clone();
            slot.shop.name = slot.shop.name.clone();
            slot.entry = i as u32;
            moved[e.slot as usize] = i as u32;
            e.slot = i as u32;
            self.slots.push(slot);
        }
        // `by_id` names exactly the live slots, and every live slot has an entry.
        for slot in self.by_id.values_mut() {
            *slot = moved[*slot as usize];
        }
        self.by_id.retain(|_, slot| *slot != u32::MAX);
    }
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

/// One k-nearest traversal.
struct Search<'i, 'f> {
    index: &'i GeoIndex,
    filter: &'f SearchFilter<'f>,
    query: Point,
    qv: [f64; 3],
    /// The k smallest chord² so far, sorted. Which of several equal values is kept does not
    /// matter: only the k-th value is used, as the bound; ties are settled in `finish`.
    best: Vec<f64>,
    /// Every qualifying candidate seen within the bound at the time: (chord², slot).
    near: Vec<(f64, u32)>,
    /// Chord² beyond which nothing can be in the exact top k.
    bound2: f64,
    local_times: Vec<(Tz, (usize, u16))>,
    /// Services bits every found shop must have (0: any).
    service_bits: u8,
    /// Capabilities bits every found shop must have (0: any).
    capability_bits: u8,
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
            near: Vec::with_capacity(filter.limit.min(128) * 2),
            bound2: (bound + CHORD_SLACK).powi(2),
            local_times: Vec::new(),
            service_bits: filter
                .service
                .map_or(0, |s| std::iter::once(s).collect::<Services>().bits()),
            capability_bits: filter.capabilities.bits(),
        }
    }

    /// Visits a subtree; `off` holds the query's per-axis offsets to the subtree's cell and
    /// `rd` their squared sum, a lower bound on the chord² to any point in it (incremental
    /// distance, as in Arya & Mount's ANN).
    fn visit(&mut self, node: u32, off: &mut [f64; 3], rd: f64) {
        let n = self.index.nodes[node as usize];
        if n.axis == LEAF {
            for i in n.a..n.b {
                let entry = self.index.entries[i as usize];
                self.consider(&entry);
            }
            return;
        }
        let axis = n.axis as usize;
        let diff = self.qv[axis] - n.split;
        let (near, far) = if diff < 0.0 { (n.a, n.b) } else { (n.b, n.a) };
        self.visit(near, off, rd);
        let old = off[axis];
        let far_rd = rd - old * old + diff * diff;
        if far_rd <= self.bound2 {
            off[axis] = diff;
            self.visit(far, off, far_rd);
            off[axis] = old;
        }
    }

    #[inline]
    fn consider(&mut self, entry: &Entry) {
        if entry.found_as != ACTIVE && !(entry.found_as == PAUSED && self.filter.include_paused) {
            return;
        }
        if self.service_bits & !entry.services != 0
            || self.capability_bits & !entry.capabilities != 0
        {
            return;
        }
        let dx = entry.v[0] - self.qv[0];
        let dy = entry.v[1] - self.qv[1];
        let dz = entry.v[2] - self.qv[2];
        let c2 = dx * dx + dy * dy + dz * dz;
        if c2 > self.bound2 {
            return;
        }
        if self.filter.needs_record()
            && !self.qualifies(&self.index.slots[entry.slot as usize].shop)
        {
            return;
        }
        self.near.push((c2, entry.slot));
        let pos = self.best.partition_point(|b| *b <= c2);
        if pos < self.filter.limit {
            self.best.insert(pos, c2);
            if self.best.len() > self.filter.limit {
                self.best.pop();
            }
            if self.best.len() == self.filter.limit {
                if let Some(&kth) = self.best.last() {
                    self.bound2 = self.bound2.min((kth.sqrt() + CHORD_SLACK).powi(2));
                }
            }
        }
    }

    fn qualifies(&mut self, shop: &IndexedShop) -> bool {
        if self
            .filter
            .min_free
            .is_some_and(|min| shop.capacity - shop.live < min)
        {
            return false;
        }
        if let Some(at) = self.filter.open_at {
            let (weekday, minute) = self.local_time(shop.timezone, at);
            if !shop.hours.is_open_local(weekday, minute) || shop.closures.contains(at) {
                return false;
            }
        }
        self.filter.accept.is_none_or(|accept| accept(shop))
    }

    /// Ranks the candidates within the final bound exactly, by (haversine, id).
    fn finish(self) -> Vec<Hit<'i>> {
        let index = self.index;
        let bound2 = self.bound2;
        let mut hits: Vec<Hit<'i>> = self
            .near
            .into_iter()
            .filter(|&(c2, _)| c2 <= bound2)
            .map(|(_, slot)| {
                let s = &index.slots[slot as usize];
                Hit {
                    shop: &s.shop,
                    distance_m: haversine_m(&self.query, &s.point),
                }
            })
            .filter(|h| {
                self.filter
                    .max_distance_m
                    .is_none_or(|max| h.distance_m <= max)
            })
            .collect();
        hits.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then(a.shop.id.cmp(&b.shop.id))
        });
        hits.truncate(self.filter.limit);
        hits
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

/// Heap bytes of one shared details record (its allocation and its strings).
fn details_bytes(d: &ShopDetails) -> usize {
    let len = |s: &Option<Box<str>>| s.as_ref().map_or(0, |s| s.len());
    let address = d.address.as_ref().map_or(0, |a| {
        len(&a.street) + len(&a.postcode) + a.city.len() + len(&a.region)
    });
    let local: usize = d
        .local_columns()
        .iter()
        .map(|s| s.map_or(0, str::len))
        .sum();
    // The Arc's two counters beside the record.
    let boxed = d
        .localized
        .as_ref()
        .map_or(0, |_| std::mem::size_of::<Localized>());
    std::mem::size_of::<ShopDetails>() + 16 + address + len(&d.phone) + boxed + local
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "search_tests.rs"]
mod search_tests;
