//! The fee schedule: what each kind of event pays, from which day on, network-wide or in one
//! region. Rows in force never change (a new fee starts on a later day), so the ledger rows
//! that name a fee row always name what was applied.

use super::{FeeKind, LedgerError};
use crate::db::schema::fee_schedule;
use crate::db::DbConn;
use crate::network::geo;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most fees one change may set.
pub const MAX_FEES_PER_CHANGE: usize = 10_000;
/// Largest fee accepted, in minor units (a sanity bound, far above any real fee).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000;

/// A row of the fee schedule.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Fee {
    /// Id.
    pub id: i64,
    /// The event kind it pays.
    pub kind: FeeKind,
    /// The H3 resolution-3 region (hex) it applies to; null for the whole network.
    pub region: Option<String>,
    /// Amount per event (per unit for staged units), in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// First day (UTC) it applies.
    pub effective_from: NaiveDate,
    /// Who set it (token subject, or `migration` for the default schedule).
    pub created_by: String,
    /// When it was set (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub created_at: NaiveDateTime,
}

/// One fee of a change to the schedule.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFee {
    /// The event kind.
    pub kind: FeeKind,
    /// H3 resolution-3 cell (hex) for a regional fee; absent or null for the whole network.
    #[serde(default)]
    pub region: Option<String>,
    /// Whole minor units (cents), 0 to 1,000,000,000.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub amount_minor: i64,
    /// ISO 4217 code: three capital letters.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

type FeeRow = (
    i64,
    String,
    Option<i64>,
    i64,
    String,
    NaiveDate,
    String,
    NaiveDateTime,
);

fn columns() -> (
    fee_schedule::id,
    fee_schedule::kind,
    fee_schedule::region,
    fee_schedule::amount_minor,
    fee_schedule::currency,
    fee_schedule::effective_from,
    fee_schedule::created_by,
    fee_schedule::created_at,
) {
    (
        fee_schedule::id,
        fee_schedule::kind,
        fee_schedule::region,
        fee_schedule::amount_minor,
        fee_schedule::currency,
        fee_schedule::effective_from,
        fee_schedule::created_by,
        fee_schedule::created_at,
    )
}

fn view(row: FeeRow) -> Fee {
    let (id, kind, region, amount_minor, currency, effective_from, created_by, created_at) = row;
    Fee {
        id,
        // The column's check constraint admits only known kinds.
        kind: kind.parse().unwrap_or(FeeKind::Handover),
        region: region.map(geo::cell_hex),
        amount_minor,
        currency,
        effective_from,
        created_by,
        created_at,
    }
}

/// The whole schedule, by kind, region (network-wide first) and date.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Fee>> {
    let mut fees: Vec<Fee> = fee_schedule::table
        .select(columns())
        .load::<FeeRow>(conn)?
        .into_iter()
        .map(view)
        .collect();
    fees.sort_by(|a, b| {
        (a.kind, &a.region, a.effective_from).cmp(&(b.kind, &b.region, b.effective_from))
    });
    Ok(fees)
}

/// A region key from its hex H3 cell; it must be a resolution-3 cell (the shops' region key).
pub fn parse_region(hex: &str) -> Result<i64, String> {
    let cell = u64::from_str_radix(hex.trim(), 16)
        .ok()
        .and_then(|n| h3o::CellIndex::try_from(n).ok())
        .ok_or_else(|| format!("{hex:?} is not an H3 cell in hex"))?;
    if cell.resolution() != geo::REGION_RESOLUTION {
        return Err(format!(
            "{hex:?} is a resolution-{} cell; regions are resolution-3 cells",
            u8::from(cell.resolution())
        ));
    }
    Ok(geo::cell_to_i64(cell))
}

fn check_currency(code: &str) -> Result<(), String> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(format!(
            "{code:?} is not an ISO 4217 currency code (three capital letters, e.g. EUR)"
        ))
    }
}

/// Sets fees from `effective_from` on, all or none. The day must be after `today` (UTC): a fee
/// already in force, and so what the ledger paid, never changes. Setting a kind and region
/// again for the same day replaces that (future) fee.
pub fn set(
    conn: &mut DbConn,
    effective_from: NaiveDate,
    fees: &[NewFee],
    actor: &str,
    today: NaiveDate,
    now: NaiveDateTime,
) -> Result<Vec<Fee>, LedgerError> {
    if effective_from <= today {
        return Err(LedgerError::invalid(
            "effective_from",
            format!(
                "{effective_from} is not after today ({today}, UTC); fees change from tomorrow on at the earliest, so that nothing already paid changes"
            ),
        ));
    }
    if fees.is_empty() || fees.len() > MAX_FEES_PER_CHANGE {
        return Err(LedgerError::invalid(
            "fees",
            format!("give 1 to {MAX_FEES_PER_CHANGE} fees"),
        ));
    }
    let mut keys = std::collections::HashSet::new();
    let mut rows = Vec::with_capacity(fees.len());
    for (i, fee) in fees.iter().enumerate() {
        let region = match fee.region.as_deref() {
            None => None,
            Some(hex) => Some(
                parse_region(hex)
                    .map_err(|m| LedgerError::invalid(format!("fees[{i}].region"), m))?,
            ),
        };
        if !(0..=MAX_AMOUNT_MINOR).contains(&fee.amount_minor) {
            return Err(LedgerError::invalid(
                format!("fees[{i}].amount_minor"),
                format!("must be a whole number of minor units from 0 to {MAX_AMOUNT_MINOR}"),
            ));
        }
        check_currency(&fee.currency)
            .map_err(|m| LedgerError::invalid(format!("fees[{i}].currency"), m))?;
        if !keys.insert((fee.kind, region)) {
            return Err(LedgerError::invalid(
                format!("fees[{i}]"),
                format!("{} is given twice for the same region", fee.kind),
            ));
        }
        rows.push((fee, region));
    }
    // Two changes of the same future fee racing on PostgreSQL: the loser's insert meets the
    // winner's row; run it again, when it updates that row instead.
    for attempt in 0..2 {
        match write(conn, effective_from, &rows, actor, now) {
            Err(LedgerError::Db(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) if attempt == 0 => continue,
            other => other?,
        }
        break;
    }
    Ok(list(conn)?)
}

fn write(
    conn: &mut DbConn,
    effective_from: NaiveDate,
    rows: &[(&NewFee, Option<i64>)],
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), LedgerError> {
    conn.transaction(|conn| -> Result<(), LedgerError> {
        for (fee, region) in rows {
            let same = fee_schedule::kind
                .eq(fee.kind.as_str())
                .and(fee_schedule::effective_from.eq(effective_from));
            let changes = (
                fee_schedule::amount_minor.eq(fee.amount_minor),
                fee_schedule::currency.eq(&fee.currency),
                fee_schedule::created_by.eq(actor),
                fee_schedule::created_at.eq(now),
            );
            let updated = match region {
                Some(r) => diesel::update(
                    fee_schedule::table.filter(same.and(fee_schedule::region.eq(*r))),
                )
                .set(changes)
                .execute(conn)?,
                None => diesel::update(
                    fee_schedule::table.filter(same.and(fee_schedule::region.is_null())),
                )
                .set(changes)
                .execute(conn)?,
            };
            if updated == 0 {
                diesel::insert_into(fee_schedule::table)
                    .values((
                        fee_schedule::kind.eq(fee.kind.as_str()),
                        fee_schedule::region.eq(*region),
                        fee_schedule::amount_minor.eq(fee.amount_minor),
                        fee_schedule::currency.eq(&fee.currency),
                        fee_schedule::effective_from.eq(effective_from),
                        fee_schedule::created_by.eq(actor),
                        fee_schedule::created_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// The fee in force for `kind` on `day` (UTC) in `region`: the latest regional fee from that
/// day or before, else the latest network-wide one; `None` before any fee starts.
/// Returns `(fee id, amount_minor, currency)`.
pub fn in_force(
    conn: &mut DbConn,
    kind: FeeKind,
    region: i64,
    day: NaiveDate,
) -> QueryResult<Option<(i64, i64, String)>> {
    let candidates: Vec<(i64, Option<i64>, i64, String)> = fee_schedule::table
        .filter(fee_schedule::kind.eq(kind.as_str()))
        .filter(fee_schedule::effective_from.le(day))
        .filter(
            fee_schedule::region
                .eq(region)
                .or(fee_schedule::region.is_null()),
        )
        .select((
            fee_schedule::id,
            fee_schedule::region,
            fee_schedule::amount_minor,
            fee_schedule::currency,
        ))
        .order(fee_schedule::effective_from.desc())
        .load(conn)?;
    let regional = candidates.iter().find(|c| c.1.is_some());
    Ok(regional
        .or(candidates.first())
        .map(|(id, _, amount, currency)| (*id, *amount, currency.clone())))
}
