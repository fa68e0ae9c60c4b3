//! The best `limit` shops among those the text index offers ([`super::TextIndex`]), in answer
//! order (match quality, then distance from the position searched near, then id), refusing
//! each candidate as early as it can: see the text module's documentation.

use super::super::area::Check;
use super::super::{found_as, GeoIndex, IndexedShop, SearchFilter, CHORD_SLACK};
use super::{Quality, Query};
use crate::network::geo::{chord_for_distance, haversine_m, Point};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The slots already offered: a bitmap over all slots when there are many candidates, else a
/// short list (zeroing the bitmap would cost more than the search).
pub(super) enum Seen {
    Few(Vec<u32>),
    Many(Vec<u64>),
}

impl Seen {
    pub(super) fn new(candidates: usize, slots: usize) -> Self {
        if candidates <= 64 {
            Self::Few(Vec::with_capacity(candidates))
        } else {
            Self::Many(vec![0; slots / 64 + 1])
        }
    }

    /// Notes `slot`; false when it was noted before.
    pub(super) fn insert(&mut self, slot: u32) -> bool {
        match self {
            Self::Few(list) => {
                let new = !list.contains(&slot);
                if new {
                    list.push(slot);
                }
                new
            }
            Self::Many(bits) => {
                let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
                let new = bits[word] & bit == 0;
                bits[word] |= bit;
                new
            }
        }
    }
}

/// A hit kept by a [`Ranking`], in answer order: quality, then distance (0 without a position),
/// then id.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    quality: Quality,
    distance_m: f64,
    id: i64,
    slot: u32,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.quality
            .cmp(&other.quality)
            .then(self.distance_m.total_cmp(&other.distance_m))
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The best `limit` matching shops offered so far, and what a candidate must beat to join
/// them: a worse quality than the worst kept is refused before anything is read, and near a
/// position a shop whose chord (from its compact tree entry) is clearly longer than the worst
/// kept one's of the same quality is refused before its record is read. Ties in the bounds
/// are kept (the slack is [`CHORD_SLACK`]), so the answer is exactly the full sort's.
pub(super) struct Ranking<'i, 'f> {
    index: &'i GeoIndex,
    check: Check<'f, 'i>,
    limit: usize,
    max_distance_m: Option<f64>,
    from: Option<Point>,
    /// `from` as a unit vector.
    qv: [f64; 3],
    /// Chord² beyond `max_distance_m`.
    max_bound2: f64,
    /// Chord² beyond the worst kept hit's distance, once `limit` are kept.
    worst_bound2: f64,
    /// A max-heap: the worst kept hit on top.
    kept: BinaryHeap<Ranked>,
}

impl<'i, 'f> Ranking<'i, 'f> {
    pub(super) fn new(
        index: &'i GeoIndex,
        filter: &'f SearchFilter<'f>,
        near: Option<(f64, f64)>,
    ) -> Self {
        let from = near.map(|(lat, lon)| Point::from_degrees(lat, lon));
        let bound = filter.max_distance_m.map_or(2.0, chord_for_distance);
        Self {
            index,
            check: Check::new(filter, &index.area.schedules),
            limit: filter.limit,
            max_distance_m: filter.max_distance_m,
            from,
            qv: from.map_or([0.0; 3], |p| p.unit_vector()),
            max_bound2: (bound + CHORD_SLACK).powi(2),
            worst_bound2: f64::INFINITY,
            kept: BinaryHeap::with_capacity(filter.limit.min(1024) + 1),
        }
    }

    /// Whether every shop yet to be offered at quality `tier` or worse is refused.
    pub(super) fn settled(&self, tier: Quality) -> bool {
        self.kept.len() >= self.limit && self.kept.peek().is_some_and(|w| w.quality <= tier)
    }

    /// Considers a matching slot (each slot offered once).
    pub(super) fn offer(&mut self, slot: u32, quality: Quality) {
        self.offer_with(slot, quality, || Some(quality));
    }

    /// Considers a slot that matches no better than `floor`, if `quality` (only called when
    /// the slot is of the wanted kind and could still enter) says it matches.
    pub(super) fn offer_with(
        &mut self,
        slot: u32,
        floor: Quality,
        quality: impl FnOnce() -> Option<Quality>,
    ) {
        let worst = (self.kept.len() >= self.limit)
            .then(|| self.kept.peek().copied())
            .flatten();
        if worst.is_some_and(|w| floor > w.quality) {
            return;
        }
        let index = self.index;
        // The tree entry of a built slot sits at the slot's own position (`lay_out_in_tree_order`).
        let (found, services, capabilities, v) = match index.entries.get(slot as usize) {
            Some(e) if e.slot == slot => (e.found_as, e.services, e.capabilities, e.v),
            _ => {
                let s = &index.slots[slot as usize];
                let shop = &s.shop;
                (
                    found_as(s.live, shop.status),
                    shop.services.bits(),
                    shop.capabilities().bits(),
                    s.point.unit_vector(),
                )
            }
        };
        if !self.check.kind(found, services, capabilities) {
            return;
        }
        // Chord² to `from`, and whether a shop of quality `q` that far is clearly behind the
        // worst kept.
        let c2: f64 = (0..3).map(|k| (v[k] - self.qv[k]).powi(2)).sum();
        let beyond = |q: Quality| {
            self.from.is_some()
                && c2
                    > match worst {
                        Some(w) if w.quality == q => self.worst_bound2,
                        _ => self.max_bound2,
                    }
        };
        if beyond(floor) {
            return;
        }
        // Without a position the order after quality is the id: a larger id than the worst
        // kept's, at its quality, is behind it whatever the text says.
        let s = &index.slots[slot as usize];
        if self.from.is_none() && worst.is_some_and(|w| w.quality == floor && s.shop.id > w.id) {
            return;
        }
        let Some(quality) = quality() else {
            return;
        };
        if worst.is_some_and(|w| quality > w.quality) || beyond(quality) {
            return;
        }
        if !self.check.record(&s.shop) {
            return;
        }
        let distance_m = self.from.map_or(0.0, |p| haversine_m(&p, &s.point));
        if self.from.is_some() && self.max_distance_m.is_some_and(|max| distance_m > max) {
            return;
        }
        let hit = Ranked {
            quality,
            distance_m,
            id: s.shop.id,
            slot,
        };
        if let Some(w) = worst {
            if hit >= w {
                return;
            }
            self.kept.pop();
        }
        self.kept.push(hit);
        if self.kept.len() >= self.limit && self.from.is_some() {
            if let Some(w) = self.kept.peek() {
                self.worst_bound2 = (chord_for_distance(w.distance_m) + CHORD_SLACK).powi(2);
            }
        }
    }

    /// The hits kept, best first.
    pub(super) fn finish(self) -> Vec<TextHit<'i>> {
        let (index, near) = (self.index, self.from.is_some());
        self.kept
            .into_sorted_vec()
            .into_iter()
            .map(|r| TextHit {
                shop: &index.slots[r.slot as usize].shop,
                quality: r.quality,
                distance_m: near.then_some(r.distance_m),
            })
            .collect()
    }
}

/// One shop found by text.
#[derive(Debug, Clone, Copy)]
pub struct TextHit<'a> {
    /// The shop.
    pub shop: &'a IndexedShop,
    /// How well it matches.
    pub quality: Quality,
    /// Its haversine distance from the position searched near, metres; `None` without one.
    pub distance_m: Option<f64>,
}

impl GeoIndex {
    /// The shops matching `q` and the filter (status, service, capabilities, `open_at`, `min_free`,
    /// `accept`, and `max_distance_m` from `near`), best match first, then nearest to `near`
    /// (when given), then by id; at most `filter.limit`.
    pub fn find_text(
        &self,
        q: &Query,
        near: Option<(f64, f64)>,
        filter: &SearchFilter<'_>,
    ) -> Vec<TextHit<'_>> {
        if filter.limit == 0 {
            return Vec::new();
        }
        let mut ranking = Ranking::new(self, filter, near);
        self.text.find(q, &self.slots, &mut ranking);
        ranking.finish()
    }
}
