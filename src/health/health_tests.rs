use super::*;
use chrono_tz::{Asia, Europe};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn step(t: &str, until: Option<&str>, level: i64) -> Step {
    Step {
        at: at(t),
        until: until.map(at),
        level,
    }
}

#[test]
fn nearest_rank_percentiles() {
    let v = [5, 60, 120, 600, 3000];
    assert_eq!(percentile(&v, 50), Some(120));
    assert_eq!(percentile(&v, 90), Some(3000));
    assert_eq!(percentile(&[7], 90), Some(7));
}

#[test]
fn daily_peak_and_average_are_exact_in_the_shop_time_zone() {
    // Shanghai days start at 16:00 UTC. Window: two local days, 1 and 2 December 2026.
    let w = Window {
        from: at("2026-11-30T16:00:00Z"),
        to: at("2026-12-02T16:00:00Z"),
    };
    // One parcel from 04:00 to 10:00 local on the 1st (6 h), a second from 06:00 to 08:00
    // (2 h); one parcel from 22:00 local on the 1st until the end of the window.
    let steps = [
        step("2026-11-30T20:00:00Z", Some("2026-11-30T22:00:00Z"), 1),
        step("2026-11-30T22:00:00Z", Some("2026-12-01T00:00:00Z"), 2),
        step("2026-12-01T00:00:00Z", Some("2026-12-01T02:00:00Z"), 1),
        step("2026-12-01T02:00:00Z", Some("2026-12-01T14:00:00Z"), 0),
        step("2026-12-01T14:00:00Z", None, 1),
    ];
    let days = daily_occupancy(Asia::Shanghai, w, &steps, 2);
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].date.to_string(), "2026-12-01");
    assert_eq!(days[0].peak, 2);
    // (6 h × 1 + 2 h × 1 extra + 2 h × 1) / 24 h = 10 / 24.
    assert!((days[0].average - 10.0 / 24.0).abs() < 1e-12);
    assert_eq!(days[0].peak_share, Some(1.0));
    assert_eq!((days[1].peak, days[1].average), (1, 1.0));
    let full = full_days(Asia::Shanghai, w, &steps, 2);
    assert_eq!(full.len(), 1);
}

#[test]
fn local_days_follow_dst() {
    // Madrid, 31 October 2027 lasts 25 hours.
    let w = Window {
        from: at("2027-10-30T22:00:00Z"),
        to: at("2027-11-01T23:00:00Z"),
    };
    let days = local_days(Europe::Madrid, w);
    let lengths: Vec<i64> = days.iter().map(|(_, a, b)| (*b - *a).num_hours()).collect();
    assert_eq!(lengths, [25, 24]);
}
