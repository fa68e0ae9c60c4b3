use super::*;
use chrono_tz::{America, Asia, Europe};

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn closure(start: &str, end: &str) -> Closure {
    Closure {
        start: day(start),
        end: day(end),
        reason: String::new(),
    }
}

#[test]
fn madrid_closure_over_the_end_of_summer_time_is_25_hours_a_day_longer() {
    // 31 October 2027 is the last Sunday of October: 03:00 CEST becomes 02:00 CET.
    let spans = ClosedSpans::new(Europe::Madrid, &[closure("2027-10-30", "2027-10-31")]);
    assert!(!spans.contains(at("2027-10-29T21:59:59Z")));
    assert!(spans.contains(at("2027-10-29T22:00:00Z"))); // 30 Oct 00:00 CEST
    assert!(spans.contains(at("2027-10-31T22:59:59Z"))); // 31 Oct 23:59:59 CET
    assert!(!spans.contains(at("2027-10-31T23:00:00Z"))); // 1 Nov 00:00 CET
}

#[test]
fn madrid_closure_over_the_start_of_summer_time() {
    // 28 March 2027: 02:00 CET becomes 03:00 CEST; the day lasts 23 hours.
    let (from, to) = closure("2027-03-28", "2027-03-28").span(Europe::Madrid);
    assert_eq!(from, at("2027-03-27T23:00:00Z"));
    assert_eq!(to, at("2027-03-28T22:00:00Z"));
}

#[test]
fn shanghai_days_start_eight_hours_before_utc() {
    let spans = ClosedSpans::new(Asia::Shanghai, &[closure("2026-12-24", "2026-12-26")]);
    assert!(!spans.contains(at("2026-12-23T15:59:59Z")));
    assert!(spans.contains(at("2026-12-23T16:00:00Z")));
    assert!(spans.contains(at("2026-12-26T15:59:59Z")));
    assert!(!spans.contains(at("2026-12-26T16:00:00Z")));
}

#[test]
fn a_skipped_midnight_starts_the_day_at_the_first_local_time_that_exists() {
    // Chile moves from 24:00 on Saturday 5 September 2026 to 01:00 on Sunday (-04 to -03).
    let start = local_day_start(America::Santiago, day("2026-09-06"));
    assert_eq!(start, at("2026-09-06T04:00:00Z"));
}

#[test]
fn overlaps_and_closed_seconds_count_each_instant_once() {
    let spans = ClosedSpans::new(
        chrono_tz::UTC,
        &[
            closure("2027-01-01", "2027-01-02"),
            closure("2027-01-02", "2027-01-03"),
        ],
    );
    let from = at("2027-01-01T12:00:00Z");
    let to = at("2027-01-05T00:00:00Z");
    assert_eq!(
        spans.closed_seconds(from.timestamp(), to.timestamp()),
        (2 * 24 + 12) * 3600
    );
    assert!(spans.overlaps(at("2026-12-31T00:00:00Z"), at("2027-01-01T00:00:01Z")));
    assert!(!spans.overlaps(at("2026-12-31T00:00:00Z"), at("2027-01-01T00:00:00Z")));
}

#[test]
fn compact_form_errors_name_the_problem() {
    assert!(parse_list("").expect("empty").is_empty());
    assert!(parse_list("24/12/2026")
        .expect_err("refused")
        .contains("not a date"));
    assert!(parse_list("2026-12-26/2026-12-24 x")
        .expect_err("refused")
        .contains("before"));
    assert!(parse_list("2026-01-01/2027-12-31")
        .expect_err("refused")
        .contains("longer"));
    let many = vec!["2026-12-24"; MAX_CLOSURES + 1].join(";");
    assert!(parse_list(&many).expect_err("refused").contains("at most"));
    let one = parse_list(" 2026-12-24  Nochebuena ").expect("valid");
    assert_eq!(
        one,
        vec![Closure {
            reason: "Nochebuena".into(),
            ..closure("2026-12-24", "2026-12-24")
        }]
    );
}
