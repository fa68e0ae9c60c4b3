//! Shop health over HTTP: the figures of a small scenario, played through the domain at
//! chosen times, equal the values computed by hand.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use chrono::{Duration, NaiveDateTime};
use pudo::auth::Role;
use pudo::pickup::{self as store, scan_in};
use serde_json::{json, Value};

/// A 24/7 shop in UTC (capacity 5), a small one (capacity 1), one slow to scan, a silent one
/// open only on weekday mornings, and a paused one.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,timezone,opening_hours,status
busy,Busy,40.4169,-3.7035,5,,,active
tiny,Tiny,40.4180,-3.7097,1,,,active
slow,Slow,40.4250,-3.7050,5,,,active
quiet,Quiet,40.4200,-3.7000,5,UTC,Mo-Fr 09:00-13:00,active
asleep,Asleep,40.4300,-3.7000,5,,,paused
";

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

/// Plays the scenario of the README's health example at fixed times.
fn play(app: &TestApp) {
    let (busy, tiny, slow) = (
        app.shop_id("busy"),
        app.shop_id("tiny"),
        app.shop_id("slow"),
    );
    let key = *app.state.keys.data_key();
    let mut conn = app.state.pool.get().expect("conn");
    let conn = &mut *conn;
    let issuer = |days| store::CodeIssuer {
        data_key: &key,
        hold: Duration::days(days),
    };
    let reserve = |conn: &mut _, shop, order: &str, at| {
        let r = store::NewReservation {
            merchant: "acme",
            shop_id: shop,
            order_ref: order,
            sku: None,
            arrive_at: None,
        };
        store::reserve(conn, &r, &issuer(7), t(at))
            .expect("reserve")
            .0
            .id
    };
    let code = |conn: &mut _, id| {
        store::read_reservation(conn, &key, "acme", id)
            .expect("read")
            .1
            .expect("code")
    };
    // E: arrived before the window, expires at 10:00 on the 2nd, sent back on the 3rd.
    let e = reserve(conn, busy, "E", "2026-10-20 09:00");
    store::arrive(conn, &issuer(8), busy, e, t("2026-10-25 10:00")).expect("arrive");
    // A: handed in 09:00, scanned 09:10 (600 s, on time), handed over 12:00.
    let a = reserve(conn, busy, "A", "2026-11-02 08:00");
    let b = reserve(conn, busy, "B", "2026-11-02 08:00");
    let d = reserve(conn, busy, "D", "2026-11-02 08:00");
    let c = reserve(conn, busy, "C", "2026-11-02 08:30");
    let limit = Duration::minutes(30);
    scan_in::hand_in(conn, "swift", a, limit, t("2026-11-02 09:00")).expect("hand-in");
    store::arrive(conn, &issuer(7), busy, a, t("2026-11-02 09:10")).expect("arrive");
    // B: handed in 10:00, scanned 11:00 (3600 s, late), still waiting.
    scan_in::hand_in(conn, "swift", b, limit, t("2026-11-02 10:00")).expect("hand-in");
    store::arrive(conn, &issuer(7), busy, b, t("2026-11-02 11:00")).expect("arrive");
    // D: no hand-in, scanned 11:30, handed over 06:00 on the 3rd.
    store::arrive(conn, &issuer(7), busy, d, t("2026-11-02 11:30")).expect("arrive");
    let code_a = code(conn, a);
    store::handover(conn, &key, busy, "p", &code_a, t("2026-11-02 12:00"))
        .expect("handover")
        .into_result(pudo::pickup::CodeKind::Handover)
        .expect("handed over");
    for minute in ["13:00", "13:01"] {
        let _ = store::handover(
            conn,
            &key,
            busy,
            "p",
            "00000000",
            t(&format!("2026-11-02 {minute}")),
        );
    }
    store::sweep(conn, t("2026-11-02 20:00")).expect("sweep");
    let code_d = code(conn, d);
    store::handover(conn, &key, busy, "p", &code_d, t("2026-11-03 06:00"))
        .expect("handover")
        .into_result(pudo::pickup::CodeKind::Handover)
        .expect("handed over");
    store::return_parcel(conn, busy, e, t("2026-11-03 10:00")).expect("return");
    // C: handed in on the 3rd, never scanned: missing.
    scan_in::hand_in(conn, "swift", c, limit, t("2026-11-03 09:00")).expect("hand-in");

    // Tiny: full (1 of 1) from 20:00 on the 1st until 02:00 on the 3rd.
    let f = reserve(conn, tiny, "F", "2026-11-01 08:00");
    store::arrive(conn, &issuer(7), tiny, f, t("2026-11-01 20:00")).expect("arrive");
    let code_f = code(conn, f);
    store::handover(conn, &key, tiny, "p", &code_f, t("2026-11-03 02:00"))
        .expect("handover")
        .into_result(pudo::pickup::CodeKind::Handover)
        .expect("handed over");
    // Slow: three hand-ins never scanned.
    for (i, at) in ["2026-11-02 14:00", "2026-11-02 15:00", "2026-11-02 16:00"]
        .iter()
        .enumerate()
    {
        let g = reserve(conn, slow, &format!("G{i}"), "2026-11-02 13:00");
        scan_in::hand_in(conn, "swift", g, limit, t(at)).expect("hand-in");
    }
}

async fn shop_figures_equal_the_hand_computed_ones(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    play(&app);
    let admin = app.token(Role::Admin, "ops");
    let busy = app.shop_id("busy");
    let window = "from=2026-11-02T00:00:00Z&to=2026-11-04T00:00:00Z";
    let h = app
        .get_as(&format!("/v1/ops/shops/{busy}/health?{window}"), &admin)
        .await;
    let body = h.ok();
    assert_eq!(
        body["scan_in"],
        json!({"handins": 3, "on_time": 1, "late": 1, "missing": 1, "pending": 0,
               "median_s": 600, "p90_s": 3600, "max_s": 3600})
    );
    assert_eq!(
        body["activity"],
        json!({"reservations": 4, "arrivals": 3, "handins": 3, "handovers": 2,
               "failed_code_attempts": 2, "rate_limited_attempts": 0, "expiries": 1,
               "returns_sent": 1})
    );
    // Day 1: E all day; A 09:10-12:00; B from 11:00; D from 11:30.
    //   0:00-9:10 1, -11:00 2, -11:30 3, -12:00 4, -24:00 3 → peak 4, mean 3140/1440.
    // Day 2: B all day, D until 06:00, E until 10:00 → peak 3, mean 2400/1440.
    let days = body["utilisation"].as_array().expect("days");
    assert_eq!(days.len(), 2);
    let figures = |d: &Value| {
        (
            d["date"].as_str().unwrap_or("").to_owned(),
            d["peak"].as_i64(),
            d["average"].as_f64().unwrap_or(f64::NAN),
            d["peak_share"].as_f64(),
        )
    };
    let (date, peak, average, share) = figures(&days[0]);
    assert_eq!(
        (date.as_str(), peak, share),
        ("2026-11-02", Some(4), Some(0.8))
    );
    assert!((average - 3140.0 / 1440.0).abs() < 1e-9, "{average}");
    let (date, peak, average, share) = figures(&days[1]);
    assert_eq!(
        (date.as_str(), peak, share),
        ("2026-11-03", Some(3), Some(0.6))
    );
    assert!((average - 2400.0 / 1440.0).abs() < 1e-9, "{average}");

    // Bad parameters are named; unknown shops are 404; only the operator may look.
    let bad = |q: &str| {
        let (uri, app, admin) = (format!("/v1/ops/shops/{busy}/health?{q}"), &app, &admin);
        async move { app.get_as(&uri, admin).await }
    };
    assert_eq!(
        bad("from=yesterday").await.problem(400)["parameter"],
        "from"
    );
    assert_eq!(
        bad("from=2026-11-04T00:00:00Z&to=2026-11-02T00:00:00Z")
            .await
            .problem(400)["parameter"],
        "from"
    );
    assert_eq!(
        bad("from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z")
            .await
            .problem(400)["parameter"],
        "to"
    );
    assert_eq!(bad("days=3").await.problem(400)["parameter"], "days");
    app.get_as("/v1/ops/shops/999999/health", &admin)
        .await
        .problem(404);
    let merchant = app.token(Role::Merchant, "acme");
    let denied = app
        .get_as(&format!("/v1/ops/shops/{busy}/health"), &merchant)
        .await;
    assert_eq!(denied.status.as_u16(), 403);
}
on_both_backends!(shop_figures_equal_the_hand_computed_ones);

async fn network_view_lists_full_late_and_silent_shops(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    play(&app);
    let admin = app.token(Role::Admin, "ops");
    // Monday 2 and Tuesday 3 November 2026.
    let window = "from=2026-11-02T00:00:00Z&to=2026-11-04T00:00:00Z";
    let view = app
        .get_as(
            &format!("/v1/ops/health?{window}&full_days=2&late_scans=3&silent_open_hours=8"),
            &admin,
        )
        .await;
    let body = view.ok();
    // Tiny was full on both days (until 02:00 on the 3rd); busy never reached 5.
    assert_eq!(
        body["often_full"],
        json!([{"shop_id": app.shop_id("tiny"), "external_id": "tiny", "name": "Tiny",
                "capacity": 1, "full_days": 2}])
    );
    // Slow's three hand-ins were never scanned; busy had one late and one missing.
    assert_eq!(
        body["often_late"],
        json!([{"shop_id": app.shop_id("slow"), "external_id": "slow", "name": "Slow",
                "handins": 3, "late": 0, "missing": 3}])
    );
    // Quiet was open 2 × 4 hours with nothing; the paused shop is not listed.
    assert_eq!(
        body["silent"],
        json!([{"shop_id": app.shop_id("quiet"), "external_id": "quiet", "name": "Quiet",
                "open_hours": 8.0}])
    );
    assert_eq!(
        (
            &body["often_full_total"],
            &body["often_late_total"],
            &body["silent_total"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    // Lower thresholds bring busy in; a higher open-hours threshold drops quiet.
    let lower = app
        .get_as(
            &format!("/v1/ops/health?{window}&late_scans=2&silent_open_hours=9"),
            &admin,
        )
        .await;
    assert_eq!(lower.ok()["often_late_total"], 2);
    assert_eq!(lower.body["silent_total"], 0);
    let bad = app
        .get_as(&format!("/v1/ops/health?{window}&full_days=0"), &admin)
        .await;
    assert_eq!(bad.problem(400)["parameter"], "full_days");
}
on_both_backends!(network_view_lists_full_late_and_silent_shops);
