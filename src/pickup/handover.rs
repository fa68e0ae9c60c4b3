//! The handover: the partner confirms with the code the customer shows, and the parcel is
//! handed over once (a repeat answers a replay), paid, and the merchant told.

use super::attempts::{self, CodeKind, Outcome, Subject, MAX_WRONG_CODES};
use super::conditions::{Conditions, Confirmations, Unmet};
use super::outbox::{self, Event};
use super::parcels::{find_in, ParcelRow};
use super::{codes, Handover, ParcelState, PickupError};
use crate::db::schema::{handover_attempts, parcels};
use crate::db::DbConn;
use crate::ledger::book::PaidEvent;
use crate::ledger::FeeKind;
use crate::network::load;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

impl Subject for Handover {
    fn subject_id(&self) -> i64 {
        self.parcel_id
    }

    fn confirmed(&self) -> Option<String> {
        Conditions {
            cash_on_delivery: self.cash_collected.clone(),
            id_check: self.id_checked,
            ..Conditions::default()
        }
        .audit_text()
    }
}

/// Confirms a handover at the partner's shop with the code the customer shows.
///
/// The first valid call hands the parcel over; a repeat by the same shop answers the same
/// result flagged `replay`. After [`MAX_WRONG_CODES`] wrong codes within
/// [`attempts::ATTEMPT_WINDOW_MINUTES`], every attempt (even a right one) is refused until the
/// window moves on. Every attempt is audited, without the code. `Err` only when the shop is
/// unknown or the database fails; a refused code is an [`Outcome`]. The partner confirms
/// nothing: a parcel with conditions at the counter is refused ([`handover_confirming`]).
pub fn handover(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    actor: &str,
    typed_code: &str,
    now: NaiveDateTime,
) -> Result<Outcome<Handover>, PickupError> {
    handover_confirming(
        conn,
        data_key,
        shop_id,
        actor,
        typed_code,
        Confirmations::default(),
        now,
    )
}

/// [`handover`] with what the partner confirmed: a waiting parcel with cash on delivery is
/// handed over only with `cash_collected`, one with an ID check only with `id_checked`
/// ([`Outcome::Unmet`] otherwise, nothing changed). The handover of a parcel with cash
/// records it in the cash ledger; the audit row records what was confirmed.
pub fn handover_confirming(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    actor: &str,
    typed_code: &str,
    confirmed: Confirmations,
    now: NaiveDateTime,
) -> Result<Outcome<Handover>, PickupError> {
    attempts::guarded(
        conn,
        shop_id,
        actor,
        CodeKind::Handover,
        now,
        |conn, region, since| {
            let code = Typed {
                shop_id,
                region,
                code: typed_code,
                confirmed,
            };
            decide(conn, data_key, &code, since, now)
        },
    )
}

/// A code typed at a shop's counter, with what the partner confirmed.
struct Typed<'a> {
    shop_id: i64,
    region: i64,
    code: &'a str,
    confirmed: Confirmations,
}

/// A handover attempt owned by its caller, as the group committer queues it.
#[derive(Debug, Clone)]
pub struct HandoverRequest {
    /// The partner's shop.
    pub shop_id: i64,
    /// Who typed the code (audited).
    pub actor: String,
    /// The code as typed.
    pub code: String,
    /// What the partner confirmed (cash collected, ID checked).
    pub confirmed: Confirmations,
}

/// What [`handover`] answers.
pub type HandoverAnswer = Result<Outcome<Handover>, PickupError>;

/// Many handover attempts at once, one answer per attempt in the same order, each what
/// [`handover`] alone would answer (attempts at one shop are decided in the order given, so
/// the wrong-code bound and replays hold within a batch as across batches).
///
/// With `functions` (plain PostgreSQL), all go in one call of `pudo_handover_batch`: one round
/// trip, one transaction ([`super::write_functions`]). Otherwise (SQLite, Citus) one
/// transaction holds them all, each in a savepoint. If the shared transaction fails as a
/// whole, each attempt is run again alone.
pub fn handover_many(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    requests: &[HandoverRequest],
    now: NaiveDateTime,
    functions: bool,
) -> Vec<HandoverAnswer> {
    let alone = |conn: &mut DbConn, now, r: &HandoverRequest| {
        handover_confirming(
            conn,
            data_key,
            r.shop_id,
            &r.actor,
            &r.code,
            r.confirmed,
            now,
        )
    };
    if let (true, DbConn::Postgres(pg)) = (functions, &mut *conn) {
        use super::write_functions as wf;
        let now = wf::to_micros(now);
        // In the order of their shops (stable: one shop's attempts keep their order).
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&i| requests[i].shop_id);
        let args: Vec<wf::HandoverArgs<'_>> = order
            .iter()
            .map(|&i| {
                let r = &requests[i];
                wf::HandoverArgs {
                    shop_id: r.shop_id,
                    actor: &r.actor,
                    code_hash: codes::normalise(&r.code)
                        .map(|code| codes::hash(data_key, r.shop_id, &code)),
                    confirmed: r.confirmed,
                }
            })
            .collect();
        if let Ok(decided) = wf::handover_batch(pg, data_key, &args, now) {
            let mut answers: Vec<Option<HandoverAnswer>> = requests.iter().map(|_| None).collect();
            for (&i, d) in order.iter().zip(decided) {
                answers[i] = Some(d);
            }
            return answers.into_iter().flatten().collect();
        }
        return requests.iter().map(|r| alone(conn, now, r)).collect();
    }
    super::writes::in_one_transaction(conn, requests, |r| r.shop_id, |conn, r| alone(conn, now, r))
}

fn decide(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    typed: &Typed<'_>,
    window_start: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Outcome<Handover>, PickupError> {
    let (shop_id, region) = (typed.shop_id, typed.region);
    let Some(code) = codes::normalise(typed.code) else {
        return Ok(attempts::wrong_or_limited(
            conn,
            shop_id,
            region,
            window_start,
            now,
        )?);
    };
    let hash = codes::hash(data_key, shop_id, &code);
    // Looking the code up by its keyed hash in SQL is not a timing leak worth closing: the
    // index compares HMACs under the service's data key, which a guesser cannot compute, so
    // how far a comparison got says nothing about the code; guesses are bounded per shop.
    // The parcels the code names and the shop's recent wrong codes in one statement: this is
    // the hot path of a peak evening, and every round trip counts. It runs after the shop's
    // row is locked, so the count includes every wrong code committed before.
    let recent_wrong = handover_attempts::table
        .filter(handover_attempts::shop_id.eq(shop_id))
        .filter(handover_attempts::region.eq(region))
        .filter(handover_attempts::result.eq("wrong_code"))
        .filter(handover_attempts::at.gt(window_start))
        .count()
        .single_value();
    let matches: Vec<(ParcelRow, Option<i64>)> = parcels::table
        .filter(
            parcels::shop_id
                .eq(shop_id)
                .and(parcels::region.eq(region))
                .and(parcels::code_hash.eq(&hash)),
        )
        .select((ParcelRow::as_select(), recent_wrong))
        .order(parcels::id.desc())
        .load(conn)?;
    match matches.first() {
        Some((_, wrong)) if wrong.unwrap_or(0) < MAX_WRONG_CODES => {}
        _ => {
            return Ok(attempts::wrong_or_limited(
                conn,
                shop_id,
                region,
                window_start,
                now,
            )?)
        }
    }
    let matches: Vec<ParcelRow> = matches.into_iter().map(|(row, _)| row).collect();
    let Some(row) = matches
        .iter()
        .find(|p| p.state() == ParcelState::AtPoint)
        .or(matches.first())
    else {
        return Ok(Outcome::WrongCode);
    };
    let handover = |row: &ParcelRow, at: NaiveDateTime, replay| {
        let conditions = row.conditions(data_key);
        Handover {
            parcel_id: row.id,
            order_ref: row.order_ref.clone(),
            replay,
            picked_up_at: at,
            cash_collected: conditions.cash_on_delivery,
            id_checked: conditions.id_check,
            collector_name: conditions.collector_name,
        }
    };
    // A waiting parcel's conditions at the counter come after the code and the holding period
    // (pudo_handover_one checks in the same order).
    let waiting = row.state() == ParcelState::AtPoint && row.expires_at.is_none_or(|e| e > now);
    let conditions = row.conditions(data_key);
    if let Some(missing) = conditions.unmet(typed.confirmed).filter(|_| waiting) {
        let unmet = Unmet {
            missing,
            conditions,
        };
        return Ok(Outcome::Unmet(row.id, Box::new(unmet)));
    }
    match row.state() {
        ParcelState::AtPoint if row.expires_at.is_some_and(|e| e <= now) => {
            Ok(Outcome::Expired(row.id))
        }
        ParcelState::AtPoint => {
            let changed = diesel::update(
                parcels::table.filter(
                    parcels::id
                        .eq(row.id)
                        .and(parcels::region.eq(region))
                        .and(parcels::state.eq(ParcelState::AtPoint.as_str())),
                ),
            )
            .set((
                parcels::state.eq(ParcelState::PickedUp.as_str()),
                parcels::picked_up_at.eq(now),
                parcels::code_escrow.eq(None::<String>),
                parcels::updated_at.eq(now),
            ))
            .execute(conn)?;
            if changed == 0 {
                // Another confirmation of the same code got there first (we waited on its lock).
                let now_row = find_in(conn, shop_id, region, row.id)?;
                return Ok(Outcome::Replay(handover(
                    &now_row,
                    now_row.picked_up_at.unwrap_or(now),
                    true,
                )));
            }
            load::release_slot_of(conn, shop_id, region, row.slot_class(), now)?;
            if let Some(cod) = row.cod() {
                crate::ledger::cash::record(conn, row, &cod, now)?;
            }
            let mut view = row.view();
            view.state = ParcelState::PickedUp;
            view.picked_up_at = Some(now);
            outbox::record_paid(
                conn,
                &PaidEvent::one(
                    FeeKind::Handover,
                    "handover",
                    shop_id,
                    row.region,
                    row.id,
                    now,
                ),
                &row.merchant,
                Event::ParcelPickedUp,
                json!({ "reservation": view }),
            )?;
            Ok(Outcome::Success(handover(row, now, false)))
        }
        ParcelState::PickedUp => Ok(Outcome::Replay(handover(
            row,
            row.picked_up_at.unwrap_or(now),
            true,
        ))),
        ParcelState::Expired => Ok(Outcome::Expired(row.id)),
        state => Ok(Outcome::NotCollectable(row.id, state)),
    }
}
