//! Timestamps on the wire: the database keeps UTC as `NaiveDateTime`; answers give them as
//! RFC 3339 with a `Z` (`2026-11-11T09:30:00.123456Z`), so that no client reads them as local
//! time and they are the `date-time` the OpenAPI document says they are.

use chrono::{NaiveDateTime, SecondsFormat};
use serde::Serializer;

/// The RFC 3339 text of a UTC time.
pub fn rfc3339(t: &NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Serialises a UTC time as RFC 3339 (`#[serde(serialize_with = "crate::timestamps::utc")]`).
pub fn utc<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(t))
}

/// As [`utc`], for an optional time (null when absent).
pub fn utc_option<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn times_carry_their_utc_offset() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 11)
            .and_then(|d| d.and_hms_micro_opt(9, 30, 0, 120))
            .expect("valid");
        assert_eq!(rfc3339(&t), "2026-11-11T09:30:00.000120Z");
        let whole = t.with_nanosecond(0).expect("valid");
        assert_eq!(rfc3339(&whole), "2026-11-11T09:30:00Z");
    }
}
