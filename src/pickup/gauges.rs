//! Figures about the whole service read from the database when `/metrics` is scraped: the
//! webhook backlog and the shops without a free slot. They come from the database, not from
//! process memory, so every instance sharing it reports the same values.
//!
//! Both are counts over partial indexes (migration `2026-12-01-000040_ops`) that hold only the
//! rows counted: undelivered events, full shops. A scrape costs in proportion to the backlog
//! and to the full shops, never to the whole network or the whole outbox.

use crate::db::schema::{merchants, outbox};
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// The database's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gauges {
    /// Undelivered webhook events of merchants who have a webhook URL (events of merchants
    /// without one wait for it by design and are not a delivery backlog).
    pub outbox_pending: i64,
    /// Age in seconds of the oldest of those events; 0 when there is none.
    pub outbox_oldest_age_secs: f64,
    /// Active shops whose live parcels fill their capacity (capacity 0 included).
    pub shops_full: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Reads the figures (three statements, no transaction: each is a consistent count).
pub fn read(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Gauges> {
    let (outbox_pending, oldest): (i64, Option<NaiveDateTime>) = outbox::table
        .inner_join(merchants::table.on(merchants::id.eq(outbox::merchant)))
        .filter(outbox::delivered_at.is_null())
        .filter(merchants::webhook_url.is_not_null())
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(outbox::created_at),
        ))
        .first(conn)?;
    // Written as SQL so that the condition is literally the predicate of the partial index
    // `shop_load_full`, which both planners need to choose it.
    let shops_full =
        diesel::sql_query("SELECT count(*) AS n FROM shop_load WHERE live >= active_capacity")
            .get_result::<Count>(conn)?
            .n;
    Ok(Gauges {
        outbox_pending,
        outbox_oldest_age_secs: oldest.map_or(0.0, |t| {
            ((now - t).num_milliseconds().max(0) as f64) / 1000.0
        }),
        shops_full,
    })
}
