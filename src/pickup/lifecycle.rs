//! The ends of a parcel's hold: a cancellation before arrival, the sweep of parcels past
//! their holding period, and the return of an expired parcel to the carrier. A cancellation
//! and a return both free the parcel's slot through [`end_hold`].

use super::outbox::{self, Event};
use super::parcels::{find_for_merchant, find_for_shop, ParcelRow};
use super::{Parcel, ParcelState, PickupError};
use crate::db::schema::parcels;
use crate::db::DbConn;
use crate::ledger::book::PaidEvent;
use crate::ledger::FeeKind;
use crate::network::load;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

/// Who asks to end a hold: the merchant who owns the parcel or the shop that holds it (each
/// sees only its own parcels).
enum Owner<'a> {
    /// The merchant, and the region its parcel was read in before the transaction.
    Merchant(&'a str, i64),
    Shop(i64),
}

/// Moves parcel `id` of `owner` from state `from` to `to` and frees its slot, in the caller's
/// transaction. `Ok(Ok(row))` when it moved now, `Ok(Err(row))` with the row as it is when
/// it was not in `from` (nothing changed).
fn end_hold(
    conn: &mut DbConn,
    owner: Owner<'_>,
    id: i64,
    from: ParcelState,
    to: ParcelState,
    now: NaiveDateTime,
) -> Result<Result<ParcelRow, ParcelRow>, PickupError> {
    let target = parcels::table.filter(parcels::id.eq(id).and(parcels::state.eq(from.as_str())));
    let set = (parcels::state.eq(to.as_str()), parcels::updated_at.eq(now));
    let (changed, row) = match owner {
        Owner::Merchant(merchant, region) => {
            // Naming the region keeps the update on one shard (on Citus, working while the
            // worker of another region is down).
            let changed = diesel::update(
                target
                    .filter(parcels::merchant.eq(merchant))
                    .filter(parcels::region.eq(region)),
            )
            .set(set)
            .execute(conn)?;
            let in_region = parcels::table
                .filter(parcels::id.eq(id).and(parcels::merchant.eq(merchant)))
                .filter(parcels::region.eq(region))
                .select(ParcelRow::as_select())
                .first(conn)
                .optional()?;
            let row = match in_region {
                Some(row) => row,
                None => find_for_merchant(conn, merchant, id)?,
            };
            if changed == 0 && row.region != region && row.state() == from {
                // Moved to another region since it was read: the caller tries again.
                return Err(PickupError::Db(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::SerializationFailure,
                    Box::new(format!("parcel {id} moved to another region meanwhile")),
                )));
            }
            (changed, row)
        }
        Owner::Shop(shop_id) => (
            diesel::update(target.filter(parcels::shop_id.eq(shop_id)))
                .set(set)
                .execute(conn)?,
            find_for_shop(conn, shop_id, id)?,
        ),
    };
    if changed == 0 {
        return Ok(Err(row));
    }
    load::release_slot_of(conn, row.shop_id, row.region, row.slot_class(), now)?;
    Ok(Ok(row))
}

/// Cancels a reservation whose parcel has not arrived; frees the slot.
pub fn cancel(
    conn: &mut DbConn,
    merchant: &str,
    id: i64,
    now: NaiveDateTime,
) -> Result<Parcel, PickupError> {
    // Read first, outside the transaction: the region (a lookup over every region, which
    // copes with an unreachable Citus worker only outside a transaction).
    let region = find_for_merchant(conn, merchant, id)?.region;
    conn.transaction(|conn| {
        let owner = Owner::Merchant(merchant, region);
        let row = match end_hold(
            conn,
            owner,
            id,
            ParcelState::Reserved,
            ParcelState::Cancelled,
            now,
        )? {
            Ok(row) => row,
            Err(row) => {
                return Err(PickupError::WrongState {
                    state: row.state(),
                    action: "cancelled",
                })
            }
        };
        outbox::enqueue(
            conn,
            row.region,
            &row.merchant,
            Event::ReservationCancelled,
            json!({ "reservation": row.view() }),
            now,
        )?;
        Ok(row.view())
    })
}

/// Marks an expired parcel as sent back; frees the slot. A repeat answers the returned parcel.
pub fn return_parcel(
    conn: &mut DbConn,
    shop_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> Result<Parcel, PickupError> {
    conn.transaction(|conn| {
        let owner = Owner::Shop(shop_id);
        let row = match end_hold(
            conn,
            owner,
            id,
            ParcelState::Expired,
            ParcelState::Returned,
            now,
        )? {
            Ok(row) => row,
            Err(row) if row.state() == ParcelState::Returned => return Ok(row.view()),
            Err(row) => {
                return Err(PickupError::WrongState {
                    state: row.state(),
                    action: "returned",
                })
            }
        };
        // The shop hands the uncollected parcel back to the carrier: paid like a return.
        outbox::record_paid(
            conn,
            &PaidEvent::one(
                FeeKind::ReturnSentBack,
                "parcel_returned",
                shop_id,
                row.region,
                row.id,
                now,
            ),
            &row.merchant,
            Event::ParcelReturned,
            json!({ "reservation": row.view() }),
        )?;
        Ok(row.view())
    })
}

/// Moves parcels past their holding period to `expired` (they keep their slot until they are
/// sent back); returns how many.
///
/// On Citus with a worker down, the parcels of the regions on the workers that answer are
/// swept; those of the worker that is down are swept by the first sweep after it is back
/// (each parcel is changed in its own transaction, on its region's shard).
pub fn sweep(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, PickupError> {
    let (due, left_out) = crate::db::citus::over_reachable_regions(conn, |conn, regions| {
        let mut query = parcels::table
            .filter(
                parcels::state
                    .eq(ParcelState::AtPoint.as_str())
                    .and(parcels::expires_at.le(now)),
            )
            .select(ParcelRow::as_select())
            .order(parcels::id)
            .limit(1000)
            .into_boxed();
        if let Some(regions) = regions {
            query = query.filter(parcels::region.eq_any(regions));
        }
        query.load(conn)
    })?;
    if !left_out.is_empty() {
        tracing::warn!(
            regions = left_out.len(),
            "sweep: regions on an unreachable Citus worker left for when it is back"
        );
    }
    let mut expired = 0;
    for row in due {
        expired += conn.transaction(|conn| -> Result<usize, PickupError> {
            let n = diesel::update(
                parcels::table.filter(
                    parcels::id
                        .eq(row.id)
                        .and(parcels::region.eq(row.region))
                        .and(parcels::state.eq(ParcelState::AtPoint.as_str())),
                ),
            )
            .set((
                parcels::state.eq(ParcelState::Expired.as_str()),
                parcels::code_escrow.eq(None::<String>),
                parcels::updated_at.eq(now),
            ))
            .execute(conn)?;
            if n == 1 {
                let mut view = row.view();
                view.state = ParcelState::Expired;
                outbox::enqueue(
                    conn,
                    row.region,
                    &row.merchant,
                    Event::ParcelExpired,
                    json!({ "reservation": view }),
                    now,
                )?;
            }
            Ok(n)
        })?;
    }
    Ok(expired)
}
