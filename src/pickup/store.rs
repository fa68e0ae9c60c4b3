//! The pickup flow in the database. Every function is one transaction that starts with a
//! write (see `db`), so on PostgreSQL the row locks order concurrent callers and on SQLite the
//! single writer does.

use super::codes;
use super::outbox::{self, Event};
use super::{Handover, Parcel, ParcelState, PickupError, Unavailable};
use crate::db::schema::{handover_attempts, parcels, shop_load, shops, staged_stock};
use crate::db::DbConn;
use crate::ledger::book::{self, PaidEvent};
use crate::ledger::FeeKind;
use crate::network::ShopStatus;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DbErr};
use serde_json::json;

/// Wrong codes allowed per shop within [`ATTEMPT_WINDOW_MINUTES`].
pub const MAX_WRONG_CODES: i64 = 5;
/// The window in which wrong codes are counted.
pub const ATTEMPT_WINDOW_MINUTES: i64 = 10;

/// A `parcels` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = parcels)]
pub struct ParcelRow {
    /// Id.
    pub id: i64,
    /// Shop.
    pub shop_id: i64,
    /// Region key.
    pub region: i64,
    /// Merchant.
    pub merchant: String,
    /// Order reference.
    pub order_ref: String,
    /// SKU.
    pub sku: Option<String>,
    /// State text.
    pub state: String,
    /// Keyed hash of the code.
    pub code_hash: Option<String>,
    /// Sealed code until read.
    pub code_sealed: Option<String>,
    /// End of holding (UTC).
    pub expires_at: Option<NaiveDateTime>,
    /// UTC.
    pub created_at: NaiveDateTime,
    /// UTC.
    pub updated_at: NaiveDateTime,
    /// UTC.
    pub arrived_at: Option<NaiveDateTime>,
    /// UTC.
    pub picked_up_at: Option<NaiveDateTime>,
    /// The code sealed while the parcel waits (for redirects).
    pub code_escrow: Option<String>,
    /// Days the holding period was extended by.
    pub hold_extended_days: Option<i32>,
}

impl ParcelRow {
    /// Parsed state (an unknown text reads as cancelled, which allows nothing).
    pub fn state(&self) -> ParcelState {
        self.state.parse().unwrap_or(ParcelState::Cancelled)
    }

    /// The public view.
    pub fn view(&self) -> Parcel {
        Parcel {
            id: self.id,
            pickup_point_id: self.shop_id,
            order_ref: self.order_ref.clone(),
            sku: self.sku.clone(),
            state: self.state(),
            created_at: self.created_at,
            arrived_at: self.arrived_at,
            expires_at: self.expires_at,
            picked_up_at: self.picked_up_at,
            hold_extended_days: self.hold_extended_days,
        }
    }
}

/// A new reservation's request.
#[derive(Debug, Clone)]
pub struct NewReservation<'a> {
    /// The merchant (token subject).
    pub merchant: &'a str,
    /// The chosen pickup point.
    pub shop_id: i64,
    /// The merchant's order reference.
    pub order_ref: &'a str,
    /// Optional SKU.
    pub sku: Option<&'a str>,
    /// When the parcel is expected at the shop, if known: a shop closed for a period then
    /// refuses it.
    pub arrive_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Reserves a slot; returns the parcel, whether it was created now (vs. an idempotent repeat
/// of the same `order_ref`), and the shop's live parcel count after the call.
///
/// The slot is taken by one conditional `UPDATE shop_load SET live = live + 1 WHERE live <
/// capacity AND the shop is active`: whatever the concurrency and however many instances
/// share the database, a shop never holds more live parcels than its capacity.
pub fn reserve(
    conn: &mut DbConn,
    r: &NewReservation<'_>,
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Result<(Parcel, bool, i32), PickupError> {
    check_text("order_ref", r.order_ref, 100)?;
    if let Some(sku) = r.sku {
        check_text("sku", sku, 64)?;
    }
    if let Some(existing) = find_order(conn, r.merchant, r.order_ref)? {
        return repeat(existing, r);
    }
    for _ in 0..5 {
        match conn.transaction(|conn| reserve_once(conn, r, issuer, now)) {
            Ok((parcel, live)) => return Ok((parcel, true, live)),
            Err(PickupError::CodeClash) => continue,
            // Two calls with one order_ref raced: the other one won; answer like a repeat.
            Err(PickupError::Db(DbErr::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
                let existing = find_order(conn, r.merchant, r.order_ref)?.ok_or(DbErr::NotFound)?;
                return repeat(existing, r);
            }
            Err(e) => return Err(e),
        }
    }
    Err(PickupError::Db(DbErr::RollbackTransaction))
}

/// Where new pickup codes come from: the data key that hashes and seals them, and how long
/// they stay valid.
pub struct CodeIssuer<'a> {
    /// The service's data key.
    pub data_key: &'a [u8; 32],
    /// The holding period.
    pub hold: Duration,
}

fn reserve_once(
    conn: &mut DbConn,
    r: &NewReservation<'_>,
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Result<(Parcel, i32), PickupError> {
    // A staged unit of the SKU at the shop, taken atomically (never below zero), makes this an
    // instant pickup: the item is already there, so the parcel goes straight to `at_point`.
    let staged = match r.sku {
        Some(sku) => {
            diesel::update(
                staged_stock::table
                    .filter(
                        staged_stock::shop_id
                            .eq(r.shop_id)
                            .and(staged_stock::sku.eq(sku)),
                    )
                    .filter(staged_stock::units.gt(0)),
            )
            .set(staged_stock::units.eq(staged_stock::units - 1))
            .execute(conn)?
                == 1
        }
        None => false,
    };
    let taken = if staged {
        let active = shops::table
            .filter(
                shops::id
                    .eq(r.shop_id)
                    .and(shops::status.eq(ShopStatus::Active.as_str())),
            )
            .select(shops::capacity)
            .single_value();
        // The staged unit already occupies room at the shop: it becomes this parcel.
        diesel::update(shop_load::table.filter(shop_load::shop_id.eq(r.shop_id)))
            .filter(active.is_not_null())
            .set((
                shop_load::live.eq(shop_load::live + 1),
                shop_load::changed_at.eq(now),
            ))
            .execute(conn)?
            == 1
    } else {
        take_slot(conn, r.shop_id, now)?
    };
    if !taken {
        return Err(why_unavailable(conn, r.shop_id)?);
    }
    // Checked after the slot is taken (the transaction's first write); an error rolls it back.
    if let Some(refusal) =
        crate::network::closure_store::pickup_refusal(conn, r.shop_id, r.arrive_at)?
    {
        return Err(refusal.into());
    }
    let region: i64 = shops::table
        .find(r.shop_id)
        .select(shops::region)
        .first(conn)?;
    diesel::insert_into(parcels::table)
        .values((
            parcels::shop_id.eq(r.shop_id),
            parcels::region.eq(region),
            parcels::merchant.eq(r.merchant),
            parcels::order_ref.eq(r.order_ref),
            parcels::sku.eq(r.sku),
            parcels::state.eq(ParcelState::Reserved.as_str()),
            parcels::created_at.eq(now),
            parcels::updated_at.eq(now),
        ))
        .execute(conn)?;
    let row = find_order(conn, r.merchant, r.order_ref)?.ok_or(DbErr::NotFound)?;
    outbox::enqueue(
        conn,
        &row.merchant,
        Event::ReservationCreated,
        json!({ "reservation": row.view() }),
        now,
    )?;
    let parcel = if staged {
        issue_code(conn, issuer, &row, now)?
    } else {
        row.view()
    };
    Ok((parcel, live(conn, r.shop_id)?))
}

fn repeat(existing: ParcelRow, r: &NewReservation<'_>) -> Result<(Parcel, bool, i32), PickupError> {
    if existing.shop_id != r.shop_id {
        return Err(PickupError::OrderRefConflict(r.order_ref.to_owned()));
    }
    Ok((existing.view(), false, -1))
}

pub(super) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), PickupError> {
    let message = if value.trim().is_empty() {
        "is empty".to_owned()
    } else if value.chars().count() > max {
        format!("is longer than {max} characters")
    } else if value.chars().any(char::is_control) {
        "contains control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(PickupError::Invalid { field, message })
}

/// Why a shop did not take a slot: unknown, paused, closed, or else full.
pub(super) fn why_unavailable(conn: &mut DbConn, shop_id: i64) -> Result<PickupError, PickupError> {
    let status: Option<String> = shops::table
        .find(shop_id)
        .select(shops::status)
        .first(conn)
        .optional()?;
    Ok(match status.as_deref().map(str::parse::<ShopStatus>) {
        None => PickupError::ShopNotFound(shop_id),
        Some(Ok(ShopStatus::Paused)) => PickupError::ShopUnavailable(Unavailable::Paused),
        Some(Ok(ShopStatus::Closed)) | Some(Err(_)) => {
            PickupError::ShopUnavailable(Unavailable::Closed)
        }
        Some(Ok(ShopStatus::Active)) => PickupError::ShopUnavailable(Unavailable::Full),
    })
}

fn find_order(
    conn: &mut DbConn,
    merchant: &str,
    order_ref: &str,
) -> QueryResult<Option<ParcelRow>> {
    parcels::table
        .filter(
            parcels::merchant
                .eq(merchant)
                .and(parcels::order_ref.eq(order_ref)),
        )
        .select(ParcelRow::as_select())
        .first(conn)
        .optional()
}

/// Live parcels at a shop.
pub fn live(conn: &mut DbConn, shop_id: i64) -> QueryResult<i32> {
    shop_load::table
        .find(shop_id)
        .select(shop_load::live)
        .first(conn)
}

/// Takes one slot at an active shop with room: one conditional `UPDATE shop_load SET live =
/// live + 1 WHERE live < capacity AND the shop is active`, so no concurrency and no number of
/// instances can overbook. `false` when the shop is full, paused, closed or unknown (see
/// [`why_unavailable`]).
pub(super) fn take_slot(conn: &mut DbConn, shop_id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let active = shops::table
        .filter(
            shops::id
                .eq(shop_id)
                .and(shops::status.eq(ShopStatus::Active.as_str())),
        )
        .select(shops::capacity)
        .single_value();
    Ok(
        diesel::update(shop_load::table.filter(shop_load::shop_id.eq(shop_id)))
            .filter(shop_load::live.nullable().lt(active))
            .set((
                shop_load::live.eq(shop_load::live + 1),
                shop_load::changed_at.eq(now),
            ))
            .execute(conn)?
            == 1,
    )
}

/// Frees one slot at a shop.
pub(super) fn release_slot(
    conn: &mut DbConn,
    shop_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(shop_load::table.find(shop_id))
        .set((
            shop_load::live.eq(shop_load::live - 1),
            shop_load::changed_at.eq(now),
        ))
        .execute(conn)
}

/// One parcel, if `merchant` owns it.
pub fn find_for_merchant(
    conn: &mut DbConn,
    merchant: &str,
    id: i64,
) -> Result<ParcelRow, PickupError> {
    parcels::table
        .filter(parcels::id.eq(id).and(parcels::merchant.eq(merchant)))
        .select(ParcelRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(PickupError::ParcelNotFound(id))
}

/// One parcel, if it is at `shop_id` (a partner never learns of other shops' parcels).
pub fn find_for_shop(conn: &mut DbConn, shop_id: i64, id: i64) -> Result<ParcelRow, PickupError> {
    parcels::table
        .filter(parcels::id.eq(id).and(parcels::shop_id.eq(shop_id)))
        .select(ParcelRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(PickupError::ParcelNotFound(id))
}

/// The merchant's view of a reservation; the first call after arrival also returns the code
/// in clear (once: the sealed copy is erased in the same statement that reads it).
pub fn read_reservation(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    merchant: &str,
    id: i64,
) -> Result<(Parcel, Option<String>), PickupError> {
    let row = find_for_merchant(conn, merchant, id)?;
    let Some(sealed) = row.code_sealed.clone() else {
        return Ok((row.view(), None));
    };
    let erased = diesel::update(
        parcels::table.filter(parcels::id.eq(id).and(parcels::code_sealed.is_not_null())),
    )
    .set(parcels::code_sealed.eq(None::<String>))
    .execute(conn)?;
    let code = if erased == 1 {
        codes::unseal(data_key, &sealed)
    } else {
        None
    };
    Ok((row.view(), code))
}

/// Cancels a reservation whose parcel has not arrived; frees the slot.
pub fn cancel(
    conn: &mut DbConn,
    merchant: &str,
    id: i64,
    now: NaiveDateTime,
) -> Result<Parcel, PickupError> {
    conn.transaction(|conn| {
        let changed = diesel::update(
            parcels::table.filter(
                parcels::id
                    .eq(id)
                    .and(parcels::merchant.eq(merchant))
                    .and(parcels::state.eq(ParcelState::Reserved.as_str())),
            ),
        )
        .set((
            parcels::state.eq(ParcelState::Cancelled.as_str()),
            parcels::updated_at.eq(now),
        ))
        .execute(conn)?;
        let row = find_for_merchant(conn, merchant, id)?;
        if changed == 0 {
            return Err(PickupError::WrongState {
                state: row.state(),
                action: "cancelled",
            });
        }
        release_slot(conn, row.shop_id, now)?;
        outbox::enqueue(
            conn,
            &row.merchant,
            Event::ReservationCancelled,
            json!({ "reservation": row.view() }),
            now,
        )?;
        Ok(row.view())
    })
}

/// Marks a reserved parcel as arrived at the partner's shop and issues its pickup code.
/// Repeating the call for a parcel already at the shop answers the same parcel.
pub fn arrive(
    conn: &mut DbConn,
    issuer: &CodeIssuer<'_>,
    shop_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> Result<Parcel, PickupError> {
    for _ in 0..5 {
        let result = conn.transaction(|conn| -> Result<Parcel, PickupError> {
            // A no-op write first (see `db`); it also takes the parcel's row lock.
            diesel::update(
                parcels::table.filter(parcels::id.eq(id).and(parcels::shop_id.eq(shop_id))),
            )
            .set(parcels::updated_at.eq(parcels::updated_at))
            .execute(conn)?;
            let row = find_for_shop(conn, shop_id, id)?;
            match row.state() {
                ParcelState::Reserved => {
                    let parcel = issue_code(conn, issuer, &row, now)?;
                    super::scan_in::record_arrival(conn, id, now)?;
                    Ok(parcel)
                }
                ParcelState::AtPoint => Ok(row.view()),
                state => Err(PickupError::WrongState {
                    state,
                    action: "marked as arrived",
                }),
            }
        });
        match result {
            Err(PickupError::CodeClash) => continue,
            other => return other,
        }
    }
    Err(PickupError::Db(DbErr::RollbackTransaction))
}

/// Moves a reserved parcel to `at_point` with a fresh pickup code (hashed, and sealed for
/// the merchant's one reading) and writes the `parcel.arrived` event carrying the code sealed.
fn issue_code(
    conn: &mut DbConn,
    issuer: &CodeIssuer<'_>,
    row: &ParcelRow,
    now: NaiveDateTime,
) -> Result<Parcel, PickupError> {
    let code = codes::generate();
    let hash = codes::hash(issuer.data_key, row.shop_id, &code);
    let changed = diesel::update(
        parcels::table.filter(
            parcels::id
                .eq(row.id)
                .and(parcels::state.eq(ParcelState::Reserved.as_str())),
        ),
    )
    .set((
        parcels::state.eq(ParcelState::AtPoint.as_str()),
        parcels::code_hash.eq(&hash),
        parcels::code_sealed.eq(codes::seal(issuer.data_key, &code)),
        parcels::code_escrow.eq(codes::seal(issuer.data_key, &code)),
        parcels::arrived_at.eq(now),
        parcels::expires_at.eq(now + issuer.hold),
        parcels::updated_at.eq(now),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(PickupError::WrongState {
            state: row.state(),
            action: "marked as arrived",
        });
    }
    // Codes in use at the shop (waiting, handed over, expired) are not reissued, so a late
    // replay of an old code can never hand over a different parcel; the partial unique index
    // on waiting parcels guards the race between two arrivals.
    let clash = parcels::table
        .filter(
            parcels::shop_id
                .eq(row.shop_id)
                .and(parcels::code_hash.eq(&hash)),
        )
        .filter(
            parcels::id
                .ne(row.id)
                .and(parcels::state.ne(ParcelState::Returned.as_str())),
        )
        .count()
        .get_result::<i64>(conn)?;
    if clash > 0 {
        return Err(PickupError::CodeClash);
    }
    let row = find_for_shop(conn, row.shop_id, row.id)?;
    let data = json!({ "reservation": row.view(), "pickup_code_sealed": codes::seal(issuer.data_key, &code) });
    outbox::enqueue(conn, &row.merchant, Event::ParcelArrived, data, now)?;
    Ok(row.view())
}

/// What a handover attempt came to; recorded in the audit table whatever it was.
enum Attempt {
    Success(Handover),
    Replay(Handover),
    Wrong,
    Expired(i64),
    NotCollectable(i64, ParcelState),
    RateLimited(i64),
}

impl Attempt {
    fn label(&self) -> &'static str {
        match self {
            Self::Success(_) => "success",
            Self::Replay(_) => "replay",
            Self::Wrong => "wrong_code",
            Self::Expired(_) => "expired",
            Self::NotCollectable(..) => "not_collectable",
            Self::RateLimited(_) => "rate_limited",
        }
    }

    fn parcel(&self) -> Option<i64> {
        match self {
            Self::Success(h) | Self::Replay(h) => Some(h.parcel_id),
            Self::Expired(id) | Self::NotCollectable(id, _) => Some(*id),
            Self::Wrong | Self::RateLimited(_) => None,
        }
    }
}

/// Locks the shop's load row and returns the shop's region. Attempts (handovers, drop-offs)
/// and collections at one shop then go one at a time, so a burst of guesses cannot all slip
/// under the wrong-code limit together.
pub(crate) fn lock_shop(conn: &mut DbConn, shop_id: i64) -> Result<i64, PickupError> {
    diesel::update(shop_load::table.find(shop_id))
        .set(shop_load::live.eq(shop_load::live))
        .returning(shop_load::region)
        .get_result(conn)
        .optional()?
        .ok_or(PickupError::ShopNotFound(shop_id))
}

/// One code attempt at a shop as the audit table keeps it (never with the code).
pub(crate) struct AuditedAttempt<'a> {
    /// The shop.
    pub shop_id: i64,
    /// The shop's region key.
    pub region: i64,
    /// Who typed the code (the partner token's subject).
    pub actor: &'a str,
    /// `handover` or `dropoff`.
    pub kind: &'a str,
    /// What came of it (`success`, `wrong_code`, …).
    pub result: &'a str,
    /// The parcel the code named, if any.
    pub parcel_id: Option<i64>,
    /// The return the code named, if any.
    pub return_id: Option<i64>,
    /// When (UTC).
    pub at: NaiveDateTime,
}

/// Writes an attempt to the audit table, inside the attempt's transaction.
pub(crate) fn audit_attempt(conn: &mut DbConn, a: &AuditedAttempt<'_>) -> QueryResult<()> {
    diesel::insert_into(handover_attempts::table)
        .values((
            handover_attempts::shop_id.eq(a.shop_id),
            handover_attempts::region.eq(a.region),
            handover_attempts::actor.eq(a.actor),
            handover_attempts::kind.eq(a.kind),
            handover_attempts::result.eq(a.result),
            handover_attempts::parcel_id.eq(a.parcel_id),
            handover_attempts::return_id.eq(a.return_id),
            handover_attempts::at.eq(a.at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Confirms a handover at the partner's shop with the code the customer shows.
///
/// The first valid call hands the parcel over; a repeat by the same shop answers the same
/// result flagged `replay`. After [`MAX_WRONG_CODES`] wrong codes within
/// [`ATTEMPT_WINDOW_MINUTES`], every attempt (even a right one) is refused until the window
/// moves on. Every attempt is audited, without the code.
pub fn handover(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    actor: &str,
    typed_code: &str,
    now: NaiveDateTime,
) -> Result<Handover, PickupError> {
    let attempt = conn.transaction(|conn| -> Result<Attempt, PickupError> {
        let region = lock_shop(conn, shop_id)?;
        let attempt = attempt(conn, data_key, shop_id, typed_code, now)?;
        audit_attempt(
            conn,
            &AuditedAttempt {
                shop_id,
                region,
                actor,
                kind: "handover",
                result: attempt.label(),
                parcel_id: attempt.parcel(),
                return_id: None,
                at: now,
            },
        )?;
        Ok(attempt)
    })?;
    match attempt {
        Attempt::Success(h) | Attempt::Replay(h) => Ok(h),
        Attempt::Wrong => Err(PickupError::UnknownCode),
        Attempt::Expired(_) => Err(PickupError::CodeExpired),
        Attempt::NotCollectable(_, state) => Err(PickupError::NotCollectable(state)),
        Attempt::RateLimited(retry_after_secs) => {
            Err(PickupError::TooManyAttempts { retry_after_secs })
        }
    }
}

fn attempt(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    typed_code: &str,
    now: NaiveDateTime,
) -> Result<Attempt, PickupError> {
    let window_start = now - Duration::minutes(ATTEMPT_WINDOW_MINUTES);
    let Some(code) = codes::normalise(typed_code) else {
        return wrong_or_limited(conn, shop_id, window_start, now);
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
        .filter(handover_attempts::result.eq("wrong_code"))
        .filter(handover_attempts::at.gt(window_start))
        .count()
        .single_value();
    let matches: Vec<(ParcelRow, Option<i64>)> = parcels::table
        .filter(
            parcels::shop_id
                .eq(shop_id)
                .and(parcels::code_hash.eq(&hash)),
        )
        .select((ParcelRow::as_select(), recent_wrong))
        .order(parcels::id.desc())
        .load(conn)?;
    match matches.first() {
        None => return wrong_or_limited(conn, shop_id, window_start, now),
        Some((_, wrong)) if wrong.unwrap_or(0) >= MAX_WRONG_CODES => {
            return wrong_or_limited(conn, shop_id, window_start, now);
        }
        Some(_) => {}
    }
    let matches: Vec<ParcelRow> = matches.into_iter().map(|(row, _)| row).collect();
    let Some(row) = matches
        .iter()
        .find(|p| p.state() == ParcelState::AtPoint)
        .or(matches.first())
    else {
        return Ok(Attempt::Wrong);
    };
    let handover = |row: &ParcelRow, at: NaiveDateTime, replay| Handover {
        parcel_id: row.id,
        order_ref: row.order_ref.clone(),
        replay,
        picked_up_at: at,
    };
    match row.state() {
        ParcelState::AtPoint if row.expires_at.is_some_and(|e| e <= now) => {
            Ok(Attempt::Expired(row.id))
        }
        ParcelState::AtPoint => {
            let changed = diesel::update(
                parcels::table.filter(
                    parcels::id
                        .eq(row.id)
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
                let now_row = find_for_shop(conn, shop_id, row.id)?;
                return Ok(Attempt::Replay(handover(
                    &now_row,
                    now_row.picked_up_at.unwrap_or(now),
                    true,
                )));
            }
            release_slot(conn, shop_id, now)?;
            book::record(
                conn,
                &PaidEvent::one(
                    FeeKind::Handover,
                    "handover",
                    shop_id,
                    row.region,
                    row.id,
                    now,
                ),
            )?;
            let done = handover(row, now, false);
            let mut view = row.view();
            view.state = ParcelState::PickedUp;
            view.picked_up_at = Some(now);
            outbox::enqueue(
                conn,
                &row.merchant,
                Event::ParcelPickedUp,
                json!({ "reservation": view }),
                now,
            )?;
            Ok(Attempt::Success(done))
        }
        ParcelState::PickedUp => Ok(Attempt::Replay(handover(
            row,
            row.picked_up_at.unwrap_or(now),
            true,
        ))),
        ParcelState::Expired => Ok(Attempt::Expired(row.id)),
        state => Ok(Attempt::NotCollectable(row.id, state)),
    }
}

/// The attempt when the code names no parcel, or the shop has reached the limit: refused,
/// with the wait when the limit is reached (counted from the oldest recent wrong code).
fn wrong_or_limited(
    conn: &mut DbConn,
    shop_id: i64,
    window_start: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Attempt, PickupError> {
    Ok(match retry_after(conn, shop_id, window_start, now)? {
        Some(secs) => Attempt::RateLimited(secs),
        None => Attempt::Wrong,
    })
}

/// Seconds until the shop may try a code again when it has reached [`MAX_WRONG_CODES`] wrong
/// codes (pickup and drop-off codes alike) since `window_start`, counted from the oldest of
/// them; `None` while it has not.
pub(super) fn retry_after(
    conn: &mut DbConn,
    shop_id: i64,
    window_start: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    let wrong: Vec<NaiveDateTime> = handover_attempts::table
        .filter(handover_attempts::shop_id.eq(shop_id))
        .filter(handover_attempts::result.eq("wrong_code"))
        .filter(handover_attempts::at.gt(window_start))
        .select(handover_attempts::at)
        .order(handover_attempts::at.desc())
        .limit(MAX_WRONG_CODES)
        .load(conn)?;
    if wrong.len() as i64 >= MAX_WRONG_CODES {
        let oldest = wrong.iter().min().copied().unwrap_or(now);
        let retry = (oldest + Duration::minutes(ATTEMPT_WINDOW_MINUTES) - now)
            .num_seconds()
            .max(1);
        return Ok(Some(retry));
    }
    Ok(None)
}

/// Moves parcels past their holding period to `expired`; returns how many.
pub fn sweep(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, PickupError> {
    let due: Vec<ParcelRow> = parcels::table
        .filter(
            parcels::state
                .eq(ParcelState::AtPoint.as_str())
                .and(parcels::expires_at.le(now)),
        )
        .select(ParcelRow::as_select())
        .order(parcels::id)
        .limit(1000)
        .load(conn)?;
    let mut expired = 0;
    for row in due {
        expired += conn.transaction(|conn| -> Result<usize, PickupError> {
            let n = diesel::update(
                parcels::table.filter(
                    parcels::id
                        .eq(row.id)
                        .and(parcels::state.eq(ParcelState::AtPoint.as_str())),
                ),
            )
            .set((
                parcels::state.eq(ParcelState::Expired.as_str()),
                parcels::code_escrow.eq(None::<String>),
                parcels::updated_at.eq(now),
            ))
            .execute(conn)?;
            if n == 1 {
                let mut view = row.view();
                view.state = ParcelState::Expired;
                outbox::enqueue(
                    conn,
                    &row.merchant,
                    Event::ParcelExpired,
                    json!({ "reservation": view }),
                    now,
                )?;
            }
            Ok(n)
        })?;
    }
    Ok(expired)
}

/// Marks an expired parcel as sent back; frees the slot.
pub fn return_parcel(
    conn: &mut DbConn,
    shop_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> Result<Parcel, PickupError> {
    conn.transaction(|conn| {
        let changed = diesel::update(
            parcels::table.filter(
                parcels::id
                    .eq(id)
                    .and(parcels::shop_id.eq(shop_id))
                    .and(parcels::state.eq(ParcelState::Expired.as_str())),
            ),
        )
        .set((
            parcels::state.eq(ParcelState::Returned.as_str()),
            parcels::updated_at.eq(now),
        ))
        .execute(conn)?;
        let row = find_for_shop(conn, shop_id, id)?;
        if changed == 0 {
            return match row.state() {
                ParcelState::Returned => Ok(row.view()),
                state => Err(PickupError::WrongState {
                    state,
                    action: "returned",
                }),
            };
        }
        release_slot(conn, shop_id, now)?;
        // The shop hands the uncollected parcel back to the carrier: paid like a return.
        book::record(
            conn,
            &PaidEvent::one(
                FeeKind::ReturnSentBack,
                "parcel_returned",
                shop_id,
                row.region,
                row.id,
                now,
            ),
        )?;
        outbox::enqueue(
            conn,
            &row.merchant,
            Event::ParcelReturned,
            json!({ "reservation": row.view() }),
            now,
        )?;
        Ok(row.view())
    })
}

/// A shop's parcels in the given states, newest first (at most `limit`).
pub fn list_for_shop(
    conn: &mut DbConn,
    shop_id: i64,
    states: &[ParcelState],
    limit: i64,
) -> QueryResult<Vec<Parcel>> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let rows: Vec<ParcelRow> = parcels::table
        .filter(
            parcels::shop_id
                .eq(shop_id)
                .and(parcels::state.eq_any(states)),
        )
        .select(ParcelRow::as_select())
        .order(parcels::id.desc())
        .limit(limit)
        .load(conn)?;
    Ok(rows.iter().map(ParcelRow::view).collect())
}

/// Shops holding at least one received staged unit of `sku` (instant pickup).
pub fn shops_with_staged(conn: &mut DbConn, sku: &str) -> QueryResult<Vec<i64>> {
    staged_stock::table
        .filter(staged_stock::sku.eq(sku).and(staged_stock::units.gt(0)))
        .select(staged_stock::shop_id)
        .load(conn)
}

/// Live parcels of every shop changed at or after `since` (for the geo index's free slots).
pub fn loads_changed_since(
    conn: &mut DbConn,
    since: NaiveDateTime,
) -> QueryResult<Vec<(i64, i32)>> {
    shop_load::table
        .filter(shop_load::changed_at.ge(since))
        .select((shop_load::shop_id, shop_load::live))
        .load(conn)
}

/// Live parcels of every shop.
pub fn all_loads(conn: &mut DbConn) -> QueryResult<Vec<(i64, i32)>> {
    shop_load::table
        .filter(shop_load::live.gt(0))
        .select((shop_load::shop_id, shop_load::live))
        .load(conn)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
