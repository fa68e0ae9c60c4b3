//! One ledger row per paid event: every parcel whose first handover was answered 200 is paid
//! exactly once (`handover:<id>`, to the shop that holds the parcel, at the fee in force that
//! day for its region), and nothing else is paid. Part of [`super::invariants::check`].

use diesel::prelude::*;
use pudo::db::schema::{ledger, parcels};
use pudo::db::DbConn;
use pudo::ledger::{fees, FeeKind};
use std::collections::HashMap;

/// The violations found; `firsts` are the parcels whose first handover was answered 200.
pub fn check(conn: &mut DbConn, firsts: &HashMap<i64, usize>) -> QueryResult<Vec<String>> {
    let mut bad = Vec::new();
    let rows: Vec<(String, String, i64, i64, i64)> = ledger::table
        .select((
            ledger::kind,
            ledger::event_key,
            ledger::subject_id,
            ledger::shop_id,
            ledger::amount_minor,
        ))
        .load(conn)?;
    let mut paid: HashMap<i64, Vec<(String, i64, i64)>> = HashMap::new();
    for (kind, key, subject, shop, amount) in rows {
        if kind != FeeKind::Handover.as_str() || key != format!("handover:{subject}") {
            bad.push(format!(
                "ledger row {key} ({kind}) is no handover of the run"
            ));
            continue;
        }
        paid.entry(subject).or_default().push((key, shop, amount));
    }
    for id in paid.keys() {
        if !firsts.contains_key(id) {
            bad.push(format!("parcel {id} is paid but was never handed over"));
        }
    }
    let ids: Vec<i64> = firsts.keys().copied().collect();
    let mut picked: Vec<(i64, i64, i64, Option<chrono::NaiveDateTime>)> = Vec::new();
    // In chunks: both backends bound the number of parameters of one statement.
    for chunk in ids.chunks(10_000) {
        picked.extend(
            parcels::table
                .filter(parcels::id.eq_any(chunk))
                .select((
                    parcels::id,
                    parcels::shop_id,
                    parcels::region,
                    parcels::picked_up_at,
                ))
                .load::<(i64, i64, i64, Option<chrono::NaiveDateTime>)>(conn)?,
        );
    }
    if picked.len() != ids.len() {
        bad.push(format!(
            "{} parcels handed over, {} found",
            ids.len(),
            picked.len()
        ));
    }
    let mut fee_of = HashMap::new();
    for (id, shop, region, at) in picked {
        let Some(day) = at.map(|t| t.date()) else {
            bad.push(format!(
                "parcel {id} was handed over but has no picked_up_at"
            ));
            continue;
        };
        let fee = match fee_of.get(&(region, day)) {
            Some(fee) => *fee,
            None => {
                let fee = fees::in_force(conn, FeeKind::Handover, region, day)?.map(|f| f.1);
                fee_of.insert((region, day), fee);
                fee
            }
        };
        let rows = paid.get(&id).map_or(&[][..], Vec::as_slice);
        match (fee, rows) {
            (None, []) => {}
            (Some(fee), [(_, paid_shop, amount)]) if *paid_shop == shop && *amount == fee => {}
            (fee, rows) => bad.push(format!(
                "parcel {id} at shop {shop}: fee in force {fee:?}, ledger rows {rows:?}"
            )),
        }
    }
    bad.truncate(10);
    Ok(bad)
}
