use super::*;
use crate::network::hours::WeeklyHours;
use chrono::TimeZone;
use std::sync::Arc;

fn shop(id: i64, capacity: i32, live: i32, status: ShopStatus, hours: &str) -> IndexedShop {
    IndexedShop {
        id,
        external_id: format!("S{id}").into(),
        name: format!("Shop {id}").into(),
        latitude: 40.0,
        longitude: -3.0,
        h3_cell: 0,
        capacity,
        live,
        status,
        timezone: chrono_tz::Europe::Madrid,
        hours: Arc::new(WeeklyHours::parse(hours).expect("hours")),
        services: Default::default(),
        closures: Default::default(),
        details: None,
        sizes: Default::default(),
        profile: Default::default(),
    }
}

/// Monday 2026-01-12, 08:30 UTC = 09:30 in Madrid.
fn monday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 12, 8, 30, 0).unwrap()
}

#[test]
fn reasons_come_in_order_paused_full_closed() {
    let at = Some(monday_morning());
    let evening = "Mo-Su 17:00-21:00";
    let paused_full_closed = shop(1, 2, 2, ShopStatus::Paused, evening);
    assert_eq!(
        assess(&paused_full_closed, at, false).reason,
        Some(UnavailableReason::Paused)
    );
    let full_closed = shop(2, 2, 2, ShopStatus::Active, evening);
    assert_eq!(
        assess(&full_closed, at, false).reason,
        Some(UnavailableReason::Full)
    );
    let closed = shop(3, 2, 1, ShopStatus::Active, evening);
    let a = assess(&closed, at, false);
    assert_eq!(
        (a.selectable, a.reason, a.open_at_arrival),
        (false, Some(UnavailableReason::ClosedAtArrival), Some(false))
    );
    let open = shop(4, 2, 1, ShopStatus::Active, "Mo-Fr 09:00-14:00");
    assert_eq!(
        assess(&open, at, false),
        Availability {
            selectable: true,
            reason: None,
            open_at_arrival: Some(true)
        }
    );
    // Without an arrival time, opening hours do not make a point unselectable.
    assert_eq!(assess(&closed, None, false).open_at_arrival, None);
    assert!(assess(&closed, None, false).selectable);
}

#[test]
fn staged_stock_makes_a_full_point_selectable() {
    let full = shop(1, 1, 1, ShopStatus::Active, "24/7");
    assert!(!assess(&full, None, false).selectable);
    assert!(assess(&full, None, true).selectable);
    // A zero-capacity point is full.
    assert_eq!(
        assess(&shop(2, 0, 0, ShopStatus::Active, "24/7"), None, false).reason,
        Some(UnavailableReason::Full)
    );
}

#[test]
fn score_weighs_distance_room_and_hours() {
    // All free, 1 km away: exactly the distance.
    assert_eq!(room_score(1000.0, 10, 10, Some(true)), 1.0);
    // Half full adds half the fullness weight; closed adds the closed weight.
    assert_eq!(
        room_score(1000.0, 5, 10, None),
        1.0 + FULLNESS_WEIGHT_KM * 0.5
    );
    assert_eq!(room_score(0.0, 10, 10, Some(false)), CLOSED_WEIGHT_KM);
    assert_eq!(room_score(0.0, 0, 0, None), FULLNESS_WEIGHT_KM);
    // A roomy point 800 m further beats a nearly full one.
    assert!(room_score(900.0, 10, 10, None) < room_score(100.0, 1, 10, None));
}

#[test]
fn room_order_is_total_and_puts_unselectable_last() {
    let key = |selectable, score, distance_m, id| RoomKey {
        selectable,
        score,
        distance_m,
        id,
    };
    let mut keys = [
        key(false, 0.1, 100.0, 1),
        key(true, 2.0, 900.0, 5),
        key(true, 1.0, 700.0, 4),
        key(true, 1.0, 700.0, 3),
        key(true, 1.0, 600.0, 6),
    ];
    keys.sort_by(room_order);
    assert_eq!(
        keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![6, 3, 4, 5, 1]
    );
}

#[test]
fn candidates_grow_with_the_limit_within_bounds() {
    assert_eq!(room_candidates(1), MIN_ROOM_CANDIDATES);
    assert_eq!(room_candidates(10), 30);
    assert_eq!(room_candidates(100), MAX_ROOM_CANDIDATES);
}

#[test]
fn hours_text_is_none_around_the_clock() {
    assert_eq!(hours_text(&shop(1, 1, 0, ShopStatus::Active, "24/7")), None);
    assert_eq!(
        hours_text(&shop(1, 1, 0, ShopStatus::Active, "Mo-Fr 09:00-14:00")),
        Some("Mo-Fr 09:00-14:00; Sa-Su off")
    );
}

#[test]
fn a_closure_at_arrival_comes_before_full_and_hours() {
    use crate::network::closures::{ClosedSpans, Closure};
    let mut s = shop(1, 1, 1, ShopStatus::Active, "Mo-Fr 09:00-18:00");
    let day = "2026-01-12".parse().expect("date");
    s.closures = ClosedSpans::new(
        s.timezone,
        &[Closure {
            start: day,
            end: day,
            reason: String::new(),
        }],
    );
    let a = assess(&s, Some(monday_morning()), false);
    assert_eq!(a.reason, Some(UnavailableReason::ClosedForPeriod));
    assert_eq!(a.open_at_arrival, Some(false));
    let next_monday = monday_morning() + chrono::Duration::days(7);
    assert_eq!(
        assess(&s, Some(next_monday), false).reason,
        Some(UnavailableReason::Full)
    );
}
