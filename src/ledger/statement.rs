//! A shop's monthly statement: its ledger rows of the month, totals per kind and currency,
//! and grand totals per currency; the cash it collected on delivery (its own ledger, never in
//! those totals) and, per currency, the settlement: fees earned, cash collected and the net;
//! as JSON or CSV. Totals are sums of the lines, in integers.

use super::cash::CashLine;
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
    /// Cash collected on delivery, oldest first: what the shop holds for merchants. Never
    /// part of `totals` or `grand_totals` (fees).
    pub cash_lines: Vec<CashLine>,
    /// Per currency with fees or cash: fees earned, cash collected and the net.
    pub settlement: Vec<Settlement>,
}

/// What a shop earned and collected in one currency, and the net.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Settlement {
    /// ISO 4217 code.
    pub currency: String,
    /// Fees earned (the grand total of the currency), minor units.
    pub fees_earned_minor: i64,
    /// Cash collected on delivery, minor units.
    pub cash_collected_minor: i64,
    /// `cash_collected_minor - fees_earned_minor`: what the shop owes once it keeps its fees
    /// out of the cash it holds; negative when it is owed that much.
    pub net_owed_minor: i64,
}

/// Builds the statement from the month's ledger lines and cash lines.
pub fn build(
    shop: StatementShop,
    month: Month,
    lines: Vec<Line>,
    cash_lines: Vec<CashLine>,
) -> Statement {
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
    let mut settlement: BTreeMap<String, Settlement> = BTreeMap::new();
    let blank = |currency: &str| Settlement {
        currency: currency.to_owned(),
        fees_earned_minor: 0,
        cash_collected_minor: 0,
        net_owed_minor: 0,
    };
    for g in by_currency.values() {
        settlement
            .entry(g.currency.clone())
            .or_insert_with(|| blank(&g.currency))
            .fees_earned_minor += g.amount_minor;
    }
    for c in &cash_lines {
        settlement
            .entry(c.currency.clone())
            .or_insert_with(|| blank(&c.currency))
            .cash_collected_minor += c.amount_minor;
    }
    for s in settlement.values_mut() {
        s.net_owed_minor = s.cash_collected_minor - s.fees_earned_minor;
    }
    Statement {
        shop,
        month: month.to_string(),
        period_start: month.start(),
        period_end: month.end(),
        lines,
        totals: by_kind.into_values().collect(),
        grand_totals: by_currency.into_values().collect(),
        cash_lines,
        settlement: settlement.into_values().collect(),
    }
}

/// The CSV columns; `record` is `line`, `total` (per kind and currency), `grand_total` (per
/// currency), `cash_line` (cash collected on delivery: `kind` `cash_on_delivery`, `subject_id`
/// the parcel), or `fees_earned`, `cash_collected` and `net_owed` (the settlement, per
/// currency); columns that do not apply to a record are empty.
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
    for c in &s.cash_lines {
        w.write_record([
            "cash_line",
            shop,
            &s.month,
            &time(c.occurred_at),
            "cash_on_delivery",
            &c.event_key,
            &c.parcel_id.to_string(),
            "1",
            "1",
            "",
            &c.amount_minor.to_string(),
            &c.currency,
        ])?;
    }
    for t in &s.settlement {
        for (record, amount) in [
            ("fees_earned", t.fees_earned_minor),
            ("cash_collected", t.cash_collected_minor),
            ("net_owed", t.net_owed_minor),
        ] {
            w.write_record([
                record,
                shop,
                &s.month,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                &amount.to_string(),
                &t.currency,
            ])?;
        }
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
        let s = build(shop, "2026-11".parse().expect("month"), lines, Vec::new());
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
        // Lines, totals, grand totals, and three settlement records per currency.
        assert_eq!(csv.lines().count(), 1 + 5 + 4 + 2 + 3 * 2);
    }

    #[test]
    fn cash_is_settled_apart_from_fees() {
        let shop = StatementShop {
            id: 1,
            external_id: "s1".into(),
            name: "S".into(),
        };
        let at = Month::of(chrono::NaiveDate::from_ymd_opt(2026, 11, 2).expect("day")).start();
        let cash = |id: i64, amount_minor: i64, currency: &str| CashLine {
            id,
            occurred_at: at,
            shop_id: 1,
            merchant: "m".into(),
            parcel_id: id,
            event_key: format!("cod:{id}"),
            amount_minor,
            currency: currency.into(),
        };
        let lines = vec![
            line(1, FeeKind::Handover, 1, 30, "EUR"),
            line(2, FeeKind::Handover, 1, 30, "EUR"),
        ];
        let s = build(
            shop,
            "2026-11".parse().expect("month"),
            lines,
            vec![cash(1, 2550, "EUR"), cash(2, 1000, "PLN")],
        );
        // Cash never reaches the fee totals.
        assert_eq!(s.grand_totals[0].amount_minor, 60);
        assert_eq!(
            s.settlement,
            [
                Settlement {
                    currency: "EUR".into(),
                    fees_earned_minor: 60,
                    cash_collected_minor: 2550,
                    net_owed_minor: 2490
                },
                Settlement {
                    currency: "PLN".into(),
                    fees_earned_minor: 0,
                    cash_collected_minor: 1000,
                    net_owed_minor: 1000
                }
            ]
        );
        let csv = to_csv(&s);
        assert!(csv.contains(
            "cash_line,s1,2026-11,2026-11-01T00:00:00Z,cash_on_delivery,cod:1,1,1,1,,2550,EUR"
        ));
        assert!(csv.contains("net_owed,s1,2026-11,,,,,,,,2490,EUR"));
    }
}
