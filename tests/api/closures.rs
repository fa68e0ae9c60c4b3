//! Services and closure periods over HTTP: import, the partner's own list, search, reservations
//! and staging, in Europe/Madrid (across the end of summer time) and Asia/Shanghai.

use crate::on_both_backends;
use crate::support::{Answer, Backend, TestApp};
use actix_web::test::TestRequest;
use pudo::auth::Role;
use serde_json::{json, Value};

/// Madrid shops (one closed on the last Sunday of October 2027, one offering drop-off only,
/// one without staging) and a Shanghai shop closed over Christmas 2026.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,timezone,services,closures
mad-dst,Kiosko Sol,40.4169,-3.7035,5,Europe/Madrid,,2027-10-31 Cambio de hora
mad-drop,Buzón Ópera,40.4170,-3.7040,5,Europe/Madrid,dropoff,
mad-nostage,Estanco Ópera,40.4180,-3.7097,5,Europe/Madrid,pickup|dropoff|returns,
sha-xmas,外滩便利店,31.2400,121.4900,5,Asia/Shanghai,pickup|staging,2026-12-24/2026-12-26 Christmas
";

fn enc(t: &str) -> String {
    t.replace('+', "%2B")
}

/// The search answer's item for `external_id`, searching near it with `extra` parameters.
async fn point(app: &TestApp, lat: f64, lon: f64, extra: &str, external_id: &str) -> Option<Value> {
    let answer = app
        .get(&format!(
            "/v1/pickup-points?lat={lat}&lon={lon}&limit=10&include_unavailable=true{extra}"
        ))
        .await;
    answer.ok()["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["external_id"] == external_id)
        .cloned()
}

async fn reason_at(app: &TestApp, lat: f64, lon: f64, id: &str, at: &str) -> Value {
    let item = point(app, lat, lon, &format!("&arrive_at={}", enc(at)), id)
        .await
        .expect("listed");
    assert_eq!(item["selectable"], item["unavailable_reason"].is_null());
    item["unavailable_reason"].clone()
}

async fn import_with_services_and_closures(backend: Backend) {
    let app = TestApp::new(backend);
    let planner = app.token(Role::Planner, "pat");
    let post = |body: &str| {
        TestRequest::post()
            .uri("/v1/shops/import")
            .insert_header(("authorization", format!("Bearer {planner}")))
            .insert_header(("content-type", "text/csv"))
            .set_payload(body.to_owned())
    };
    let bad = "external_id,name,latitude,longitude,capacity,services,closures\n\
               a,A,40.1,-3.1,1,pickup|teleport,\n\
               b,B,40.2,-3.2,1,,2026-12-26/2026-12-24 backwards\n\
               c,C,40.3,-3.3,1,,\n";
    let rejected = app.call(post(bad)).await;
    let errors = rejected.problem(422)["errors"]
        .as_array()
        .expect("errors")
        .clone();
    let fields: Vec<(i64, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap_or(0),
                e["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(fields, [(2, "services"), (3, "closures")]);
    assert_eq!(app.shop_count(), 0, "all or nothing");

    assert_eq!(app.call(post(SHOPS)).await.ok()["inserted"], 4);
    let partner = app.partner_token("sha-xmas");
    let shop = app.get_as("/v1/partner/shop", &partner).await;
    assert_eq!(shop.ok()["services"], json!(["pickup", "staging"]));
    let closures = app.get_as("/v1/partner/shop/closures", &partner).await;
    assert_eq!(
        closures.ok()["closures"],
        json!([{"start": "2026-12-24", "end": "2026-12-26", "reason": "Christmas"}])
    );
    assert_eq!(closures.body["timezone"], "Asia/Shanghai");
    // Re-importing without the closures column keeps them; services default to all four.
    let again = "external_id,name,latitude,longitude,capacity,timezone\n\
                 sha-xmas,外滩便利店,31.24,121.49,5,Asia/Shanghai\n";
    app.call(post(again)).await.ok();
    let closures = app.get_as("/v1/partner/shop/closures", &partner).await;
    assert_eq!(closures.ok()["closures"].as_array().map(Vec::len), Some(1));
    let shop = app.get_as("/v1/partner/shop", &partner).await;
    assert_eq!(
        shop.ok()["services"],
        json!(["pickup", "dropoff", "returns", "staging"])
    );
    // GeoJSON with arrays.
    let geojson = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-3.70, 40.41]},
         "properties": {"external_id": "geo", "name": "Geo", "capacity": 2, "timezone": "Europe/Madrid",
           "services": ["dropoff", "pickup"],
           "closures": [{"start": "2027-01-06", "end": "2027-01-06", "reason": "Reyes"}]}}]});
    let imported = app
        .call(
            TestRequest::post()
                .uri("/v1/shops/import")
                .insert_header(("authorization", format!("Bearer {planner}")))
                .insert_header(("content-type", "application/geo+json"))
                .set_payload(geojson.to_string()),
        )
        .await;
    assert_eq!(imported.ok()["inserted"], 1, "{}", imported.text);
    let geo = app.partner_token("geo");
    assert_eq!(
        app.get_as("/v1/partner/shop", &geo).await.ok()["services"],
        json!(["pickup", "dropoff"])
    );
}
on_both_backends!(import_with_services_and_closures);

async fn a_closure_hides_a_point_for_exactly_its_period(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (lat, lon) = (31.24, 121.49);
    // Shanghai: 24 to 26 December, local days.
    for (at, closed) in [
        ("2026-12-23T23:59:59+08:00", false),
        ("2026-12-24T00:00:00+08:00", true),
        ("2026-12-26T23:59:59+08:00", true),
        ("2026-12-27T00:00:00+08:00", false),
    ] {
        let reason = reason_at(&app, lat, lon, "sha-xmas", at).await;
        let want = if closed {
            json!("closed_for_period")
        } else {
            Value::Null
        };
        assert_eq!(reason, want, "at {at}");
    }
    // open_at filters it out while closed.
    let open_at = |t: &str| format!("&open_at={}", enc(t));
    assert!(point(
        &app,
        lat,
        lon,
        &open_at("2026-12-25T12:00:00+08:00"),
        "sha-xmas"
    )
    .await
    .is_none());
    assert!(point(
        &app,
        lat,
        lon,
        &open_at("2026-12-27T00:00:00+08:00"),
        "sha-xmas"
    )
    .await
    .is_some());

    // Madrid: Sunday 31 October 2027 lasts 25 hours (CEST until 03:00, then CET).
    let (lat, lon) = (40.4169, -3.7035);
    for (at, closed) in [
        ("2027-10-30T23:59:59+02:00", false),
        ("2027-10-31T00:00:00+02:00", true),
        ("2027-10-31T02:30:00+02:00", true),
        ("2027-10-31T02:30:00+01:00", true),
        ("2027-10-31T23:59:59+01:00", true),
        ("2027-11-01T00:00:00+01:00", false),
    ] {
        let reason = reason_at(&app, lat, lon, "mad-dst", at).await;
        let want = if closed {
            json!("closed_for_period")
        } else {
            Value::Null
        };
        assert_eq!(reason, want, "at {at}");
    }
}
on_both_backends!(a_closure_hides_a_point_for_exactly_its_period);

async fn services_in_search_and_the_service_filter(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (lat, lon) = (40.4169, -3.7035);
    // The drop-off-only shop is no pickup point.
    assert!(point(&app, lat, lon, "", "mad-drop").await.is_none());
    let drop = point(&app, lat, lon, "&service=dropoff", "mad-drop")
        .await
        .expect("found as a drop-off point");
    assert_eq!(drop["services"], json!(["dropoff"]));
    let all = point(&app, lat, lon, "", "mad-dst").await.expect("listed");
    assert_eq!(
        all["services"],
        json!(["pickup", "dropoff", "returns", "staging"])
    );
    assert!(point(&app, lat, lon, "&service=staging", "mad-nostage")
        .await
        .is_none());
    let bad = app
        .get(&format!(
            "/v1/pickup-points?lat={lat}&lon={lon}&service=teleport"
        ))
        .await;
    assert_eq!(bad.problem(400)["parameter"], "service");
}
on_both_backends!(services_in_search_and_the_service_filter);

async fn reserve(
    app: &TestApp,
    merchant: &str,
    shop: i64,
    order: &str,
    at: Option<&str>,
) -> Answer {
    let mut body = json!({"pickup_point_id": shop, "order_ref": order});
    if let Some(at) = at {
        body["arrive_at"] = json!(at);
    }
    app.post("/v1/reservations", merchant, body).await
}

async fn reservations_respect_services_and_closures(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let (drop, xmas) = (app.shop_id("mad-drop"), app.shop_id("sha-xmas"));
    let refused = reserve(&app, &merchant, drop, "O-1", None).await;
    assert_eq!(refused.problem(409)["reason"], "no_pickup_service");
    let closed = reserve(
        &app,
        &merchant,
        xmas,
        "O-2",
        Some("2026-12-25T10:00:00+08:00"),
    )
    .await;
    assert_eq!(closed.problem(409)["reason"], "closed_for_period");
    let bad = reserve(&app, &merchant, xmas, "O-3", Some("tomorrow")).await;
    assert_eq!(bad.problem(400)["parameter"], "arrive_at");
    let fine = reserve(
        &app,
        &merchant,
        xmas,
        "O-4",
        Some("2026-12-27T00:00:00+08:00"),
    )
    .await;
    assert_eq!(fine.status.as_u16(), 201, "{}", fine.text);
    // The refusals held no slot.
    let partner = app.partner_token("sha-xmas");
    assert_eq!(
        app.get_as("/v1/partner/shop", &partner).await.ok()["live_parcels"],
        1
    );
}
on_both_backends!(reservations_respect_services_and_closures);

async fn partner_manages_its_closures(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let partner = app.partner_token("mad-nostage");
    let put = |body: Value| {
        app.call(
            TestRequest::put()
                .uri("/v1/partner/shop/closures")
                .insert_header(("authorization", format!("Bearer {partner}")))
                .set_json(body),
        )
    };
    let bad = put(json!({"closures": [{"start": "2026-12-31", "end": "2026-12-30"}]})).await;
    assert_eq!(bad.problem(400)["parameter"], "closures[0].end");
    let bad = put(json!({"closures": [{"start": "31/12/2026"}]})).await;
    assert_eq!(bad.problem(400)["parameter"], "closures[0].start");
    let bad = put(json!({"closures": [{"start": "2026-12-31", "why": "x"}]})).await;
    assert_eq!(bad.problem(400)["parameter"], "closures[0].why");

    let (lat, lon) = (40.4180, -3.7097);
    let at = "2027-01-06T12:00:00+01:00";
    assert!(reason_at(&app, lat, lon, "mad-nostage", at).await.is_null());
    let stored = put(json!({"closures": [
        {"start": "2027-01-06", "reason": "Reyes"},
        {"start": "2026-12-31", "end": "2027-01-01", "reason": "Nochevieja"}]}))
    .await;
    assert_eq!(
        stored.ok()["closures"],
        json!([
            {"start": "2026-12-31", "end": "2027-01-01", "reason": "Nochevieja"},
            {"start": "2027-01-06", "end": "2027-01-06", "reason": "Reyes"}
        ])
    );
    // The index follows at once.
    assert_eq!(
        reason_at(&app, lat, lon, "mad-nostage", at).await,
        "closed_for_period"
    );
    // Customers see the closures not yet over on the point's page.
    put(json!({"closures": [
        {"start": "2020-01-01", "reason": "long ago"},
        {"start": "2099-12-24", "end": "2099-12-26", "reason": "Navidad"}]}))
    .await
    .ok();
    let page = app
        .get(&format!("/v1/pickup-points/{}", app.shop_id("mad-nostage")))
        .await;
    assert_eq!(
        page.ok()["closures"],
        json!([{"start": "2099-12-24", "end": "2099-12-26", "reason": "Navidad"}])
    );
    assert_eq!(
        page.body["services"],
        json!(["pickup", "dropoff", "returns"])
    );
    put(json!({"closures": []})).await.ok();
    assert!(reason_at(&app, lat, lon, "mad-nostage", at).await.is_null());
    // Other roles cannot.
    let merchant = app.token(Role::Merchant, "acme");
    let denied = app.get_as("/v1/partner/shop/closures", &merchant).await;
    assert_eq!(denied.status.as_u16(), 403, "{}", denied.text);
}
on_both_backends!(partner_manages_its_closures);

fn zone(lat: f64, lon: f64) -> String {
    h3o::LatLng::new(lat, lon)
        .expect("valid")
        .to_cell(h3o::Resolution::Eight)
        .to_string()
}

/// Creates an event with the window given and a forecast of `units` near (`lat`, `lon`);
/// returns the plan's served units and shops used.
async fn plan_at(
    app: &TestApp,
    (lat, lon): (f64, f64),
    starts: &str,
    ends: &str,
    units: u32,
) -> (i64, i64) {
    let planner = app.token(Role::Planner, "pat");
    let event = app
        .post(
            "/v1/events",
            &planner,
            json!({"name": "Peak", "starts_at": starts, "ends_at": ends, "timezone": "Europe/Madrid"}),
        )
        .await;
    assert_eq!(event.status.as_u16(), 201, "{}", event.text);
    let id = event.body["id"].as_i64().expect("id");
    let forecast = format!("zone,sku,units\n{},TEA,{units}\n", zone(lat, lon));
    let up = app
        .call(
            TestRequest::post()
                .uri(&format!("/v1/events/{id}/forecast"))
                .insert_header(("authorization", format!("Bearer {planner}")))
                .insert_header(("content-type", "text/csv"))
                .set_payload(forecast),
        )
        .await;
    up.ok();
    let plan = app
        .post(&format!("/v1/events/{id}/plans"), &planner, json!({}))
        .await;
    assert_eq!(plan.status.as_u16(), 201, "{}", plan.text);
    (
        plan.body["served_units"].as_i64().expect("served"),
        plan.body["shops_used"].as_i64().expect("shops"),
    )
}

/// [`plan_at`] near Sol.
async fn plan(app: &TestApp, starts: &str, ends: &str, units: u32) -> (i64, i64) {
    plan_at(app, (40.4170, -3.7050), starts, ends, units).await
}

async fn staging_skips_shops_closed_during_the_event_or_without_staging(backend: Backend) {
    // Near Sol, only mad-dst offers staging (mad-drop offers drop-off only, mad-nostage no
    // staging); it is closed all of Sunday 31 October 2027, local time.
    let app = TestApp::new(backend).with_csv(SHOPS);
    // The event is the Saturday before: it ends exactly when the closure starts.
    let before = plan(
        &app,
        "2027-10-30T00:00:00+02:00",
        "2027-10-31T00:00:00+02:00",
        20,
    )
    .await;
    assert_eq!(before, (5, 1));
    // An event covering the last hour of the 25-hour Sunday touches the closure.
    let last_hour = plan(
        &app,
        "2027-10-31T23:00:00+01:00",
        "2027-11-01T00:00:00+01:00",
        20,
    )
    .await;
    assert_eq!(last_hour, (0, 0));
    // From local midnight on Monday the shop is open again.
    let after = plan(
        &app,
        "2027-11-01T00:00:00+01:00",
        "2027-11-02T00:00:00+01:00",
        20,
    )
    .await;
    assert_eq!(after, (5, 1));
    // Shanghai, closed 24 to 26 December 2026 (local days).
    let bund = (31.2405, 121.4905);
    for (starts, ends, want) in [
        (
            "2026-12-23T00:00:00+08:00",
            "2026-12-24T00:00:00+08:00",
            (5, 1),
        ),
        (
            "2026-12-23T23:00:00+08:00",
            "2026-12-24T00:00:01+08:00",
            (0, 0),
        ),
        (
            "2026-12-26T23:59:00+08:00",
            "2026-12-27T00:00:00+08:00",
            (0, 0),
        ),
        (
            "2026-12-27T00:00:00+08:00",
            "2026-12-28T00:00:00+08:00",
            (5, 1),
        ),
    ] {
        assert_eq!(
            plan_at(&app, bund, starts, ends, 20).await,
            want,
            "{starts}..{ends}"
        );
    }
}
on_both_backends!(staging_skips_shops_closed_during_the_event_or_without_staging);

async fn moves_and_redirects_respect_services_and_closures(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let carrier = app.token(Role::Carrier, "swift");
    let (sol, drop, nostage) = (
        app.shop_id("mad-dst"),
        app.shop_id("mad-drop"),
        app.shop_id("mad-nostage"),
    );
    let id = reserve(&app, &merchant, sol, "M-1", None).await.body["id"]
        .as_i64()
        .expect("id");
    let moved = app
        .post(
            &format!("/v1/reservations/{id}/move"),
            &merchant,
            json!({"pickup_point_id": drop}),
        )
        .await;
    assert_eq!(moved.problem(409)["reason"], "no_pickup_service");
    let uri = format!("/v1/carrier/parcels/{id}/redirect-options");
    let offered = || async {
        app.get_as(&uri, &carrier).await.ok()["options"]
            .as_array()
            .expect("options")
            .iter()
            .filter_map(|o| o["id"].as_i64())
            .collect::<Vec<i64>>()
    };
    // The drop-off-only point is never offered.
    assert_eq!(offered().await, [nostage]);
    // mad-nostage closes from yesterday to tomorrow (UTC dates: today everywhere on Earth).
    let today = chrono::Utc::now().date_naive();
    let partner = app.partner_token("mad-nostage");
    app.call(
        TestRequest::put()
            .uri("/v1/partner/shop/closures")
            .insert_header(("authorization", format!("Bearer {partner}")))
            .set_json(json!({"closures": [{
                "start": (today - chrono::Duration::days(1)).to_string(),
                "end": (today + chrono::Duration::days(1)).to_string()}]})),
    )
    .await
    .ok();
    assert!(offered().await.is_empty());
    let redirected = app
        .post(
            &format!("/v1/carrier/parcels/{id}/redirect"),
            &carrier,
            json!({"pickup_point_id": nostage}),
        )
        .await;
    assert_eq!(redirected.problem(409)["reason"], "closed_for_period");
}
on_both_backends!(moves_and_redirects_respect_services_and_closures);
