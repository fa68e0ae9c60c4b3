//! Closure periods of a shop (holidays, one-off closures) and the instants they cover.
//!
//! A closure is a range of **whole local days, end inclusive**, in the shop's own IANA time
//! zone: `2026-12-24/2026-12-26` closes the shop from local midnight starting 24 December to
//! local midnight ending 26 December. Whole days are what a shop owner means by "closed on
//! Christmas", and they cannot be written ambiguously across a DST change. The covered
//! instants are computed with the time zone's rules: a day is 23 or 25 hours long on a DST
//! change, and where a zone skips local midnight the day starts at the first local time that
//! exists.
//!
//! The compact text form (shop files) lists closures separated by `;`, each a date or a
//! `start/end` date pair followed by an optional reason:
//! `2026-12-24/2026-12-26 Christmas;2027-01-01 New year`.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most closures one shop may have.
pub const MAX_CLOSURES: usize = 100;
/// Longest closure, days.
pub const MAX_DAYS: i64 = 366;
/// Longest reason, characters.
pub const MAX_REASON: usize = 200;

/// One closure period: whole local days, end inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    /// First closed day (local date, `YYYY-MM-DD`).
    #[schema(value_type = String, format = Date, example = "2026-12-24")]
    pub start: NaiveDate,
    /// Last closed day, inclusive (local date); equal to `start` for one day.
    #[schema(value_type = String, format = Date, example = "2026-12-26")]
    pub end: NaiveDate,
    /// Why the shop is closed (may be empty).
    #[serde(default)]
    pub reason: String,
}

impl Closure {
    /// Checks one closure: end not before start, at most [`MAX_DAYS`] days, a short reason
    /// without control characters.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_field().map_err(|(_, message)| message)
    }

    /// [`Closure::validate`], also naming the field at fault (`end` or `reason`), for answers
    /// that point at one field of one closure.
    pub fn validate_field(&self) -> Result<(), (&'static str, String)> {
        let end = |m: String| Err(("end", m));
        let reason = |m: String| Err(("reason", m));
        if self.end < self.start {
            return end(format!(
                "the closure ends ({}) before it starts ({})",
                self.end, self.start
            ));
        }
        if (self.end - self.start).num_days() + 1 > MAX_DAYS {
            return end(format!(
                "the closure {}/{} is longer than {MAX_DAYS} days",
                self.start, self.end
            ));
        }
        if self.reason.chars().count() > MAX_REASON {
            return reason(format!("the reason is longer than {MAX_REASON} characters"));
        }
        if self.reason.chars().any(char::is_control) {
            return reason("the reason contains control characters".into());
        }
        if self.reason.contains(';') {
            // `;` separates closures in a shop file's `closures` column.
            return reason("the reason contains ';' (it separates closures in a shop file)".into());
        }
        Ok(())
    }

    /// The instants the closure covers in `tz`: `[start, end)` in UTC.
    ///
    /// ```
    /// use pudo::network::closures::Closure;
    /// let c = Closure { start: "2027-10-31".parse().unwrap(), end: "2027-10-31".parse().unwrap(),
    ///                   reason: String::new() };
    /// let (from, to) = c.span(chrono_tz::Europe::Madrid);
    /// assert_eq!(from.to_rfc3339(), "2027-10-30T22:00:00+00:00"); // CEST midnight
    /// assert_eq!((to - from).num_hours(), 25);                    // back to CET that night
    /// ```
    pub fn span(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = self.end.succ_opt().unwrap_or(self.end);
        (local_day_start(tz, self.start), local_day_start(tz, end))
    }
}

/// The first instant of local day `day` in `tz`: local midnight, the earlier one if midnight
/// happens twice, or the first local time that exists if the zone skips midnight.
pub fn local_day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Zones skip at most a few hours; try each minute after midnight until one exists.
    for minute in 0..=24 * 60 {
        match tz.from_local_datetime(&(midnight + Duration::minutes(minute))) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => continue,
        }
    }
    midnight.and_utc()
}

/// The closed instants of one shop, as UTC `[start, end)` pairs in seconds, sorted: what the
/// geo index and the allocator check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClosedSpans(Box<[(i64, i64)]>);

impl ClosedSpans {
    /// The spans of `closures` in the shop's time zone.
    pub fn new(tz: Tz, closures: &[Closure]) -> Self {
        let mut spans: Vec<(i64, i64)> = closures
            .iter()
            .map(|c| {
                let (a, b) = c.span(tz);
                (a.timestamp(), b.timestamp())
            })
            .collect();
        spans.sort_unstable();
        Self(spans.into_boxed_slice())
    }

    /// Whether there is no closure.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the shop is closed at `at`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let t = at.timestamp();
        self.0.iter().any(|&(a, b)| a <= t && t < b)
    }

    /// When the closure holding `at` ends (following closures that touch or overlap it);
    /// `None` when the shop is not closed at `at`.
    pub fn reopens_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = at.timestamp();
        let mut closed = false;
        while let Some(&(_, end)) = self.0.iter().find(|&&(a, b)| a <= t && t < b) {
            (t, closed) = (end, true);
        }
        closed.then(|| DateTime::from_timestamp(t, 0)).flatten()
    }

    /// Whether the shop is closed at any moment of `[from, to)`.
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let (from, to) = (from.timestamp(), to.timestamp());
        self.0.iter().any(|&(a, b)| a < to && from < b)
    }

    /// Seconds of `[from, to)` the shop is closed (overlapping closures counted once).
    pub fn closed_seconds(&self, from: i64, to: i64) -> i64 {
        self.clipped(from, to).iter().map(|(a, b)| b - a).sum()
    }

    /// The closed parts of `[from, to)` (unix seconds), disjoint and sorted.
    pub fn clipped(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut reached = from;
        for &(a, b) in self.0.iter() {
            let (a, b) = (a.max(reached), b.min(to));
            if b > a {
                out.push((a, b));
                reached = b;
            }
        }
        out
    }
}

/// Parses the compact text form (see the module documentation); an empty text is no
/// closure.
///
/// ```
/// use pudo::network::closures::parse_list;
/// let c = parse_list("2026-12-24/2026-12-26 Christmas; 2027-01-01 New year").unwrap();
/// assert_eq!(c.len(), 2);
/// assert_eq!(c[1].start, "2027-01-01".parse::<chrono::NaiveDate>().unwrap());
/// assert_eq!((c[1].end, c[1].reason.as_str()), (c[1].start, "New year"));
/// assert!(parse_list("2026-12-26/2026-12-24").is_err());
/// ```
pub fn parse_list(text: &str) -> Result<Vec<Closure>, String> {
    let mut out = Vec::new();
    for item in text.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        out.push(parse_one(item)?);
    }
    check_list(&out)?;
    Ok(out)
}

/// Writes closures in the compact form [`parse_list`] reads (`2026-12-24/2026-12-26
/// Christmas;2027-01-01 New year`); reasons cannot hold `;` (see [`Closure::validate`]), so
/// the text reads back to the same list.
///
/// ```
/// use pudo::network::closures::{format_list, parse_list};
/// let text = "2026-12-24/2026-12-26 Christmas;2027-01-01 New year;2027-02-01";
/// assert_eq!(format_list(&parse_list(text).unwrap()), text);
/// ```
pub fn format_list(closures: &[Closure]) -> String {
    let mut out = String::new();
    for (i, c) in closures.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(&c.start.to_string());
        if c.end != c.start {
            out.push('/');
            out.push_str(&c.end.to_string());
        }
        if !c.reason.trim().is_empty() {
            out.push(' ');
            out.push_str(c.reason.trim());
        }
    }
    out
}

/// Parses one closure of the compact form: `DATE[/DATE] [reason]`.
pub fn parse_one(item: &str) -> Result<Closure, String> {
    let item = item.trim();
    let (dates, reason) = match item.split_once(char::is_whitespace) {
        Some((d, r)) => (d, r.trim()),
        None => (item, ""),
    };
    let date = |t: &str| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
            format!("{t:?} in {item:?} is not a date YYYY-MM-DD (write e.g. 2026-12-24/2026-12-26 Christmas)")
        })
    };
    let (start, end) = match dates.split_once('/') {
        Some((a, b)) => (date(a)?, date(b)?),
        None => (date(dates)?, date(dates)?),
    };
    let closure = Closure {
        start,
        end,
        reason: reason.to_owned(),
    };
    closure.validate()?;
    Ok(closure)
}

/// Checks a shop's whole list: at most [`MAX_CLOSURES`], each valid.
pub fn check_list(closures: &[Closure]) -> Result<(), String> {
    if closures.len() > MAX_CLOSURES {
        return Err(format!(
            "{} closures; a shop may have at most {MAX_CLOSURES}",
            closures.len()
        ));
    }
    for c in closures {
        c.validate()?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "closures_tests.rs"]
mod tests;
