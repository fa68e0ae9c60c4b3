//! The cash ledger: cash collected on delivery at a shop's counter, which the shop holds for
//! the merchant. Its own table (`cash_ledger`), never summed with the fees of the ledger: fees
//! are what pudo owes the shop, cash is what the shop owes the merchant. A statement shows
//! both and the net ([`super::statement::Settlement`]).
//!
//! One row per handover of a parcel with cash on delivery, written in the handover's
//! transaction under the key `cod:<parcel id>` (a handover that did not commit collected
//! nothing; a parcel's cash is never recorded twice). Append-only, as the ledger.

use crate::db::schema::cash_ledger;
use crate::db::DbConn;
use crate::pickup::{CashOnDelivery, ParcelRow};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// One cash collection, as a statement line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = cash_ledger)]
pub struct CashLine {
    /// Cash ledger row id.
    pub id: i64,
    /// When it was collected (the handover, UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub occurred_at: NaiveDateTime,
    /// The shop that collected it.
    pub shop_id: i64,
    /// The merchant it is owed to.
    pub merchant: String,
    /// The parcel handed over.
    pub parcel_id: i64,
    /// `cod:<parcel id>`.
    pub event_key: String,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Records the cash collected with the handover of `parcel`; call it in the handover's
/// transaction. `pudo_handover_one` writes the same row on the write-function path.
pub fn record(
    conn: &mut DbConn,
    parcel: &ParcelRow,
    cod: &CashOnDelivery,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = (
        cash_ledger::shop_id.eq(parcel.shop_id),
        cash_ledger::region.eq(parcel.region),
        cash_ledger::merchant.eq(&parcel.merchant),
        cash_ledger::parcel_id.eq(parcel.id),
        cash_ledger::event_key.eq(format!("cod:{}", parcel.id)),
        cash_ledger::amount_minor.eq(cod.amount_minor),
        cash_ledger::currency.eq(&cod.currency),
        cash_ledger::occurred_at.eq(now),
    );
    // As `book::record`: no failed insert, which would abort the handover on PostgreSQL.
    match conn {
        DbConn::Postgres(c) => diesel::insert_into(cash_ledger::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConn::Sqlite(c) => diesel::insert_into(cash_ledger::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(())
}

/// The shop's cash collections of a month, oldest first.
pub fn shop_lines(
    conn: &mut DbConn,
    shop_id: i64,
    month: super::Month,
) -> QueryResult<Vec<CashLine>> {
    cash_ledger::table
        .filter(cash_ledger::shop_id.eq(shop_id))
        .filter(cash_ledger::occurred_at.ge(month.start()))
        .filter(cash_ledger::occurred_at.lt(month.end()))
        .select(CashLine::as_select())
        .order((cash_ledger::occurred_at, cash_ledger::id))
        .load(conn)
}

/// Shops with cash collected in the month, by id.
pub fn shops_with_cash(conn: &mut DbConn, month: super::Month) -> QueryResult<Vec<i64>> {
    cash_ledger::table
        .filter(cash_ledger::occurred_at.ge(month.start()))
        .filter(cash_ledger::occurred_at.lt(month.end()))
        .select(cash_ledger::shop_id)
        .distinct()
        .order(cash_ledger::shop_id)
        .load(conn)
}
