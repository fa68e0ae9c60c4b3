//! Shop health for the network operator: how fast a shop scans parcels in, how much it
//! hands over, how often codes fail, what expires, how full it gets over time; and the
//! network view of shops that are often full, often late on scan-in, or silent while open.
//!
//! The figures are aggregated by SQL in [`store`]; this module holds the pure arithmetic:
//! percentiles, occupancy per local day, open time from opening hours.
//!
//! **Occupancy** is the number of parcels physically at the shop: a parcel counts from its
//! arrival scan until it is picked up or sent back (expired parcels still waiting to be sent
//! back count). It is a step function known exactly from the parcels' times, so a day's peak
//! and time-weighted average are exact, not sampled. The capacity compared against is the
//! shop's current one.

pub mod network;
pub mod store;

use crate::network::index::IndexedShop;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// Longest window a health query may cover, days.
pub const MAX_WINDOW_DAYS: i64 = 92;

/// A half-open time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

impl Window {
    /// Start as a naive UTC time (database form).
    pub fn from_naive(&self) -> NaiveDateTime {
        self.from.naive_utc()
    }

    /// End as a naive UTC time (database form).
    pub fn to_naive(&self) -> NaiveDateTime {
        self.to.naive_utc()
    }
}

/// Activity of a shop that health counts. Every kind is one SQL source in
/// [`store::activity_counts`]: a new kind (e.g. drop-offs) is one variant here and one source
/// there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// Reservations made at the shop.
    Reservations,
    /// Arrival scans.
    Arrivals,
    /// Carriers' hand-ins.
    Handins,
    /// Successful handovers.
    Handovers,
    /// Handover attempts that failed on the code: wrong, expired or not collectable.
    FailedCodeAttempts,
    /// Handover attempts refused by the attempt limit.
    RateLimitedAttempts,
    /// Parcels whose holding period ended without pickup.
    Expiries,
    /// Expired parcels sent back.
    ReturnsSent,
}

impl ActivityKind {
    /// Every kind, in report order.
    pub const ALL: [ActivityKind; 8] = [
        Self::Reservations,
        Self::Arrivals,
        Self::Handins,
        Self::Handovers,
        Self::FailedCodeAttempts,
        Self::RateLimitedAttempts,
        Self::Expiries,
        Self::ReturnsSent,
    ];

    /// Kinds that show the shop is working: a shop with none of them while open is silent.
    /// (Expiries and returns happen to a shop as much as by it; reservations are customers
    /// choosing it.)
    pub const SIGNS_OF_LIFE: [ActivityKind; 5] = [
        Self::Reservations,
        Self::Arrivals,
        Self::Handins,
        Self::Handovers,
        Self::FailedCodeAttempts,
    ];
}

/// Scan-in latency of a shop's hand-ins in a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct ScanInStats {
    /// Hand-ins in the window.
    pub handins: i64,
    /// Scanned by the deadline.
    pub on_time: i64,
    /// Scanned after the deadline.
    pub late: i64,
    /// Deadline passed without a scan.
    pub missing: i64,
    /// Not scanned, deadline not yet passed.
    pub pending: i64,
    /// Median seconds from hand-in to scan (nearest rank), over scanned hand-ins.
    pub median_s: Option<i64>,
    /// 90th percentile (nearest rank).
    pub p90_s: Option<i64>,
    /// Longest.
    pub max_s: Option<i64>,
}

/// The nearest-rank percentile `p` (0 to 100) of sorted values: the value at rank
/// `ceil(p / 100 × n)`.
///
/// ```
/// use pudo::health::percentile;
/// assert_eq!(percentile(&[10, 20, 30, 40], 50), Some(20));
/// assert_eq!(percentile(&[10, 20, 30, 40], 90), Some(40));
/// assert_eq!(percentile(&[], 50), None);
/// ```
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (p as usize * n).div_ceil(100).clamp(1, n);
    Some(sorted[rank - 1])
}

/// Occupancy over one local day of the shop.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DayOccupancy {
    /// Local date in the shop's time zone.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// Most parcels at the shop at any moment of the day (within the window).
    pub peak: i64,
    /// Time-weighted average parcels at the shop over the day's part within the window.
    pub average: f64,
    /// `peak / capacity` (null for capacity 0).
    pub peak_share: Option<f64>,
}

/// One step of a shop's occupancy: `level` parcels from `at` until `until` (the next step,
/// or the end of the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// When the level starts.
    pub at: DateTime<Utc>,
    /// When the next step starts; `None`: the end of the window.
    pub until: Option<DateTime<Utc>>,
    /// Parcels at the shop.
    pub level: i64,
}

/// The local days of `tz` that `[from, to)` touches, each with its part of the window.
pub fn local_days(tz: Tz, w: Window) -> Vec<(NaiveDate, DateTime<Utc>, DateTime<Utc>)> {
    use crate::network::closures::local_day_start;
    let mut out = Vec::new();
    let mut day = w.from.with_timezone(&tz).date_naive();
    loop {
        let start = local_day_start(tz, day).max(w.from);
        let Some(next) = day.succ_opt() else { break };
        let end = local_day_start(tz, next).min(w.to);
        if start >= w.to {
            break;
        }
        if end > start {
            out.push((day, start, end));
        }
        day = next;
    }
    out
}

/// Daily peak and average occupancy from a shop's steps (sorted by time; before the first
/// step the shop is empty).
pub fn daily_occupancy(tz: Tz, w: Window, steps: &[Step], capacity: i32) -> Vec<DayOccupancy> {
    let segments = segments(w, steps);
    local_days(tz, w)
        .into_iter()
        .map(|(date, start, end)| {
            let mut peak = 0;
            let mut weighted = 0.0;
            for &(a, b, level) in &segments {
                let (a, b) = (a.max(start), b.min(end));
                if b > a {
                    peak = peak.max(level);
                    weighted += level as f64 * (b - a).num_milliseconds() as f64;
                }
            }
            let span = (end - start).num_milliseconds() as f64;
            DayOccupancy {
                date,
                peak,
                average: if span > 0.0 { weighted / span } else { 0.0 },
                peak_share: (capacity > 0).then(|| peak as f64 / f64::from(capacity)),
            }
        })
        .collect()
}

/// Local days on which the shop was full (occupancy at or above `capacity`) for some time.
pub fn full_days(tz: Tz, w: Window, steps: &[Step], capacity: i32) -> BTreeSet<NaiveDate> {
    let mut days = BTreeSet::new();
    if capacity <= 0 {
        return days;
    }
    let full: Vec<_> = segments(w, steps)
        .into_iter()
        .filter(|&(a, b, level)| level >= i64::from(capacity) && b > a)
        .collect();
    if full.is_empty() {
        return days;
    }
    for (date, start, end) in local_days(tz, w) {
        if full.iter().any(|&(a, b, _)| a < end && start < b) {
            days.insert(date);
        }
    }
    days
}

/// The piecewise-constant occupancy over the window: `(from, to, level)` pieces.
fn segments(w: Window, steps: &[Step]) -> Vec<(DateTime<Utc>, DateTime<Utc>, i64)> {
    let mut out = Vec::with_capacity(steps.len() + 1);
    if let Some(first) = steps.first() {
        out.push((w.from, first.at.max(w.from), 0));
    }
    for s in steps {
        let end = s.until.unwrap_or(w.to).min(w.to);
        out.push((s.at.max(w.from), end, s.level));
    }
    out
}

/// Seconds the shop is open within the window: weekly hours in its time zone, minus closure
/// periods; counted minute by minute (exact for hours given in whole minutes and windows
/// starting on a whole minute).
pub fn open_seconds(shop: &IndexedShop, w: Window) -> i64 {
    hours_open_seconds(shop, w.from, w.to) - closed_open_seconds(shop, w)
}

/// Seconds of the window within the shop's weekly hours but in a closure period.
fn closed_open_seconds(shop: &IndexedShop, w: Window) -> i64 {
    shop.closures
        .clipped(w.from.timestamp(), w.to.timestamp())
        .into_iter()
        .filter_map(|(a, b)| {
            Some(hours_open_seconds(
                shop,
                DateTime::from_timestamp(a, 0)?,
                DateTime::from_timestamp(b, 0)?,
            ))
        })
        .sum()
}

/// Seconds of `[from, to)` within the shop's weekly hours (closures not considered).
fn hours_open_seconds(shop: &IndexedShop, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    if shop.hours.is_always() {
        return (to - from).num_seconds();
    }
    let mut at = from;
    let mut open = 0;
    while at < to {
        if shop.hours.is_open_at(shop.timezone, at) {
            open += 60.min((to - at).num_seconds());
        }
        at += Duration::minutes(1);
    }
    open
}

/// [`open_seconds`] for many shops: shops without closures share the figure of their
/// schedule and time zone, computed once.
#[derive(Default)]
pub struct OpenTime {
    cache: std::collections::HashMap<(usize, Tz), i64>,
}

impl OpenTime {
    /// Seconds `shop` is open within `w`.
    pub fn of(&mut self, shop: &IndexedShop, w: Window) -> i64 {
        // The index shares one schedule between shops with equal hours, so its address
        // identifies it.
        let key = (std::sync::Arc::as_ptr(&shop.hours) as usize, shop.timezone);
        let base = *self
            .cache
            .entry(key)
            .or_insert_with(|| hours_open_seconds(shop, w.from, w.to));
        base - closed_open_seconds(shop, w)
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
