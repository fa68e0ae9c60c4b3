//! The network view of shop health: which shops are often full, often late on scan-in, or
//! silent while open, from the figures [`super::store`] aggregates.

use super::store::{LateCount, ShopSteps};
use super::{full_days, ActivityKind, OpenTime, Window};
use crate::network::{GeoIndex, ShopStatus};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// What puts a shop on a list, and how long the lists are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Often full: full on at least this many local days.
    pub full_days: i64,
    /// Often late: at least this many late or missing scans.
    pub late_scans: i64,
    /// Silent: open at least this many hours with no sign of life.
    pub silent_open_hours: i64,
    /// Most shops per list.
    pub limit: usize,
}

/// A shop in a network list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopRef {
    /// pudo's shop id.
    pub shop_id: i64,
    /// The partner's reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
}

/// A shop that was often full.
#[derive(Debug, Serialize, ToSchema)]
pub struct OftenFull {
    /// The shop.
    #[serde(flatten)]
    pub shop: ShopRef,
    /// Current capacity.
    pub capacity: i32,
    /// Local days on which it was full for some time.
    pub full_days: usize,
}

/// A shop often late on scan-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct OftenLate {
    /// The shop.
    #[serde(flatten)]
    pub shop: ShopRef,
    /// Hand-ins in the window.
    pub handins: i64,
    /// Scanned after the deadline.
    pub late: i64,
    /// Not scanned by the deadline.
    pub missing: i64,
}

/// A shop silent while open.
#[derive(Debug, Serialize, ToSchema)]
pub struct Silent {
    /// The shop.
    #[serde(flatten)]
    pub shop: ShopRef,
    /// Hours it was open in the window (opening hours minus closures).
    pub open_hours: f64,
}

/// The network view.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkHealth {
    /// Window start (UTC).
    pub from: DateTime<Utc>,
    /// Window end, exclusive (UTC).
    pub to: DateTime<Utc>,
    /// Thresholds applied.
    pub full_days: i64,
    /// Thresholds applied.
    pub late_scans: i64,
    /// Thresholds applied.
    pub silent_open_hours: i64,
    /// Most full days first, then id.
    pub often_full: Vec<OftenFull>,
    /// Shops often full, in all.
    pub often_full_total: usize,
    /// Most late plus missing first, then id.
    pub often_late: Vec<OftenLate>,
    /// Shops often late, in all.
    pub often_late_total: usize,
    /// Longest open first, then id.
    pub silent: Vec<Silent>,
    /// Silent shops, in all.
    pub silent_total: usize,
}

/// Builds the network view: `full` holds the occupancy steps at or above capacity per shop,
/// `late` the shops with enough late or missing scans, `active` the shops with some sign of
/// life; names and opening hours come from the geo index.
pub fn assemble(
    index: &GeoIndex,
    w: Window,
    t: &Thresholds,
    full: BTreeMap<i64, ShopSteps>,
    late: Vec<LateCount>,
    active: &HashMap<i64, BTreeMap<ActivityKind, i64>>,
) -> NetworkHealth {
    let shop_ref = |id: i64| {
        let shop = index.get(id);
        ShopRef {
            shop_id: id,
            external_id: shop.map_or_else(String::new, |s| s.external_id.to_string()),
            name: shop.map_or_else(String::new, |s| s.name.to_string()),
        }
    };
    let mut often_full: Vec<OftenFull> = full
        .into_iter()
        .filter_map(|(id, s)| {
            let tz: Tz = s.timezone.parse().unwrap_or(chrono_tz::UTC);
            let days = full_days(tz, w, &s.steps, s.capacity).len();
            (days as i64 >= t.full_days).then(|| OftenFull {
                shop: shop_ref(id),
                capacity: s.capacity,
                full_days: days,
            })
        })
        .collect();
    often_full.sort_by(|a, b| {
        b.full_days
            .cmp(&a.full_days)
            .then(a.shop.shop_id.cmp(&b.shop.shop_id))
    });
    let mut often_late: Vec<OftenLate> = late
        .into_iter()
        .map(|l| OftenLate {
            shop: shop_ref(l.shop_id),
            handins: l.handins,
            late: l.late,
            missing: l.missing,
        })
        .collect();
    often_late.sort_by(|a, b| {
        (b.late + b.missing)
            .cmp(&(a.late + a.missing))
            .then(a.shop.shop_id.cmp(&b.shop.shop_id))
    });
    let mut open_time = OpenTime::default();
    let mut silent: Vec<(i64, i64)> = index
        .shops()
        .filter(|s| s.status == ShopStatus::Active && !active.contains_key(&s.id))
        .filter_map(|s| {
            let open = open_time.of(s, w);
            (open >= t.silent_open_hours * 3600).then_some((s.id, open))
        })
        .collect();
    silent.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let (full_total, late_total, silent_total) = (often_full.len(), often_late.len(), silent.len());
    often_full.truncate(t.limit);
    often_late.truncate(t.limit);
    let silent = silent
        .into_iter()
        .take(t.limit)
        .map(|(id, open)| Silent {
            shop: shop_ref(id),
            open_hours: open as f64 / 3600.0,
        })
        .collect();
    NetworkHealth {
        from: w.from,
        to: w.to,
        full_days: t.full_days,
        late_scans: t.late_scans,
        silent_open_hours: t.silent_open_hours,
        often_full,
        often_full_total: full_total,
        often_late,
        often_late_total: late_total,
        silent,
        silent_total,
    }
}
