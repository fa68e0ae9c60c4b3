//! Every invariant of issue 3, checked on the database a [`super::workload`] run left behind
//! against what the run was answered:
//!
//! - no shop above its capacity, and every shop's live count equal to its live parcels;
//! - no reservation lost or duplicated: the parcels are exactly the reservations answered
//!   201, each once, a repeated `order_ref` answered the same reservation, a 409 left nothing;
//! - every parcel in the state its answers imply (cancelled, moved, arrived, picked up), and
//!   every handover answered 200 as a first confirmation picked its parcel up exactly once;
//! - an audit row for every handover attempt, with the result it was answered;
//! - exactly one outbox event per state change, for the parcel it names;
//! - exactly one ledger row per paid event ([`super::paid`]).
//!
//! The database must hold nothing but the run's orders.

use super::workload::Tally;
use diesel::prelude::*;
use pudo::db::schema::{handover_attempts, outbox, parcels, shop_load, shops};
use pudo::db::DbConn;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Counts of what was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Parcels in the database.
    pub parcels: usize,
    /// Outbox events.
    pub events: usize,
    /// Audited handover attempts.
    pub attempts: usize,
}

/// Checks every invariant; `Err` lists each violation found (at most a few of each kind).
pub fn check(conn: &mut DbConn, tally: &Tally) -> Result<Checked, Vec<String>> {
    let mut bad: Vec<String> = tally
        .unexpected
        .iter()
        .take(20)
        .map(|u| format!("unexpected answer: {u}"))
        .collect();
    let db = |e: diesel::result::Error| vec![format!("reading the database: {e}")];

    // Capacity, and live counts that agree with the parcels.
    let rows: Vec<(i64, i32, i32)> = shop_load::table
        .inner_join(shops::table)
        .select((shop_load::shop_id, shop_load::live, shops::capacity))
        .load(conn)
        .map_err(db)?;
    let stored: Vec<(i64, i64, String, String)> = parcels::table
        .select((
            parcels::id,
            parcels::shop_id,
            parcels::order_ref,
            parcels::state,
        ))
        .order(parcels::id)
        .load(conn)
        .map_err(db)?;
    let mut held: HashMap<i64, i32> = HashMap::new();
    for (_, shop, _, state) in &stored {
        if matches!(state.as_str(), "reserved" | "at_point" | "expired") {
            *held.entry(*shop).or_default() += 1;
        }
    }
    for (shop, live, capacity) in rows {
        if live > capacity {
            bad.push(format!(
                "shop {shop} holds {live} parcels, capacity {capacity}"
            ));
        }
        let parcels_held = held.get(&shop).copied().unwrap_or(0);
        if live != parcels_held {
            bad.push(format!(
                "shop {shop}: live count {live}, live parcels {parcels_held}"
            ));
        }
    }

    // No reservation lost or duplicated.
    let mut answered: HashMap<&str, (i64, i64)> = HashMap::new();
    let mut refused: HashSet<&str> = HashSet::new();
    for r in &tally.reservations {
        match (r.repeat, r.status, r.id) {
            (false, 201, Some(id)) if answered.insert(&r.order_ref, (id, r.shop)).is_some() => {
                bad.push(format!("{} answered 201 twice", r.order_ref));
            }
            (false, 409, _) => {
                refused.insert(&r.order_ref);
            }
            _ => {}
        }
    }
    for r in tally.reservations.iter().filter(|r| r.repeat) {
        if r.id.is_none() || r.id != answered.get(r.order_ref.as_str()).map(|a| a.0) {
            bad.push(format!(
                "repeated {} answered {} {:?}, not its reservation",
                r.order_ref, r.status, r.id
            ));
        }
    }
    let by_ref: HashMap<&str, (i64, i64)> = stored
        .iter()
        .map(|(id, shop, order_ref, _)| (order_ref.as_str(), (*id, *shop)))
        .collect();
    if by_ref.len() != stored.len() {
        bad.push("an order_ref is stored twice".into());
    }
    for (order_ref, (id, _)) in &answered {
        match by_ref.get(order_ref) {
            Some((stored_id, _)) if stored_id == id => {}
            other => bad.push(format!(
                "{order_ref} answered 201 as {id}, stored as {other:?}"
            )),
        }
    }
    for order_ref in by_ref.keys() {
        if !answered.contains_key(order_ref) {
            bad.push(format!("{order_ref} is stored but was never answered 201"));
        }
    }
    for order_ref in &refused {
        if by_ref.contains_key(order_ref) {
            bad.push(format!("{order_ref} was refused (409) yet is stored"));
        }
    }

    // States and shops implied by the answers.
    let mut shop_of: HashMap<i64, i64> = answered.values().copied().collect();
    for (id, to, status) in &tally.moves {
        if *status == 200 {
            shop_of.insert(*id, *to);
        }
    }
    let mut expected: HashMap<i64, &str> =
        answered.values().map(|(id, _)| (*id, "reserved")).collect();
    for (id, status) in &tally.cancels {
        if *status == 200 {
            expected.insert(*id, "cancelled");
        }
    }
    for (id, status) in &tally.arrivals {
        if *status == 200 {
            expected.insert(*id, "at_point");
        }
    }
    let mut firsts: HashMap<i64, usize> = HashMap::new();
    for h in &tally.handovers {
        if h.status == 200 && h.replay == Some(false) {
            *firsts.entry(h.id).or_default() += 1;
            expected.insert(h.id, "picked_up");
        }
    }
    for (id, n) in &firsts {
        if *n != 1 {
            bad.push(format!("parcel {id}: {n} handovers answered as the first"));
        }
    }
    for (id, shop, order_ref, state) in &stored {
        if expected.get(id).is_some_and(|e| e != state) {
            bad.push(format!(
                "parcel {id} ({order_ref}) is {state}, its answers say {}",
                expected[id]
            ));
        }
        if shop_of.get(id).is_some_and(|s| s != shop) {
            bad.push(format!(
                "parcel {id} is at shop {shop}, its answers say {}",
                shop_of[id]
            ));
        }
    }

    // An audit row per attempt, with the result answered.
    let attempts: Vec<(String, Option<i64>)> = handover_attempts::table
        .select((handover_attempts::result, handover_attempts::parcel_id))
        .load(conn)
        .map_err(db)?;
    let mut results: BTreeMap<&str, usize> = BTreeMap::new();
    let mut successes: HashMap<i64, usize> = HashMap::new();
    for (result, parcel) in &attempts {
        *results.entry(result.as_str()).or_default() += 1;
        if let (Some(p), "success") = (parcel, result.as_str()) {
            *successes.entry(*p).or_default() += 1;
        }
    }
    let mut sent: BTreeMap<&str, usize> = BTreeMap::new();
    for h in &tally.handovers {
        let label = match (h.status, h.replay) {
            (200, Some(false)) => "success",
            (200, Some(true)) => "replay",
            _ => "other",
        };
        *sent.entry(label).or_default() += 1;
    }
    for status in &tally.wrong_codes {
        *sent
            .entry(if *status == 429 {
                "rate_limited"
            } else {
                "wrong_code"
            })
            .or_default() += 1;
    }
    if results != sent {
        bad.push(format!(
            "audited attempts {results:?} differ from the attempts answered {sent:?}"
        ));
    }
    if successes != firsts {
        bad.push("a picked-up parcel does not have exactly one audited success".into());
    }
    bad.extend(super::paid::check(conn, &firsts).map_err(db)?);

    // One event per state change, naming its parcel.
    let events: Vec<(String, String)> = outbox::table
        .select((outbox::kind, outbox::payload))
        .load(conn)
        .map_err(db)?;
    let mut per_parcel: HashMap<(&str, i64), usize> = HashMap::new();
    for (kind, payload) in &events {
        let parcel = serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|p| p["reservation"]["id"].as_i64());
        match parcel {
            Some(p) => *per_parcel.entry((kind.as_str(), p)).or_default() += 1,
            None => bad.push(format!("{kind} event without a reservation id: {payload}")),
        }
    }
    let mut changes: HashMap<(&str, i64), usize> = HashMap::new();
    for (id, _) in answered.values() {
        *changes.entry(("reservation.created", *id)).or_default() += 1;
    }
    for (id, status) in &tally.cancels {
        if *status == 200 {
            *changes.entry(("reservation.cancelled", *id)).or_default() += 1;
        }
    }
    for (id, _, status) in &tally.moves {
        if *status == 200 {
            *changes.entry(("parcel.moved", *id)).or_default() += 1;
        }
    }
    for (id, status) in &tally.arrivals {
        if *status == 200 {
            *changes.entry(("parcel.arrived", *id)).or_default() += 1;
        }
    }
    for id in firsts.keys() {
        *changes.entry(("parcel.picked_up", *id)).or_default() += 1;
    }
    if per_parcel != changes {
        let mut diff: Vec<String> = changes
            .iter()
            .filter(|(k, n)| per_parcel.get(*k) != Some(*n))
            .map(|((kind, id), n)| {
                format!(
                    "{kind} of {id}: {n} change(s), {} event(s)",
                    per_parcel.get(&(*kind, *id)).copied().unwrap_or(0)
                )
            })
            .chain(
                per_parcel
                    .iter()
                    .filter(|(k, _)| !changes.contains_key(*k))
                    .map(|((kind, id), n)| format!("{kind} of {id}: {n} event(s), no change")),
            )
            .collect();
        diff.sort();
        diff.truncate(10);
        bad.push(format!("outbox events differ from state changes: {diff:?}"));
    }

    if bad.is_empty() {
        Ok(Checked {
            parcels: stored.len(),
            events: events.len(),
            attempts: attempts.len(),
        })
    } else {
        Err(bad)
    }
}
