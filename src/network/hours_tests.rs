use super::*;
use chrono::TimeZone;

#[test]
fn always_open_forms() {
    for text in ["", "24/7", "  24/7 "] {
        let h = WeeklyHours::parse(text).expect("parses");
        assert!(h.is_open_local(3, 0) && h.is_open_local(6, 1439));
        assert_eq!(h.to_string(), "24/7");
    }
}

#[test]
fn split_days_and_later_rules_win() {
    let h = WeeklyHours::parse("Mo-Su 08:00-20:00; Su off; Sa 09:00-13:00").expect("parses");
    assert!(h.is_open_local(0, 8 * 60));
    assert!(!h.is_open_local(0, 20 * 60));
    assert!(h.is_open_local(5, 12 * 60 + 59));
    assert!(!h.is_open_local(5, 13 * 60));
    assert!(!h.is_open_local(6, 10 * 60));
    assert_eq!(h.to_string(), "Mo-Fr 08:00-20:00; Sa 09:00-13:00; Su off");
    assert_eq!(WeeklyHours::parse(&h.to_string()).expect("round trip"), h);
}

#[test]
fn overnight_ranges_spill_into_the_next_day() {
    let h = WeeklyHours::parse("Fr 20:00-02:00").expect("parses");
    assert!(h.is_open_local(4, 23 * 60));
    assert!(h.is_open_local(5, 60));
    assert!(!h.is_open_local(5, 2 * 60));
    assert!(!h.is_open_local(3, 60));
    let wrap = WeeklyHours::parse("Su 22:00-01:00").expect("parses");
    assert!(wrap.is_open_local(0, 30), "Sunday night runs into Monday");
}

#[test]
fn day_ranges_wrap_around_the_week() {
    let h = WeeklyHours::parse("Sa-Mo 10:00-12:00").expect("parses");
    assert!(h.is_open_local(5, 600) && h.is_open_local(6, 600) && h.is_open_local(0, 600));
    assert!(!h.is_open_local(1, 600));
}

#[test]
fn rejects_bad_texts_with_a_reason() {
    for (text, needle) in [
        ("Mo-Fr", "needs days and times"),
        ("Xx 09:00-10:00", "unknown day"),
        ("Mo 9:00-10:00", "HH:MM"),
        ("Mo 09:00-25:00", "HH:MM"),
        ("Mo 09:00-09:00", "empty"),
        ("Mo 09:00-12:00,11:00-13:00", "overlap"),
        ("Mo 09:00", "must look like"),
        ("Mo +9:00-18:00", "HH:MM"),
        ("Mo 09:00-18:+1", "HH:MM"),
    ] {
        let err = WeeklyHours::parse(text).expect_err(text);
        assert!(err.reason.contains(needle), "{text}: {}", err.reason);
    }
}

#[test]
fn open_at_follows_the_shop_time_zone_and_dst() {
    let h = WeeklyHours::parse("Mo-Su 09:00-10:00").expect("parses");
    let madrid: Tz = "Europe/Madrid".parse().expect("tz");
    let shanghai: Tz = "Asia/Shanghai".parse().expect("tz");
    // Winter: Madrid is UTC+1. 08:30 UTC is 09:30 in Madrid, 16:30 in Shanghai.
    let winter = Utc.with_ymd_and_hms(2026, 1, 15, 8, 30, 0).unwrap();
    assert!(h.is_open_at(madrid, winter));
    assert!(!h.is_open_at(shanghai, winter));
    // Summer: Madrid is UTC+2, so the same UTC time is 10:30 there: closed.
    let summer = Utc.with_ymd_and_hms(2026, 7, 15, 8, 30, 0).unwrap();
    assert!(!h.is_open_at(madrid, summer));
    assert!(h.is_open_at(madrid, Utc.with_ymd_and_hms(2026, 7, 15, 7, 30, 0).unwrap()));
    // The spring-forward night: 02:00-03:00 does not exist in Madrid on 2026-03-29
    // (00:59 UTC is 01:59 CET, 01:00 UTC is already 03:00 CEST), a week earlier it does.
    let night = WeeklyHours::parse("Su 02:00-03:00").expect("parses");
    assert!(!night.is_open_at(madrid, Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap()));
    assert!(!night.is_open_at(madrid, Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()));
    assert!(night.is_open_at(madrid, Utc.with_ymd_and_hms(2026, 3, 22, 1, 30, 0).unwrap()));
}
