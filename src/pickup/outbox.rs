//! The transactional outbox: every state change writes its webhook event in the same
//! transaction, so an event exists if and only if the change committed. Delivery is
//! at-least-once (see [`super::webhooks`]); the event id lets receivers drop duplicates.

use super::codes;
use crate::db::schema::{merchants, outbox};
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::RngCore;

/// Kinds of event sent to merchants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A slot was reserved.
    ReservationCreated,
    /// A reservation was cancelled.
    ReservationCancelled,
    /// The parcel reached the shop; carries the pickup code.
    ParcelArrived,
    /// The parcel was handed over.
    ParcelPickedUp,
    /// The holding period ended.
    ParcelExpired,
    /// The parcel went back.
    ParcelReturned,
    /// The merchant moved the reservation to another point before arrival.
    ParcelMoved,
    /// The parcel was redirected on the day to a point with room; carries both points.
    ParcelRedirected,
    /// The merchant extended the holding period.
    HoldExtended,
    /// A return was accepted at the counter of its drop-off point.
    ReturnDroppedOff,
    /// A carrier collected a return from its drop-off point.
    ReturnCollected,
}

impl Event {
    /// The `type` field of the event.
    pub fn kind(self) -> &'static str {
        match self {
            Self::ReservationCreated => "reservation.created",
            Self::ReservationCancelled => "reservation.cancelled",
            Self::ParcelArrived => "parcel.arrived",
            Self::ParcelPickedUp => "parcel.picked_up",
            Self::ParcelExpired => "parcel.expired",
            Self::ParcelReturned => "parcel.returned",
            Self::ParcelMoved => "parcel.moved",
            Self::ParcelRedirected => "parcel.redirected",
            Self::HoldExtended => "parcel.hold_extended",
            Self::ReturnDroppedOff => "return.dropped_off",
            Self::ReturnCollected => "return.collected",
        }
    }
}

/// An `outbox` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Public event id.
    pub event_id: String,
    /// Recipient.
    pub merchant: String,
    /// Event type.
    pub kind: String,
    /// JSON data.
    pub payload: String,
    /// UTC.
    pub created_at: NaiveDateTime,
    /// UTC.
    pub delivered_at: Option<NaiveDateTime>,
    /// Attempts so far.
    pub attempts: i32,
    /// Next attempt (UTC).
    pub next_attempt_at: NaiveDateTime,
    /// Last failure.
    pub last_error: Option<String>,
    /// Region of the shop the event is about: every statement on the row names it, so on
    /// Citus it runs on that region's shard only.
    pub region: i64,
}

/// The two records of every paid change at a shop, in the change's transaction: its ledger
/// line (at the fee in force, once per event key) and the merchant's event.
pub fn record_paid(
    conn: &mut DbConn,
    paid: &crate::ledger::book::PaidEvent,
    merchant: &str,
    event: Event,
    data: serde_json::Value,
) -> QueryResult<()> {
    crate::ledger::book::record(conn, paid)?;
    enqueue(conn, paid.region, merchant, event, data, paid.occurred_at)
}

/// Writes an event in the caller's transaction, in the region of the shop it is about (so on
/// Citus it lands on the shard the rest of the transaction writes).
pub fn enqueue(
    conn: &mut DbConn,
    region: i64,
    merchant: &str,
    event: Event,
    data: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::event_id.eq(uuid::Uuid::new_v4().to_string()),
            outbox::region.eq(region),
            outbox::merchant.eq(merchant),
            outbox::kind.eq(event.kind()),
            outbox::payload.eq(data.to_string()),
            outbox::created_at.eq(now),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets a merchant's webhook URL and a new signing secret; returns the secret (shown once).
pub fn set_webhook(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    merchant: &str,
    url: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "whsec_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let sealed = codes::seal(data_key, &secret);
    conn.transaction(|conn| {
        ensure_merchant(conn, merchant, now)?;
        diesel::update(merchants::table.find(merchant))
            .set((
                merchants::webhook_url.eq(url),
                merchants::webhook_secret_sealed.eq(sealed),
                merchants::updated_at.eq(now),
            ))
            .execute(conn)
    })?;
    Ok(secret)
}

/// Turns customer e-mails on or off for a merchant (docs/merchants.md, "Customer e-mails").
/// Off stops every mail not yet sent; the stored addresses are erased on their schedule.
pub fn set_customer_emails(
    conn: &mut DbConn,
    merchant: &str,
    on: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        ensure_merchant(conn, merchant, now)?;
        diesel::update(merchants::table.find(merchant))
            .set((
                merchants::customer_emails.eq(on),
                merchants::updated_at.eq(now),
            ))
            .execute(conn)
    })?;
    Ok(())
}

/// Whether pudo e-mails this merchant's customers (off for a merchant never configured).
pub fn customer_emails(conn: &mut DbConn, merchant: &str) -> QueryResult<bool> {
    Ok(merchants::table
        .find(merchant)
        .select(merchants::customer_emails)
        .first(conn)
        .optional()?
        .unwrap_or(false))
}

/// The merchant's row, made with nothing configured if it has none (a plain insert after a
/// read, in the caller's transaction: the same statements on both backends).
fn ensure_merchant(conn: &mut DbConn, merchant: &str, now: NaiveDateTime) -> QueryResult<()> {
    let exists = merchants::table
        .find(merchant)
        .select(merchants::id)
        .first::<String>(conn)
        .optional()?
        .is_some();
    if !exists {
        diesel::insert_into(merchants::table)
            .values((merchants::id.eq(merchant), merchants::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// A merchant's webhook URL and secret, if configured.
pub fn webhook(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    merchant: &str,
) -> QueryResult<Option<(String, String)>> {
    let row: Option<(Option<String>, Option<String>)> = merchants::table
        .find(merchant)
        .select((merchants::webhook_url, merchants::webhook_secret_sealed))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((Some(url), Some(sealed))) => {
            codes::unseal(data_key, &sealed).map(|secret| (url, secret))
        }
        _ => None,
    })
}

/// Undelivered events that are due, for merchants with a webhook, oldest first. On Citus with
/// a worker down, those of the regions on the workers that answer (the others wait for it).
pub fn due(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<OutboxRow>> {
    // The merchants with a webhook first (a small table): the events of the others wait for
    // one, and a poll that joined them in read every one of those waiting events each time
    // (109,000 per poll on a merchant that never set a webhook), where the pending index by
    // merchant reads only the events that can be sent.
    let with_webhook: Vec<String> = merchants::table
        .filter(merchants::webhook_url.is_not_null())
        .select(merchants::id)
        .load(conn)?;
    if with_webhook.is_empty() {
        return Ok(Vec::new());
    }
    let found = crate::db::citus::lookup_across_regions(conn, true, |conn, regions| {
        let mut query = outbox::table
            .filter(
                outbox::delivered_at
                    .is_null()
                    .and(outbox::next_attempt_at.le(now)),
            )
            .filter(outbox::merchant.eq_any(&with_webhook))
            .select(OutboxRow::as_select())
            .order(outbox::id)
            .limit(limit)
            .into_boxed();
        if let Some(regions) = regions {
            query = query.filter(outbox::region.eq_any(regions));
        }
        query.load(conn).map(Some)
    })?;
    Ok(found.unwrap_or_default())
}

/// Claims an event for one delivery attempt (so instances sharing the database do not send
/// it at once); the claim lapses after `lease` if the claimer dies.
pub fn claim(
    conn: &mut DbConn,
    row: &OutboxRow,
    now: NaiveDateTime,
    lease: chrono::Duration,
) -> QueryResult<bool> {
    let n = diesel::update(
        outbox::table
            .filter(outbox::id.eq(row.id))
            .filter(outbox::region.eq(row.region))
            .filter(outbox::delivered_at.is_null())
            .filter(outbox::next_attempt_at.eq(row.next_attempt_at)),
    )
    .set((
        outbox::next_attempt_at.eq(now + lease),
        outbox::attempts.eq(outbox::attempts + 1),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Records a successful delivery.
pub fn delivered(conn: &mut DbConn, id: i64, region: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::region.eq(region)),
    )
    .set((
        outbox::delivered_at.eq(now),
        outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(())
}

/// Records a failed delivery and when to retry: 5 s doubling per attempt, at most an hour.
pub fn failed(
    conn: &mut DbConn,
    id: i64,
    region: i64,
    attempts: i32,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::region.eq(region)),
    )
    .set((
        outbox::next_attempt_at.eq(now + backoff(attempts)),
        outbox::last_error.eq(error.chars().take(500).collect::<String>()),
    ))
    .execute(conn)?;
    Ok(())
}

/// How long after its `attempts`-th failure a delivery is tried again: 5 s doubling per
/// attempt, at most an hour (webhook events and customer mails alike).
pub fn backoff(attempts: i32) -> chrono::Duration {
    chrono::Duration::seconds((5i64 << attempts.clamp(0, 10)).min(3600))
}

/// Events not yet delivered (for operators and tests).
pub fn pending(conn: &mut DbConn) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::delivered_at.is_null())
        .count()
        .get_result(conn)
}
