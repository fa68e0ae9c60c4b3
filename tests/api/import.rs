//! Importing shops over HTTP: formats, validation, all or nothing, upsert.

use crate::on_both_backends;
use crate::search::FIXTURE;
use crate::support::{Backend, TestApp};
use actix_web::test::TestRequest;
use pudo::auth::Role;
use serde_json::json;

fn planner(app: &TestApp) -> (&'static str, String) {
    (
        "authorization",
        format!("Bearer {}", app.token(Role::Planner, "planner")),
    )
}

fn csv_request(app: &TestApp, body: &str) -> TestRequest {
    TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header(planner(app))
        .insert_header(("content-type", "text/csv"))
        .set_payload(body.to_owned())
}

async fn csv_import_then_upsert(backend: Backend) {
    let app = TestApp::new(backend);
    let answer = app.call(csv_request(&app, FIXTURE)).await;
    assert_eq!(answer.ok()["inserted"], 6);
    assert_eq!(answer.body["updated"], 0);
    assert_eq!(app.shop_count(), 6);
    // The index follows at once: the new shops are searchable.
    assert_eq!(
        app.get("/v1/pickup-points?lat=31.24&lon=121.49&limit=1")
            .await
            .external_ids(),
        ["sha-bund"]
    );
    // Re-importing a known external_id updates it; a new one is added.
    let update = "external_id,name,latitude,longitude,capacity,status\n\
                  sha-bund,外滩便利店 (moved),31.25,121.50,55,paused\n\
                  sha-new,New shop,31.2401,121.4901,10,active\n";
    let answer = app.call(csv_request(&app, update)).await;
    assert_eq!(answer.ok()["inserted"], 1);
    assert_eq!(answer.body["updated"], 1);
    assert_eq!(app.shop_count(), 7);
    let nearest = app
        .get("/v1/pickup-points?lat=31.24&lon=121.49&limit=1")
        .await;
    assert_eq!(
        nearest.external_ids(),
        ["sha-new"],
        "the paused shop left the search"
    );
    let row = pudo::network::store::load_all(&mut app.state.pool.get().expect("conn"))
        .expect("rows")
        .into_iter()
        .find(|r| r.external_id == "sha-bund")
        .expect("row");
    assert_eq!(
        (row.capacity, row.status.as_str(), row.latitude),
        (55, "paused", 31.25)
    );
    assert_eq!(row.timezone, "UTC", "no timezone column: UTC");
    assert_eq!(row.opening_hours, "24/7", "no hours column: always open");
}
on_both_backends!(csv_import_then_upsert);

async fn geojson_import(backend: Backend) {
    let app = TestApp::new(backend);
    let doc = json!({
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.1734, 41.3851]},
             "properties": {"external_id": "bcn-1", "name": "Kiosko Rambla", "capacity": 25,
                            "timezone": "Europe/Madrid", "opening_hours": "Mo-Sa 09:00-21:00"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-15.4134, 28.1236]},
             "properties": {"external_id": 42, "name": "Las Palmas", "capacity": "12",
                            "timezone": "Atlantic/Canary", "status": "active"}}
        ]
    });
    let req = TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header(planner(&app))
        .insert_header(("content-type", "application/geo+json"))
        .set_payload(doc.to_string());
    assert_eq!(app.call(req).await.ok()["inserted"], 2);
    let hit = app
        .get("/v1/pickup-points?lat=28.12&lon=-15.41&limit=1")
        .await;
    assert_eq!(hit.external_ids(), ["42"]);
    // Without a content type the body is recognised as GeoJSON.
    let again = TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header(planner(&app))
        .set_payload(doc.to_string());
    assert_eq!(app.call(again).await.ok()["updated"], 2);
}
on_both_backends!(geojson_import);

async fn every_bad_row_is_listed_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let before = app.shop_count();
    let bad = "external_id,name,latitude,longitude,capacity,timezone,opening_hours,status\n\
        ok-1,Fine,40.0,-3.0,10,Europe/Madrid,24/7,active\n\
        bad-lat,Lat,91,-3.0,10,Europe/Madrid,24/7,active\n\
        bad-lon,Lon,40.0,-190,10,Europe/Madrid,24/7,active\n\
        bad-zero,Zero,0,0,10,Europe/Madrid,24/7,active\n\
        bad-cap,Cap,40.0,-3.0,-1,Europe/Madrid,24/7,active\n\
        bad-tz,Tz,40.0,-3.0,10,Europe/Atlantis,24/7,active\n\
        bad-hours,Hours,40.0,-3.0,10,Europe/Madrid,Mo-Fr 9-17,active\n\
        bad-status,Status,40.0,-3.0,10,Europe/Madrid,24/7,open\n\
        ok-1,Duplicate,40.0,-3.0,10,Europe/Madrid,24/7,active\n\
        ,No id,40.0,-3.0,10,Europe/Madrid,24/7,active\n\
        bad-num,Num,forty,-3.0,10,Europe/Madrid,24/7,active\n\
        short,row\n\
        mad-sol,Updating a known shop in a bad file,40.0,-3.0,99,Europe/Madrid,24/7,active\n";
    let answer = app.call(csv_request(&app, bad)).await;
    let problem = answer.problem(422);
    let errors: Vec<(u64, String)> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().expect("row"),
                e["field"].as_str().expect("field").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = [
        (3, "latitude"),
        (4, "longitude"),
        (5, "latitude"),
        (6, "capacity"),
        (7, "timezone"),
        (8, "opening_hours"),
        (9, "status"),
        (10, "external_id"),
        (11, "external_id"),
        (12, "latitude"),
        (13, "*"),
    ]
    .into_iter()
    .map(|(r, f)| (r, f.to_owned()))
    .collect();
    assert_eq!(errors, expected, "{}", answer.text);
    assert!(
        problem["errors"][7]["message"]
            .as_str()
            .is_some_and(|m| m.contains("row 2")),
        "duplicate names the first row"
    );
    assert_eq!(app.shop_count(), before, "nothing stored");
    let sol = app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&limit=1")
        .await;
    assert_eq!(
        sol.body["items"][0]["capacity"], 20,
        "the known shop in the bad file was not updated"
    );
}
on_both_backends!(every_bad_row_is_listed_and_nothing_is_stored);

async fn malformed_files_are_rejected_clearly(backend: Backend) {
    let app = TestApp::new(backend);
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "text/csv",
            "name,latitude,longitude,capacity\nx,1,1,1\n",
            "external_id",
        ),
        (
            "text/csv",
            "external_id,name,latitude,longitude,capacity,colour\n",
            "colour",
        ),
        ("application/json", "{not json", "*"),
        ("application/json", r#"{"type":"Feature"}"#, "type"),
        (
            "application/json",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[]},"properties":{}}]}"#,
            "geometry",
        ),
        (
            "application/json",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"external_id":"a","name":"b"}}]}"#,
            "capacity",
        ),
    ];
    for (content_type, body, field) in cases {
        let req = TestRequest::post()
            .uri("/v1/shops/import")
            .insert_header(planner(&app))
            .insert_header(("content-type", content_type))
            .set_payload(body.to_owned());
        let answer = app.call(req).await;
        assert_eq!(
            answer.problem(422)["errors"][0]["field"],
            field,
            "{body}: {}",
            answer.text
        );
    }
    let empty = app.call(csv_request(&app, "")).await;
    empty.problem(400);
    let not_utf8 = TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header(planner(&app))
        .insert_header(("content-type", "text/csv"))
        .set_payload(b"external_id,name,latitude,longitude,capacity\n\xff\xfe,x,1,1,1\n".to_vec());
    assert_eq!(app.call(not_utf8).await.problem(422)["errors"][0]["row"], 2);
    assert_eq!(app.shop_count(), 0);
}
on_both_backends!(malformed_files_are_rejected_clearly);

#[actix_web::test]
async fn oversized_bodies_are_413() {
    let mut app = TestApp::new(Backend::Sqlite);
    app.state.max_upload_bytes = 1024;
    let big = format!(
        "external_id,name,latitude,longitude,capacity\n{}",
        "a,b,1,1,1\n".repeat(500)
    );
    app.call(csv_request(&app, &big)).await.problem(413);
}

#[actix_web::test]
async fn import_needs_a_planner_or_admin_token() {
    let app = TestApp::new(Backend::Sqlite);
    let anonymous = TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header(("content-type", "text/csv"))
        .set_payload(FIXTURE);
    app.call(anonymous).await.problem(401);
    let merchant = TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header((
            "authorization",
            format!("Bearer {}", app.token(Role::Merchant, "acme")),
        ))
        .set_payload(FIXTURE);
    app.call(merchant).await.problem(403);
    let admin = TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header((
            "authorization",
            format!("Bearer {}", app.token(Role::Admin, "ops")),
        ))
        .set_payload(FIXTURE);
    assert_eq!(app.call(admin).await.ok()["inserted"], 6);
    assert_eq!(app.shop_count(), 6);
}
