//! Writing the ledger: one row per paid event, in the caller's transaction. No function here
//! (nor anywhere) updates or deletes a ledger row; the database refuses it too (triggers).

use super::{fees, FeeKind};
use crate::db::schema::ledger;
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// An event to pay.
#[derive(Debug, Clone)]
pub struct PaidEvent {
    /// Its kind.
    pub kind: FeeKind,
    /// The shop paid.
    pub shop_id: i64,
    /// The shop's region key (picks regional fees).
    pub region: i64,
    /// Unique key of the event, e.g. `handover:42`: a second row with it is never written.
    pub event_key: String,
    /// The parcel, return or manifest line concerned.
    pub subject_id: i64,
    /// Units (1, or the staged units received); nothing is paid for 0.
    pub quantity: i32,
    /// When it happened (UTC); the fee in force that day applies.
    pub occurred_at: NaiveDateTime,
}

impl PaidEvent {
    /// A single event of `kind` about `subject_id`, keyed `<prefix>:<subject_id>`.
    pub fn one(
        kind: FeeKind,
        prefix: &str,
        shop_id: i64,
        region: i64,
        subject_id: i64,
        occurred_at: NaiveDateTime,
    ) -> Self {
        Self {
            kind,
            shop_id,
            region,
            event_key: format!("{prefix}:{subject_id}"),
            subject_id,
            quantity: 1,
            occurred_at,
        }
    }
}

/// Writes the event's ledger row at the fee in force; call it inside the event's transaction.
/// Returns whether a row was written: not when no fee is in force yet, the quantity is 0, or
/// the event was paid already (its key exists: a replay that slipped past the caller's own
/// state check still pays nothing).
pub fn record(conn: &mut DbConn, event: &PaidEvent) -> QueryResult<bool> {
    if event.quantity <= 0 {
        return Ok(false);
    }
    let Some((fee_id, unit, currency)) =
        fees::in_force(conn, event.kind, event.region, event.occurred_at.date())?
    else {
        return Ok(false);
    };
    let row = (
        ledger::shop_id.eq(event.shop_id),
        ledger::region.eq(event.region),
        ledger::kind.eq(event.kind.as_str()),
        ledger::event_key.eq(&event.event_key),
        ledger::subject_id.eq(event.subject_id),
        ledger::quantity.eq(event.quantity),
        ledger::unit_amount_minor.eq(unit),
        ledger::amount_minor.eq(unit * i64::from(event.quantity)),
        ledger::currency.eq(&currency),
        ledger::fee_id.eq(fee_id),
        ledger::occurred_at.eq(event.occurred_at),
    );
    // ON CONFLICT DO NOTHING rather than a failed insert: on PostgreSQL a unique violation
    // would abort the whole transaction, i.e. the event itself.
    // Without a conflict target: the unique key is `(event_key)` on PostgreSQL and SQLite but
    // `(event_key, region)` on Citus (a key of a distributed table holds its distribution
    // column); an event key lies in one region, so both keys mean the same.
    let written = match conn {
        DbConn::Postgres(c) => diesel::insert_into(ledger::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConn::Sqlite(c) => diesel::insert_into(ledger::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(written == 1)
}

/// The shop's ledger rows of a month, oldest first; `region` is the shop's (one shard on
/// Citus: a statement works while the worker of another region is down).
pub fn lines(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    month: super::Month,
) -> QueryResult<Vec<super::statement::Line>> {
    let rows: Vec<LineRow> = ledger::table
        .filter(ledger::shop_id.eq(shop_id))
        .filter(ledger::region.eq(region))
        .filter(ledger::occurred_at.ge(month.start()))
        .filter(ledger::occurred_at.lt(month.end()))
        .select(LineRow::as_select())
        .order((ledger::occurred_at, ledger::id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| super::statement::Line {
            id: r.id,
            occurred_at: r.occurred_at,
            // The column's check constraint admits only known kinds.
            kind: r.kind.parse().unwrap_or(FeeKind::Handover),
            event_key: r.event_key,
            subject_id: r.subject_id,
            quantity: r.quantity,
            unit_amount_minor: r.unit_amount_minor,
            amount_minor: r.amount_minor,
            currency: r.currency,
        })
        .collect())
}

/// The columns of a ledger row a statement shows.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ledger)]
struct LineRow {
    id: i64,
    occurred_at: NaiveDateTime,
    kind: String,
    event_key: String,
    subject_id: i64,
    quantity: i32,
    unit_amount_minor: i64,
    amount_minor: i64,
    currency: String,
}

/// A shop's statement for a month.
pub fn statement(
    conn: &mut DbConn,
    shop_id: i64,
    month: super::Month,
) -> Result<super::statement::Statement, super::LedgerError> {
    use crate::db::schema::shops;
    let (id, external_id, name, region): (i64, String, String, i64) = shops::table
        .find(shop_id)
        .select((shops::id, shops::external_id, shops::name, shops::region))
        .first(conn)
        .optional()?
        .ok_or_else(|| super::LedgerError::ShopNotFound(shop_id.to_string()))?;
    let lines = lines(conn, shop_id, region, month)?;
    let cash = super::cash::shop_lines(conn, shop_id, region, month)?;
    Ok(super::statement::build(
        super::statement::StatementShop {
            id,
            external_id,
            name,
        },
        month,
        lines,
        cash,
    ))
}

/// Shops with at least one ledger or cash ledger row in the month, by id. On Citus with a
/// worker down, an error naming its regions: statements of all shops without some regions'
/// shops would look complete and not be (`db::citus::over_every_region`).
pub fn shops_with_entries(conn: &mut DbConn, month: super::Month) -> QueryResult<Vec<i64>> {
    crate::db::citus::over_every_region(conn, |conn| {
        let mut shops: Vec<i64> = ledger::table
            .filter(ledger::occurred_at.ge(month.start()))
            .filter(ledger::occurred_at.lt(month.end()))
            .select(ledger::shop_id)
            .distinct()
            .order(ledger::shop_id)
            .load(conn)?;
        shops.extend(super::cash::shops_with_cash(conn, month)?);
        shops.sort_unstable();
        shops.dedup();
        Ok(shops)
    })
}
