//! A return accepted at the counter with its drop-off code: takes a slot, is paid, and the
//! merchant is told; under the shop's guard on typed codes ([`super::attempts`]).

use super::attempts::{self, CodeKind, Outcome, Subject};
use super::outbox::{self, Event};
use super::returns::{ReturnRow, ReturnState};
use super::{codes, PickupError};
use crate::db::schema::returns;
use crate::db::DbConn;
use crate::ledger::book::PaidEvent;
use crate::ledger::FeeKind;
use crate::network::load;
use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// The answer to a drop-off.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dropoff {
    /// The return accepted.
    pub return_id: i64,
    /// The merchant's order reference, to write on the parcel.
    pub order_ref: String,
    /// Optional SKU.
    pub sku: Option<String>,
    /// `true` when this code was accepted before (a retry): take nothing in twice.
    pub replay: bool,
    /// When it was accepted (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub dropped_off_at: NaiveDateTime,
}

impl Subject for Dropoff {
    fn subject_id(&self) -> i64 {
        self.return_id
    }
}

/// Accepts a return at the partner's shop with the drop-off code the customer shows: takes a
/// slot (refused when the shop is full or paused), pays the drop-off, tells the merchant. A
/// repeat answers `replay`; wrong codes count towards the shop's bound shared with handovers.
/// `Err` only when the shop is unknown or the database fails; a refusal is an [`Outcome`].
pub fn dropoff(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    actor: &str,
    typed_code: &str,
    now: NaiveDateTime,
) -> Result<Outcome<Dropoff>, PickupError> {
    // Stored times have microseconds (PostgreSQL): answer the time a replay will read back.
    let now = now.trunc_subsecs(6);
    attempts::guarded(
        conn,
        shop_id,
        actor,
        CodeKind::Dropoff,
        now,
        |conn, region, since| decide(conn, data_key, shop_id, region, typed_code, since, now),
    )
}

/// [`dropoff`] on the given write path: with `functions` (plain PostgreSQL) one call of
/// `pudo_dropoff`, one round trip, with the same checks, slot, ledger line, event and audit.
pub fn dropoff_on(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    actor: &str,
    typed_code: &str,
    now: NaiveDateTime,
    functions: bool,
) -> Result<Outcome<Dropoff>, PickupError> {
    match conn {
        DbConn::Postgres(pg) if functions => {
            let now = now.trunc_subsecs(6);
            let hash = codes::normalise(typed_code)
                .map(|code| codes::dropoff_hash(data_key, shop_id, &code));
            super::write_functions::dropoff(pg, shop_id, actor, hash.as_deref(), now)?
        }
        _ => dropoff(conn, data_key, shop_id, actor, typed_code, now),
    }
}

fn decide(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    region: i64,
    typed_code: &str,
    window_start: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Outcome<Dropoff>, PickupError> {
    if let Some(retry_after_secs) = attempts::retry_after(conn, shop_id, region, window_start, now)?
    {
        return Ok(Outcome::RateLimited { retry_after_secs });
    }
    let Some(code) = codes::normalise(typed_code) else {
        return Ok(Outcome::WrongCode);
    };
    let row: Option<ReturnRow> = returns::table
        .filter(returns::shop_id.eq(shop_id))
        .filter(returns::region.eq(region))
        .filter(returns::code_hash.eq(codes::dropoff_hash(data_key, shop_id, &code)))
        .select(ReturnRow::as_select())
        .order(returns::id.desc())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(Outcome::WrongCode);
    };
    let answer = |row: &ReturnRow, at: NaiveDateTime, replay| Dropoff {
        return_id: row.id,
        order_ref: row.order_ref.clone(),
        sku: row.sku.clone(),
        replay,
        dropped_off_at: at,
    };
    match row.state() {
        ReturnState::DroppedOff | ReturnState::Collected => Ok(Outcome::Replay(answer(
            &row,
            row.dropped_off_at.unwrap_or(now),
            true,
        ))),
        ReturnState::Registered if row.code_expires_at <= now => Ok(Outcome::Expired(row.id)),
        ReturnState::Registered => {
            // A return's size is not known: it takes an L slot (`network::sizes`), as
            // `pudo_dropoff` does.
            let l = crate::network::sizes::SizeClass::L;
            if !load::take_slot_of(conn, shop_id, region, l, now)? {
                return match PickupError::from(load::why_no_slot(conn, shop_id)?) {
                    PickupError::ShopUnavailable(why) => Ok(Outcome::ShopUnavailable(row.id, why)),
                    other => Err(other),
                };
            }
            // The shop's row lock orders attempts, so the return is still registered here.
            diesel::update(
                returns::table
                    .filter(returns::id.eq(row.id))
                    .filter(returns::region.eq(region)),
            )
            .set((
                returns::state.eq(ReturnState::DroppedOff.as_str()),
                returns::dropped_off_at.eq(now),
                returns::code_sealed.eq(None::<String>),
                returns::updated_at.eq(now),
            ))
            .execute(conn)?;
            let mut view = row.view();
            view.state = ReturnState::DroppedOff;
            view.dropped_off_at = Some(now);
            outbox::record_paid(
                conn,
                &PaidEvent::one(
                    FeeKind::Dropoff,
                    "dropoff",
                    shop_id,
                    row.region,
                    row.id,
                    now,
                ),
                &row.merchant,
                Event::ReturnDroppedOff,
                json!({ "return": view }),
            )?;
            Ok(Outcome::Success(answer(&row, now, false)))
        }
    }
}
