//! Sending customer mails: each customer with a mail due ([`super::contacts::due`]) is claimed,
//! the mail is composed from the parcel as it is now and its point as the index holds it, and
//! sent; accepted by the SMTP server, the row records it, otherwise the attempt is retried
//! with the outbox's backoff. At least once: a mail the server accepted just before the
//! instance died is sent again (with the same `Message-ID`).
//!
//! The pickup code and the address are unsealed only here, in memory, for the one message;
//! neither is logged (failures are recorded by a reason that names no address).

use super::contacts::{self, ContactRow, Due, Language};
use super::mail_text::{self, Facts, PointText};
use super::parcels::ParcelRow;
use super::smtp::Mailer;
use crate::db::{DbError, Pool};
use crate::network::address::PointContact;
use crate::network::index::IndexedShop;
use crate::network::service::Network;
use chrono::{NaiveDateTime, TimeZone, Utc};

/// How long a claimed mail waits before another attempt may take it over: a claim covers one
/// SMTP conversation (at most 10 s), so six times that.
const LEASE_SECONDS: i64 = 60;

/// What one round of sending did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Mails the SMTP server accepted.
    pub sent: usize,
    /// Attempts that failed (each retried later).
    pub failed: usize,
}

/// Sends every customer mail due at `now` once (up to 100 a round).
pub fn dispatch_due(
    pool: &Pool,
    data_key: &[u8; 32],
    mailer: &Mailer,
    network: &Network,
    now: NaiveDateTime,
) -> Result<Round, DbError> {
    let mut conn = pool.get()?;
    let mut round = Round::default();
    for (contact, parcel) in contacts::due(&mut conn, now, 100)? {
        let Some(due) = Due::of(&contact, &parcel, now) else {
            continue;
        };
        let lease = chrono::Duration::seconds(LEASE_SECONDS);
        if !contacts::claim(&mut conn, &contact, now, lease)? {
            continue;
        }
        let outcome = compose(&contact, &parcel, due, data_key, network)
            .and_then(|(to, mail)| mailer.send(&to, &mail, &message_id(&parcel, due)));
        match outcome {
            Ok(()) => {
                contacts::sent(&mut conn, &contact, due, &parcel, now)?;
                round.sent += 1;
            }
            Err(reason) => {
                tracing::warn!(parcel = parcel.id, %reason, "customer mail not sent; retrying");
                contacts::failed(&mut conn, &contact, contact.attempts + 1, &reason, now)?;
                round.failed += 1;
            }
        }
    }
    Ok(round)
}

/// The recipient and the mail, or why it cannot be made now.
fn compose(
    contact: &ContactRow,
    parcel: &ParcelRow,
    due: Due,
    data_key: &[u8; 32],
    network: &Network,
) -> Result<(String, mail_text::Mail), String> {
    let to = super::codes::unseal(data_key, &contact.email_sealed)
        .ok_or("the sealed address does not open with this data key")?;
    let language = Language::parse(&contact.language).unwrap_or_default();
    let index = network.index();
    let shop = index
        .get(parcel.shop_id)
        .ok_or("the pickup point is not in this instance's index yet")?;
    let code = match due {
        Due::Arrival | Due::Reminder => Some(
            parcel
                .code_escrow
                .as_deref()
                .and_then(|sealed| super::codes::unseal(data_key, sealed))
                .ok_or("the parcel has no pickup code to send")?,
        ),
        Due::Moved => None,
    };
    let facts = Facts {
        language,
        order_ref: &parcel.order_ref,
        point: point_text(shop, language),
        code: code.as_deref(),
        hold_end: parcel.expires_at.map(|end| local_time(shop, end)),
        waiting: parcel.state() == super::ParcelState::AtPoint,
    };
    Ok((to, mail_text::compose(due, &facts)))
}

/// The point in the customer's language where the partner gave its name or address in it.
fn point_text(shop: &IndexedShop, language: Language) -> PointText {
    let contact = PointContact::of(shop);
    let local = contact.localized.as_ref().and_then(|l| match language {
        Language::Zh => l.zh.as_ref(),
        Language::Es => l.es.as_ref(),
        Language::En => None,
    });
    PointText {
        name: local
            .and_then(|l| l.name.as_deref())
            .map_or_else(|| contact.name.clone(), str::to_owned),
        address: local
            .and_then(|l| l.address.as_deref().map(str::to_owned))
            .or_else(|| contact.address.as_ref().map(|a| a.one_line())),
        hours: crate::network::availability::hours_text(shop).map(str::to_owned),
        phone: contact.phone,
    }
}

/// A UTC time as the point's local time with its zone, e.g. `2026-12-14 18:00 (Europe/Madrid)`.
fn local_time(shop: &IndexedShop, utc: NaiveDateTime) -> String {
    let local = Utc.from_utc_datetime(&utc).with_timezone(&shop.timezone);
    format!(
        "{} ({})",
        local.format("%Y-%m-%d %H:%M"),
        shop.timezone.name()
    )
}

/// One mail's id, the same at every attempt: the parcel, the kind, and what it is about (the
/// point told of, or the hold end reminded of).
fn message_id(parcel: &ParcelRow, due: Due) -> String {
    match due {
        Due::Arrival => format!("pudo.{}.arrival.{}", parcel.id, parcel.shop_id),
        Due::Moved => format!("pudo.{}.moved.{}", parcel.id, parcel.shop_id),
        Due::Reminder => format!(
            "pudo.{}.reminder.{}",
            parcel.id,
            parcel.expires_at.map_or(0, |e| e.and_utc().timestamp())
        ),
    }
}
