//! The SQL of shop health: counts, scan-in latencies and occupancy steps, aggregated in the
//! database over a time window (indexes: `parcels (created_at)`, `parcels (arrived_at)`,
//! `handover_attempts (at)`, `handins (handed_in_at)`, `handins (shop_id, handed_in_at)`).
//!
//! The SQL text is the same on both backends; the window's bounds are our own validated
//! instants, inlined as timestamp literals in the form diesel stores them (SQLite compares
//! timestamps as text, PostgreSQL casts the literal).

use super::{ActivityKind, ScanInStats, Step, Window};
use crate::db::DbConn;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use std::collections::{BTreeMap, HashMap};

/// A timestamp literal as diesel stores it on SQLite (`%F %T%.f`), also valid on PostgreSQL.
fn lit(t: NaiveDateTime) -> String {
    format!("'{}'", t.format("%F %T%.f"))
}

/// `AND <column> = id` when one shop is asked for.
fn shop_filter(column: &str, shop: Option<i64>) -> String {
    shop.map_or_else(String::new, |id| format!(" AND {column} = {id}"))
}

/// The SQL of one activity kind: `SELECT shop_id, COUNT(*)` over the window. The one place
/// that says where each kind comes from.
fn source(kind: ActivityKind, w: &Window, now: NaiveDateTime, shop: Option<i64>) -> String {
    let (from, to) = (lit(w.from_naive()), lit(w.to_naive()));
    let attempts = |results: &str| {
        format!(
            "SELECT shop_id, COUNT(*) AS n FROM handover_attempts WHERE at >= {from} AND at < {to} \
             AND result IN ({results}){} GROUP BY shop_id",
            shop_filter("shop_id", shop)
        )
    };
    let parcels = |column: &str, extra: &str| {
        format!(
            "SELECT shop_id, COUNT(*) AS n FROM parcels WHERE {column} >= {from} AND {column} < {to}\
             {extra}{} GROUP BY shop_id",
            shop_filter("shop_id", shop)
        )
    };
    match kind {
        ActivityKind::Reservations => parcels("created_at", ""),
        ActivityKind::Arrivals => parcels("arrived_at", ""),
        ActivityKind::Handins => format!(
            "SELECT shop_id, COUNT(*) AS n FROM handins WHERE handed_in_at >= {from} \
             AND handed_in_at < {to}{} GROUP BY shop_id",
            shop_filter("shop_id", shop)
        ),
        ActivityKind::Handovers => attempts("'success'"),
        ActivityKind::FailedCodeAttempts => attempts("'wrong_code', 'expired', 'not_collectable'"),
        ActivityKind::RateLimitedAttempts => attempts("'rate_limited'"),
        // The holding period ended (by `now`) without pickup, whether or not the sweep ran.
        ActivityKind::Expiries => parcels(
            "expires_at",
            &format!(
                " AND expires_at <= {} AND picked_up_at IS NULL \
                 AND state IN ('at_point', 'expired', 'returned')",
                lit(now)
            ),
        ),
        ActivityKind::ReturnsSent => parcels("updated_at", " AND state = 'returned'"),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    shop_id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Counts of `kinds` per shop in the window (shops with none are absent).
pub fn activity_counts(
    conn: &mut DbConn,
    kinds: &[ActivityKind],
    w: &Window,
    shop: Option<i64>,
) -> QueryResult<HashMap<i64, BTreeMap<ActivityKind, i64>>> {
    let now = Utc::now().naive_utc();
    let mut out: HashMap<i64, BTreeMap<ActivityKind, i64>> = HashMap::new();
    for &kind in kinds {
        let rows: Vec<Count> = diesel::sql_query(source(kind, w, now, shop)).load(conn)?;
        for r in rows {
            *out.entry(r.shop_id).or_default().entry(kind).or_default() += r.n;
        }
    }
    Ok(out)
}

/// One shop's counts of every kind (zeros included).
pub fn shop_activity(
    conn: &mut DbConn,
    shop: i64,
    w: &Window,
) -> QueryResult<BTreeMap<ActivityKind, i64>> {
    let mut counts = activity_counts(conn, &ActivityKind::ALL, w, Some(shop))?
        .remove(&shop)
        .unwrap_or_default();
    for kind in ActivityKind::ALL {
        counts.entry(kind).or_default();
    }
    Ok(counts)
}

/// Scan-in figures of one shop's hand-ins in the window.
pub fn scan_in_stats(conn: &mut DbConn, shop: i64, w: &Window) -> QueryResult<ScanInStats> {
    use crate::db::schema::handins;
    let now = Utc::now().naive_utc();
    let rows: Vec<(NaiveDateTime, Option<NaiveDateTime>, Option<i64>)> = handins::table
        .filter(handins::shop_id.eq(shop))
        .filter(handins::handed_in_at.ge(w.from_naive()))
        .filter(handins::handed_in_at.lt(w.to_naive()))
        .select((
            handins::deadline_at,
            handins::scanned_at,
            handins::latency_s,
        ))
        .load(conn)?;
    let mut stats = ScanInStats {
        handins: rows.len() as i64,
        ..Default::default()
    };
    let mut latencies = Vec::new();
    for (deadline, scanned, latency) in rows {
        match scanned {
            Some(at) if at > deadline => stats.late += 1,
            Some(_) => stats.on_time += 1,
            None if now > deadline => stats.missing += 1,
            None => stats.pending += 1,
        }
        latencies.extend(latency);
    }
    latencies.sort_unstable();
    stats.median_s = super::percentile(&latencies, 50);
    stats.p90_s = super::percentile(&latencies, 90);
    stats.max_s = latencies.last().copied();
    Ok(stats)
}

/// Per shop, hand-ins in the window and how many were scanned late or are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateCount {
    /// The shop.
    pub shop_id: i64,
    /// Hand-ins.
    pub handins: i64,
    /// Scanned after the deadline.
    pub late: i64,
    /// Not scanned by the deadline.
    pub missing: i64,
}

#[derive(QueryableByName)]
struct LateRow {
    #[diesel(sql_type = BigInt)]
    shop_id: i64,
    #[diesel(sql_type = BigInt)]
    handins: i64,
    #[diesel(sql_type = BigInt)]
    late: i64,
    #[diesel(sql_type = BigInt)]
    missing: i64,
}

/// Shops with at least `min` late or missing scans in the window.
pub fn late_shops(conn: &mut DbConn, w: &Window, min: i64) -> QueryResult<Vec<LateCount>> {
    let now = lit(Utc::now().naive_utc());
    let (from, to) = (lit(w.from_naive()), lit(w.to_naive()));
    let late = "SUM(CASE WHEN scanned_at > deadline_at THEN 1 ELSE 0 END)";
    let missing =
        format!("SUM(CASE WHEN scanned_at IS NULL AND deadline_at < {now} THEN 1 ELSE 0 END)");
    let sql = format!(
        "SELECT shop_id, COUNT(*) AS handins, {late} AS late, {missing} AS missing \
         FROM handins WHERE handed_in_at >= {from} AND handed_in_at < {to} \
         GROUP BY shop_id HAVING {late} + {missing} >= {min} ORDER BY shop_id"
    );
    let rows: Vec<LateRow> = diesel::sql_query(sql).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| LateCount {
            shop_id: r.shop_id,
            handins: r.handins,
            late: r.late,
            missing: r.missing,
        })
        .collect())
}

#[derive(QueryableByName)]
struct StepRow {
    #[diesel(sql_type = BigInt)]
    shop_id: i64,
    #[diesel(sql_type = Timestamp)]
    t: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    next_t: Option<NaiveDateTime>,
    #[diesel(sql_type = BigInt)]
    occ: i64,
    #[diesel(sql_type = BigInt)]
    capacity: i64,
    #[diesel(sql_type = Text)]
    timezone: String,
}

/// A shop's occupancy steps over a window, with its capacity and time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopSteps {
    /// Current capacity.
    pub capacity: i32,
    /// IANA zone.
    pub timezone: String,
    /// Sorted by time.
    pub steps: Vec<Step>,
}

/// Occupancy steps per shop over the window, computed in SQL with a running sum over arrival
/// (+1) and departure (−1) events; with `only_full`, only the steps at or above capacity
/// (what "often full" needs, a small answer).
pub fn occupancy_steps(
    conn: &mut DbConn,
    w: &Window,
    shop: Option<i64>,
    only_full: bool,
) -> QueryResult<BTreeMap<i64, ShopSteps>> {
    let (from, to) = (lit(w.from_naive()), lit(w.to_naive()));
    let full = if only_full {
        " AND run.occ >= shops.capacity AND shops.capacity > 0"
    } else {
        ""
    };
    // At equal times departures (-1) sort first, so a swap at the counter is not a peak.
    let sql = format!(
        "WITH iv AS ( \
           SELECT shop_id, \
             CASE WHEN arrived_at < {from} THEN {from} ELSE arrived_at END AS s, \
             CASE WHEN picked_up_at IS NOT NULL THEN picked_up_at \
                  WHEN state = 'returned' THEN updated_at END AS e \
           FROM parcels WHERE arrived_at IS NOT NULL AND arrived_at < {to}{shop} \
         ), ev AS ( \
           SELECT shop_id, s AS t, 1 AS d FROM iv WHERE e IS NULL OR e > {from} \
           UNION ALL \
           SELECT shop_id, e AS t, -1 AS d FROM iv WHERE e IS NOT NULL AND e > {from} AND e < {to} \
         ), run AS ( \
           SELECT shop_id, t, \
             SUM(d) OVER (PARTITION BY shop_id ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS occ, \
             LEAD(t) OVER (PARTITION BY shop_id ORDER BY t, d) AS next_t \
           FROM ev \
         ) \
         SELECT run.shop_id AS shop_id, run.t AS t, run.next_t AS next_t, \
           CAST(run.occ AS BIGINT) AS occ, CAST(shops.capacity AS BIGINT) AS capacity, \
           shops.timezone AS timezone \
         FROM run JOIN shops ON shops.id = run.shop_id WHERE 1 = 1{full} \
         ORDER BY run.shop_id, run.t, run.occ",
        shop = shop_filter("shop_id", shop),
    );
    let rows: Vec<StepRow> = diesel::sql_query(sql).load(conn)?;
    let mut out: BTreeMap<i64, ShopSteps> = BTreeMap::new();
    for r in rows {
        let entry = out.entry(r.shop_id).or_insert_with(|| ShopSteps {
            capacity: r.capacity as i32,
            timezone: r.timezone.clone(),
            steps: Vec::new(),
        });
        entry.steps.push(Step {
            at: r.t.and_utc(),
            until: r.next_t.map(|t| t.and_utc()),
            level: r.occ,
        });
    }
    Ok(out)
}
