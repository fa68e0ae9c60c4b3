//! The guard around codes typed at a shop's counter (pickup codes at a handover, drop-off
//! codes at a drop-off): one attempt at a time per shop, every attempt audited (never with
//! the code), and one bound on wrong codes per shop shared by both kinds.
//!
//! The outcome of an attempt is decided once, here, as an [`Outcome`]: the audit row, the
//! metrics labels and the HTTP answer are all derived from it.

use super::conditions::Unmet;
use super::{ParcelState, PickupError, Unavailable};
use crate::db::schema::handover_attempts;
use crate::db::DbConn;
use crate::network::load;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// Wrong codes allowed per shop within [`ATTEMPT_WINDOW_MINUTES`].
pub const MAX_WRONG_CODES: i64 = 5;
/// The window in which wrong codes are counted.
pub const ATTEMPT_WINDOW_MINUTES: i64 = 10;

/// Which code was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// A pickup code, to hand a parcel over.
    Handover,
    /// A drop-off code, to accept a return.
    Dropoff,
}

impl CodeKind {
    /// The `kind` column of the audit table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handover => "handover",
            Self::Dropoff => "dropoff",
        }
    }
}

/// What an accepted attempt names: its parcel or return id.
pub trait Subject {
    /// The parcel's or return's id.
    fn subject_id(&self) -> i64;

    /// What the partner confirmed with the accepted attempt, as the audit records it
    /// (`cash_collected,id_checked`); `None` when there was nothing to confirm.
    fn confirmed(&self) -> Option<String> {
        None
    }
}

/// What came of one code typed at a shop.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// Accepted now.
    Success(T),
    /// Accepted before: the same answer again, flagged as a replay.
    Replay(T),
    /// The code names nothing at this shop.
    WrongCode,
    /// The code's validity is over (the parcel or return with this id).
    Expired(i64),
    /// The parcel was returned or cancelled.
    NotCollectable(i64, ParcelState),
    /// The shop cannot take the item now (a drop-off at a full or paused shop).
    ShopUnavailable(i64, Unavailable),
    /// Too many wrong codes at this shop recently: refused without looking.
    RateLimited {
        /// Seconds until an attempt is allowed again.
        retry_after_secs: i64,
    },
    /// The right code for a waiting parcel (this id), but a condition at the counter was not
    /// confirmed (cash on delivery, an ID check): refused, nothing changed. Not a wrong code.
    Unmet(i64, Box<Unmet>),
}

impl<T: Subject> Outcome<T> {
    /// The stable word for it: the audit table's `result` and the metrics' label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Success(_) => "success",
            Self::Replay(_) => "replay",
            Self::WrongCode => "wrong_code",
            Self::Expired(_) => "expired",
            Self::NotCollectable(..) => "not_collectable",
            Self::ShopUnavailable(..) => "shop_unavailable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unmet(_, unmet) => unmet.label(),
        }
    }

    /// Whether the attempt was refused (anything but a success or a replay).
    pub fn is_refused(&self) -> bool {
        !matches!(self, Self::Success(_) | Self::Replay(_))
    }

    /// The parcel or return the attempt named, if any.
    pub fn subject(&self) -> Option<i64> {
        match self {
            Self::Success(t) | Self::Replay(t) => Some(t.subject_id()),
            Self::Expired(id)
            | Self::NotCollectable(id, _)
            | Self::ShopUnavailable(id, _)
            | Self::Unmet(id, _) => Some(*id),
            Self::WrongCode | Self::RateLimited { .. } => None,
        }
    }

    /// The answer to the caller: the accepted item, or the error a refusal stands for.
    pub fn into_result(self, kind: CodeKind) -> Result<T, PickupError> {
        match (self, kind) {
            (Self::Success(t) | Self::Replay(t), _) => Ok(t),
            (Self::WrongCode, CodeKind::Handover) => Err(PickupError::UnknownCode),
            (Self::WrongCode, CodeKind::Dropoff) => Err(PickupError::UnknownDropoffCode),
            (Self::Expired(_), CodeKind::Handover) => Err(PickupError::CodeExpired),
            (Self::Expired(_), CodeKind::Dropoff) => Err(PickupError::DropoffCodeExpired),
            (Self::NotCollectable(_, state), _) => Err(PickupError::NotCollectable(state)),
            (Self::ShopUnavailable(_, why), _) => Err(PickupError::ShopUnavailable(why)),
            (Self::RateLimited { retry_after_secs }, _) => {
                Err(PickupError::TooManyAttempts { retry_after_secs })
            }
            (Self::Unmet(_, unmet), _) => Err(PickupError::ConditionUnmet(unmet)),
        }
    }
}

/// Runs one attempt at a shop in one transaction: locks the shop's load row (so attempts at
/// one shop go one at a time and a burst of guesses cannot all slip under the bound together),
/// runs `decide` with the shop's region (which every statement of the transaction names, so
/// on Citus it runs on one shard) and the start of the wrong-code window, and audits what it
/// decided.
pub fn guarded<T: Subject>(
    conn: &mut DbConn,
    shop_id: i64,
    actor: &str,
    kind: CodeKind,
    now: NaiveDateTime,
    decide: impl FnOnce(&mut DbConn, i64, NaiveDateTime) -> Result<Outcome<T>, PickupError>,
) -> Result<Outcome<T>, PickupError> {
    conn.transaction(|conn| {
        let region = load::lock(conn, shop_id)?.ok_or(PickupError::ShopNotFound(shop_id))?;
        let outcome = decide(
            conn,
            region,
            now - Duration::minutes(ATTEMPT_WINDOW_MINUTES),
        )?;
        let subject = outcome.subject();
        let confirmed = match &outcome {
            Outcome::Success(t) => t.confirmed(),
            _ => None,
        };
        let (parcel_id, return_id) = match kind {
            CodeKind::Handover => (subject, None),
            CodeKind::Dropoff => (None, subject),
        };
        diesel::insert_into(handover_attempts::table)
            .values((
                handover_attempts::shop_id.eq(shop_id),
                handover_attempts::region.eq(region),
                handover_attempts::actor.eq(actor),
                handover_attempts::kind.eq(kind.as_str()),
                handover_attempts::result.eq(outcome.label()),
                handover_attempts::parcel_id.eq(parcel_id),
                handover_attempts::return_id.eq(return_id),
                handover_attempts::at.eq(now),
                handover_attempts::confirmed.eq(confirmed),
            ))
            .execute(conn)?;
        Ok(outcome)
    })
}

/// The outcome of a code that names nothing (or of any code once the shop reached the
/// bound): rate-limited with the wait when the bound is reached, else a wrong code.
pub fn wrong_or_limited<T>(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    window_start: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Outcome<T>> {
    Ok(
        match retry_after(conn, shop_id, region, window_start, now)? {
            Some(retry_after_secs) => Outcome::RateLimited { retry_after_secs },
            None => Outcome::WrongCode,
        },
    )
}

/// Seconds until the shop may try a code again when it has reached [`MAX_WRONG_CODES`] wrong
/// codes (pickup and drop-off codes alike) since `window_start`, counted from the oldest of
/// them; `None` while it has not.
pub fn retry_after(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    window_start: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    let wrong: Vec<NaiveDateTime> = handover_attempts::table
        .filter(handover_attempts::shop_id.eq(shop_id))
        .filter(handover_attempts::region.eq(region))
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
