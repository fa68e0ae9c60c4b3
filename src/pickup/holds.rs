//! Extending a waiting parcel's holding period, once, at the merchant's request (a customer
//! away for a few days should not find their parcel sent back).

use super::outbox::{self, Event};
use super::parcels::{find_for_merchant, ParcelRow};
use super::{Parcel, ParcelState, PickupError};
use crate::db::schema::parcels;
use crate::db::DbConn;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

/// Checks an extension request against the configured maximum: `None` asks for the maximum.
pub fn extension_days(requested: Option<i64>, max_days: i64) -> Result<i64, PickupError> {
    match requested {
        None => Ok(max_days),
        Some(days) if (1..=max_days).contains(&days) => Ok(days),
        Some(days) => Err(PickupError::Invalid {
            field: "days",
            message: format!("{days} is out of range (1 to {max_days})"),
        }),
    }
}

/// Pushes the holding deadline of the merchant's waiting parcel `id` back by `days`; a parcel
/// can be extended once.
pub fn extend(
    conn: &mut DbConn,
    merchant: &str,
    id: i64,
    days: i64,
    now: NaiveDateTime,
) -> Result<Parcel, PickupError> {
    // Read first, outside the transaction: the region (a lookup over every region, which
    // copes with an unreachable Citus worker only outside a transaction). A waiting parcel
    // stays in its region (only a redirect moves it, and only within 2 km).
    let region = find_for_merchant(conn, merchant, id)?.region;
    conn.transaction(|conn| {
        let mine = parcels::table
            .filter(parcels::id.eq(id).and(parcels::merchant.eq(merchant)))
            .filter(parcels::region.eq(region));
        // A no-op write first (see `db`); it also takes the parcel's row lock, so the sweep
        // and a second extension wait for this one. Every statement names the region: one
        // shard on Citus.
        diesel::update(mine)
            .set(parcels::updated_at.eq(parcels::updated_at))
            .execute(conn)?;
        let read = |conn: &mut DbConn| -> Result<ParcelRow, PickupError> {
            mine.select(ParcelRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(PickupError::Changed)
        };
        let row = read(conn)?;
        let state = row.state();
        if state != ParcelState::AtPoint {
            return Err(PickupError::NotWaiting(state));
        }
        if row.hold_extended_days.is_some() {
            return Err(PickupError::AlreadyExtended(id));
        }
        let Some(deadline) = row.expires_at.filter(|e| *e > now) else {
            return Err(PickupError::HoldOver);
        };
        let extended = deadline + Duration::days(days);
        diesel::update(mine)
            .set((
                parcels::expires_at.eq(extended),
                parcels::hold_extended_days.eq(days as i32),
                parcels::updated_at.eq(now),
            ))
            .execute(conn)?;
        let parcel = read(conn)?.view();
        outbox::enqueue(
            conn,
            region,
            merchant,
            Event::HoldExtended,
            json!({ "reservation": parcel, "previous_expires_at": deadline, "days": days }),
            now,
        )?;
        Ok(parcel)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_default_to_the_maximum_and_stay_in_range() {
        assert_eq!(extension_days(None, 7).ok(), Some(7));
        assert_eq!(extension_days(Some(1), 7).ok(), Some(1));
        assert_eq!(extension_days(Some(7), 7).ok(), Some(7));
        for bad in [0, -1, 8, i64::MAX] {
            assert!(matches!(
                extension_days(Some(bad), 7),
                Err(PickupError::Invalid { field: "days", .. })
            ));
        }
    }
}
