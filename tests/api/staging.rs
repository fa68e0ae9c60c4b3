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
    // The document bounds staging_capacity (schemathesis sent 2^31, above its int32 format,
    // and it was accepted): larger than any shop's capacity is refused, naming it.
    for capacity in [100_001_u64, 2_147_483_648] {
        let bad_capacity = app
            .post(
                &format!("/v1/events/{event_id}/plans"),
                &planner,
                json!({"staging_capacity": capacity}),
            )
            .await;
        assert_eq!(
            bad_capacity.problem(400)["parameter"],
            "staging_capacity",
            "{capacity}"
        );
    }
    let most = app
        .post(
            &format!("/v1/events/{event_id}/plans"),
            &planner,
            json!({"staging_capacity": 100_000}),
        )
        .await;
    assert_eq!(most.status.as_u16(), 201, "{}", most.text);
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

/// Every item in a shop holds a slot, staged units included: a receipt that does not fit the
/// free slots is refused (naming them), received units keep ordinary reservations out, and an
/// instant pickup turns a unit's slot into the parcel's without taking another. Before the
/// fix, a shop of capacity 2 holding 2 units took 2 more reservations and then 2 instant
/// pickups: 4 live parcels for 2 slots.
async fn staged_units_hold_slots(backend: Backend) {
    let app = TestApp::new(backend)
        .with_csv("external_id,name,latitude,longitude,capacity\ntiny,Kiosko,40.4169,-3.7035,2\n");
    let (planner, merchant) = (
        app.token(Role::Planner, "pat"),
        app.token(Role::Merchant, "acme"),
    );
    let tiny = app.shop_id("tiny");
    let event = app
        .post("/v1/events", &planner, json!({"name": "11.11", "starts_at": "2026-11-11T00:00:00Z", "ends_at": "2026-11-12T00:00:00Z"}))
        .await;
    let event_id = event.body["id"].as_i64().expect("id");
    let forecast = format!("zone,sku,units\n{},TEA,2\n", zone(40.4169, -3.7035));
    csv_post(
        &app,
        &format!("/v1/events/{event_id}/forecast"),
        &planner,
        forecast,
    )
    .await
    .ok();
    let plan = app
        .post(&format!("/v1/events/{event_id}/plans"), &planner, json!({}))
        .await;
    let plan_id = plan.body["id"].as_i64().expect("plan id");
    assert_eq!(plan.body["served_units"], 2, "{}", plan.text);
    for step in ["approve", "dispatch"] {
        app.post(&format!("/v1/plans/{plan_id}/{step}"), &planner, json!({}))
            .await
            .ok();
    }
    // A reservation since the plan leaves one free slot: two units do not fit.
    let first = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": tiny, "order_ref": "N-1"}),
        )
        .await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    let receipt = format!("/v1/partner/staging/{plan_id}/receipt");
    let partner = app.partner_token("tiny");
    let refused = app.post(&receipt, &partner, json!({})).await;
    assert_eq!(refused.problem(409)["reason"], "full");
    assert!(refused.body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("1 free slots")));
    let cancel = app
        .post(
            &format!("/v1/reservations/{}/cancel", first.body["id"]),
            &merchant,
            json!({}),
        )
        .await;
    assert_eq!(cancel.status.as_u16(), 200, "{}", cancel.text);
    // Now both fit: the shop is full with its two units.
    app.post(&receipt, &partner, json!({})).await.ok();
    assert_eq!(live_and_capacity(&app, tiny), (2, 2));
    let n2 = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": tiny, "order_ref": "N-2"}),
        )
        .await;
    assert_eq!(n2.problem(409)["reason"], "full");
    let free = app.get("/v1/pickup-points?lat=40.4169&lon=-3.7035").await;
    assert_eq!(free.ok()["items"][0]["free_slots"], 0);
    // Each unit becomes one instant pickup, in its own slot; a third has none to take.
    for order in ["T-1", "T-2"] {
        let t = app
            .post(
                "/v1/reservations",
                &merchant,
                json!({"pickup_point_id": tiny, "order_ref": order, "sku": "TEA"}),
            )
            .await;
        assert_eq!(
            (t.status.as_u16(), t.body["state"].as_str()),
            (201, Some("at_point")),
            "{}",
            t.text
        );
        assert_eq!(live_and_capacity(&app, tiny), (2, 2));
    }
    let t3 = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": tiny, "order_ref": "T-3", "sku": "TEA"}),
        )
        .await;
    assert_eq!(t3.problem(409)["reason"], "full");
    assert_eq!(live_and_capacity(&app, tiny), (2, 2));
}
on_both_backends!(staged_units_hold_slots);

fn live_and_capacity(app: &TestApp, shop: i64) -> (i32, i32) {
    use diesel::prelude::*;
    use pudo::db::schema::{shop_load, shops};
    shop_load::table
        .inner_join(shops::table)
        .filter(shops::id.eq(shop))
        .select((shop_load::live, shops::capacity))
        .first(&mut app.state.pool.get().expect("conn"))
        .expect("load")
}

/// Events and plans created by many planners at once: each answer is the caller's own (it
/// once read back the row with the highest id, and got another planner's event or plan).
async fn concurrent_events_and_plans_answer_their_own(backend: Backend) {
    use pudo::staging::{allocator::Params, demand, events, forecast::ForecastRow, plans};
    let app = TestApp::new(backend).with_csv(SHOPS);
    let pool = app.state.pool.clone();
    let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
    let events: Vec<std::thread::JoinHandle<()>> = (0..16)
        .map(|client| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for n in 0..10 {
                    let name = format!("event {client}-{n}");
                    let e = events::create_event(
                        &mut pool.get().expect("conn"),
                        &name,
                        t("2026-11-11 00:00"),
                        t("2026-11-12 00:00"),
                        "UTC",
                        &format!("planner-{client}"),
                        chrono::Utc::now().naive_utc(),
                    )
                    .expect("event");
                    assert_eq!(
                        (e.name.as_str(), e.created_by.as_str()),
                        (name.as_str(), format!("planner-{client}").as_str())
                    );
                }
            })
        })
        .collect();
    for handle in events {
        handle.join().expect("events thread");
    }
    let mut conn = pool.get().expect("conn");
    let all = events::list_events(&mut conn).expect("events");
    let mut ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 160);
    let event = all[0].id;
    let here = h3o::LatLng::new(40.4170, -3.7050)
        .expect("valid")
        .to_cell(h3o::Resolution::Eight);
    let far = h3o::LatLng::new(39.8628, -4.0273)
        .expect("valid")
        .to_cell(h3o::Resolution::Eight);
    let rows = [
        ForecastRow {
            zone: here,
            sku: "PHONE".into(),
            units: 4,
            size: pudo::network::sizes::SizeClass::S,
        },
        ForecastRow {
            zone: far,
            sku: "PHONE".into(),
            units: 3,
            size: pudo::network::sizes::SizeClass::S,
        },
    ];
    demand::replace_forecast(&mut conn, event, &rows).expect("forecast");
    drop(conn);
    // Radius 1 km reaches Madrid only, 100 km reaches Toledo too: the answers differ.
    let plans: Vec<_> = (0..24)
        .map(|n| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let radius_km = if n % 2 == 0 { 1.0 } else { 50.0 };
                let params = Params {
                    radius_km,
                    penalty_km: 50.0,
                };
                let mut conn = pool.get().expect("conn");
                let plan = plans::compute_plan(
                    &mut conn,
                    event,
                    &params,
                    None,
                    "pat",
                    chrono::Utc::now().naive_utc(),
                )
                .expect("plan");
                assert_eq!(
                    plan.radius_km, radius_km,
                    "plan {} answered another's radius",
                    plan.id
                );
                let lines: i64 = plans::manifest_rows(&mut conn, plan.id)
                    .expect("lines")
                    .iter()
                    .map(|(_, _, units, _)| i64::from(*units))
                    .sum();
                assert_eq!(lines, plan.served_units, "plan {}'s manifest", plan.id);
                plan.id
            })
        })
        .collect();
    let mut ids: Vec<i64> = plans
        .into_iter()
        .map(|h| h.join().expect("plan thread"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 24, "two answers carried the same plan id");
}
on_both_backends!(concurrent_events_and_plans_answer_their_own);
