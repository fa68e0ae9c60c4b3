//! Returns at the counter: a merchant registers a return for one drop-off point and gets a
//! drop-off code for the customer; the shop accepts the parcel with that code (taking a slot);
//! a carrier collects it (freeing the slot).
//!
//! ```text
//! registered ──drop-off (code)──▶ dropped_off ──collection──▶ collected
//! ```
//!
//! Drop-off codes follow the pickup-code rules of [`super::codes`]: CSPRNG digits, stored
//! only as a keyed hash bound to the chosen shop (so a code typed at any other shop is simply
//! wrong), sealed for one reading by the merchant, single use (a repeat answers `replay`), and
//! wrong codes count towards the shop's one bound on wrong codes shared with handovers.

use super::codes;
use super::outbox::{self, Event};
use super::store::{self, CodeIssuer, ATTEMPT_WINDOW_MINUTES};
use super::{PickupError, Unavailable};
use crate::db::schema::{returns, shops};
use crate::db::DbConn;
use crate::ledger::book::{self, PaidEvent};
use crate::ledger::FeeKind;
use crate::network::services::{Service, Services};
use crate::network::ShopStatus;
use chrono::{Duration, NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DbErr};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// Days a drop-off code is accepted after the return is registered.
pub const DROPOFF_CODE_DAYS: i64 = 30;

/// Most returns one collection may name.
pub const MAX_COLLECTION: usize = 500;

/// Where a return is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    /// Registered; the customer has the drop-off code.
    Registered,
    /// At the shop, waiting for the carrier; holds a slot.
    DroppedOff,
    /// Taken by the carrier; the slot is free.
    Collected,
}

impl ReturnState {
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::DroppedOff => "dropped_off",
            Self::Collected => "collected",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "dropped_off" => Self::DroppedOff,
            "collected" => Self::Collected,
            _ => Self::Registered,
        }
    }
}

/// A return as the API shows it (never with a code in clear).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Return {
    /// pudo's id.
    pub id: i64,
    /// The drop-off point.
    pub pickup_point_id: i64,
    /// The merchant's order reference.
    pub order_ref: String,
    /// Optional SKU.
    pub sku: Option<String>,
    /// Life-cycle state.
    pub state: ReturnState,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub created_at: NaiveDateTime,
    /// Last moment the drop-off code is accepted (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub code_expires_at: NaiveDateTime,
    /// When the shop accepted it (UTC).
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub dropped_off_at: Option<NaiveDateTime>,
    /// When the carrier took it (UTC).
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub collected_at: Option<NaiveDateTime>,
}

/// A `returns` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = returns)]
struct ReturnRow {
    id: i64,
    shop_id: i64,
    region: i64,
    merchant: String,
    order_ref: String,
    sku: Option<String>,
    state: String,
    code_sealed: Option<String>,
    code_expires_at: NaiveDateTime,
    created_at: NaiveDateTime,
    dropped_off_at: Option<NaiveDateTime>,
    collected_at: Option<NaiveDateTime>,
}

impl ReturnRow {
    fn state(&self) -> ReturnState {
        ReturnState::parse(&self.state)
    }

    fn view(&self) -> Return {
        Return {
            id: self.id,
            pickup_point_id: self.shop_id,
            order_ref: self.order_ref.clone(),
            sku: self.sku.clone(),
            state: self.state(),
            created_at: self.created_at,
            code_expires_at: self.code_expires_at,
            dropped_off_at: self.dropped_off_at,
            collected_at: self.collected_at,
        }
    }
}

/// A return to register.
#[derive(Debug, Clone)]
pub struct NewReturn<'a> {
    /// The merchant (token subject).
    pub merchant: &'a str,
    /// The drop-off point the customer chose.
    pub shop_id: i64,
    /// The merchant's order reference.
    pub order_ref: &'a str,
    /// Optional SKU.
    pub sku: Option<&'a str>,
}

fn find_order(
    conn: &mut DbConn,
    merchant: &str,
    order_ref: &str,
) -> QueryResult<Option<ReturnRow>> {
    returns::table
        .filter(returns::merchant.eq(merchant))
        .filter(returns::order_ref.eq(order_ref))
        .select(ReturnRow::as_select())
        .first(conn)
        .optional()
}

fn repeat(existing: ReturnRow, r: &NewReturn<'_>) -> Result<(Return, bool), PickupError> {
    if existing.shop_id != r.shop_id {
        return Err(PickupError::ReturnOrderRefConflict(r.order_ref.to_owned()));
    }
    Ok((existing.view(), false))
}

/// Registers a return at its drop-off point with a fresh drop-off code valid for
/// `issuer.hold`; returns it and whether it was created now (vs. a repeat of the same
/// `order_ref`, which answers the same return). No slot is taken until the drop-off. A
/// paused or closed point takes no returns (409), like reservations.
pub fn register(
    conn: &mut DbConn,
    r: &NewReturn<'_>,
    issuer: &CodeIssuer<'_>,
    now: NaiveDateTime,
) -> Result<(Return, bool), PickupError> {
    store::check_text("order_ref", r.order_ref, 100)?;
    if let Some(sku) = r.sku {
        store::check_text("sku", sku, 64)?;
    }
    if let Some(existing) = find_order(conn, r.merchant, r.order_ref)? {
        return repeat(existing, r);
    }
    let shop: Option<(String, i64, String)> = shops::table
        .find(r.shop_id)
        .select((shops::status, shops::region, shops::services))
        .first(conn)
        .optional()?;
    let region = match shop {
        None => return Err(PickupError::ShopNotFound(r.shop_id)),
        Some((_, _, services)) if !Services::from_stored(&services).has(Service::Returns) => {
            return Err(PickupError::ShopUnavailable(Unavailable::NoReturnsService))
        }
        Some((status, region, _)) => match status.parse::<ShopStatus>() {
            Ok(ShopStatus::Active) => region,
            Ok(ShopStatus::Paused) => {
                return Err(PickupError::ShopUnavailable(Unavailable::Paused))
            }
            _ => return Err(PickupError::ShopUnavailable(Unavailable::Closed)),
        },
    };
    for _ in 0..5 {
        let result = conn.transaction(|conn| -> Result<ReturnRow, PickupError> {
            let code = codes::generate();
            let hash = codes::dropoff_hash(issuer.data_key, r.shop_id, &code);
            diesel::insert_into(returns::table)
                .values((
                    returns::shop_id.eq(r.shop_id),
                    returns::region.eq(region),
                    returns::merchant.eq(r.merchant),
                    returns::order_ref.eq(r.order_ref),
                    returns::sku.eq(r.sku),
                    returns::state.eq(ReturnState::Registered.as_str()),
                    returns::code_hash.eq(&hash),
                    returns::code_sealed.eq(codes::seal(issuer.data_key, &code)),
                    returns::code_expires_at.eq(now + issuer.hold),
                    returns::created_at.eq(now),
                    returns::updated_at.eq(now),
                ))
                .execute(conn)?;
            // A code once used at the shop is never issued again there, so a late repeat of
            // an old code can only ever answer its own return.
            let same_code: i64 = returns::table
                .filter(returns::shop_id.eq(r.shop_id))
                .filter(returns::code_hash.eq(&hash))
                .count()
                .get_result(conn)?;
            if same_code > 1 {
                return Err(PickupError::CodeClash);
            }
            Ok(find_order(conn, r.merchant, r.order_ref)?.ok_or(DbErr::NotFound)?)
        });
        match result {
            Ok(row) => return Ok((row.view(), true)),
            Err(PickupError::CodeClash) => continue,
            Err(PickupError::Db(DbErr::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
                // Either the same order_ref raced in (answer it) or the code clashed.
                if let Some(existing) = find_order(conn, r.merchant, r.order_ref)? {
                    return repeat(existing, r);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(PickupError::Db(DbErr::RollbackTransaction))
}

/// The merchant's view of a return; the first read also returns the drop-off code in clear
/// (once: the sealed copy is erased by the statement that claims it).
pub fn read(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    merchant: &str,
    id: i64,
) -> Result<(Return, Option<String>), PickupError> {
    let row: ReturnRow = returns::table
        .filter(returns::id.eq(id).and(returns::merchant.eq(merchant)))
        .select(ReturnRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(PickupError::ReturnNotFound(id))?;
    let Some(sealed) = row.code_sealed.clone() else {
        return Ok((row.view(), None));
    };
    let erased = diesel::update(
        returns::table.filter(returns::id.eq(id).and(returns::code_sealed.is_not_null())),
    )
    .set(returns::code_sealed.eq(None::<String>))
    .execute(conn)?;
    let code = (erased == 1)
        .then(|| codes::unseal(data_key, &sealed))
        .flatten();
    Ok((row.view(), code))
}

/// The answer to a drop-off.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dropoff {
    /// The return accepted.
    pub return_id: i64,
    /// The merchant's order reference, to write on the parcel.
    pub order_ref: String,
    /// Optional SKU.
    pub sku: Option<String>,
    /// `true` when this code was accepted before (a retry): take nothing in twice.
    pub replay: bool,
    /// When it was accepted (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub dropped_off_at: NaiveDateTime,
}

/// What a drop-off attempt came to; audited whatever it was.
enum Outcome {
    Accepted(Dropoff),
    Replay(Dropoff),
    Wrong,
    Expired(i64),
    Unavailable(i64, Unavailable),
    RateLimited(i64),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Accepted(_) => "success",
            Self::Replay(_) => "replay",
            Self::Wrong => "wrong_code",
            Self::Expired(_) => "expired",
            Self::Unavailable(..) => "shop_unavailable",
            Self::RateLimited(_) => "rate_limited",
        }
    }

    fn return_id(&self) -> Option<i64> {
        match self {
            Self::Accepted(d) | Self::Replay(d) => Some(d.return_id),
            Self::Expired(id) | Self::Unavailable(id, _) => Some(*id),
            Self::Wrong | Self::RateLimited(_) => None,
        }
    }
}

/// Accepts a return at the partner's shop with the drop-off code the customer shows: takes a
/// slot (409 when the shop is full or paused), pays the drop-off, tells the merchant. A repeat
/// answers `replay`; wrong codes count towards the shop's bound shared with handovers.
pub fn dropoff(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    shop_id: i64,
    actor: &str,
    typed_code: &str,
    now: NaiveDateTime,
) -> Result<Dropoff, PickupError> {
    // Stored times have microseconds (PostgreSQL): answer the time a replay will read back.
    let now = now.trunc_subsecs(6);
    let outcome = conn.transaction(|conn| -> Result<Outcome, PickupError> {
        let region = store::lock_shop(conn, shop_id)?;
        let outcome = attempt(conn, data_key, shop_id, typed_code, now)?;
        store::audit_attempt(
            conn,
            &store::AuditedAttempt {
                shop_id,
                region,
                actor,
                kind: "dropoff",
                result: outcome.label(),
                parcel_id: None,
                return_id: outcome.return_id(),
                at: now,
            },
        )?;
        Ok(outcome)
    })?;
    match outcome {
        Outcome::Accepted(d) | Outcome::Replay(d) => Ok(d),
        Outcome::Wrong => Err(PickupError::UnknownDropoffCode),
        Outcome::Expired(_) => Err(PickupError::DropoffCodeExpired),
        Outcome::Unavailable(_, why) => Err(PickupError::ShopUnavailable(why)),
        Outcome::RateLimited(retry_after_secs) => {
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
) -> Result<Outcome, PickupError> {
    let window_start = now - Duration::minutes(ATTEMPT_WINDOW_MINUTES);
    if let Some(secs) = store::retry_after(conn, shop_id, window_start, now)? {
        return Ok(Outcome::RateLimited(secs));
    }
    let Some(code) = codes::normalise(typed_code) else {
        return Ok(Outcome::Wrong);
    };
    let row: Option<ReturnRow> = returns::table
        .filter(returns::shop_id.eq(shop_id))
        .filter(returns::code_hash.eq(codes::dropoff_hash(data_key, shop_id, &code)))
        .select(ReturnRow::as_select())
        .order(returns::id.desc())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(Outcome::Wrong);
    };
    let answer = |row: &ReturnRow, at: NaiveDateTime, replay| Dropoff {
        return_id: row.id,
        order_ref: row.order_ref.clone(),
        sku: row.sku.clone(),
        replay,
        dropped_off_at: at,
    };
    match row.state() {
        ReturnState::DroppedOff | ReturnState::Collected => Ok(Outcome::Replay(answer(
            &row,
            row.dropped_off_at.unwrap_or(now),
            true,
        ))),
        ReturnState::Registered if row.code_expires_at <= now => Ok(Outcome::Expired(row.id)),
        ReturnState::Registered => {
            if !store::take_slot(conn, shop_id, now)? {
                return match store::why_unavailable(conn, shop_id)? {
                    PickupError::ShopUnavailable(why) => Ok(Outcome::Unavailable(row.id, why)),
                    other => Err(other),
                };
            }
            // The shop's row lock orders attempts, so the return is still registered here.
            diesel::update(returns::table.find(row.id))
                .set((
                    returns::state.eq(ReturnState::DroppedOff.as_str()),
                    returns::dropped_off_at.eq(now),
                    returns::code_sealed.eq(None::<String>),
                    returns::updated_at.eq(now),
                ))
                .execute(conn)?;
            book::record(
                conn,
                &PaidEvent::one(
                    FeeKind::Dropoff,
                    "dropoff",
                    shop_id,
                    row.region,
                    row.id,
                    now,
                ),
            )?;
            let mut view = row.view();
            view.state = ReturnState::DroppedOff;
            view.dropped_off_at = Some(now);
            outbox::enqueue(
                conn,
                &row.merchant,
                Event::ReturnDroppedOff,
                json!({ "return": view }),
                now,
            )?;
            Ok(Outcome::Accepted(answer(&row, now, false)))
        }
    }
}

/// The returns waiting at the shop for the carrier, oldest drop-off first (at most 1,000).
pub fn waiting(conn: &mut DbConn, shop_id: i64) -> QueryResult<Vec<Return>> {
    let rows: Vec<ReturnRow> = returns::table
        .filter(returns::shop_id.eq(shop_id))
        .filter(returns::state.eq(ReturnState::DroppedOff.as_str()))
        .select(ReturnRow::as_select())
        .order((returns::dropped_off_at, returns::id))
        .limit(1000)
        .load(conn)?;
    Ok(rows.iter().map(ReturnRow::view).collect())
}

/// What a collection did.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Collection {
    /// Every return named, now `collected`, by id.
    pub items: Vec<Return>,
    /// The ids collected by this call.
    pub collected_now: Vec<i64>,
    /// The ids that had been collected before (a repeat changes nothing for them).
    pub already_collected: Vec<i64>,
}

/// Confirms what the carrier's driver took: all named returns or none. Unknown ids and other
/// shops' returns are refused by name (as not found), as are returns not dropped off yet;
/// returns collected before are answered as such, so a repeat is harmless. Frees the slots,
/// pays each return sent back and tells each merchant.
pub fn collect(
    conn: &mut DbConn,
    shop_id: i64,
    actor: &str,
    ids: &[i64],
    now: NaiveDateTime,
) -> Result<Collection, PickupError> {
    if ids.is_empty() || ids.len() > MAX_COLLECTION {
        return Err(PickupError::Invalid {
            field: "return_ids",
            message: format!("give 1 to {MAX_COLLECTION} return ids"),
        });
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    conn.transaction(|conn| {
        store::lock_shop(conn, shop_id)?;
        let load = |conn: &mut DbConn| -> QueryResult<Vec<ReturnRow>> {
            returns::table
                .filter(returns::shop_id.eq(shop_id))
                .filter(returns::id.eq_any(&ids))
                .select(ReturnRow::as_select())
                .order(returns::id)
                .load(conn)
        };
        let rows = load(conn)?;
        let missing: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !rows.iter().any(|r| r.id == *id))
            .collect();
        if !missing.is_empty() {
            return Err(PickupError::ReturnsNotHere(missing));
        }
        let early: Vec<i64> = rows
            .iter()
            .filter(|r| r.state() == ReturnState::Registered)
            .map(|r| r.id)
            .collect();
        if !early.is_empty() {
            return Err(PickupError::ReturnsNotDroppedOff(early));
        }
        let (mut collected_now, mut already_collected) = (Vec::new(), Vec::new());
        for row in &rows {
            if row.state() == ReturnState::Collected {
                already_collected.push(row.id);
                continue;
            }
            diesel::update(returns::table.find(row.id))
                .set((
                    returns::state.eq(ReturnState::Collected.as_str()),
                    returns::collected_at.eq(now),
                    returns::collected_by.eq(actor),
                    returns::updated_at.eq(now),
                ))
                .execute(conn)?;
            store::release_slot(conn, shop_id, now)?;
            book::record(
                conn,
                &PaidEvent::one(
                    FeeKind::ReturnSentBack,
                    "return_collected",
                    shop_id,
                    row.region,
                    row.id,
                    now,
                ),
            )?;
            let mut view = row.view();
            view.state = ReturnState::Collected;
            view.collected_at = Some(now);
            outbox::enqueue(
                conn,
                &row.merchant,
                Event::ReturnCollected,
                json!({ "return": view }),
                now,
            )?;
            collected_now.push(row.id);
        }
        Ok(Collection {
            items: load(conn)?.iter().map(ReturnRow::view).collect(),
            collected_now,
            already_collected,
        })
    })
}
