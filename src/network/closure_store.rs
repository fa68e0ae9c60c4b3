//! Closure periods in the database: written by imports and by partners, read by the geo
//! index (with the shop, by revision), by reservations and by the staging allocator.

use super::closures::{ClosedSpans, Closure};
use super::services::{Service, Services};
use super::shop::ShopInput;
use super::store::bump_revision;
use crate::db::schema::{shop_closures, shops};
use crate::db::DbConn;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::result::QueryResult;
use std::collections::{HashMap, HashSet};

/// Ids per `IN (…)` list.
const CHUNK: usize = 1000;

type Row = (i64, NaiveDate, NaiveDate, String);

fn group(rows: Vec<Row>) -> HashMap<i64, Vec<Closure>> {
    let mut out: HashMap<i64, Vec<Closure>> = HashMap::new();
    for (shop, start, end, reason) in rows {
        out.entry(shop)
            .or_default()
            .push(Closure { start, end, reason });
    }
    out
}

fn columns() -> (
    shop_closures::shop_id,
    shop_closures::starts_on,
    shop_closures::ends_on,
    shop_closures::reason,
) {
    (
        shop_closures::shop_id,
        shop_closures::starts_on,
        shop_closures::ends_on,
        shop_closures::reason,
    )
}

/// One shop's closures, earliest first.
pub fn list(conn: &mut DbConn, shop_id: i64) -> QueryResult<Vec<Closure>> {
    let rows: Vec<Row> = shop_closures::table
        .filter(shop_closures::shop_id.eq(shop_id))
        .select(columns())
        .order((
            shop_closures::starts_on,
            shop_closures::ends_on,
            shop_closures::id,
        ))
        .load(conn)?;
    Ok(group(rows).remove(&shop_id).unwrap_or_default())
}

/// Every shop's closures, for a full load of the geo index.
pub fn all(conn: &mut DbConn) -> QueryResult<HashMap<i64, Vec<Closure>>> {
    all_in(conn, None)
}

/// [`all`] of the shops in `regions` (all regions: `None`).
pub fn all_in(
    conn: &mut DbConn,
    regions: Option<&[i64]>,
) -> QueryResult<HashMap<i64, Vec<Closure>>> {
    let mut query = shop_closures::table
        .select(columns())
        .order((shop_closures::shop_id, shop_closures::starts_on))
        .into_boxed();
    if let Some(regions) = regions {
        query = query.filter(shop_closures::region.eq_any(regions));
    }
    let rows: Vec<Row> = query.load(conn)?;
    Ok(group(rows))
}

/// Closures of the shops written after revision `since` up to `until` (what an incremental
/// refresh of the index reloads).
pub fn for_revisions(
    conn: &mut DbConn,
    since: i64,
    until: i64,
) -> QueryResult<HashMap<i64, Vec<Closure>>> {
    let rows: Vec<Row> = shop_closures::table
        .inner_join(shops::table)
        .filter(shops::revision.gt(since).and(shops::revision.le(until)))
        .select(columns())
        .order((shop_closures::shop_id, shop_closures::starts_on))
        .load(conn)?;
    Ok(group(rows))
}

/// Writes the closures of imported shops that carry them (`closures: Some`), replacing what
/// each had; runs inside the import's transaction, after the shops were written at
/// `revision`.
pub(crate) fn replace_imported(
    conn: &mut DbConn,
    revision: i64,
    input: &[ShopInput],
) -> QueryResult<()> {
    if input.iter().all(|s| s.closures.is_none()) {
        return Ok(());
    }
    let ids: HashMap<String, (i64, i64)> = shops::table
        .filter(shops::revision.eq(revision))
        .select((shops::external_id, shops::id, shops::region))
        .load::<(String, i64, i64)>(conn)?
        .into_iter()
        .map(|(e, id, region)| (e, (id, region)))
        .collect();
    let mut rows = Vec::new();
    let mut replaced = Vec::new();
    for shop in input {
        let (Some(closures), Some(&(id, region))) = (&shop.closures, ids.get(&shop.external_id))
        else {
            continue;
        };
        replaced.push(id);
        rows.extend(closures.iter().map(|c| (id, region, c)));
    }
    for chunk in replaced.chunks(CHUNK) {
        diesel::delete(shop_closures::table.filter(shop_closures::shop_id.eq_any(chunk)))
            .execute(conn)?;
    }
    insert(conn, &rows)
}

fn insert(conn: &mut DbConn, rows: &[(i64, i64, &Closure)]) -> QueryResult<()> {
    let values: Vec<_> = rows
        .iter()
        .map(|(id, region, c)| {
            (
                shop_closures::shop_id.eq(*id),
                shop_closures::region.eq(*region),
                shop_closures::starts_on.eq(c.start),
                shop_closures::ends_on.eq(c.end),
                shop_closures::reason.eq(c.reason.clone()),
            )
        })
        .collect();
    for chunk in values.chunks(CHUNK) {
        // Diesel's multi-connection has no batch insert; each backend gets its own.
        match conn {
            DbConn::Sqlite(c) => {
                for v in chunk {
                    diesel::insert_into(shop_closures::table)
                        .values(v.clone())
                        .execute(c)?;
                }
            }
            DbConn::Postgres(c) => {
                diesel::insert_into(shop_closures::table)
                    .values(chunk.to_vec())
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// Replaces one shop's closures (the partner's own list) and bumps the shop's revision so
/// every instance's geo index reloads it. `closures` must be valid
/// ([`super::closures::check_list`]). Returns the stored list, or `None` for an unknown shop.
pub fn replace(
    conn: &mut DbConn,
    shop_id: i64,
    closures: &[Closure],
    now: NaiveDateTime,
) -> QueryResult<Option<Vec<Closure>>> {
    conn.transaction(|conn| {
        let revision = bump_revision(conn)?;
        let region: Option<i64> = shops::table
            .find(shop_id)
            .select(shops::region)
            .first(conn)
            .optional()?;
        let Some(region) = region else {
            return Ok(None);
        };
        diesel::update(shops::table.find(shop_id))
            .set((shops::revision.eq(revision), shops::updated_at.eq(now)))
            .execute(conn)?;
        diesel::delete(shop_closures::table.filter(shop_closures::shop_id.eq(shop_id)))
            .execute(conn)?;
        let rows: Vec<_> = closures.iter().map(|c| (shop_id, region, c)).collect();
        insert(conn, &rows)?;
        list(conn, shop_id).map(Some)
    })
}

/// What a reservation needs to know of a shop beyond its slot: its services, and whether it
/// is closed for a period at the parcel's expected arrival; without one, at any moment of the
/// assumed arrival window (`availability::assumed_arrival`: the next 48 hours), as search
/// marks it.
pub fn pickup_refusal(
    conn: &mut DbConn,
    shop_id: i64,
    arrive_at: Option<DateTime<Utc>>,
) -> QueryResult<Option<Refusal>> {
    let shop: Option<(String, String, i64)> = shops::table
        .find(shop_id)
        .select((shops::services, shops::timezone, shops::region))
        .first(conn)
        .optional()?;
    let Some((services, tz, region)) = shop else {
        return Ok(None);
    };
    if !Services::from_stored(&services).has(Service::Pickup) {
        return Ok(Some(Refusal::NoPickup));
    }
    {
        let tz: Tz = tz.parse().unwrap_or(chrono_tz::UTC);
        // Named by region too: one shard on Citus (this runs in the reservation's transaction).
        let rows: Vec<Row> = shop_closures::table
            .filter(shop_closures::shop_id.eq(shop_id))
            .filter(shop_closures::region.eq(region))
            .select(columns())
            .order((
                shop_closures::starts_on,
                shop_closures::ends_on,
                shop_closures::id,
            ))
            .load(conn)?;
        let closures = group(rows).remove(&shop_id).unwrap_or_default();
        let spans = ClosedSpans::new(tz, &closures);
        let closed = match arrive_at {
            Some(at) => spans.contains(at),
            None => {
                let (from, to) = super::availability::assumed_arrival(Utc::now());
                spans.overlaps(from, to)
            }
        };
        if closed {
            return Ok(Some(Refusal::ClosedForPeriod));
        }
    }
    Ok(None)
}

/// Why a shop cannot take a reservation although it has a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It does not offer pickup.
    NoPickup,
    /// It is closed for a period at the expected arrival.
    ClosedForPeriod,
}

/// Shops closed at any moment of `[from, to)`, exactly, each in its own time zone.
pub fn closed_during(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<HashSet<i64>> {
    // A local date is at most a day away from the UTC date of the same instant, so closures
    // outside these dates cannot touch the window.
    let first = (from - Duration::days(1)).date_naive();
    let last = (to + Duration::days(1)).date_naive();
    let rows: Vec<(i64, String, NaiveDate, NaiveDate, String)> = shop_closures::table
        .inner_join(shops::table)
        .filter(
            shop_closures::ends_on
                .ge(first)
                .and(shop_closures::starts_on.le(last)),
        )
        .select((
            shop_closures::shop_id,
            shops::timezone,
            shop_closures::starts_on,
            shop_closures::ends_on,
            shop_closures::reason,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, tz, start, end, reason)| {
            let tz: Tz = tz.parse().unwrap_or(chrono_tz::UTC);
            let closure = Closure {
                start: *start,
                end: *end,
                reason: reason.clone(),
            };
            ClosedSpans::new(tz, &[closure]).overlaps(from, to)
        })
        .map(|(id, ..)| id)
        .collect())
}
