//! A shop's monthly statement: its ledger rows of the month, totals per kind and currency,
//! and grand totals per currency; as JSON or CSV. Totals are sums of the lines, in integers.

use super::{FeeKind, Month};
use chrono::NaiveDateTime;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One ledger row, as a statement line.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Line {
    /// Ledger row id.
    pub id: i64,
    /// When the event happened (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub occurred_at: NaiveDateTime,
    /// Event kind.
    pub kind: FeeKind,
    /// The event's unique key, e.g. `handover:42`.
    pub event_key: String,
    /// Parcel, return or manifest line id.
    pub subject_id: i64,
    /// Units paid.
    pub quantity: i32,
    /// Fee per unit, minor units.
    pub unit_amount_minor: i64,
    /// `quantity × unit_amount_minor`, minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Total of one kind in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KindTotal {
    /// Event kind.
    pub kind: FeeKind,
    /// ISO 4217 code.
    pub currency: String,
    /// Events (lines).
    pub events: i64,
    /// Units.
    pub quantity: i64,
    /// Minor units.
    pub amount_minor: i64,
}

/// Total of every kind in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CurrencyTotal {
    /// ISO 4217 code.
    pub currency: String,
    /// Events (lines).
    pub events: i64,
    /// Minor units.
    pub amount_minor: i64,
}

/// The shop a statement is for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StatementShop {
    /// pudo's id.
    pub id: i64,
    /// The partner's reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
}

/// A shop's statement for one month (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Statement {
    /// The shop.
    pub shop: StatementShop,
    /// `YYYY-MM`.
    pub month: String,
    /// First instant of the month (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub period_start: NaiveDateTime,
    /// First instant after the month (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub period_end: NaiveDateTime,
    /// Every paid event, oldest first.
    pub lines: Vec<Line>,
    /// Per kind and currency, kinds in the order handover, dropoff, staged_unit_received,
    /// return_sent_back.
    pub totals: Vec<KindTotal>,
    /// Per currency (one entry unless the shop's fees changed currency); empty when nothing
    /// was paid.
    pub grand_totals: Vec<CurrencyTotal>,
}

/// Builds the statement from the month's lines.
pub fn build(shop: StatementShop, month: Month, lines: Vec<Line>) -> Statement {
    let mut by_kind: BTreeMap<(FeeKind, String), KindTotal> = BTreeMap::new();
    let mut by_currency: BTreeMap<String, CurrencyTotal> = BTreeMap::new();
    for line in &lines {
        let t = by_kind
            .entry((line.kind, line.currency.clone()))
            .or_insert_with(|| KindTotal {
                kind: line.kind,
                currency: line.currency.clone(),
                events: 0,
                quantity: 0,
                amount_minor: 0,
            });
        t.events += 1;
        t.quantity += i64::from(line.quantity);
        t.amount_minor += line.amount_minor;
        let g = by_currency
            .entry(line.currency.clone())
            .or_insert_with(|| CurrencyTotal {
                currency: line.currency.clone(),
                events: 0,
                amount_minor: 0,
            });
        g.events += 1;
        g.amount_minor += line.amount_minor;
    }
    Statement {
        shop,
        month: month.to_string(),
        period_start: month.start(),
        period_end: month.end(),
        lines,
        totals: by_kind.into_values().collect(),
        grand_totals: by_currency.into_values().collect(),
    }
}

/// The CSV columns; `record` is `line`, `total` (per kind and currency) or `grand_total` (per
/// currency), and columns that do not apply to a record are empty.
pub const CSV_COLUMNS: [&str; 12] = [
    "record",
    "shop_external_id",
    "month",
    "occurred_at",
    "kind",
    "event_key",
    "subject_id",
    "events",
    "quantity",
    "unit_amount_minor",
    "amount_minor",
    "currency",
];

/// Times as in the JSON form (`2026-11-05T10:00:00.123456Z`, RFC 3339 in UTC).
fn time(t: NaiveDateTime) -> String {
    crate::timestamps::rfc3339(&t)
}

/// Appends the statement's records to a CSV writer (the header is the caller's, once per file).
pub fn write_csv<W: std::io::Write>(w: &mut csv::Writer<W>, s: &Statement) -> csv::Result<()> {
    let shop = s.shop.external_id.as_str();
    for l in &s.lines {
        w.write_record([
            "line",
            shop,
            &s.month,
            &time(l.occurred_at),
            l.kind.as_str(),
            &l.event_key,
            &l.subject_id.to_string(),
            "1",
            &l.quantity.to_string(),
            &l.unit_amount_minor.to_string(),
            &l.amount_minor.to_string(),
            &l.currency,
        ])?;
    }
    for t in &s.totals {
        w.write_record([
            "total",
            shop,
            &s.month,
            "",
            t.kind.as_str(),
            "",
            "",
            &t.events.to_string(),
            &t.quantity.to_string(),
            "",
            &t.amount_minor.to_string(),
            &t.currency,
        ])?;
    }
    for g in &s.grand_totals {
        w.write_record([
            "grand_total",
            shop,
            &s.month,
            "",
            "",
            "",
            "",
            &g.events.to_string(),
            "",
            "",
            &g.amount_minor.to_string(),
            &g.currency,
        ])?;
    }
    Ok(())
}

/// The statement as one CSV document with its header.
pub fn to_csv(s: &Statement) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(CSV_COLUMNS);
    let _ = write_csv(&mut w, s);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: i64, kind: FeeKind, quantity: i32, unit: i64, currency: &str) -> Line {
        Line {
            id,
            occurred_at: Month::of(chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("day"))
                .start(),
            kind,
            event_key: format!("k:{id}"),
            subject_id: id,
            quantity,
            unit_amount_minor: unit,
            amount_minor: unit * i64::from(quantity),
            currency: currency.into(),
        }
    }

    #[test]
    fn totals_sum_the_lines_per_kind_and_currency() {
        let shop = StatementShop {
            id: 1,
            external_id: "s,1".into(),
            name: "S".into(),
        };
        let lines = vec![
            line(1, FeeKind::ReturnSentBack, 1, 20, "EUR"),
            line(2, FeeKind::Handover, 1, 30, "EUR"),
            line(3, FeeKind::StagedUnitReceived, 7, 5, "EUR"),
            line(4, FeeKind::Handover, 1, 31, "EUR"),
            line(5, FeeKind::Handover, 1, 100, "CNY"),
        ];
        let s = build(shop, "2026-11".parse().expect("month"), lines);
        let kinds: Vec<(FeeKind, &str, i64, i64, i64)> = s
            .totals
            .iter()
            .map(|t| {
                (
                    t.kind,
                    t.currency.as_str(),
                    t.events,
                    t.quantity,
                    t.amount_minor,
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (FeeKind::Handover, "CNY", 1, 1, 100),
                (FeeKind::Handover, "EUR", 2, 2, 61),
                (FeeKind::StagedUnitReceived, "EUR", 1, 7, 35),
                (FeeKind::ReturnSentBack, "EUR", 1, 1, 20),
            ]
        );
        assert_eq!(
            s.grand_totals,
            [
                CurrencyTotal {
                    currency: "CNY".into(),
                    events: 1,
                    amount_minor: 100
                },
                CurrencyTotal {
                    currency: "EUR".into(),
                    events: 4,
                    amount_minor: 116
                }
            ]
        );
        let csv = to_csv(&s);
        let mut rows = csv.lines();
        assert_eq!(rows.next(), Some(CSV_COLUMNS.join(",").as_str()));
        // The external id holds a comma: it is quoted.
        assert!(csv.contains("grand_total,\"s,1\",2026-11,,,,,4,,,116,EUR"));
        assert_eq!(csv.lines().count(), 1 + 5 + 4 + 2);
    }
}
