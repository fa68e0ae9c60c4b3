//! The `parcels` table: a parcel's row, the lookups every use case shares, the merchant's
//! one reading of the code and the partner's lists.

use super::codes;
use super::{Parcel, ParcelState, PickupError};
use crate::db::schema::parcels;
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A `parcels` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = parcels)]
pub struct ParcelRow {
    /// Id.
    pub id: i64,
    /// Shop.
    pub shop_id: i64,
    /// Region key.
    pub region: i64,
    /// Merchant.
    pub merchant: String,
    /// Order reference.
    pub order_ref: String,
    /// SKU.
    pub sku: Option<String>,
    /// State text.
    pub state: String,
    /// Keyed hash of the code.
    pub code_hash: Option<String>,
    /// Sealed code until read.
    pub code_sealed: Option<String>,
    /// End of holding (UTC).
    pub expires_at: Option<NaiveDateTime>,
    /// UTC.
    pub created_at: NaiveDateTime,
    /// UTC.
    pub updated_at: NaiveDateTime,
    /// UTC.
    pub arrived_at: Option<NaiveDateTime>,
    /// UTC.
    pub picked_up_at: Option<NaiveDateTime>,
    /// The code sealed while the parcel waits (for redirects).
    pub code_escrow: Option<String>,
    /// Days the holding period was extended by.
    pub hold_extended_days: Option<i32>,
    /// Size class of its slot; NULL: L.
    pub size_class: Option<String>,
    /// Longest side, mm.
    pub length_mm: Option<i32>,
    /// Middle side, mm.
    pub width_mm: Option<i32>,
    /// Shortest side, mm.
    pub height_mm: Option<i32>,
    /// Weight, grams.
    pub weight_g: Option<i32>,
    /// Cash to collect, minor units.
    pub cod_amount_minor: Option<i64>,
    /// Its currency.
    pub cod_currency: Option<String>,
    /// The check to make (`age_18`, `named_recipient`).
    pub id_check: Option<String>,
    /// The name a `named_recipient` check compares with, sealed ([`super::names`]).
    pub recipient_name_sealed: Option<String>,
    /// The authorised collector, sealed.
    pub collector_name_sealed: Option<String>,
}

impl ParcelRow {
    /// Parsed state (an unknown text reads as cancelled, which allows nothing).
    pub fn state(&self) -> ParcelState {
        self.state.parse().unwrap_or(ParcelState::Cancelled)
    }

    /// The public view without people's names: what events carry, and every answer that is
    /// not about the handover at the counter (see [`Self::named_view`]).
    pub fn view(&self) -> Parcel {
        Parcel {
            id: self.id,
            pickup_point_id: self.shop_id,
            order_ref: self.order_ref.clone(),
            sku: self.sku.clone(),
            state: self.state(),
            created_at: self.created_at,
            arrived_at: self.arrived_at,
            expires_at: self.expires_at,
            picked_up_at: self.picked_up_at,
            hold_extended_days: self.hold_extended_days,
            size_class: self.size_class.as_deref().and_then(|c| c.parse().ok()),
            cash_on_delivery: self.cash_on_delivery(),
            id_check: self.id_check(),
            recipient_name: None,
            collector_name: None,
        }
    }

    /// The public view with the names opened in memory, for the answers that show them: the
    /// merchant's reservation and the partner's parcels, arrival and handover.
    pub fn named_view(&self, data_key: &[u8; 32]) -> Parcel {
        let c = self.conditions(data_key);
        Parcel {
            recipient_name: c.recipient_name,
            collector_name: c.collector_name,
            ..self.view()
        }
    }

    fn cash_on_delivery(&self) -> Option<super::CashOnDelivery> {
        Some(super::CashOnDelivery {
            amount_minor: self.cod_amount_minor?,
            currency: self.cod_currency.clone()?,
        })
    }

    fn id_check(&self) -> Option<super::IdCheck> {
        // The column's check constraint admits only known checks.
        self.id_check.as_deref().and_then(|c| c.parse().ok())
    }

    /// Its conditions at the counter, the names opened with `data_key`.
    pub fn conditions(&self, data_key: &[u8; 32]) -> super::Conditions {
        super::Conditions {
            cash_on_delivery: self.cash_on_delivery(),
            id_check: self.id_check(),
            recipient_name: super::names::unseal(data_key, self.recipient_name_sealed.as_deref()),
            collector_name: super::names::unseal(data_key, self.collector_name_sealed.as_deref()),
        }
    }

    /// Its cash on delivery, if any (no key needed).
    pub fn cod(&self) -> Option<super::CashOnDelivery> {
        self.cash_on_delivery()
    }

    /// The class of the slot it holds (NULL: L).
    pub fn slot_class(&self) -> crate::network::sizes::SizeClass {
        self.size_class
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(crate::network::sizes::SizeClass::L)
    }

    /// Its measurements as the reservation gave them.
    pub fn size(&self) -> crate::network::sizes::ParcelSize {
        crate::network::sizes::ParcelSize {
            dims_mm: match (self.length_mm, self.width_mm, self.height_mm) {
                (Some(a), Some(b), Some(c)) => Some([a, b, c]),
                _ => None,
            },
            weight_g: self.weight_g,
        }
    }
}

/// Checks a short free text given by a caller (order references, SKUs): not empty, at most
/// `max` characters, no control characters.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), PickupError> {
    let message = if value.trim().is_empty() {
        "is empty".to_owned()
    } else if value.chars().count() > max {
        format!("is longer than {max} characters")
    } else if value.chars().any(char::is_control) {
        "contains control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(PickupError::Invalid { field, message })
}

/// The parcel of a merchant's order reference, if any, in any region. On Citus with a worker
/// down, only the regions of the workers that answer are searched (the per-region unique key
/// still refuses a repeat in the region reserved in; docs/operations.md, "A worker down").
pub(super) fn find_order(
    conn: &mut DbConn,
    merchant: &str,
    order_ref: &str,
) -> QueryResult<Option<ParcelRow>> {
    crate::db::citus::lookup_across_regions(conn, true, |conn, regions| {
        let mut query = parcels::table
            .filter(
                parcels::merchant
                    .eq(merchant)
                    .and(parcels::order_ref.eq(order_ref)),
            )
            .select(ParcelRow::as_select())
            .into_boxed();
        if let Some(regions) = regions {
            query = query.filter(parcels::region.eq_any(regions));
        }
        query.first(conn).optional()
    })
}

/// One parcel, if `merchant` owns it. On Citus with a worker down, a parcel in a region of a
/// worker that answers is still found; one not found there is the worker's error (503).
pub fn find_for_merchant(
    conn: &mut DbConn,
    merchant: &str,
    id: i64,
) -> Result<ParcelRow, PickupError> {
    find_by_id(conn, id, Some(merchant))
}

/// One parcel by id (of `merchant`, if given), in any region, read outside a transaction: as
/// [`find_for_merchant`] on Citus with a worker down.
pub(super) fn find_by_id(
    conn: &mut DbConn,
    id: i64,
    merchant: Option<&str>,
) -> Result<ParcelRow, PickupError> {
    // By id alone, the owner compared here: with `merchant = $2` in the statement too, a plan
    // made before the table had statistics could take the unique (merchant, order_ref) index
    // and read every parcel of the merchant (seen at 40 requests/s on a server without
    // autovacuum; BENCHMARKS.md, "Handovers and reservations").
    crate::db::citus::lookup_across_regions(conn, false, |conn, regions| {
        let mut query = parcels::table
            .filter(parcels::id.eq(id))
            .select(ParcelRow::as_select())
            .into_boxed();
        if let Some(regions) = regions {
            query = query.filter(parcels::region.eq_any(regions));
        }
        query.first(conn).optional()
    })?
    .filter(|row| merchant.is_none_or(|merchant| row.merchant == merchant))
    .ok_or(PickupError::ParcelNotFound(id))
}

/// The parcel of a merchant's order reference in one region (one shard on Citus).
pub(super) fn find_order_in(
    conn: &mut DbConn,
    merchant: &str,
    order_ref: &str,
    region: i64,
) -> QueryResult<Option<ParcelRow>> {
    parcels::table
        .filter(
            parcels::merchant
                .eq(merchant)
                .and(parcels::order_ref.eq(order_ref)),
        )
        .filter(parcels::region.eq(region))
        .select(ParcelRow::as_select())
        .first(conn)
        .optional()
}

/// [`find_for_shop`] naming the shop's region (one shard on Citus).
pub fn find_in(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    id: i64,
) -> Result<ParcelRow, PickupError> {
    parcels::table
        .filter(parcels::id.eq(id).and(parcels::shop_id.eq(shop_id)))
        .filter(parcels::region.eq(region))
        .select(ParcelRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(PickupError::ParcelNotFound(id))
}

/// One parcel, if it is at `shop_id` (a partner never learns of other shops' parcels).
pub fn find_for_shop(conn: &mut DbConn, shop_id: i64, id: i64) -> Result<ParcelRow, PickupError> {
    parcels::table
        .filter(parcels::id.eq(id).and(parcels::shop_id.eq(shop_id)))
        .select(ParcelRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(PickupError::ParcelNotFound(id))
}

/// The merchant's view of a reservation; the first call after arrival also returns the code
/// in clear (once: the sealed copy is erased in the same statement that reads it).
pub fn read_reservation(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    merchant: &str,
    id: i64,
) -> Result<(Parcel, Option<String>), PickupError> {
    let row = find_for_merchant(conn, merchant, id)?;
    let code = codes::reveal_once(data_key, row.code_sealed.as_deref(), || {
        diesel::update(
            parcels::table
                .filter(parcels::id.eq(id).and(parcels::code_sealed.is_not_null()))
                .filter(parcels::region.eq(row.region)),
        )
        .set(parcels::code_sealed.eq(None::<String>))
        .execute(conn)
    })?;
    Ok((row.named_view(data_key), code))
}

/// A shop's parcels in the given states, newest first (at most `limit`), with the names the
/// partner checks at the counter.
pub fn list_for_shop(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    states: &[ParcelState],
    limit: i64,
) -> QueryResult<Vec<Parcel>> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    // Naming the shop's region keeps the list on one shard (on Citus: working while another
    // region's worker is down). An unknown shop has no parcels.
    let Some(region) = crate::network::load::region_of(conn, shop_id)? else {
        return Ok(Vec::new());
    };
    let rows: Vec<ParcelRow> = parcels::table
        .filter(
            parcels::shop_id
                .eq(shop_id)
                .and(parcels::state.eq_any(states)),
        )
        .filter(parcels::region.eq(region))
        .select(ParcelRow::as_select())
        .order(parcels::id.desc())
        .limit(limit)
        .load(conn)?;
    Ok(rows.iter().map(|r| r.named_view(data_key)).collect())
}

/// Parcels whose life ended (picked up, returned or cancelled) at or before `cutoff`: what
/// the personal data kept for a parcel (the customer's address, the names at the counter)
/// is erased after. A returned or cancelled parcel ended at its last change.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn ended_by(cutoff: NaiveDateTime) -> _ {
    let picked_up: &'static str = ParcelState::PickedUp.as_str();
    let gone: [&'static str; 2] = [
        ParcelState::Returned.as_str(),
        ParcelState::Cancelled.as_str(),
    ];
    parcels::state
        .eq(picked_up)
        .and(parcels::picked_up_at.le(cutoff))
        .or(parcels::state
            .eq_any(gone)
            .and(parcels::updated_at.le(cutoff)))
}
