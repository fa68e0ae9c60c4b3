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

/// The shop's cash collections of a month, oldest first. Naming the shop's region keeps the
/// query on one shard (on Citus: working while another region's worker is down).
pub fn shop_lines(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    month: super::Month,
) -> QueryResult<Vec<CashLine>> {
    cash_ledger::table
        .filter(cash_ledger::shop_id.eq(shop_id))
        .filter(cash_ledger::region.eq(region))
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

/// One cash collection as its merchant sees it: which parcel (and order), at which shop.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MerchantCashLine {
    /// Cash ledger row id.
    pub id: i64,
    /// When it was collected (the handover, UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub collected_at: NaiveDateTime,
    /// The parcel handed over.
    pub parcel_id: i64,
    /// The merchant's order reference of the parcel.
    #[schema(example = "order-1001")]
    pub order_ref: String,
    /// The shop that collected the cash and holds it.
    pub shop: super::statement::StatementShop,
    /// Minor units.
    #[schema(example = 2550)]
    pub amount_minor: i64,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
}

/// A merchant's cash of one currency in a month.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CurrencyCash {
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// Collections (lines).
    pub collections: i64,
    /// Cash collected, minor units: the sum of `lines`.
    pub cash_collected_minor: i64,
    /// Every collection in the currency, oldest first.
    pub lines: Vec<MerchantCashLine>,
}

/// The cash collected on delivery for a merchant in a month (UTC), per currency: what the
/// shops hold for it. The same rows as the cash lines of the shops' statements.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MerchantCash {
    /// The merchant (the token's subject).
    pub merchant: String,
    /// `YYYY-MM`.
    pub month: String,
    /// First instant of the month (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub period_start: NaiveDateTime,
    /// First instant after the month (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub period_end: NaiveDateTime,
    /// Per currency, by code; empty when nothing was collected.
    pub currencies: Vec<CurrencyCash>,
}

/// A cash ledger row with its shop: id, collected at, parcel, amount, shop id, external id and
/// name, currency (the order of `merchant_month`'s select).
type MerchantCashRow = (i64, NaiveDateTime, i64, i64, i64, String, String, String);

/// The cash collected for `merchant` in `month`, per currency, oldest first (the cash
/// ledger's `(merchant, occurred_at)` index). On Citus with a worker down, an error naming
/// its regions: a month without some regions' cash would look complete and not be.
pub fn merchant_month(
    conn: &mut DbConn,
    merchant: &str,
    month: super::Month,
) -> QueryResult<MerchantCash> {
    use crate::db::schema::{parcels, shops};
    let rows: Vec<MerchantCashRow> = crate::db::citus::over_every_region(conn, |conn| {
        cash_ledger::table
            .inner_join(shops::table.on(shops::id.eq(cash_ledger::shop_id)))
            .filter(cash_ledger::merchant.eq(merchant))
            .filter(cash_ledger::occurred_at.ge(month.start()))
            .filter(cash_ledger::occurred_at.lt(month.end()))
            .select((
                cash_ledger::id,
                cash_ledger::occurred_at,
                cash_ledger::parcel_id,
                cash_ledger::amount_minor,
                shops::id,
                shops::external_id,
                shops::name,
                cash_ledger::currency,
            ))
            .order((cash_ledger::occurred_at, cash_ledger::id))
            .load(conn)
    })?;
    // The order references: parcels are kept (never deleted) once handed over.
    let ids: Vec<i64> = rows.iter().map(|r| r.2).collect();
    let mut order_refs = std::collections::HashMap::new();
    for chunk in ids.chunks(1000) {
        let found: Vec<(i64, String)> = crate::db::citus::over_every_region(conn, |conn| {
            parcels::table
                .filter(parcels::id.eq_any(chunk))
                .filter(parcels::merchant.eq(merchant))
                .select((parcels::id, parcels::order_ref))
                .load(conn)
        })?;
        order_refs.extend(found);
    }
    let mut by_currency: std::collections::BTreeMap<String, CurrencyCash> = Default::default();
    for (id, collected_at, parcel_id, amount_minor, shop_id, external_id, name, currency) in rows {
        let c = by_currency
            .entry(currency.clone())
            .or_insert_with(|| CurrencyCash {
                currency: currency.clone(),
                collections: 0,
                cash_collected_minor: 0,
                lines: Vec::new(),
            });
        c.collections += 1;
        c.cash_collected_minor += amount_minor;
        c.lines.push(MerchantCashLine {
            id,
            collected_at,
            parcel_id,
            order_ref: order_refs.get(&parcel_id).cloned().unwrap_or_default(),
            shop: super::statement::StatementShop {
                id: shop_id,
                external_id,
                name,
            },
            amount_minor,
            currency,
        });
    }
    Ok(MerchantCash {
        merchant: merchant.to_owned(),
        month: month.to_string(),
        period_start: month.start(),
        period_end: month.end(),
        currencies: by_currency.into_values().collect(),
    })
}

/// The CSV columns of a merchant's cash; `record` is `line` (one collection) or `total` (per
/// currency: `collections` and the sum in `amount_minor`); columns that do not apply to a
/// record are empty.
pub const MERCHANT_CSV_COLUMNS: [&str; 11] = [
    "record",
    "month",
    "collected_at",
    "parcel_id",
    "order_ref",
    "shop_id",
    "shop_external_id",
    "shop_name",
    "collections",
    "amount_minor",
    "currency",
];

/// A merchant's cash as one CSV document with its header: the lines, then the totals.
pub fn merchant_csv(cash: &MerchantCash) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(MERCHANT_CSV_COLUMNS);
    for c in &cash.currencies {
        for l in &c.lines {
            let _ = w.write_record([
                "line",
                &cash.month,
                &crate::timestamps::rfc3339(&l.collected_at),
                &l.parcel_id.to_string(),
                &l.order_ref,
                &l.shop.id.to_string(),
                &l.shop.external_id,
                &l.shop.name,
                "1",
                &l.amount_minor.to_string(),
                &l.currency,
            ]);
        }
    }
    for c in &cash.currencies {
        let _ = w.write_record([
            "total",
            &cash.month,
            "",
            "",
            "",
            "",
            "",
            "",
            &c.collections.to_string(),
            &c.cash_collected_minor.to_string(),
            &c.currency,
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
