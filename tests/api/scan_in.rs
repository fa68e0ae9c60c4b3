//! The scan-in rule over HTTP: the carrier's hand-in, the partner's arrival scan, late and
//! missing scans for the operator.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use chrono::{Duration, Utc};
use pudo::auth::Role;
use pudo::pickup::scan_in;
use serde_json::json;

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
sol,Kiosko Sol,40.4169,-3.7035,10
opera,Estanco Ópera,40.4180,-3.7097,10
";

async fn reserve(app: &TestApp, merchant: &str, shop: i64, order: &str) -> i64 {
    let r = app
        .post(
            "/v1/reservations",
            merchant,
            json!({"pickup_point_id": shop, "order_ref": order}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    r.body["id"].as_i64().expect("id")
}

async fn late_and_missing_scans_reach_the_operator(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (sol, opera) = (app.shop_id("sol"), app.shop_id("opera"));
    let merchant = app.token(Role::Merchant, "acme");
    let carrier = app.token(Role::Carrier, "swift");
    let admin = app.token(Role::Admin, "ops");
    let partner = app.partner_token("sol");
    let on_time = reserve(&app, &merchant, sol, "P-1").await;
    let late = reserve(&app, &merchant, sol, "P-2").await;
    let missing = reserve(&app, &merchant, opera, "P-3").await;

    // A hand-in now, scanned at once: on time.
    let handin = app
        .post(
            "/v1/carrier/handins",
            &carrier,
            json!({"parcel_id": on_time}),
        )
        .await;
    assert_eq!(handin.status.as_u16(), 201, "{}", handin.text);
    assert_eq!(handin.body["state"], "pending");
    assert_eq!(handin.body["carrier"], "swift");
    // RFC 3339 date-times with their offset, as the OpenAPI `date-time` format requires.
    for field in ["handed_in_at", "deadline_at"] {
        let text = handin.body[field].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            "{field} is not an RFC 3339 date-time: {text:?}"
        );
    }
    let repeat = app
        .post(
            "/v1/carrier/handins",
            &carrier,
            json!({"parcel_id": on_time}),
        )
        .await;
    assert_eq!(
        (repeat.status.as_u16(), &repeat.body["handed_in_at"]),
        (200, &handin.body["handed_in_at"])
    );
    app.post(
        &format!("/v1/partner/parcels/{on_time}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();

    // Two hand-ins two hours ago (recorded through the domain, which takes the time): one
    // scanned now, late; one never scanned, missing.
    let two_hours_ago = Utc::now().naive_utc() - Duration::hours(2);
    {
        let mut conn = app.state.pool.get().expect("conn");
        for parcel in [late, missing] {
            scan_in::hand_in(
                &mut conn,
                "swift",
                parcel,
                Duration::minutes(30),
                two_hours_ago,
            )
            .expect("hand-in");
        }
    }
    app.post(
        &format!("/v1/partner/parcels/{late}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();
    // A repeated arrival scan changes nothing and is not counted twice.
    app.post(
        &format!("/v1/partner/parcels/{late}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();

    let list = |q: &str| {
        let (uri, app, admin) = (format!("/v1/ops/scan-ins{q}"), &app, &admin);
        async move { app.get_as(&uri, admin).await }
    };
    let late_items = list("?state=late").await;
    assert_eq!(late_items.ok()["limit_minutes"], 30);
    let items = late_items.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["parcel_id"], late);
    assert!(items[0]["latency_s"].as_i64().is_some_and(|s| s >= 7200));
    let missing_items = list("?state=missing").await;
    let items = missing_items.ok()["items"].as_array().expect("items");
    assert_eq!(
        (items.len(), &items[0]["parcel_id"], &items[0]["shop_id"]),
        (1, &json!(missing), &json!(opera))
    );
    let on_time_items = list(&format!("?state=on_time&shop_id={sol}")).await;
    assert_eq!(on_time_items.ok()["items"][0]["parcel_id"], on_time);
    assert_eq!(
        list("").await.ok()["items"].as_array().map(Vec::len),
        Some(3)
    );

    let metrics = app.get("/metrics").await.text;
    assert!(metrics.contains("pudo_scan_ins_late_total 1"), "{metrics}");

    // Bad parameters are named; only the operator sees the list; only carriers hand in.
    assert_eq!(list("?state=lost").await.problem(400)["parameter"], "state");
    assert_eq!(list("?limit=0").await.problem(400)["parameter"], "limit");
    assert_eq!(
        list("?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z")
            .await
            .problem(400)["parameter"],
        "to"
    );
    let denied = app.get_as("/v1/ops/scan-ins", &partner).await;
    assert_eq!(denied.status.as_u16(), 403);
    let denied = app
        .post("/v1/carrier/handins", &merchant, json!({"parcel_id": late}))
        .await;
    assert_eq!(denied.status.as_u16(), 403);
    let unknown = app
        .post(
            "/v1/carrier/handins",
            &carrier,
            json!({"parcel_id": 999_999}),
        )
        .await;
    unknown.problem(404);
}
on_both_backends!(late_and_missing_scans_reach_the_operator);

async fn a_hand_in_after_the_scan_counts_as_on_time(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let carrier = app.token(Role::Carrier, "swift");
    let partner = app.partner_token("sol");
    let id = reserve(&app, &merchant, app.shop_id("sol"), "Q-1").await;
    app.post(
        &format!("/v1/partner/parcels/{id}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();
    let handin = app
        .post("/v1/carrier/handins", &carrier, json!({"parcel_id": id}))
        .await;
    assert_eq!(handin.status.as_u16(), 201, "{}", handin.text);
    assert_eq!(
        (&handin.body["state"], &handin.body["latency_s"]),
        (&json!("on_time"), &json!(0))
    );
    // A cancelled parcel cannot be handed in.
    let other = reserve(&app, &merchant, app.shop_id("sol"), "Q-2").await;
    app.post(
        &format!("/v1/reservations/{other}/cancel"),
        &merchant,
        json!({}),
    )
    .await
    .ok();
    let refused = app
        .post("/v1/carrier/handins", &carrier, json!({"parcel_id": other}))
        .await;
    assert_eq!(refused.problem(409)["reason"], "wrong_state");
}
on_both_backends!(a_hand_in_after_the_scan_counts_as_on_time);
