//! The invariants after the faults, checked against every final answer the clients received:
//! every change answered 2xx is in the database, nothing refused is; no shop above capacity and
//! every slot counter equal to what the shop holds; each pickup code handed over once; one outbox
//! event per change and one ledger row per paid event (`crate::backup::consistency` for parcels,
//! here for returns).

use super::client::{Final, Order};
use diesel::prelude::*;
use pudo::db::schema::{handover_attempts, ledger, outbox, parcels, returns};
use pudo::db::DbConn;
use std::collections::{HashMap, HashSet};

/// Counts of what was checked: parcels, returns, outbox events.
pub type Checked = (usize, usize, usize);

fn ok(f: &Final) -> bool {
    (200..300).contains(&f.status)
}

/// Checks every invariant; `Err` lists the violations (at most 30).
pub fn check(conn: &mut DbConn, orders: &[Order]) -> Result<Checked, Vec<String>> {
    let db = |e: diesel::result::Error| vec![format!("reading the database: {e}")];
    let mut bad = crate::backup::consistency(conn).err().unwrap_or_default();

    let stored: Vec<(i64, i64, String, String, Option<chrono::NaiveDateTime>)> = parcels::table
        .select((
            parcels::id,
            parcels::shop_id,
            parcels::order_ref,
            parcels::state,
            parcels::arrived_at,
        ))
        .load(conn)
        .map_err(db)?;
    let stored_returns: Vec<(i64, i64, String, String)> = returns::table
        .select((
            returns::id,
            returns::shop_id,
            returns::order_ref,
            returns::state,
        ))
        .load(conn)
        .map_err(db)?;
    let parcel_by_ref: HashMap<&str, (i64, i64, &str, bool)> = stored
        .iter()
        .map(|(id, shop, r, state, arrived)| {
            (r.as_str(), (*id, *shop, state.as_str(), arrived.is_some()))
        })
        .collect();
    let return_by_ref: HashMap<&str, (i64, i64, &str, bool)> = stored_returns
        .iter()
        .map(|(id, shop, r, state)| (r.as_str(), (*id, *shop, state.as_str(), false)))
        .collect();
    if parcel_by_ref.len() != stored.len() || return_by_ref.len() != stored_returns.len() {
        bad.push("an order_ref is stored twice".into());
    }

    let mut requested: HashSet<&str> = HashSet::new();
    for o in orders {
        requested.insert(&o.order_ref);
        let (table, kind) = if o.is_return {
            (&return_by_ref, "return")
        } else {
            (&parcel_by_ref, "reservation")
        };
        let row = table.get(o.order_ref.as_str());
        let Some(first) = o.created.first() else {
            continue;
        };
        // Created: answered 2xx → stored with the id answered, at the shop asked for; refused
        // (and never retried) → not stored.
        if ok(first) {
            match row {
                Some((id, shop, _, _)) if Some(*id) == o.id && *shop == o.shop => {}
                other => bad.push(format!(
                    "{kind} {} answered {} as {:?}, stored as {other:?}",
                    o.order_ref, first.status, o.id
                )),
            }
        } else if !first.retried && row.is_some() {
            bad.push(format!(
                "{kind} {} was refused ({}) yet is stored",
                o.order_ref, first.status
            ));
        }
        let Some((_, _, state, arrived)) = row.copied() else {
            continue;
        };
        let mut want: Option<&str> = None;
        if o.cancel.as_ref().is_some_and(|c| c.status == 200) {
            want = Some("cancelled");
        }
        if o.arrival.as_ref().is_some_and(ok) {
            if !arrived {
                bad.push(format!(
                    "parcel {} answered arrived, has no arrival",
                    o.order_ref
                ));
            }
            want = Some("at_point");
        }
        if o.handed.iter().any(ok) {
            want = Some(if o.is_return {
                "dropped_off"
            } else {
                "picked_up"
            });
        }
        let firsts = o
            .handed
            .iter()
            .filter(|h| ok(h) && h.body["replay"] == false)
            .count();
        if firsts > 1 {
            bad.push(format!(
                "{kind} {}: {firsts} answers as the first",
                o.order_ref
            ));
        }
        if let Some(want) = want {
            if state != want {
                bad.push(format!(
                    "{kind} {} is {state}, its answers say {want}",
                    o.order_ref
                ));
            }
        }
    }
    for r in parcel_by_ref.keys().chain(return_by_ref.keys()) {
        if !requested.contains(r) {
            bad.push(format!("{r} is stored but was never requested"));
        }
    }

    // Each code handed over once: one audited success per picked-up parcel, none for others.
    let successes: Vec<Option<i64>> = handover_attempts::table
        .filter(handover_attempts::result.eq("success"))
        .select(handover_attempts::parcel_id)
        .load(conn)
        .map_err(db)?;
    let mut per_parcel: HashMap<i64, usize> = HashMap::new();
    for p in successes.into_iter().flatten() {
        *per_parcel.entry(p).or_default() += 1;
    }
    for (id, _, r, state, _) in &stored {
        let n = per_parcel.get(id).copied().unwrap_or(0);
        if n != usize::from(state == "picked_up") {
            bad.push(format!("parcel {r} ({state}): {n} audited handovers"));
        }
    }

    // Returns: one drop-off event and one paid drop-off per return dropped off.
    let events: Vec<(String, String)> = outbox::table
        .select((outbox::kind, outbox::payload))
        .load(conn)
        .map_err(db)?;
    let mut dropped_events: HashMap<i64, usize> = HashMap::new();
    for (kind, payload) in &events {
        if kind == "return.dropped_off" {
            let value: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
            match value["return"]["id"].as_i64() {
                Some(id) => *dropped_events.entry(id).or_default() += 1,
                None => bad.push(format!("{kind} event without a return id: {payload}")),
            }
        }
    }
    let paid: Vec<String> = ledger::table
        .filter(ledger::kind.eq("dropoff"))
        .select(ledger::event_key)
        .load(conn)
        .map_err(db)?;
    let mut paid_keys: Vec<String> = paid.clone();
    paid_keys.sort();
    let mut expected_keys = Vec::new();
    for (id, _, r, state) in &stored_returns {
        let dropped = usize::from(state == "dropped_off");
        if dropped == 1 {
            expected_keys.push(format!("dropoff:{id}"));
        }
        let n = dropped_events.get(id).copied().unwrap_or(0);
        if n != dropped {
            bad.push(format!(
                "return {r} ({state}): {n} return.dropped_off events"
            ));
        }
    }
    expected_keys.sort();
    if paid_keys != expected_keys {
        bad.push(format!(
            "{} drop-offs paid, {} returns dropped off",
            paid_keys.len(),
            expected_keys.len()
        ));
    }

    if bad.is_empty() {
        Ok((stored.len(), stored_returns.len(), events.len()))
    } else {
        bad.truncate(30);
        Err(bad)
    }
}
