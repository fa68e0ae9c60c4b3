//! A reservation's customer, for pudo's e-mails (docs/merchants.md, "Customer e-mails"): the
//! address sealed with the data key as pickup codes are, the language of the mails, and what
//! the customer has been told so far. The row is written in the reservation's transaction and
//! deleted [`erase_ended`] a set number of days after the parcel's life ends.
//!
//! The row is the customer's outbox: a mail is due when the parcel's state calls for one the
//! row has not recorded (arrived and no arrival mail; at another point than the one the
//! customer was told of; a day before the end of the hold with no reminder for that end).
//! [`super::mails`] sends what is due at least once, with the webhook outbox's backoff. So the
//! write paths (the server-side functions included) need not know about mails at all.

use super::outbox;
use super::parcels::ParcelRow;
use super::{ParcelState, PickupError};
use crate::db::schema::{customer_contacts as contacts, merchants, parcels};
use crate::db::DbConn;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::fmt;

/// The e-mail addresses accepted, exactly as the API documents them: ASCII, dot-separated
/// atoms (at most three of 20 characters) before the `@`, then one to four labels of letters,
/// digits and inner hyphens and a top-level domain of letters. Every such address is one
/// lettre addresses mail to (tested), and the document can be fuzzed against it.
pub const EMAIL_PATTERN: &str = r"^[A-Za-z0-9_%+-]{1,20}(\.[A-Za-z0-9_%+-]{1,20}){0,2}@([A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?\.){1,4}[A-Za-z]{2,20}$";

/// Longest e-mail address the pattern allows.
pub const MAX_EMAIL_LEN: usize = 215;

fn email_pattern() -> &'static regex::Regex {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    // A constant pattern, tested below: it compiles.
    PATTERN.get_or_init(|| regex::Regex::new(EMAIL_PATTERN).unwrap_or_else(|_| unreachable!()))
}

/// How long before the end of the holding period the reminder is sent.
pub const REMINDER_BEFORE_HOURS: i64 = 24;

/// The languages of customer e-mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// English (the default).
    #[default]
    En,
    /// Chinese (simplified).
    Zh,
    /// Spanish.
    Es,
}

impl Language {
    /// The stored and accepted code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
            Self::Es => "es",
        }
    }

    /// The language of a code, `None` for any other text.
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Self::En),
            "zh" => Some(Self::Zh),
            "es" => Some(Self::Es),
            _ => None,
        }
    }
}

/// A customer's e-mail address and language. Its `Debug` never shows the address, so a
/// request logged by mistake does not carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Customer {
    email: String,
    language: Language,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("email", &"<redacted>")
            .field("language", &self.language)
            .finish()
    }
}

impl Customer {
    /// Checks a request's `customer_email` and `customer_language`: an address of at most
    /// [`MAX_EMAIL_LEN`] characters that SMTP can deliver to, one of `en`, `zh`, `es` (default
    /// `en`), and no language without an address. The address is never repeated in an error.
    pub fn parse(email: Option<&str>, language: Option<&str>) -> Result<Option<Self>, PickupError> {
        let language = match language {
            None => None,
            Some(code) => Some(Language::parse(code).ok_or_else(|| PickupError::Invalid {
                field: "customer_language",
                message: "must be one of en, zh, es".into(),
            })?),
        };
        let Some(email) = email else {
            if language.is_some() {
                return Err(PickupError::Invalid {
                    field: "customer_language",
                    message: "is only taken together with customer_email".into(),
                });
            }
            return Ok(None);
        };
        let invalid = |message: &str| PickupError::Invalid {
            field: "customer_email",
            message: message.into(),
        };
        // The mail is later addressed with lettre's parser: checked here too, so nothing
        // stored is undeliverable for its form.
        if !email_pattern().is_match(email) || email.parse::<lettre::Address>().is_err() {
            return Err(invalid(
                "is not an e-mail address pudo accepts: name@domain.tld in ASCII letters, \
                 digits and ._%+- (no spaces, display name or quotes; see the API document's \
                 pattern)",
            ));
        }
        Ok(Some(Self {
            email: email.to_owned(),
            language: language.unwrap_or_default(),
        }))
    }

    /// The address (for sealing and for sending, nothing else).
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The language of the mails.
    pub fn language(&self) -> Language {
        self.language
    }
}

/// A stored customer row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contacts)]
pub struct ContactRow {
    /// The parcel.
    pub parcel_id: i64,
    /// The parcel's region.
    pub region: i64,
    /// The address, sealed.
    pub email_sealed: String,
    /// en, zh or es.
    pub language: String,
    /// The point the customer was last told of.
    pub notified_shop_id: i64,
    /// When the arrival mail went.
    pub arrival_sent_at: Option<NaiveDateTime>,
    /// The hold end the last reminder was about.
    pub reminded_for: Option<NaiveDateTime>,
    /// Attempts since the last mail sent.
    pub attempts: i32,
    /// Next attempt (UTC).
    pub next_attempt_at: NaiveDateTime,
}

/// The mail a customer is due, given the parcel as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The parcel waits at its point: code, QR, address, hours, hold end.
    Arrival,
    /// The parcel goes to, or waits at, another point than the one the customer knows.
    Moved,
    /// The hold ends within [`REMINDER_BEFORE_HOURS`].
    Reminder,
}

impl Due {
    /// What `contact` is due for `parcel` at `now`, if anything. An arrival at a point the
    /// customer was not told of is told by the arrival mail itself (it names the point).
    pub fn of(contact: &ContactRow, parcel: &ParcelRow, now: NaiveDateTime) -> Option<Self> {
        let state = parcel.state();
        let waiting = state == ParcelState::AtPoint;
        if waiting && contact.arrival_sent_at.is_none() {
            return Some(Self::Arrival);
        }
        let live = matches!(state, ParcelState::Reserved | ParcelState::AtPoint);
        if live && parcel.shop_id != contact.notified_shop_id {
            return Some(Self::Moved);
        }
        let reminder = parcel.expires_at.filter(|end| {
            *end > now
                && *end <= now + Duration::hours(REMINDER_BEFORE_HOURS)
                && contact.reminded_for.is_none_or(|r| r < *end)
        });
        (waiting && reminder.is_some()).then_some(Self::Reminder)
    }
}

/// Stores the customer of a new parcel, in the reservation's transaction, when its merchant
/// lets pudo e-mail customers; with the setting off the address is not kept at all. Returns
/// whether it was stored.
pub fn store(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    parcel: &ParcelRow,
    customer: &Customer,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if !outbox::customer_emails(conn, &parcel.merchant)? {
        return Ok(false);
    }
    diesel::insert_into(contacts::table)
        .values((
            contacts::parcel_id.eq(parcel.id),
            contacts::region.eq(parcel.region),
            contacts::email_sealed.eq(super::codes::seal(data_key, customer.email())),
            contacts::language.eq(customer.language().as_str()),
            contacts::notified_shop_id.eq(parcel.shop_id),
            contacts::attempts.eq(0),
            contacts::next_attempt_at.eq(now),
            contacts::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Follows a parcel whose region changed (a move across a region border) where the region is
/// an ordinary column (SQLite, plain PostgreSQL); on Citus the row is moved with the parcel's.
pub fn follow_region(conn: &mut DbConn, parcel_id: i64, from: i64, to: i64) -> QueryResult<()> {
    diesel::update(
        contacts::table
            .filter(contacts::parcel_id.eq(parcel_id))
            .filter(contacts::region.eq(from)),
    )
    .set(contacts::region.eq(to))
    .execute(conn)?;
    Ok(())
}

/// Customers with a mail due at `now` whose merchant has customer e-mails on, with their
/// parcels, oldest first. On Citus with a worker down, those of the regions that answer.
pub fn due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(ContactRow, ParcelRow)>> {
    let soon = now + Duration::hours(REMINDER_BEFORE_HOURS);
    let at_point = ParcelState::AtPoint.as_str();
    let live = [ParcelState::Reserved.as_str(), at_point];
    let found = crate::db::citus::lookup_across_regions(conn, true, |conn, regions| {
        let mut query = contacts::table
            .inner_join(
                parcels::table.on(parcels::id
                    .eq(contacts::parcel_id)
                    .and(parcels::region.eq(contacts::region))),
            )
            .inner_join(merchants::table.on(merchants::id.eq(parcels::merchant)))
            .filter(merchants::customer_emails.eq(true))
            .filter(contacts::next_attempt_at.le(now))
            .filter(
                parcels::state
                    .eq(at_point)
                    .and(contacts::arrival_sent_at.is_null())
                    .or(parcels::shop_id
                        .ne(contacts::notified_shop_id)
                        .and(parcels::state.eq_any(live)))
                    .or(parcels::state
                        .eq(at_point)
                        .and(parcels::expires_at.gt(now))
                        .and(parcels::expires_at.le(soon))
                        .and(
                            contacts::reminded_for
                                .is_null()
                                .or(contacts::reminded_for.lt(parcels::expires_at)),
                        )),
            )
            .select((ContactRow::as_select(), ParcelRow::as_select()))
            .order((contacts::next_attempt_at, contacts::parcel_id))
            .limit(limit)
            .into_boxed();
        if let Some(regions) = regions {
            query = query.filter(contacts::region.eq_any(regions));
        }
        query.load(conn).map(Some)
    })?;
    Ok(found.unwrap_or_default())
}

/// Claims a customer's due mail for one attempt, so that instances sharing the database do
/// not send it at once; the claim lapses after `lease` if the claimer dies.
pub fn claim(
    conn: &mut DbConn,
    row: &ContactRow,
    now: NaiveDateTime,
    lease: Duration,
) -> QueryResult<bool> {
    let n = diesel::update(
        contacts::table
            .filter(contacts::parcel_id.eq(row.parcel_id))
            .filter(contacts::region.eq(row.region))
            .filter(contacts::next_attempt_at.eq(row.next_attempt_at)),
    )
    .set((
        contacts::next_attempt_at.eq(now + lease),
        contacts::attempts.eq(contacts::attempts + 1),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Records a mail the SMTP server accepted: what the customer now knows.
pub fn sent(
    conn: &mut DbConn,
    row: &ContactRow,
    due: Due,
    parcel: &ParcelRow,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let target = contacts::table
        .filter(contacts::parcel_id.eq(row.parcel_id))
        .filter(contacts::region.eq(row.region));
    let reset = (
        contacts::attempts.eq(0),
        contacts::next_attempt_at.eq(now),
        contacts::last_error.eq(None::<String>),
    );
    match due {
        Due::Arrival => diesel::update(target)
            .set((
                contacts::arrival_sent_at.eq(now),
                contacts::notified_shop_id.eq(parcel.shop_id),
                reset,
            ))
            .execute(conn)?,
        Due::Moved => diesel::update(target)
            .set((contacts::notified_shop_id.eq(parcel.shop_id), reset))
            .execute(conn)?,
        Due::Reminder => diesel::update(target)
            .set((contacts::reminded_for.eq(parcel.expires_at), reset))
            .execute(conn)?,
    };
    Ok(())
}

/// Records a failed attempt (a reason that names no address) and when to try again: the
/// outbox's backoff, 5 s doubling per attempt, at most an hour.
pub fn failed(
    conn: &mut DbConn,
    row: &ContactRow,
    attempts: i32,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        contacts::table
            .filter(contacts::parcel_id.eq(row.parcel_id))
            .filter(contacts::region.eq(row.region)),
    )
    .set((
        contacts::next_attempt_at.eq(now + outbox::backoff(attempts)),
        contacts::last_error.eq(error.chars().take(500).collect::<String>()),
    ))
    .execute(conn)?;
    Ok(())
}

/// Deletes the customers of parcels whose life ended (picked up, returned, cancelled) more
/// than `days` days before `now`: the address is kept no longer than the mails about the
/// parcel can matter. Returns how many were erased (at most 1,000 a call; the sweep repeats).
pub fn erase_ended(conn: &mut DbConn, now: NaiveDateTime, days: i64) -> Result<usize, PickupError> {
    let cutoff = now - Duration::days(days);
    // On Citus with a worker down: the regions of the workers that answer (the others are
    // erased by the first sweep after their worker is back).
    let (ended, _left_out) = crate::db::citus::over_reachable_regions(conn, |conn, regions| {
        let mut query = contacts::table
            .inner_join(
                parcels::table.on(parcels::id
                    .eq(contacts::parcel_id)
                    .and(parcels::region.eq(contacts::region))),
            )
            .filter(super::parcels::ended_by(cutoff))
            .select((contacts::parcel_id, contacts::region))
            .limit(1000)
            .into_boxed();
        if let Some(regions) = regions {
            query = query.filter(contacts::region.eq_any(regions));
        }
        query.load::<(i64, i64)>(conn)
    })?;
    for (parcel_id, region) in &ended {
        // Each by its region: one shard on Citus.
        diesel::delete(
            contacts::table
                .filter(contacts::parcel_id.eq(parcel_id))
                .filter(contacts::region.eq(region)),
        )
        .execute(conn)?;
    }
    Ok(ended.len())
}

/// Customers stored (for operators and tests).
pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    contacts::table.count().get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_field(e: PickupError) -> &'static str {
        match e {
            PickupError::Invalid { field, .. } => field,
            other => panic!("not an input error: {other}"),
        }
    }

    #[test]
    fn customers_are_checked_field_by_field() {
        let ok = Customer::parse(Some("ana@example.es"), Some("es"))
            .expect("valid")
            .expect("some");
        assert_eq!(
            (ok.email(), ok.language()),
            ("ana@example.es", Language::Es)
        );
        let default = Customer::parse(Some("li@example.cn"), None).expect("valid");
        assert_eq!(default.map(|c| c.language()), Some(Language::En));
        assert_eq!(Customer::parse(None, None).expect("none"), None);
        for bad in [
            "",
            "no-at-sign",
            "two@@example.com",
            "Ana <ana@example.es>",
            "a b@c.d",
        ] {
            let e = Customer::parse(Some(bad), None).expect_err(bad);
            assert_eq!(invalid_field(e), "customer_email", "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(21));
        assert_eq!(
            invalid_field(Customer::parse(Some(&long), None).expect_err("long")),
            "customer_email"
        );
        for bad in ["EN", "fr", "zh-CN", ""] {
            let e = Customer::parse(Some("a@b.c"), Some(bad)).expect_err(bad);
            assert_eq!(invalid_field(e), "customer_language");
        }
        let e = Customer::parse(None, Some("zh")).expect_err("language alone");
        assert_eq!(invalid_field(e), "customer_language");
    }

    proptest::proptest! {
        /// Every address the documented pattern allows is one lettre addresses mail to.
        #[test]
        fn every_address_of_the_pattern_is_accepted(
            email in proptest::string::string_regex(&EMAIL_PATTERN[1..EMAIL_PATTERN.len() - 1])
                .expect("pattern")
        ) {
            proptest::prop_assert!(email.len() <= MAX_EMAIL_LEN);
            let parsed = Customer::parse(Some(&email), Some("zh"));
            proptest::prop_assert!(matches!(parsed, Ok(Some(_))), "{}", email);
        }
    }

    #[test]
    fn errors_and_debug_never_show_the_address() {
        let c = Customer::parse(Some("secret.person@example.com"), Some("zh"))
            .expect("valid")
            .expect("some");
        assert!(!format!("{c:?}").contains("secret.person"));
        let e = Customer::parse(Some("secret person@example.com"), None).expect_err("bad");
        assert!(!e.to_string().contains("secret"));
    }
}
