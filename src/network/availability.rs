//! Whether a pickup point can take a customer's parcel, and the "will have room" order of
//! search answers (`rank=room`).
//!
//! A point is *selectable* when a reservation there would succeed at the expected arrival:
//! it is active, it has a free slot (or holds a staged unit of the item, which becomes the
//! parcel without taking a new slot) and, when an arrival time is known, it is open then
//! (within its weekly hours and not in a closure period). Otherwise the first reason that
//! applies, in the order paused, closed for a period, full, closed at arrival, says why not.
//!
//! The room order sorts selectable points before unselectable ones, then by the score
//!
//! ```text
//! score = distance_km + FULLNESS_WEIGHT_KM × (1 − free_slots / capacity)
//!                     + CLOSED_WEIGHT_KM × [closed at arrive_at]
//! ```
//!
//! (lower is better; a point of capacity 0 counts as full), then by distance, then by id. A
//! point with every slot free thus beats a nearly full one up to one kilometre nearer.
//!
//! Without an arrival time the parcel is assumed to arrive within [`ASSUMED_ARRIVAL_HOURS`]
//! of now: a point closed for a period at any moment of that window is not selectable
//! (`closed_for_period`), and a reservation there is refused the same way
//! (`closure_store::pickup_refusal`). Weekly hours are not checked against the window (every
//! shop closes at night).
//!
//! With a parcel's measurements (`parcel=`, `weight_kg=`), the room is that of the size
//! classes the parcel may take at each point ([`room`]): `full` when none of them has a free
//! slot, the score's free share is of those classes' slots, and a point the parcel does not
//! fit is not selectable (`does_not_fit`, after `paused` and `closed_for_period`).
//!
//! The room order keeps the nearest unselectable points visible: of an answer of `limit`
//! points, up to [`visible_unavailable`]`(limit)` places go to unselectable candidates nearer
//! than the farthest selectable point the answer would show (see [`room_answer`]).

use super::index::IndexedShop;
use super::shop::ShopStatus;
use super::sizes::{free_for, DoesNotFit, ParcelSize, SizeClass};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::cmp::Ordering;
use utoipa::ToSchema;

/// Kilometres added to a point's score when none of its slots is free (in proportion to the
/// share of slots held).
pub const FULLNESS_WEIGHT_KM: f64 = 1.0;
/// Kilometres added to a point's score when it is closed at the expected arrival.
pub const CLOSED_WEIGHT_KM: f64 = 2.0;
/// The room order reorders this many times `limit` of the nearest points (at least
/// [`MIN_ROOM_CANDIDATES`], at most [`MAX_ROOM_CANDIDATES`]).
pub const ROOM_CANDIDATES_PER_RESULT: usize = 3;
/// Fewest nearest points the room order considers.
pub const MIN_ROOM_CANDIDATES: usize = 20;
/// Most nearest points the room order considers.
pub const MAX_ROOM_CANDIDATES: usize = 100;

/// Hours after now within which a parcel is assumed to arrive when no arrival time is given.
pub const ASSUMED_ARRIVAL_HOURS: i64 = 48;

/// The window `[now, now + ASSUMED_ARRIVAL_HOURS)` assumed when no arrival time is given.
pub fn assumed_arrival(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (now, now + chrono::Duration::hours(ASSUMED_ARRIVAL_HOURS))
}

/// Why a point a customer sees cannot be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnavailableReason {
    /// Every slot is held.
    Full,
    /// The shop has paused taking parcels.
    Paused,
    /// The shop is closed at the expected arrival time (outside its weekly hours).
    ClosedAtArrival,
    /// The shop is closed for a period (holiday, one-off closure) at the expected arrival.
    ClosedForPeriod,
    /// The parcel is heavier or larger than the point takes.
    DoesNotFit,
}

impl UnavailableReason {
    /// The reason's name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Paused => "paused",
            Self::ClosedAtArrival => "closed_at_arrival",
            Self::ClosedForPeriod => "closed_for_period",
            Self::DoesNotFit => "does_not_fit",
        }
    }
}

/// What a customer is told about one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// Whether the point can be chosen.
    pub selectable: bool,
    /// Why not, when it cannot.
    pub reason: Option<UnavailableReason>,
    /// Whether it is open at the expected arrival (hours and closures); `None` when no
    /// arrival time was given.
    pub open_at_arrival: Option<bool>,
}

/// Free slots of a shop as the index knows them (never negative).
pub fn free_slots(shop: &IndexedShop) -> i32 {
    (shop.capacity - shop.live).max(0)
}

/// A shop's room for a search's parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Free slots the parcel may take (every free slot without a parcel).
    pub free: i32,
    /// Slots of the classes the parcel may take (the capacity without a parcel).
    pub slots: i32,
    /// The size class the parcel needs here; `None` without a parcel or when it does not fit.
    pub class: Option<SizeClass>,
    /// The limit the parcel exceeds, when it does not fit.
    pub misfit: Option<DoesNotFit>,
}

/// The room of `shop` for a parcel of `size` (`None`: no parcel given), as a reservation
/// would find it ([`crate::network::sizes::ShopSizes::place`]).
pub fn room(shop: &IndexedShop, size: Option<&ParcelSize>) -> Room {
    let Some(size) = size else {
        return Room {
            free: free_slots(shop),
            slots: shop.capacity,
            class: None,
            misfit: None,
        };
    };
    let declared = &shop.sizes.declared;
    match declared.place(shop.capacity, size) {
        Ok(placement) => Room {
            free: free_for(declared, shop.capacity, &shop.held(), &placement),
            slots: placement
                .classes()
                .map(|c| declared.slots(shop.capacity, c))
                .sum(),
            class: Some(placement.needed),
            misfit: None,
        },
        Err(why) => Room {
            free: 0,
            slots: 0,
            class: None,
            misfit: Some(why),
        },
    }
}

/// Whether `shop` can take a parcel arriving at `arrive_at`; `holds_stock` when it holds a
/// staged unit of the item, which a reservation takes instead of a free slot.
///
/// ```
/// # use pudo::network::availability::{assess, UnavailableReason};
/// # use pudo::network::{hours::WeeklyHours, index::IndexedShop, ShopStatus};
/// let shop = IndexedShop {
///     id: 1, external_id: "a".into(), name: "A".into(), latitude: 0.0, longitude: 0.0,
///     h3_cell: 0, capacity: 2, live: 2, status: ShopStatus::Active,
///     timezone: chrono_tz::UTC, hours: WeeklyHours::always().into(),
///     services: Default::default(), closures: Default::default(), details: None,
///     sizes: Default::default(), profile: Default::default(),
/// };
/// assert_eq!(assess(&shop, None, false).reason, Some(UnavailableReason::Full));
/// assert!(assess(&shop, None, true).selectable);
/// ```
pub fn assess(
    shop: &IndexedShop,
    arrive_at: Option<DateTime<Utc>>,
    holds_stock: bool,
) -> Availability {
    assess_room(shop, arrive_at, holds_stock, &room(shop, None))
}

/// [`assess`] for the room of a search's parcel ([`room`]).
pub fn assess_room(
    shop: &IndexedShop,
    arrive_at: Option<DateTime<Utc>>,
    holds_stock: bool,
    room: &Room,
) -> Availability {
    let closed_for_period = arrive_at.is_some_and(|at| shop.closures.contains(at));
    let open_at_arrival = arrive_at.map(|at| shop.is_open_at(at));
    let reason = if shop.status != ShopStatus::Active {
        Some(UnavailableReason::Paused)
    } else if closed_for_period {
        Some(UnavailableReason::ClosedForPeriod)
    } else if room.misfit.is_some() {
        Some(UnavailableReason::DoesNotFit)
    } else if room.free == 0 && !holds_stock {
        Some(UnavailableReason::Full)
    } else if open_at_arrival == Some(false) {
        Some(UnavailableReason::ClosedAtArrival)
    } else {
        None
    };
    Availability {
        selectable: reason.is_none(),
        reason,
        open_at_arrival,
    }
}

/// [`assess`], with the assumed arrival window (see the module documentation) when
/// `arrive_at` is not given.
pub fn assess_at(
    shop: &IndexedShop,
    arrive_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    holds_stock: bool,
) -> Availability {
    assess_room_at(shop, arrive_at, now, holds_stock, &room(shop, None))
}

/// [`assess_at`] for the room of a search's parcel ([`room`]).
pub fn assess_room_at(
    shop: &IndexedShop,
    arrive_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    holds_stock: bool,
    room: &Room,
) -> Availability {
    let mut a = assess_room(shop, arrive_at, holds_stock, room);
    if arrive_at.is_none() && a.reason != Some(UnavailableReason::Paused) {
        let (from, to) = assumed_arrival(now);
        if shop.closures.overlaps(from, to) {
            a.selectable = false;
            a.reason = Some(UnavailableReason::ClosedForPeriod);
        }
    }
    a
}

/// How many places of a room-ordered answer of `limit` may go to unselectable points that are
/// nearer than the selectable ones shown: a quarter, so that most of the list can be chosen.
pub fn visible_unavailable(limit: usize) -> usize {
    limit / 4
}

/// The answer of the room order from its candidates already sorted by [`room_order`]: the
/// first `limit`, except that when there are selectable points enough to fill it, up to
/// [`visible_unavailable`] of the nearest unselectable ones that are nearer than the farthest
/// selectable point shown take the last places, so a customer still sees (greyed) the full or
/// paused point next door. Returns the indices of the kept candidates, in room order.
pub fn room_answer(sorted: &[RoomKey], limit: usize) -> Vec<usize> {
    let selectable: Vec<usize> = (0..sorted.len())
        .filter(|&i| sorted[i].selectable)
        .collect();
    if selectable.len() < limit {
        return (0..sorted.len().min(limit)).collect();
    }
    let mut unavailable: Vec<usize> = (0..sorted.len())
        .filter(|&i| !sorted[i].selectable)
        .collect();
    unavailable.sort_by(|&a, &b| {
        sorted[a]
            .distance_m
            .total_cmp(&sorted[b].distance_m)
            .then(sorted[a].id.cmp(&sorted[b].id))
    });
    let mut shown = 0;
    while shown < visible_unavailable(limit) && shown < unavailable.len() {
        let farthest = selectable[..limit - shown - 1]
            .iter()
            .map(|&i| sorted[i].distance_m)
            .fold(f64::NEG_INFINITY, f64::max);
        if sorted[unavailable[shown]].distance_m < farthest {
            shown += 1;
        } else {
            break;
        }
    }
    let mut kept: Vec<usize> = selectable[..limit - shown]
        .iter()
        .chain(&unavailable[..shown])
        .copied()
        .collect();
    kept.sort_unstable();
    kept
}

/// The room score of a point (lower is better); see the module documentation.
pub fn room_score(distance_m: f64, free: i32, capacity: i32, open_at_arrival: Option<bool>) -> f64 {
    let free_share = if capacity > 0 {
        (f64::from(free.max(0)) / f64::from(capacity)).min(1.0)
    } else {
        0.0
    };
    let closed = if open_at_arrival == Some(false) {
        1.0
    } else {
        0.0
    };
    distance_m / 1000.0 + FULLNESS_WEIGHT_KM * (1.0 - free_share) + CLOSED_WEIGHT_KM * closed
}

/// How many of the nearest points the room order considers for an answer of `limit`.
pub fn room_candidates(limit: usize) -> usize {
    (limit * ROOM_CANDIDATES_PER_RESULT).clamp(MIN_ROOM_CANDIDATES, MAX_ROOM_CANDIDATES)
}

/// What the room order compares for one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoomKey {
    /// Selectable points come first.
    pub selectable: bool,
    /// Then the lower [`room_score`].
    pub score: f64,
    /// Then the nearer.
    pub distance_m: f64,
    /// Then the smaller id.
    pub id: i64,
}

/// The room order: a total, deterministic order on [`RoomKey`]s.
pub fn room_order(a: &RoomKey, b: &RoomKey) -> Ordering {
    b.selectable
        .cmp(&a.selectable)
        .then(a.score.total_cmp(&b.score))
        .then(a.distance_m.total_cmp(&b.distance_m))
        .then(a.id.cmp(&b.id))
}

/// The shop's opening hours as text, or `None` when it is open around the clock.
pub fn hours_text(shop: &IndexedShop) -> Option<&str> {
    (!shop.hours.is_always()).then(|| shop.hours.text())
}

#[cfg(test)]
#[path = "availability_tests.rs"]
mod tests;
