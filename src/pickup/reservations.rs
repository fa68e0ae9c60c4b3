//! Reservations and arrivals: a reservation takes a slot at the chosen shop (or the slot of a
//! staged unit already there), and the parcel's arrival issues its pickup code.

use super::codes;
use super::conditions::Conditions;
use super::contacts::Customer;
use super::outbox::{self, Event};
use super::parcels::{check_text, find_in, find_order, find_order_in, ParcelRow};
use super::{Parcel, ParcelState, PickupError};
use crate::db::schema::parcels;
use crate::db::DbConn;
use crate::network::load;
use crate::network::sizes::{ParcelSize, SizeClass};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DbErr};
use serde_json::json;

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
/// share the database, a shop never holds more live parcels than its capacity. With sizes
/// (`network::sizes`), the same update also counts the slot in its class and requires room
/// there; a parcel heavier or larger than the point takes is refused before anything is
/// written ([`PickupError::DoesNotFit`]), and one with no class of room is
/// [`PickupError::ClassFull`] naming the class it needs.
pub fn reserve(
    conn: &mut DbConn,
    r: &NewReservation<'_>,
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Result<(Parcel, bool, i32), PickupError> {
    reserve_for(conn, r, None, &ParcelSize::default(), issuer, now)
}

/// [`reserve`] with the customer pudo may e-mail: stored sealed in the reservation's
/// transaction when the merchant has customer e-mails on ([`super::contacts::store`]). A repeat
/// of the `order_ref` changes nothing, the customer included. `size` is what is known of the
/// parcel's measurements.
pub fn reserve_for(
    conn: &mut DbConn,
    r: &NewReservation<'_>,
    customer: Option<&Customer>,
    size: &ParcelSize,
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Result<(Parcel, bool, i32), PickupError> {
    let extra = Extra {
        customer,
        size,
        conditions: &Conditions::default(),
    };
    reserve_with(conn, r, &extra, issuer, now)
}

/// What a reservation may carry besides its own fields.
#[derive(Debug, Clone, Copy)]
pub struct Extra<'a> {
    /// The customer pudo may e-mail ([`reserve_for`]).
    pub customer: Option<&'a Customer>,
    /// What is known of the parcel's measurements.
    pub size: &'a ParcelSize,
    /// Its conditions at the counter, stored with the parcel (checked here).
    pub conditions: &'a Conditions,
}

/// [`reserve_for`] with conditions at the counter (cash on delivery, an ID check, a named
/// collector), checked before anything is written and stored with the parcel.
pub fn reserve_with(
    conn: &mut DbConn,
    r: &NewReservation<'_>,
    extra: &Extra<'_>,
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Result<(Parcel, bool, i32), PickupError> {
    check(r)?;
    extra.conditions.check()?;
    if let Some(existing) = find_order(conn, r.merchant, r.order_ref)? {
        return repeat(existing, r, issuer.data_key);
    }
    for _ in 0..5 {
        match conn.transaction(|conn| reserve_once(conn, r, extra, issuer, now)) {
            Ok((parcel, live)) => return Ok((parcel, true, live)),
            Err(PickupError::CodeClash) => continue,
            // Two calls with one order_ref raced: the other one won; answer like a repeat.
            Err(PickupError::Db(DbErr::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
                let existing = find_order(conn, r.merchant, r.order_ref)?.ok_or(DbErr::NotFound)?;
                return repeat(existing, r, issuer.data_key);
            }
            Err(e) => return Err(e),
        }
    }
    Err(PickupError::Db(DbErr::RollbackTransaction))
}

/// A reservation request owned by its caller, as the group committer queues it.
#[derive(Debug, Clone)]
pub struct ReservationRequest {
    /// The merchant (token subject).
    pub merchant: String,
    /// The chosen pickup point.
    pub shop_id: i64,
    /// The merchant's order reference.
    pub order_ref: String,
    /// Optional SKU.
    pub sku: Option<String>,
    /// When the parcel is expected at the shop, if known.
    pub arrive_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The customer pudo may e-mail, if the merchant gave one (checked already).
    pub customer: Option<Customer>,
    /// The parcel's measurements, as far as known.
    pub size: ParcelSize,
    /// Its conditions at the counter (none: `Conditions::default()`).
    pub conditions: Conditions,
}

impl ReservationRequest {
    /// The customer, size and conditions as [`reserve_with`] takes them.
    pub fn extra(&self) -> Extra<'_> {
        Extra {
            customer: self.customer.as_ref(),
            size: &self.size,
            conditions: &self.conditions,
        }
    }

    /// The request as [`reserve`] takes it.
    pub fn borrowed(&self) -> NewReservation<'_> {
        NewReservation {
            merchant: &self.merchant,
            shop_id: self.shop_id,
            order_ref: &self.order_ref,
            sku: self.sku.as_deref(),
            arrive_at: self.arrive_at,
        }
    }
}

/// What [`reserve`] answers: the parcel, whether it was created now, the shop's slots held.
pub type ReserveAnswer = Result<(Parcel, bool, i32), PickupError>;

/// Reserves many slots at once, one answer per request in the same order, each what
/// [`reserve`] alone would answer (a full shop refuses the requests beyond its free slots in
/// the order given; a repeated order_ref is a repeat; a bad request fails alone).
///
/// With `functions` (plain PostgreSQL), all go in one call of `pudo_reserve_batch`: one round
/// trip, one transaction ([`super::write_functions`]); the few it leaves to the statement path
/// follow, each in its own transaction. Otherwise (SQLite, Citus) one transaction holds them
/// all, each in a savepoint. If the shared transaction fails as a whole, each request is run
/// again alone, so every request still gets its own outcome.
pub fn reserve_many(
    conn: &mut DbConn,
    requests: &[ReservationRequest],
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
    functions: bool,
) -> Vec<ReserveAnswer> {
    let alone = |conn: &mut DbConn, r: &ReservationRequest| {
        reserve_with(conn, &r.borrowed(), &r.extra(), issuer, now)
    };
    if let (true, DbConn::Postgres(_)) = (functions, &*conn) {
        return reserve_with_functions(conn, requests, issuer, now);
    }
    super::writes::in_one_transaction(conn, requests, |r| r.shop_id, alone)
}

fn reserve_with_functions(
    conn: &mut DbConn,
    requests: &[ReservationRequest],
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Vec<ReserveAnswer> {
    use super::write_functions::{self as wf, Reserved};
    let now = wf::to_micros(now);
    let mut answers: Vec<Option<ReserveAnswer>> = requests.iter().map(|_| None).collect();
    let mut todo = Vec::with_capacity(requests.len());
    // A reservation with a customer or conditions at the counter takes the statement path,
    // which stores them in the same transaction (the functions know nothing of either;
    // docs/scaling.md).
    let mut with_customer = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        match check(&r.borrowed()) {
            Ok(()) if r.customer.is_some() || !r.conditions.is_empty() => with_customer.push(i),
            Ok(()) => todo.push(i),
            Err(e) => answers[i] = Some(Err(e)),
        }
    }
    // In the order of their shops (stable: one shop's requests keep their order).
    todo.sort_by_key(|&i| requests[i].shop_id);
    let args: Vec<wf::ReserveArgs<'_>> = todo
        .iter()
        .map(|&i| {
            let r = &requests[i];
            wf::ReserveArgs {
                merchant: &r.merchant,
                shop_id: r.shop_id,
                order_ref: &r.order_ref,
                sku: r.sku.as_deref(),
                size: r.size,
            }
        })
        .collect();
    let decided = match conn {
        DbConn::Postgres(pg) if !args.is_empty() => wf::reserve_batch(pg, &args, now),
        _ => Ok(Vec::new()),
    };
    match decided {
        Ok(decided) => {
            for ((&i, a), d) in todo.iter().zip(&args).zip(decided) {
                let r = &requests[i];
                answers[i] = Some(match d {
                    Reserved::Created {
                        parcel_id,
                        live,
                        size_class,
                    } => Ok((wf::created_view(a, parcel_id, now, size_class), true, live)),
                    Reserved::Repeat(_) => find_order(conn, &r.merchant, &r.order_ref)
                        .map_err(PickupError::from)
                        .and_then(|row| row.ok_or(PickupError::Db(DbErr::NotFound)))
                        .and_then(|row| repeat(row, &r.borrowed(), issuer.data_key)),
                    Reserved::NoSlot(why) => Err(no_slot(why, &r.size, None)),
                    Reserved::ClassFull(class) => {
                        Err(no_slot(load::NoSlot::Full, &r.size, Some(class)))
                    }
                    Reserved::DoesNotFit(why) => Err(PickupError::DoesNotFit(why)),
                    Reserved::Slow => reserve_for(conn, &r.borrowed(), None, &r.size, issuer, now),
                });
            }
        }
        Err(_) => {
            for &i in &todo {
                let r = &requests[i];
                answers[i] = Some(reserve_for(conn, &r.borrowed(), None, &r.size, issuer, now));
            }
        }
    }
    for i in with_customer {
        let r = &requests[i];
        answers[i] = Some(reserve_with(conn, &r.borrowed(), &r.extra(), issuer, now));
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or(Err(PickupError::Db(DbErr::RollbackTransaction))))
        .collect()
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
    extra: &Extra<'_>,
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Result<(Parcel, i32), PickupError> {
    let (customer, size, conditions) = (extra.customer, extra.size, extra.conditions);
    // A received staged unit of the SKU at the shop makes this an instant pickup: the item is
    // already there, so the parcel goes straight to `at_point`. The unit already holds a slot,
    // which becomes the parcel's: no new slot is taken, so the shop stays within capacity.
    // The shop's region (`shops` is a reference table on Citus): every statement below names
    // it, so on Citus the whole transaction runs on that region's shard.
    let Some(region) = load::region_for_write(conn, r.shop_id)? else {
        return Err(load::why_no_slot(conn, r.shop_id)?.into());
    };
    let Some((sizes, capacity)) = load::sizes_of(conn, r.shop_id)? else {
        return Err(load::why_no_slot(conn, r.shop_id)?.into());
    };
    let placement = sizes
        .place(capacity, size)
        .map_err(PickupError::DoesNotFit)?;
    let staged_in = match r.sku {
        Some(sku) => crate::staging::stock::take_unit(conn, r.shop_id, region, sku)?,
        None => None,
    };
    let staged = staged_in.is_some();
    // A staged unit's slot, of the class it was received in, becomes the parcel's.
    let mut class = staged_in;
    if staged {
        if !load::is_active(conn, r.shop_id)? {
            class = None;
        }
    } else {
        for c in placement.classes() {
            if load::take_slot_of(conn, r.shop_id, region, c, now)? {
                class = Some(c);
                break;
            }
        }
    }
    let Some(class) = class else {
        let why = load::why_no_slot(conn, r.shop_id)?;
        return Err(no_slot(why, size, Some(placement.needed)));
    };
    // Checked after the slot is taken (the transaction's first write); an error rolls it back.
    if let Some(refusal) =
        crate::network::closure_store::pickup_refusal(conn, r.shop_id, r.arrive_at)?
    {
        return Err(refusal.into());
    }
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
            parcels::size_class.eq(stored_class(class, size).map(SizeClass::as_str)),
            parcels::length_mm.eq(size.dims_mm.map(|d| d[0])),
            parcels::width_mm.eq(size.dims_mm.map(|d| d[1])),
            parcels::height_mm.eq(size.dims_mm.map(|d| d[2])),
            parcels::weight_g.eq(size.weight_g),
            parcels::cod_amount_minor
                .eq(conditions.cash_on_delivery.as_ref().map(|c| c.amount_minor)),
            parcels::cod_currency.eq(conditions.cash_on_delivery.as_ref().map(|c| &c.currency)),
            parcels::id_check.eq(conditions.id_check.map(|c| c.as_str())),
            // Sealed: a person's name is personal data (`names`).
            parcels::recipient_name_sealed.eq(super::names::seal(
                issuer.data_key,
                conditions.recipient_name.as_deref(),
            )),
            parcels::collector_name_sealed.eq(super::names::seal(
                issuer.data_key,
                conditions.collector_name.as_deref(),
            )),
        ))
        .execute(conn)?;
    let row = find_order_in(conn, r.merchant, r.order_ref, region)?.ok_or(DbErr::NotFound)?;
    if let Some(customer) = customer {
        super::contacts::store(conn, issuer.data_key, &row, customer, now)?;
    }
    outbox::enqueue(
        conn,
        row.region,
        &row.merchant,
        Event::ReservationCreated,
        json!({ "reservation": row.view() }),
        now,
    )?;
    let parcel = if staged {
        issue_code(conn, issuer, &row, &codes::generate(), now)?
    } else {
        row.named_view(issuer.data_key)
    };
    Ok((parcel, load::live(conn, r.shop_id, region)?))
}

/// The class stored with a parcel: none for a parcel without measurements in an `L` slot (the
/// rows and views of before sizes), else its slot's class (`pudo_reserve_one` does the same).
pub(super) fn stored_class(class: SizeClass, size: &ParcelSize) -> Option<SizeClass> {
    (class != SizeClass::L || !size.is_unknown()).then_some(class)
}

/// Why no slot was taken: a parcel without measurements at a full point is refused as
/// before sizes (`full`); one with them names the class it needs.
pub(super) fn no_slot(
    why: load::NoSlot,
    size: &ParcelSize,
    needed: Option<SizeClass>,
) -> PickupError {
    match (why, needed) {
        (load::NoSlot::Full, Some(class)) if !size.is_unknown() => PickupError::ClassFull(class),
        (why, _) => why.into(),
    }
}

/// The request's own fields, checked before anything is written.
fn check(r: &NewReservation<'_>) -> Result<(), PickupError> {
    check_text("order_ref", r.order_ref, 100)?;
    if let Some(sku) = r.sku {
        check_text("sku", sku, 64)?;
    }
    Ok(())
}

fn repeat(
    existing: ParcelRow,
    r: &NewReservation<'_>,
    data_key: &[u8; 32],
) -> Result<(Parcel, bool, i32), PickupError> {
    if existing.shop_id != r.shop_id {
        return Err(PickupError::OrderRefConflict(r.order_ref.to_owned()));
    }
    Ok((existing.named_view(data_key), false, -1))
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
    arrive_with_codes(conn, issuer, shop_id, id, now, codes::generate)
}

/// [`arrive`] with the candidate pickup codes drawn from `next_code` (a code in use at the
/// shop is passed over for the next one, up to five): [`codes::generate`] in service, given
/// codes in tests, which cannot make random codes clash.
pub fn arrive_with_codes(
    conn: &mut DbConn,
    issuer: &CodeIssuer<'_>,
    shop_id: i64,
    id: i64,
    now: NaiveDateTime,
    mut next_code: impl FnMut() -> String,
) -> Result<Parcel, PickupError> {
    for _ in 0..5 {
        let code = next_code();
        let result = conn.transaction(|conn| -> Result<Parcel, PickupError> {
            let region =
                load::region_for_write(conn, shop_id)?.ok_or(PickupError::ParcelNotFound(id))?;
            // A no-op write first (see `db`); it also takes the parcel's row lock.
            diesel::update(
                parcels::table.filter(parcels::id.eq(id).and(parcels::shop_id.eq(shop_id))),
            )
            .filter(parcels::region.eq(region))
            .set(parcels::updated_at.eq(parcels::updated_at))
            .execute(conn)?;
            let row = find_in(conn, shop_id, region, id)?;
            match row.state() {
                ParcelState::Reserved => {
                    let parcel = issue_code(conn, issuer, &row, &code, now)?;
                    super::scan_in::record_arrival(conn, id, region, now)?;
                    Ok(parcel)
                }
                ParcelState::AtPoint => Ok(row.named_view(issuer.data_key)),
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

/// Marks a parcel as arrived ([`arrive`]) and tells whether this call's scan came after the
/// carrier's hand-in deadline (a late scan, counted by the metrics). With `functions` (plain
/// PostgreSQL) it is one call of `pudo_arrive`: one round trip.
pub fn arrive_scanned(
    conn: &mut DbConn,
    issuer: &CodeIssuer<'_>,
    shop_id: i64,
    id: i64,
    now: NaiveDateTime,
    functions: bool,
) -> Result<(Parcel, bool), PickupError> {
    use super::write_functions::{self as wf, Arrived};
    // Microseconds, as both databases store times, so the comparisons hold.
    let now = wf::to_micros(now);
    let DbConn::Postgres(pg) = conn else {
        return arrive_then_check_scan(conn, issuer, shop_id, id, now);
    };
    if !functions {
        return arrive_then_check_scan(conn, issuer, shop_id, id, now);
    }
    for _ in 0..5 {
        let code = codes::generate();
        let hash = codes::hash(issuer.data_key, shop_id, &code);
        let (sealed, escrow, event_sealed) = (
            codes::seal(issuer.data_key, &code),
            codes::seal(issuer.data_key, &code),
            codes::seal(issuer.data_key, &code),
        );
        let args = wf::ArriveArgs {
            shop_id,
            parcel_id: id,
            expires_at: now + issuer.hold,
            code_hash: &hash,
            code_sealed: &sealed,
            code_escrow: &escrow,
            event_sealed: &event_sealed,
        };
        match wf::arrive(pg, issuer.data_key, &args, now) {
            Ok(Arrived::Now(parcel, late)) => return Ok((parcel, late)),
            Ok(Arrived::Already(parcel)) => return Ok((parcel, false)),
            Ok(Arrived::NotFound) => return Err(PickupError::ParcelNotFound(id)),
            Ok(Arrived::WrongState(state)) => {
                return Err(PickupError::WrongState {
                    state,
                    action: "marked as arrived",
                })
            }
            // A code in use at the shop, or one taken by a racing arrival: another code.
            Ok(Arrived::CodeClash)
            | Err(DbErr::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(PickupError::Db(DbErr::RollbackTransaction))
}

fn arrive_then_check_scan(
    conn: &mut DbConn,
    issuer: &CodeIssuer<'_>,
    shop_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> Result<(Parcel, bool), PickupError> {
    let parcel = arrive(conn, issuer, shop_id, id, now)?;
    // Arrived by this call (not a repeat): was the scan late for the carrier's hand-in?
    // The hand-in is read in the shop's region: one shard on Citus, so an arrival does not
    // depend on the workers of other regions (docs/operations.md, "A worker down").
    let late = parcel.arrived_at == Some(now)
        && match crate::network::load::region_of(conn, shop_id)? {
            Some(region) => super::scan_in::find_in(conn, id, region, now)?
                .is_some_and(|h| h.state == super::scan_in::ScanState::Late),
            None => false,
        };
    Ok((parcel, late))
}

/// Moves a reserved parcel to `at_point` with a fresh pickup code (hashed, and sealed for
/// the merchant's one reading) and writes the `parcel.arrived` event carrying the code sealed.
fn issue_code(
    conn: &mut DbConn,
    issuer: &CodeIssuer<'_>,
    row: &ParcelRow,
    code: &str,
    now: NaiveDateTime,
) -> Result<Parcel, PickupError> {
    let hash = codes::hash(issuer.data_key, row.shop_id, code);
    let changed = diesel::update(
        parcels::table.filter(
            parcels::id
                .eq(row.id)
                .and(parcels::region.eq(row.region))
                .and(parcels::state.eq(ParcelState::Reserved.as_str())),
        ),
    )
    .set((
        parcels::state.eq(ParcelState::AtPoint.as_str()),
        parcels::code_hash.eq(&hash),
        parcels::code_sealed.eq(codes::seal(issuer.data_key, code)),
        parcels::code_escrow.eq(codes::seal(issuer.data_key, code)),
        parcels::arrived_at.eq(now),
        parcels::expires_at.eq(now + issuer.hold),
        parcels::updated_at.eq(now),
    ))
    .execute(conn)
    .map_err(|e| match e {
        // The partial unique index on waiting parcels' codes, the only unique key this update
        // can break: a parcel waiting at the shop holds the code. Another code, not a 500
        // (one arrival in about 125,000 at a shop with 800 waiting parcels).
        DbErr::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => PickupError::CodeClash,
        e => e.into(),
    })?;
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
                .and(parcels::region.eq(row.region))
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
    let row = find_in(conn, row.shop_id, row.region, row.id)?;
    let data = json!({ "reservation": row.view(), "pickup_code_sealed": codes::seal(issuer.data_key, code) });
    outbox::enqueue(
        conn,
        row.region,
        &row.merchant,
        Event::ParcelArrived,
        data,
        now,
    )?;
    Ok(row.named_view(issuer.data_key))
}
