//! People's names at the counter (the name a `named_recipient` check compares the ID with, the
//! authorised collector): personal data, so stored only sealed with the data key as pickup
//! codes and customer e-mail addresses are ([`codes::seal`]), opened in memory only where they
//! are shown (the partner's parcel list, arrival and handover answers, the merchant's
//! reservation answer), never put in an event, and erased with the customer's e-mail address
//! [`erase_ended`] a set number of days after the parcel's life ends (docs/security.md,
//! "Personal data").
//!
//! Databases of before migration `2026-12-08-000130_sealed_names` hold names in clear; the
//! database cannot seal them (it never sees the key), so [`seal_clear`] does at every start.

use super::{codes, PickupError};
use crate::db::schema::parcels;
use crate::db::DbConn;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// How many parcels one statement of [`seal_clear`] or [`erase_ended`] takes at most.
const BATCH: i64 = 1000;

/// A name sealed for storage.
pub fn seal(data_key: &[u8; 32], name: Option<&str>) -> Option<String> {
    name.map(|n| codes::seal(data_key, n))
}

/// A stored name in clear; `None` when there is none (never given, or erased) or when it does
/// not open with this key (then the parcel shows no name rather than failing its answer).
pub fn unseal(data_key: &[u8; 32], sealed: Option<&str>) -> Option<String> {
    let sealed = sealed?;
    let name = codes::unseal(data_key, sealed);
    if name.is_none() {
        tracing::warn!("a sealed name does not open with the data key: shown as none");
    }
    name
}

/// Seals the names a database of before sealing holds in clear, and clears the clear columns;
/// returns how many parcels it changed and the regions it left out (on Citus with a worker
/// down: sealed at the next start after their worker is back). Run at every start, before
/// the service answers: once nothing is left in clear it is one query that finds no row.
pub fn seal_clear(data_key: &[u8; 32], conn: &mut DbConn) -> QueryResult<(usize, Vec<i64>)> {
    let mut sealed = 0;
    loop {
        type Clear = (
            i64,
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let (rows, out) = crate::db::citus::over_reachable_regions(conn, |conn, regions| {
            let mut query = parcels::table
                .filter(
                    parcels::recipient_name
                        .is_not_null()
                        .or(parcels::collector_name.is_not_null()),
                )
                .select((
                    parcels::id,
                    parcels::region,
                    parcels::recipient_name,
                    parcels::collector_name,
                    parcels::recipient_name_sealed,
                    parcels::collector_name_sealed,
                ))
                .limit(BATCH)
                .into_boxed();
            if let Some(regions) = regions {
                query = query.filter(parcels::region.eq_any(regions));
            }
            query.load::<Clear>(conn)
        })?;
        if rows.is_empty() {
            return Ok((sealed, out));
        }
        for (id, region, recipient, collector, recipient_sealed, collector_sealed) in rows {
            // Each by its region: one shard on Citus. A clear name is the one an instance of
            // before sealing wrote last, so it wins over a sealed one.
            diesel::update(
                parcels::table
                    .filter(parcels::id.eq(id))
                    .filter(parcels::region.eq(region)),
            )
            .set((
                parcels::recipient_name_sealed
                    .eq(seal(data_key, recipient.as_deref()).or(recipient_sealed)),
                parcels::collector_name_sealed
                    .eq(seal(data_key, collector.as_deref()).or(collector_sealed)),
                parcels::recipient_name.eq(None::<String>),
                parcels::collector_name.eq(None::<String>),
            ))
            .execute(conn)?;
            sealed += 1;
        }
    }
}

/// Erases the names of parcels whose life ended (picked up, returned or cancelled) more than
/// `days` ago, on the schedule of the customers' e-mail addresses
/// ([`super::contacts::erase_ended`]); returns how many parcels lost their names. The parcel
/// keeps its conditions: a handover of it (already finished) answers a replay without a name.
pub fn erase_ended(conn: &mut DbConn, now: NaiveDateTime, days: i64) -> Result<usize, PickupError> {
    let cutoff = now - Duration::days(days);
    let mut erased = 0;
    loop {
        // On Citus with a worker down: the regions of the workers that answer (the others at
        // the first sweep after their worker is back).
        let (ended, _left_out) =
            crate::db::citus::over_reachable_regions(conn, |conn, regions| {
                let mut query = parcels::table
                    .filter(
                        parcels::recipient_name_sealed
                            .is_not_null()
                            .or(parcels::collector_name_sealed.is_not_null()),
                    )
                    .filter(super::parcels::ended_by(cutoff))
                    .select((parcels::id, parcels::region))
                    .limit(BATCH)
                    .into_boxed();
                if let Some(regions) = regions {
                    query = query.filter(parcels::region.eq_any(regions));
                }
                query.load::<(i64, i64)>(conn)
            })?;
        if ended.is_empty() {
            return Ok(erased);
        }
        for (id, region) in &ended {
            // `updated_at` stays: it is when a returned or cancelled parcel's life ended.
            diesel::update(
                parcels::table
                    .filter(parcels::id.eq(id))
                    .filter(parcels::region.eq(region)),
            )
            .set((
                parcels::recipient_name_sealed.eq(None::<String>),
                parcels::collector_name_sealed.eq(None::<String>),
            ))
            .execute(conn)?;
        }
        erased += ended.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_seal_and_open_only_with_the_key() {
        let k = [7u8; 32];
        let sealed = seal(&k, Some("Ana García")).expect("sealed");
        assert!(!sealed.contains("Ana"));
        assert_eq!(unseal(&k, Some(&sealed)).as_deref(), Some("Ana García"));
        assert_eq!(unseal(&[8u8; 32], Some(&sealed)), None);
        assert_eq!(seal(&k, None), None);
        assert_eq!(unseal(&k, None), None);
    }
}
