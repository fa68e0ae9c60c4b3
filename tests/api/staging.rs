//! Peak-day staging over HTTP: events, forecasts, plans, dispatch, receipts, instant pickup.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use actix_web::test::TestRequest;
use pudo::auth::Role;
use serde_json::json;

/// Two shops in central Madrid with room for 5 and 3 staged units.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
sol,Kiosko Sol,40.4169,-3.7035,5
opera,Estanco Ópera,40.4180,-3.7097,3
far,Toledo,39.8628,-4.0273,50
";

fn zone(lat: f64, lon: f64) -> String {
    h3o::LatLng::new(lat, lon)
        .expect("valid")
        .to_cell(h3o::Resolution::Eight)
        .to_string()
}

async fn csv_post(app: &TestApp, uri: &str, token: &str, body: String) -> crate::support::Answer {
    app.call(
        TestRequest::post()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("content-type", "text/csv"))
            .set_payload(body),
    )
    .await
}

async fn plan_lifecycle(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let planner = app.token(Role::Planner, "pat");
    let event = app
        .post("/v1/events", &planner, json!({"name": "Singles Day", "starts_at": "2026-11-11T00:00:00+08:00", "ends_at": "2026-11-12T00:00:00+08:00", "timezone": "Asia/Shanghai"}))
        .await;
    assert_eq!(event.status.as_u16(), 201, "{}", event.text);
    let event_id = event.body["id"].as_i64().expect("id");
    assert_eq!(
        app.get_as("/v1/events", &planner).await.ok()["items"][0]["id"],
        event_id
    );
    // Madrid centre wants 10 units of two SKUs; only 8 slots are within 3 km.
    let here = zone(40.4170, -3.7050);
    let forecast = format!("zone,sku,units\n{here},PHONE,6\n{here},TV,4\n");
    let up = csv_post(
        &app,
        &format!("/v1/events/{event_id}/forecast"),
        &planner,
        forecast,
    )
    .await;
    assert_eq!(
        (up.ok()["rows"].as_i64(), up.body["units"].as_i64()),
        (Some(2), Some(10))
    );
    let bad = csv_post(
        &app,
        &format!("/v1/events/{event_id}/forecast"),
        &planner,
        "zone,sku,units\nzzz,A,1\n".into(),
    )
    .await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "zone");
    let plan = app
        .post(&format!("/v1/events/{event_id}/plans"), &planner, json!({}))
        .await;
    assert_eq!(plan.status.as_u16(), 201, "{}", plan.text);
    let plan_id = plan.body["id"].as_i64().expect("id");
    assert_eq!(plan.body["state"], "draft");
    assert_eq!(
        (
            plan.body["served_units"].as_i64(),
            plan.body["unmet_units"].as_i64()
        ),
        (Some(8), Some(2))
    );
    assert_eq!(plan.body["shops_used"], 2);
    let coverage = &plan.body["report"]["coverage"];
    assert_eq!(coverage[2]["within_km"], 3.0);
    assert!((coverage[2]["share"].as_f64().expect("share") - 0.8).abs() < 1e-9);
    assert_eq!(plan.body["report"]["unmet_by_zone"][0]["units"], 2);
    let map = app
        .get_as(&format!("/v1/plans/{plan_id}/map.svg"), &planner)
        .await;
    assert!(map.content_type.starts_with("image/svg+xml") && map.text.contains("<polygon"));
    // Lifecycle: dispatch before approval is refused; partners see nothing until dispatch.
    app.post(
        &format!("/v1/plans/{plan_id}/dispatch"),
        &planner,
        json!({}),
    )
    .await
    .problem(409);
    let sol = app.partner_token("sol");
    assert!(app.get_as("/v1/partner/staging", &sol).await.ok()["items"]
        .as_array()
        .expect("items")
        .is_empty());
    assert_eq!(
        app.post(&format!("/v1/plans/{plan_id}/approve"), &planner, json!({}))
            .await
            .ok()["state"],
        "approved"
    );
    app.post(&format!("/v1/plans/{plan_id}/approve"), &planner, json!({}))
        .await
        .problem(409);
    assert_eq!(
        app.post(
            &format!("/v1/plans/{plan_id}/dispatch"),
            &planner,
            json!({})
        )
        .await
        .ok()["state"],
        "dispatched"
    );
    let manifest = app.get_as("/v1/partner/staging", &sol).await;
    let lines = manifest.ok()["items"][0]["lines"]
        .as_array()
        .expect("lines")
        .clone();
    let staged: i64 = lines
        .iter()
        .map(|l| l["units"].as_i64().expect("units"))
        .sum();
    assert_eq!(staged, 5, "sol is nearer: it fills its 5 slots");
    // Sol receives everything; Ópera reports a shortfall on its first line.
    let full = app
        .post(
            &format!("/v1/partner/staging/{plan_id}/receipt"),
            &sol,
            json!({}),
        )
        .await;
    assert_eq!(full.ok()["received"], true);
    app.post(
        &format!("/v1/partner/staging/{plan_id}/receipt"),
        &sol,
        json!({}),
    )
    .await
    .problem(409);
    // Sol is paid per unit received, once (the repeated receipt paid nothing).
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let statement = app
        .get_as(&format!("/v1/partner/statement?month={month}"), &sol)
        .await;
    assert_eq!(
        statement.ok()["totals"],
        json!([{"kind": "staged_unit_received", "currency": "EUR", "events": lines.len(), "quantity": 5, "amount_minor": 25}])
    );
    let opera = app.partner_token("opera");
    let opera_lines =
        app.get_as("/v1/partner/staging", &opera).await.body["items"][0]["lines"].clone();
    let first_sku = opera_lines[0]["sku"].as_str().expect("sku").to_owned();
    let too_many = app
        .post(
            &format!("/v1/partner/staging/{plan_id}/receipt"),
            &opera,
            json!({"lines": [{"sku": first_sku, "received": 99}]}),
        )
        .await;
    too_many.problem(400);
    let short = app
        .post(
            &format!("/v1/partner/staging/{plan_id}/receipt"),
            &opera,
            json!({"lines": [{"sku": first_sku, "received": 0}]}),
        )
        .await;
    assert_eq!(short.ok()["lines"][0]["received"], 0);
    assert_eq!(
        app.get_as(&format!("/v1/plans/{plan_id}"), &planner)
            .await
            .ok()["state"],
        "received"
    );
    // Another shop has no manifest in this plan.
    app.post(
        &format!("/v1/partner/staging/{plan_id}/receipt"),
        &app.partner_token("far"),
        json!({}),
    )
    .await
    .problem(404);
    // Received stock is searchable by SKU and makes pickup instant.
    let sku = lines[0]["sku"].as_str().expect("sku");
    let found = app
        .get(&format!(
            "/v1/pickup-points?lat=40.4169&lon=-3.7035&sku={sku}"
        ))
        .await;
    assert!(found.external_ids().contains(&"sol".to_owned()));
    let merchant = app.token(Role::Merchant, "shop");
    let r = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": app.shop_id("sol"), "order_ref": "O-1", "sku": sku}),
        )
        .await;
    assert_eq!(r.body["state"], "at_point", "{}", r.text);
    // Only planners plan.
    app.post(
        &format!("/v1/events/{event_id}/plans"),
        &merchant,
        json!({}),
    )
    .await
    .problem(403);
    let bad_radius = app
        .post(
            &format!("/v1/events/{event_id}/plans"),
            &planner,
            json!({"radius_km": -1}),
        )
        .await;
    assert_eq!(bad_radius.problem(400)["parameter"], "radius_km");
    app.post("/v1/events/999/plans", &planner, json!({}))
        .await
        .problem(404);
}
on_both_backends!(plan_lifecycle);

async fn forecast_from_past_reservations(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let planner = app.token(Role::Planner, "pat");
    let merchant = app.token(Role::Merchant, "shop");
    for n in 0..3 {
        app.post("/v1/reservations", &merchant, json!({"pickup_point_id": app.shop_id("far"), "order_ref": format!("P-{n}"), "sku": "BOOK"})).await;
    }
    let event = app.post("/v1/events", &planner, json!({"name": "Black Friday", "starts_at": "2026-11-27T00:00:00Z", "ends_at": "2026-11-28T00:00:00Z"})).await;
    let event_id = event.body["id"].as_i64().expect("id");
    let derived = app
        .post(
            &format!("/v1/events/{event_id}/forecast/derive"),
            &planner,
            json!({"uplift": 2.5, "resolution": 8}),
        )
        .await;
    assert_eq!(
        (
            derived.ok()["rows"].as_i64(),
            derived.body["units"].as_i64()
        ),
        (Some(1), Some(8)),
        "ceil(3 × 2.5)"
    );
    let bad = app
        .post(
            &format!("/v1/events/{event_id}/forecast/derive"),
            &planner,
            json!({"resolution": 12}),
        )
        .await;
    assert_eq!(bad.problem(400)["parameter"], "resolution");
    let bad_event = app.post("/v1/events", &planner, json!({"name": "x", "starts_at": "2026-11-28T00:00:00Z", "ends_at": "2026-11-27T00:00:00Z"})).await;
    assert_eq!(bad_event.problem(400)["parameter"], "ends_at");
}
on_both_backends!(forecast_from_past_reservations);
