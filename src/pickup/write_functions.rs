//! Reservations and handovers in one round trip on PostgreSQL: calls of the server-side
//! functions of migration `2026-12-06-000060_write_functions`, which run in the database the
//! statements [`super::reservations`] and [`super::handover`] send one by one, with the same
//! checks, audit row, outbox event and ledger line, many requests per call when the group
//! committer gathers them ([`super::writes`]).
//!
//! Each call is one statement in autocommit, so one round trip and one commit; the answers
//! are read back only after that commit. Requests are passed in the order of their shops (a
//! stable sort, so requests at one shop keep their order of arrival): two batches lock the
//! shops they touch in the same order and cannot deadlock each other.

use super::attempts::{Outcome, ATTEMPT_WINDOW_MINUTES, MAX_WRONG_CODES};
use super::conditions::{CashOnDelivery, Conditions, Confirmations, Missing, Unmet};
use super::{Handover, Parcel, ParcelState, PickupError};
use crate::network::load::NoSlot;
use crate::network::sizes::{DoesNotFit, ParcelSize, SizeClass};
use chrono::{Duration, NaiveDateTime, Timelike};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};
use diesel::PgConnection;

/// One reservation as the function takes it.
pub struct ReserveArgs<'a> {
    /// The merchant.
    pub merchant: &'a str,
    /// The chosen shop.
    pub shop_id: i64,
    /// The merchant's order reference (checked already).
    pub order_ref: &'a str,
    /// Optional SKU (checked already).
    pub sku: Option<&'a str>,
    /// The parcel's measurements, as far as known.
    pub size: ParcelSize,
}

/// What the function decided for one reservation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserved {
    /// Reserved now: the parcel's id and the shop's slots held after it.
    Created {
        /// The new parcel.
        parcel_id: i64,
        /// Slots held at the shop now.
        live: i32,
        /// The class stored with the parcel (see `reservations::stored_class`).
        size_class: Option<SizeClass>,
    },
    /// The parcel is heavier or larger than the point takes: nothing written.
    DoesNotFit(DoesNotFit),
    /// The point is active but has no room in the classes the parcel may take (the class it
    /// needs): nothing written.
    ClassFull(SizeClass),
    /// The merchant's order_ref was reserved before: that parcel.
    Repeat(i64),
    /// No slot was taken.
    NoSlot(NoSlot),
    /// Out of the common case (a staged unit, a shop with closures, services to parse): nothing
    /// was written, the statement path decides.
    Slow,
}

#[derive(QueryableByName)]
struct ReserveRow {
    #[diesel(sql_type = Integer)]
    idx: i32,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    parcel_id: Option<i64>,
    #[diesel(sql_type = Nullable<Integer>)]
    live: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    size_class: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    limit_name: Option<String>,
    #[diesel(sql_type = Nullable<Array<Integer>>)]
    limit_max: Option<Vec<i32>>,
}

/// The time the functions write: PostgreSQL keeps microseconds, so the answer built from it
/// is what a later read gives.
pub fn to_micros(now: NaiveDateTime) -> NaiveDateTime {
    now.with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now)
}

/// Runs `reservations` in one transaction, in the order given; one answer per request.
pub fn reserve_batch(
    pg: &mut PgConnection,
    reservations: &[ReserveArgs<'_>],
    now: NaiveDateTime,
) -> QueryResult<Vec<Reserved>> {
    let rows: Vec<ReserveRow> =
        diesel::sql_query("SELECT * FROM pudo_reserve_batch($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind::<Array<Text>, _>(reservations.iter().map(|r| r.merchant).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(reservations.iter().map(|r| r.shop_id).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(reservations.iter().map(|r| r.order_ref).collect::<Vec<_>>())
            .bind::<Array<Nullable<Text>>, _>(
                reservations.iter().map(|r| r.sku).collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Integer>>, _>(side(reservations, 0))
            .bind::<Array<Nullable<Integer>>, _>(side(reservations, 1))
            .bind::<Array<Nullable<Integer>>, _>(side(reservations, 2))
            .bind::<Array<Nullable<Integer>>, _>(
                reservations
                    .iter()
                    .map(|r| r.size.weight_g)
                    .collect::<Vec<_>>(),
            )
            .bind::<Timestamp, _>(now)
            .load(pg)?;
    in_order(rows, reservations.len(), |r| r.idx)?
        .into_iter()
        .zip(reservations)
        .map(|(row, args)| {
            let class = row.size_class.as_deref().and_then(|c| c.parse().ok());
            Ok(match (row.status.as_str(), row.parcel_id) {
                ("created", Some(parcel_id)) => Reserved::Created {
                    parcel_id,
                    live: row.live.unwrap_or(0),
                    size_class: class,
                },
                ("does_not_fit", _) => Reserved::DoesNotFit(does_not_fit(&row, class)?),
                ("full", _) if !args.size.is_unknown() => {
                    Reserved::ClassFull(class.unwrap_or(SizeClass::L))
                }
                ("repeat", Some(id)) => Reserved::Repeat(id),
                ("unknown", _) => Reserved::NoSlot(NoSlot::UnknownShop(args.shop_id)),
                ("paused", _) => Reserved::NoSlot(NoSlot::Paused),
                ("closed", _) => Reserved::NoSlot(NoSlot::Closed),
                ("full", _) => Reserved::NoSlot(NoSlot::Full),
                ("slow", _) => Reserved::Slow,
                (other, _) => return Err(unexpected("pudo_reserve_batch", other)),
            })
        })
        .collect()
}

/// One side of every reservation's parcel (0: longest), NULL where not given.
fn side(reservations: &[ReserveArgs<'_>], i: usize) -> Vec<Option<i32>> {
    reservations
        .iter()
        .map(|r| r.size.dims_mm.map(|d| d[i]))
        .collect()
}

/// The limit a `does_not_fit` answer names.
fn does_not_fit(row: &ReserveRow, class: Option<SizeClass>) -> QueryResult<DoesNotFit> {
    let max = row.limit_max.as_deref().unwrap_or_default();
    match (row.limit_name.as_deref(), max, class) {
        (Some("max_weight"), [g], _) => Ok(DoesNotFit::Weight(*g)),
        (Some("max_dimensions"), [a, b, c], _) => Ok(DoesNotFit::Dimensions([*a, *b, *c])),
        (Some("size_class"), _, Some(class)) => Ok(DoesNotFit::NoClass(class)),
        _ => Err(unexpected("pudo_reserve_batch", "an unknown limit")),
    }
}

/// The new parcel as the reservation's answer gives it (what the function wrote).
pub fn created_view(
    args: &ReserveArgs<'_>,
    parcel_id: i64,
    now: NaiveDateTime,
    size_class: Option<SizeClass>,
) -> Parcel {
    Parcel {
        id: parcel_id,
        pickup_point_id: args.shop_id,
        order_ref: args.order_ref.to_owned(),
        sku: args.sku.map(str::to_owned),
        state: ParcelState::Reserved,
        created_at: now,
        arrived_at: None,
        expires_at: None,
        picked_up_at: None,
        hold_extended_days: None,
        size_class,
        // A reservation with conditions takes the statement path (`reservations`).
        cash_on_delivery: None,
        id_check: None,
        recipient_name: None,
        collector_name: None,
    }
}

/// One handover attempt as the function takes it.
pub struct HandoverArgs<'a> {
    /// The partner's shop.
    pub shop_id: i64,
    /// Who typed the code (audited).
    pub actor: &'a str,
    /// The code's keyed hash; `None` for text that is no code at all.
    pub code_hash: Option<String>,
    /// What the partner confirmed (cash collected, ID checked).
    pub confirmed: Confirmations,
}

#[derive(QueryableByName)]
struct HandoverRow {
    #[diesel(sql_type = Integer)]
    idx: i32,
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    parcel_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    order_ref: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    state: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    picked_up_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<BigInt>)]
    retry_after_secs: Option<i64>,
    #[diesel(embed)]
    conditions: ConditionsRow,
}

/// Runs handover attempts in one transaction, in the order given; one answer per attempt
/// (`Err(ShopNotFound)` for an unknown shop, as [`super::handover`]).
pub fn handover_batch(
    pg: &mut PgConnection,
    data_key: &[u8; 32],
    attempts: &[HandoverArgs<'_>],
    now: NaiveDateTime,
) -> QueryResult<Vec<Result<Outcome<Handover>, PickupError>>> {
    let rows: Vec<HandoverRow> =
        diesel::sql_query("SELECT * FROM pudo_handover_batch($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind::<Array<BigInt>, _>(attempts.iter().map(|a| a.shop_id).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(attempts.iter().map(|a| a.actor).collect::<Vec<_>>())
            .bind::<Array<Nullable<Text>>, _>(
                attempts
                    .iter()
                    .map(|a| a.code_hash.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Bool>, _>(
                attempts
                    .iter()
                    .map(|a| a.confirmed.cash_collected)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Bool>, _>(
                attempts
                    .iter()
                    .map(|a| a.confirmed.id_checked)
                    .collect::<Vec<_>>(),
            )
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now - Duration::minutes(ATTEMPT_WINDOW_MINUTES))
            .bind::<Integer, _>(ATTEMPT_WINDOW_MINUTES as i32)
            .bind::<BigInt, _>(MAX_WRONG_CODES)
            .load(pg)?;
    in_order(rows, attempts.len(), |r| r.idx)?
        .into_iter()
        .zip(attempts)
        .map(|(row, args)| handover_outcome(row, data_key, args.shop_id, now))
        .collect()
}

fn handover_outcome(
    row: HandoverRow,
    data_key: &[u8; 32],
    shop_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Result<Outcome<Handover>, PickupError>> {
    let conditions = row.conditions.conditions(data_key);
    let handover = |replay| -> QueryResult<Handover> {
        Ok(Handover {
            parcel_id: row
                .parcel_id
                .ok_or_else(|| unexpected("handover", "no parcel"))?,
            order_ref: row.order_ref.clone().unwrap_or_default(),
            replay,
            picked_up_at: row.picked_up_at.unwrap_or(now),
            cash_collected: conditions.cash_on_delivery.clone(),
            id_checked: conditions.id_check,
            collector_name: conditions.collector_name.clone(),
        })
    };
    let id = || {
        row.parcel_id
            .ok_or_else(|| unexpected("handover", "no parcel"))
    };
    let unmet = |missing| -> QueryResult<Outcome<Handover>> {
        let conditions = conditions.clone();
        Ok(Outcome::Unmet(
            id()?,
            Box::new(Unmet {
                missing,
                conditions,
            }),
        ))
    };
    Ok(Ok(match row.outcome.as_str() {
        "unknown_shop" => return Ok(Err(PickupError::ShopNotFound(shop_id))),
        "success" => Outcome::Success(handover(false)?),
        "replay" => Outcome::Replay(handover(true)?),
        "wrong_code" => Outcome::WrongCode,
        "expired" => Outcome::Expired(id()?),
        "not_collectable" => Outcome::NotCollectable(
            id()?,
            row.state
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or(ParcelState::Cancelled),
        ),
        "rate_limited" => Outcome::RateLimited {
            retry_after_secs: row.retry_after_secs.unwrap_or(1),
        },
        "cash_not_confirmed" => unmet(Missing::CashCollected)?,
        "id_check_required" => unmet(Missing::IdChecked)?,
        other => return Err(unexpected("pudo_handover_batch", other)),
    }))
}

/// The function's rows in request order, exactly one per request.
fn in_order<R>(mut rows: Vec<R>, n: usize, idx: impl Fn(&R) -> i32) -> QueryResult<Vec<R>> {
    rows.sort_by_key(&idx);
    let complete = rows.len() == n
        && rows
            .iter()
            .enumerate()
            .all(|(i, r)| usize::try_from(idx(r)).is_ok_and(|x| x == i + 1));
    if complete {
        Ok(rows)
    } else {
        Err(unexpected("a write function", "an answer per request"))
    }
}

fn unexpected(function: &str, what: &str) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(
        format!("{function} answered something unexpected: {what}").into(),
    )
}

/// A parcel's arrival as the function takes it: the new code's hash and sealed copies are
/// made by the caller, so the data key never reaches the database.
pub struct ArriveArgs<'a> {
    /// The partner's shop.
    pub shop_id: i64,
    /// The parcel.
    pub parcel_id: i64,
    /// End of the holding period if it arrives now.
    pub expires_at: NaiveDateTime,
    /// The code's keyed hash.
    pub code_hash: &'a str,
    /// The code sealed for the merchant's one reading.
    pub code_sealed: &'a str,
    /// The code sealed while the parcel waits (for redirects).
    pub code_escrow: &'a str,
    /// The code sealed for the `parcel.arrived` event.
    pub event_sealed: &'a str,
}

/// What the function decided for an arrival.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrived {
    /// Arrived now; whether the scan came after the carrier's hand-in deadline.
    Now(Parcel, bool),
    /// At the shop before: the parcel as it is.
    Already(Parcel),
    /// No such parcel at this shop.
    NotFound,
    /// The code is in use at the shop: nothing written.
    CodeClash,
    /// The parcel cannot arrive from this state.
    WrongState(ParcelState),
}

#[derive(QueryableByName)]
struct ArriveRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Bool)]
    late: bool,
    #[diesel(sql_type = Nullable<Text>)]
    order_ref: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    sku: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    state: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    created_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    arrived_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    expires_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    picked_up_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Integer>)]
    hold_extended_days: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    size_class: Option<String>,
    #[diesel(embed)]
    conditions: ConditionsRow,
}

/// A parcel's conditions at the counter as the handover and arrival functions answer them
/// (the names sealed, as stored: the functions carry them through, pudo opens them here).
#[derive(QueryableByName)]
struct ConditionsRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    cod_amount_minor: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    cod_currency: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    id_check: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    recipient_name_sealed: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    collector_name_sealed: Option<String>,
}

impl ConditionsRow {
    fn conditions(&self, data_key: &[u8; 32]) -> Conditions {
        let cash = || {
            Some(CashOnDelivery {
                amount_minor: self.cod_amount_minor?,
                currency: self.cod_currency.clone()?,
            })
        };
        Conditions {
            cash_on_delivery: cash(),
            // The column's check constraint admits only known checks.
            id_check: self.id_check.as_deref().and_then(|c| c.parse().ok()),
            recipient_name: super::names::unseal(data_key, self.recipient_name_sealed.as_deref()),
            collector_name: super::names::unseal(data_key, self.collector_name_sealed.as_deref()),
        }
    }
}

/// Marks a parcel as arrived in one call of `pudo_arrive`.
pub fn arrive(
    pg: &mut PgConnection,
    data_key: &[u8; 32],
    a: &ArriveArgs<'_>,
    now: NaiveDateTime,
) -> QueryResult<Arrived> {
    let row: ArriveRow =
        diesel::sql_query("SELECT * FROM pudo_arrive($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind::<BigInt, _>(a.shop_id)
            .bind::<BigInt, _>(a.parcel_id)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(a.expires_at)
            .bind::<Text, _>(a.code_hash)
            .bind::<Text, _>(a.code_sealed)
            .bind::<Text, _>(a.code_escrow)
            .bind::<Text, _>(a.event_sealed)
            .get_result(pg)?;
    let state = row
        .state
        .as_deref()
        .and_then(|s| s.parse::<ParcelState>().ok());
    let conditions = row.conditions.conditions(data_key);
    let parcel = |state: ParcelState| -> QueryResult<Parcel> {
        let c = conditions.clone();
        Ok(Parcel {
            id: a.parcel_id,
            pickup_point_id: a.shop_id,
            order_ref: row.order_ref.clone().unwrap_or_default(),
            sku: row.sku.clone(),
            state,
            created_at: row
                .created_at
                .ok_or_else(|| unexpected("pudo_arrive", "no created_at"))?,
            arrived_at: row.arrived_at,
            expires_at: row.expires_at,
            picked_up_at: row.picked_up_at,
            hold_extended_days: row.hold_extended_days,
            size_class: row.size_class.as_deref().and_then(|c| c.parse().ok()),
            cash_on_delivery: c.cash_on_delivery,
            id_check: c.id_check,
            recipient_name: c.recipient_name,
            collector_name: c.collector_name,
        })
    };
    Ok(match (row.status.as_str(), state) {
        ("arrived", Some(s)) => Arrived::Now(parcel(s)?, row.late),
        ("already", Some(s)) => Arrived::Already(parcel(s)?),
        ("not_found", _) => Arrived::NotFound,
        ("code_clash", _) => Arrived::CodeClash,
        (_, Some(s)) => Arrived::WrongState(s),
        (other, None) => return Err(unexpected("pudo_arrive", other)),
    })
}

#[derive(QueryableByName)]
struct DropoffRow {
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    return_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    order_ref: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    sku: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    dropped_off_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    unavailable: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    retry_after_secs: Option<i64>,
}

/// One drop-off code typed at a shop, in one call of `pudo_dropoff`; `code_hash` is `None`
/// for text that is no code at all. `Err(ShopNotFound)` for an unknown shop, as
/// [`super::dropoffs::dropoff`].
pub fn dropoff(
    pg: &mut PgConnection,
    shop_id: i64,
    actor: &str,
    code_hash: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Result<Outcome<super::dropoffs::Dropoff>, PickupError>> {
    use super::Unavailable;
    let row: DropoffRow =
        diesel::sql_query("SELECT * FROM pudo_dropoff($1, $2, $3, $4, $5, $6, $7)")
            .bind::<BigInt, _>(shop_id)
            .bind::<Text, _>(actor)
            .bind::<Nullable<Text>, _>(code_hash)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now - Duration::minutes(ATTEMPT_WINDOW_MINUTES))
            .bind::<Integer, _>(ATTEMPT_WINDOW_MINUTES as i32)
            .bind::<BigInt, _>(MAX_WRONG_CODES)
            .get_result(pg)?;
    let id = || {
        row.return_id
            .ok_or_else(|| unexpected("pudo_dropoff", "no return"))
    };
    let answer = |replay| -> QueryResult<super::dropoffs::Dropoff> {
        Ok(super::dropoffs::Dropoff {
            return_id: id()?,
            order_ref: row.order_ref.clone().unwrap_or_default(),
            sku: row.sku.clone(),
            replay,
            dropped_off_at: row.dropped_off_at.unwrap_or(now),
        })
    };
    Ok(Ok(match row.outcome.as_str() {
        "unknown_shop" => return Ok(Err(PickupError::ShopNotFound(shop_id))),
        "success" => Outcome::Success(answer(false)?),
        "replay" => Outcome::Replay(answer(true)?),
        "wrong_code" => Outcome::WrongCode,
        "expired" => Outcome::Expired(id()?),
        "shop_unavailable" => Outcome::ShopUnavailable(
            id()?,
            match row.unavailable.as_deref() {
                Some("paused") => Unavailable::Paused,
                Some("full") => Unavailable::Full,
                _ => Unavailable::Closed,
            },
        ),
        "rate_limited" => Outcome::RateLimited {
            retry_after_secs: row.retry_after_secs.unwrap_or(1),
        },
        other => return Err(unexpected("pudo_dropoff", other)),
    }))
}
