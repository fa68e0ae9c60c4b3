//! Statement months: calendar months in UTC.

use chrono::{NaiveDate, NaiveDateTime};
use std::{fmt, str::FromStr};

/// A calendar month, `YYYY-MM`, running from 00:00 UTC on its first day to 00:00 UTC on the
/// first day of the next. UTC (not each shop's zone) so that one network-wide statement run
/// covers the same instants for every shop and every event belongs to exactly one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// The month holding `day`.
    pub fn of(day: NaiveDate) -> Self {
        use chrono::Datelike;
        Self {
            first: day.with_day(1).unwrap_or(day),
        }
    }

    /// First instant of the month (UTC).
    pub fn start(self) -> NaiveDateTime {
        self.first.and_time(chrono::NaiveTime::MIN)
    }

    /// First instant after the month (UTC).
    pub fn end(self) -> NaiveDateTime {
        self.first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX)
            .and_time(chrono::NaiveTime::MIN)
    }
}

impl FromStr for Month {
    type Err = String;

    /// Exactly `YYYY-MM` (four-digit year from 2000, month 01 to 12).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a month written YYYY-MM, such as 2026-11");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let (year, month) = (
            y.parse::<i32>().map_err(|_| bad())?,
            m.parse::<u32>().map_err(|_| bad())?,
        );
        if year < 2000 {
            return Err(format!("{s:?}: the year must be 2000 or later"));
        }
        NaiveDate::from_ymd_opt(year, month, 1)
            .map(|first| Self { first })
            .ok_or_else(|| format!("{s:?}: the month must be 01 to 12"))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        let m: Month = "2026-11".parse().expect("month");
        assert_eq!(m.to_string(), "2026-11");
        assert_eq!(m.start().to_string(), "2026-11-01 00:00:00");
        assert_eq!(m.end().to_string(), "2026-12-01 00:00:00");
        let dec: Month = "2026-12".parse().expect("month");
        assert_eq!(dec.end().to_string(), "2027-01-01 00:00:00");
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "2026-11-01",
            "",
            "1999-12",
            "２０２６-11",
            "+202-11",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_month_holds_its_days() {
        let day = NaiveDate::from_ymd_opt(2028, 2, 29).expect("leap day");
        let m = Month::of(day);
        assert_eq!(m.to_string(), "2028-02");
        assert!(m.start() <= day.and_time(chrono::NaiveTime::MIN));
        assert_eq!(m.end().to_string(), "2028-03-01 00:00:00");
    }
}
