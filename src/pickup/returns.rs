//! Returns at the counter: a merchant registers a return for one drop-off point and gets a
//! drop-off code for the customer; the shop accepts the parcel with that code (taking a slot);
//! a carrier collects it (freeing the slot).
//!
//! ```text
//! registered ──drop-off (code)──▶ dropped_off ──collection──▶ collected
//! ```
//!
//! Drop-off codes follow the pickup-code rules of [`super::codes`]: CSPRNG digits, stored
//! only as a keyed hash bound to the chosen shop (so a code typed at any other shop is simply
//! wrong), sealed for one reading by the merchant, single use (a repeat answers `replay`), and
//! wrong codes count towards the shop's one bound on wrong codes shared with handovers.
//!
//! This module holds the return's row, its registration and reads; the drop-off is in
//! [`super::dropoffs`], the carrier's collection in [`super::collections`].

use super::codes;
use super::parcels::check_text;
use super::CodeIssuer;
use super::{PickupError, Unavailable};
use crate::db::schema::{returns, shops};
use crate::db::DbConn;
use crate::network::services::{Service, Services};
use crate::network::ShopStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DbErr};
use serde::Serialize;
use utoipa::ToSchema;

/// Days a drop-off code is accepted after the return is registered.
pub const DROPOFF_CODE_DAYS: i64 = 30;

/// Most returns one collection may name.
pub const MAX_COLLECTION: usize = 500;

/// Where a return is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    /// Registered; the customer has the drop-off code.
    Registered,
    /// At the shop, waiting for the carrier; holds a slot.
    DroppedOff,
    /// Taken by the carrier; the slot is free.
    Collected,
}

impl ReturnState {
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::DroppedOff => "dropped_off",
            Self::Collected => "collected",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "dropped_off" => Self::DroppedOff,
            "collected" => Self::Collected,
            _ => Self::Registered,
        }
    }
}

/// A return as the API shows it (never with a code in clear).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Return {
    /// pudo's id.
    pub id: i64,
    /// The drop-off point.
    pub pickup_point_id: i64,
    /// The merchant's order reference.
    pub order_ref: String,
    /// Optional SKU.
    pub sku: Option<String>,
    /// Life-cycle state.
    pub state: ReturnState,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub created_at: NaiveDateTime,
    /// Last moment the drop-off code is accepted (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub code_expires_at: NaiveDateTime,
    /// When the shop accepted it (UTC).
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub dropped_off_at: Option<NaiveDateTime>,
    /// When the carrier took it (UTC).
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub collected_at: Option<NaiveDateTime>,
}

/// A `returns` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = returns)]
pub(super) struct ReturnRow {
    pub(super) id: i64,
    pub(super) shop_id: i64,
    pub(super) region: i64,
    pub(super) merchant: String,
    pub(super) order_ref: String,
    pub(super) sku: Option<String>,
    pub(super) state: String,
    pub(super) code_sealed: Option<String>,
    pub(super) code_expires_at: NaiveDateTime,
    pub(super) created_at: NaiveDateTime,
    pub(super) dropped_off_at: Option<NaiveDateTime>,
    pub(super) collected_at: Option<NaiveDateTime>,
}

impl ReturnRow {
    pub(super) fn state(&self) -> ReturnState {
        ReturnState::parse(&self.state)
    }

    pub(super) fn view(&self) -> Return {
        Return {
            id: self.id,
            pickup_point_id: self.shop_id,
            order_ref: self.order_ref.clone(),
            sku: self.sku.clone(),
            state: self.state(),
            created_at: self.created_at,
            code_expires_at: self.code_expires_at,
            dropped_off_at: self.dropped_off_at,
            collected_at: self.collected_at,
        }
    }
}

/// A return to register.
#[derive(Debug, Clone)]
pub struct NewReturn<'a> {
    /// The merchant (token subject).
    pub merchant: &'a str,
    /// The drop-off point the customer chose.
    pub shop_id: i64,
    /// The merchant's order reference.
    pub order_ref: &'a str,
    /// Optional SKU.
    pub sku: Option<&'a str>,
}

fn find_order(
    conn: &mut DbConn,
    merchant: &str,
    order_ref: &str,
) -> QueryResult<Option<ReturnRow>> {
    returns::table
        .filter(returns::merchant.eq(merchant))
        .filter(returns::order_ref.eq(order_ref))
        .select(ReturnRow::as_select())
        .first(conn)
        .optional()
}

fn repeat(existing: ReturnRow, r: &NewReturn<'_>) -> Result<(Return, bool), PickupError> {
    if existing.shop_id != r.shop_id {
        return Err(PickupError::ReturnOrderRefConflict(r.order_ref.to_owned()));
    }
    Ok((existing.view(), false))
}

/// Registers a return at its drop-off point with a fresh drop-off code valid for
/// `issuer.hold`; returns it and whether it was created now (vs. a repeat of the same
/// `order_ref`, which answers the same return). No slot is taken until the drop-off. A
/// paused or closed point takes no returns (409), like reservations.
pub fn register(
    conn: &mut DbConn,
    r: &NewReturn<'_>,
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Result<(Return, bool), PickupError> {
    check_text("order_ref", r.order_ref, 100)?;
    if let Some(sku) = r.sku {
        check_text("sku", sku, 64)?;
    }
    if let Some(existing) = find_order(conn, r.merchant, r.order_ref)? {
        return repeat(existing, r);
    }
    let shop: Option<(String, i64, String)> = shops::table
        .find(r.shop_id)
        .select((shops::status, shops::region, shops::services))
        .first(conn)
        .optional()?;
    let region = match shop {
        None => return Err(PickupError::ShopNotFound(r.shop_id)),
        Some((_, _, services)) if !Services::from_stored(&services).has(Service::Returns) => {
            return Err(PickupError::ShopUnavailable(Unavailable::NoReturnsService))
        }
        Some((status, region, _)) => match status.parse::<ShopStatus>() {
            Ok(ShopStatus::Active) => region,
            Ok(ShopStatus::Paused) => {
                return Err(PickupError::ShopUnavailable(Unavailable::Paused))
            }
            _ => return Err(PickupError::ShopUnavailable(Unavailable::Closed)),
        },
    };
    for _ in 0..5 {
        let result = conn.transaction(|conn| -> Result<ReturnRow, PickupError> {
            let code = codes::generate();
            let hash = codes::dropoff_hash(issuer.data_key, r.shop_id, &code);
            diesel::insert_into(returns::table)
                .values((
                    returns::shop_id.eq(r.shop_id),
                    returns::region.eq(region),
                    returns::merchant.eq(r.merchant),
                    returns::order_ref.eq(r.order_ref),
                    returns::sku.eq(r.sku),
                    returns::state.eq(ReturnState::Registered.as_str()),
                    returns::code_hash.eq(&hash),
                    returns::code_sealed.eq(codes::seal(issuer.data_key, &code)),
                    returns::code_expires_at.eq(now + issuer.hold),
                    returns::created_at.eq(now),
                    returns::updated_at.eq(now),
                ))
                .execute(conn)?;
            // A code once used at the shop is never issued again there, so a late repeat of
            // an old code can only ever answer its own return.
            let same_code: i64 = returns::table
                .filter(returns::shop_id.eq(r.shop_id))
                .filter(returns::code_hash.eq(&hash))
                .count()
                .get_result(conn)?;
            if same_code > 1 {
                return Err(PickupError::CodeClash);
            }
            Ok(find_order(conn, r.merchant, r.order_ref)?.ok_or(DbErr::NotFound)?)
        });
        match result {
            Ok(row) => return Ok((row.view(), true)),
            Err(PickupError::CodeClash) => continue,
            Err(PickupError::Db(DbErr::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
                // Either the same order_ref raced in (answer it) or the code clashed.
                if let Some(existing) = find_order(conn, r.merchant, r.order_ref)? {
                    return repeat(existing, r);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(PickupError::Db(DbErr::RollbackTransaction))
}

/// The merchant's view of a return; the first read also returns the drop-off code in clear
/// (once: the sealed copy is erased by the statement that claims it).
pub fn read(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    merchant: &str,
    id: i64,
) -> Result<(Return, Option<String>), PickupError> {
    let row: ReturnRow = returns::table
        .filter(returns::id.eq(id).and(returns::merchant.eq(merchant)))
        .select(ReturnRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(PickupError::ReturnNotFound(id))?;
    let code = codes::reveal_once(data_key, row.code_sealed.as_deref(), || {
        diesel::update(
            returns::table.filter(returns::id.eq(id).and(returns::code_sealed.is_not_null())),
        )
        .set(returns::code_sealed.eq(None::<String>))
        .execute(conn)
    })?;
    Ok((row.view(), code))
}

/// The returns waiting at the shop for the carrier, oldest drop-off first (at most 1,000).
pub fn waiting(conn: &mut DbConn, shop_id: i64) -> QueryResult<Vec<Return>> {
    let rows: Vec<ReturnRow> = returns::table
        .filter(returns::shop_id.eq(shop_id))
        .filter(returns::state.eq(ReturnState::DroppedOff.as_str()))
        .select(ReturnRow::as_select())
        .order((returns::dropped_off_at, returns::id))
        .limit(1000)
        .load(conn)?;
    Ok(rows.iter().map(ReturnRow::view).collect())
}
