//! Weekly opening hours in a shop's local time.
//!
//! The text form is the common subset of OpenStreetMap's `opening_hours` syntax that shops
//! actually use: `24/7`, or rules separated by `;`, each a day selector and time ranges, e.g.
//! `Mo-Fr 09:00-14:00,17:00-20:30; Sa 10:00-14:00; Su off`. A range whose end is before its
//! start runs past midnight (`Fr-Sa 20:00-02:00`). A later rule replaces an earlier one for the
//! days it names, as in OSM. An empty text means open around the clock.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use std::fmt;

const DAY_NAMES: [&str; 7] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];
const MINUTES_PER_DAY: u16 = 24 * 60;

/// Why an opening-hours text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid opening hours {text:?}: {reason}")]
pub struct HoursError {
    /// The text that was given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A weekly schedule: for each day from Monday, the minute ranges `[start, end)` it is open.
///
/// `end` may exceed 1440 for a range running past midnight into the next day.
#[derive(Debug, Clone)]
pub struct WeeklyHours {
    days: [Vec<(u16, u16)>; 7],
    /// The canonical text, made on first use: every search answer shows it, and schedules are
    /// shared between the shops that have them, so each is formatted once.
    text: std::sync::OnceLock<Box<str>>,
}

// Equality and hashing are the schedule's alone, never the cached text's.
impl PartialEq for WeeklyHours {
    fn eq(&self, other: &Self) -> bool {
        self.days == other.days
    }
}

impl Eq for WeeklyHours {}

impl std::hash::Hash for WeeklyHours {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.days.hash(state);
    }
}

impl WeeklyHours {
    /// Open every minute of every day.
    pub fn always() -> Self {
        Self {
            days: std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]),
            text: std::sync::OnceLock::new(),
        }
    }

    /// Parses the text form described in the module documentation.
    ///
    /// ```
    /// use pudo::network::hours::WeeklyHours;
    /// let h = WeeklyHours::parse("Mo-Fr 09:00-14:00,17:00-20:30; Sa 10:00-14:00").unwrap();
    /// assert!(h.is_open_local(0, 9 * 60));        // Monday 09:00
    /// assert!(!h.is_open_local(0, 15 * 60));      // Monday 15:00
    /// assert!(!h.is_open_local(6, 12 * 60));      // Sunday
    /// ```
    pub fn parse(text: &str) -> Result<Self, HoursError> {
        let err = |reason: String| HoursError {
            text: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed == "24/7" {
            return Ok(Self::always());
        }
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for rule in trimmed.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let (selector, times) = rule.split_once(char::is_whitespace).ok_or_else(|| {
                err(format!(
                    "rule {rule:?} needs days and times, e.g. \"Mo-Fr 09:00-18:00\""
                ))
            })?;
            let selected = parse_days(selector).map_err(err)?;
            let ranges = parse_ranges(times.trim()).map_err(err)?;
            for (day, on) in selected.iter().enumerate() {
                if *on {
                    days[day] = ranges.clone();
                }
            }
        }
        Ok(Self {
            days,
            text: std::sync::OnceLock::new(),
        })
    }

    /// Whether the shop is open at `minute` (0..1440) of local `weekday` (0 = Monday).
    pub fn is_open_local(&self, weekday: usize, minute: u16) -> bool {
        let today = &self.days[weekday % 7];
        if today.iter().any(|&(s, e)| s <= minute && minute < e) {
            return true;
        }
        let yesterday = &self.days[(weekday + 6) % 7];
        yesterday.iter().any(|&(_, e)| minute + MINUTES_PER_DAY < e)
    }

    /// Whether the shop is open at an instant, read in the shop's time zone.
    pub fn is_open_at(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        let (weekday, minute) = local_weekday_minute(tz, at);
        self.is_open_local(weekday, minute)
    }
}

impl WeeklyHours {
    /// The first instant after `from` at which one of the weekly ranges begins, read in `tz`;
    /// `None` when the schedule has no range at all. A range starting in a daylight-saving
    /// gap begins at the first local minute that exists after its start.
    pub fn next_opening(&self, tz: Tz, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = from.with_timezone(&tz).date_naive();
        let mut best: Option<DateTime<Utc>> = None;
        // From yesterday (a zone's date may lag) to a week and a day ahead.
        for offset in -1..=8 {
            let date = today + chrono::Duration::days(offset);
            let weekday = date.weekday().num_days_from_monday() as usize;
            for &(start, _) in &self.days[weekday] {
                let Some(t) = local_instant(tz, date, start) else {
                    continue;
                };
                if t > from && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
        }
        best
    }
}

/// The instant of a local date and minute in `tz`: the earlier of two in a repeated hour, the
/// first existing minute after it in a skipped one.
fn local_instant(tz: Tz, date: chrono::NaiveDate, minute: u16) -> Option<DateTime<Utc>> {
    use chrono::{LocalResult, TimeZone};
    let midnight = date.and_hms_opt(0, 0, 0)?;
    (0..=180).find_map(|late| {
        let local = midnight + chrono::Duration::minutes(i64::from(minute) + late);
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
            LocalResult::None => None,
        }
    })
}

/// The local weekday (0 = Monday) and minute of the day of an instant in a time zone.
pub fn local_weekday_minute(tz: Tz, at: DateTime<Utc>) -> (usize, u16) {
    let local = at.with_timezone(&tz);
    let weekday = local.weekday().num_days_from_monday() as usize;
    (weekday, (local.hour() * 60 + local.minute()) as u16)
}

impl WeeklyHours {
    /// The canonical text form (as stored in the database), formatted once per schedule.
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| self.canonical().into_boxed_str())
    }

    /// Whether the shop is open every minute of every day.
    pub fn is_always(&self) -> bool {
        self.days
            .iter()
            .all(|d| d.as_slice() == [(0, MINUTES_PER_DAY)])
    }

    fn canonical(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_canonical(&mut out);
        out
    }
}

impl fmt::Display for WeeklyHours {
    /// The canonical text form, stored in the database.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl WeeklyHours {
    fn write_canonical(&self, f: &mut impl fmt::Write) -> fmt::Result {
        if self.is_always() {
            return f.write_str("24/7");
        }
        let mut first = true;
        let mut day = 0;
        while day < 7 {
            let mut last = day;
            while last + 1 < 7 && self.days[last + 1] == self.days[day] {
                last += 1;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            f.write_str(DAY_NAMES[day])?;
            if last > day {
                write!(f, "-{}", DAY_NAMES[last])?;
            }
            if self.days[day].is_empty() {
                f.write_str(" off")?;
            } else {
                for (i, &(s, e)) in self.days[day].iter().enumerate() {
                    let e = if e > MINUTES_PER_DAY {
                        e - MINUTES_PER_DAY
                    } else {
                        e
                    };
                    let sep = if i == 0 { " " } else { "," };
                    write!(
                        f,
                        "{sep}{:02}:{:02}-{:02}:{:02}",
                        s / 60,
                        s % 60,
                        e / 60,
                        e % 60
                    )?;
                }
            }
            day = last + 1;
        }
        Ok(())
    }
}

fn day_index(name: &str) -> Result<usize, String> {
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("unknown day {name:?} (use Mo, Tu, We, Th, Fr, Sa, Su)"))
}

fn parse_days(selector: &str) -> Result<[bool; 7], String> {
    let mut on = [false; 7];
    for part in selector.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day_index(a)?, day_index(b)?);
                let mut d = a;
                loop {
                    on[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => on[day_index(part)?] = true,
        }
    }
    Ok(on)
}

fn parse_ranges(times: &str) -> Result<Vec<(u16, u16)>, String> {
    if times.eq_ignore_ascii_case("off") || times.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    for range in times.split(',').map(str::trim) {
        let (a, b) = range
            .split_once('-')
            .ok_or_else(|| format!("time range {range:?} must look like 09:00-18:00"))?;
        let (start, end) = (parse_time(a)?, parse_time(b)?);
        if start >= MINUTES_PER_DAY {
            return Err(format!("time range {range:?} starts at 24:00"));
        }
        let end = match end.cmp(&start) {
            std::cmp::Ordering::Greater => end,
            std::cmp::Ordering::Less => end + MINUTES_PER_DAY,
            std::cmp::Ordering::Equal => return Err(format!("time range {range:?} is empty")),
        };
        ranges.push((start, end));
    }
    ranges.sort_unstable();
    if ranges.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(format!("time ranges in {times:?} overlap"));
    }
    Ok(ranges)
}

fn parse_time(text: &str) -> Result<u16, String> {
    let bad = || format!("time {text:?} must be HH:MM between 00:00 and 24:00");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    // Two ASCII digits each: Rust's integer parser would also take a sign (`+9`).
    let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
#[path = "hours_tests.rs"]
mod tests;
