//! The checkout widget's server side: cross-origin reads of the search, cell outlines, and the
//! widget's own files. (The widget itself is tested in a browser: tests/e2e/widget.test.js.)

use crate::on_both_backends;
use crate::search::FIXTURE;
use crate::support::{Backend, TestApp};
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use h3o::CellIndex;
use serde_json::Value;

/// Status, headers and JSON body (`Null` when not JSON) of one request from a page on another
/// origin.
async fn from_page(app: &TestApp, req: TestRequest) -> (StatusCode, HeaderMap, Value) {
    let service = test::init_service(pudo::api::app(app.state.clone())).await;
    let req = req
        .insert_header(("origin", "https://shop.example"))
        .to_request();
    let res = test::call_service(&service, req).await;
    let (status, headers) = (res.status(), res.headers().clone());
    let body = serde_json::from_slice(&test::read_body(res).await).unwrap_or(Value::Null);
    (status, headers, body)
}

fn allow_origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
}

async fn search_and_point_are_readable_from_any_origin(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let get = |uri: &str| TestRequest::get().uri(uri);

    let (status, headers, body) = from_page(
        &app,
        get("/v1/pickup-points?lat=40.4168&lon=-3.7038&limit=2"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(allow_origin(&headers), Some("*"));
    assert!(
        headers.get("access-control-allow-credentials").is_none(),
        "never with credentials"
    );
    let id = body["items"][0]["id"].as_i64().expect("a point");

    // Errors too, so the page can read the problem.
    let (status, headers, body) =
        from_page(&app, get("/v1/pickup-points?lat=91&lon=-3.7038")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "lat");
    assert_eq!(allow_origin(&headers), Some("*"));

    let (status, headers, body) = from_page(&app, get(&format!("/v1/pickup-points/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], id);
    assert_eq!(allow_origin(&headers), Some("*"));
    let (status, headers, _) = from_page(&app, get("/v1/pickup-points/999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(allow_origin(&headers), Some("*"));

    // Routes that are not public reads stay same-origin.
    let (status, headers, _) = from_page(
        &app,
        TestRequest::post()
            .uri("/v1/reservations")
            .set_json(serde_json::json!({"pickup_point_id": id, "order_ref": "X"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(allow_origin(&headers), None);
    let (_, headers, _) = from_page(&app, get("/v1/partner/shop")).await;
    assert_eq!(allow_origin(&headers), None);
    let (_, headers, _) = from_page(&app, get("/metrics")).await;
    assert_eq!(allow_origin(&headers), None);
}
on_both_backends!(search_and_point_are_readable_from_any_origin);

/// Whether `(lat, lon)` lies inside the polygon (ray casting; fine at a cell's scale).
fn inside(polygon: &[Value], lat: f64, lon: f64) -> bool {
    let v: Vec<(f64, f64)> = polygon
        .iter()
        .map(|p| (p[0].as_f64().expect("lat"), p[1].as_f64().expect("lon")))
        .collect();
    let mut inside = false;
    for (i, &(ai, oi)) in v.iter().enumerate() {
        let (aj, oj) = v[(i + v.len() - 1) % v.len()];
        if (ai > lat) != (aj > lat) && lon < (oj - oi) * (lat - ai) / (aj - ai) + oi {
            inside = !inside;
        }
    }
    inside
}

#[actix_web::test]
async fn cell_outlines_are_the_h3_boundaries_of_the_points() {
    let app = TestApp::new(Backend::Sqlite).with_csv(FIXTURE);
    let search = app
        .get("/v1/pickup-points?lat=40.4168&lon=-3.7038&limit=3")
        .await;
    let items = search.ok()["items"].as_array().expect("items").clone();
    let cells: Vec<&str> = items
        .iter()
        .map(|i| i["h3_cell"].as_str().expect("cell"))
        .collect();
    let (status, headers, body) = from_page(
        &app,
        TestRequest::get().uri(&format!("/v1/h3-cells?cells={}", cells.join(","))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(allow_origin(&headers), Some("*"));
    assert!(headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("public") && v.contains("max-age")));
    let outlines = body["items"].as_array().expect("items");
    assert_eq!(
        outlines.len(),
        items.len(),
        "one outline per cell, in order"
    );
    for (item, outline) in items.iter().zip(outlines) {
        assert_eq!(outline["cell"], item["h3_cell"]);
        assert_eq!(outline["resolution"], 9);
        let cell: CellIndex = item["h3_cell"].as_str().expect("cell").parse().expect("h3");
        let expected: Vec<[f64; 2]> = cell.boundary().iter().map(|v| [v.lat(), v.lng()]).collect();
        let boundary = outline["boundary"].as_array().expect("boundary");
        assert_eq!(boundary.len(), 6, "a hexagon");
        let got: Vec<[f64; 2]> = boundary
            .iter()
            .map(|p| [p[0].as_f64().expect("lat"), p[1].as_f64().expect("lon")])
            .collect();
        assert_eq!(got.len(), expected.len());
        // Equal up to JSON's last-digit rounding.
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                (g[0] - e[0]).abs() < 1e-12 && (g[1] - e[1]).abs() < 1e-12,
                "{g:?} vs {e:?}"
            );
        }
        let (lat, lon) = (
            item["lat"].as_f64().expect("lat"),
            item["lon"].as_f64().expect("lon"),
        );
        assert!(inside(boundary, lat, lon), "the point lies in its cell");
    }

    let bad = app.get("/v1/h3-cells?cells=89390cb1b4bffff,nonsense").await;
    assert_eq!(bad.problem(400)["parameter"], "cells");
    assert!(bad.body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("nonsense")));
    app.get("/v1/h3-cells").await.problem(400);
    app.get("/v1/h3-cells?cells=").await.problem(400);
    let many = vec![cells[0]; 101].join(",");
    let too_many = app.get(&format!("/v1/h3-cells?cells={many}")).await;
    assert_eq!(too_many.problem(400)["parameter"], "cells");
}

#[actix_web::test]
async fn widget_files_are_served_for_pages_on_any_origin() {
    let app = TestApp::new(Backend::Sqlite);
    let get = |uri: &str| TestRequest::get().uri(uri);
    let (status, headers, _) = from_page(&app, get("/widget/pudo-widget.js")).await;
    assert_eq!(status, StatusCode::OK);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/javascript"));
    assert_eq!(header("access-control-allow-origin"), "*");
    assert_eq!(header("cross-origin-resource-policy"), "cross-origin");
    assert_eq!(header("cache-control"), "no-cache");
    let etag = header("etag");
    assert!(etag.starts_with("W/\""), "{etag}");
    let (status, _, _) = from_page(
        &app,
        get("/widget/pudo-widget.js").insert_header(("if-none-match", etag.as_str())),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    let page = app.get("/widget/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text.contains("<pudo-picker"));
    app.get("/widget/nope.js").await.problem(404);
}

#[actix_web::test]
async fn the_widget_names_every_reason_a_search_can_give_in_every_language() {
    let app = TestApp::new(Backend::Sqlite);
    let script = app.get("/widget/pudo-widget.js").await.text;
    for reason in ["full", "paused", "closed_at_arrival", "closed_for_period"] {
        let texts = script.matches(&format!("{reason}: '")).count();
        assert_eq!(texts, 3, "{reason} in en, zh and es");
    }
    for service in ["pickup", "dropoff", "returns", "staging"] {
        assert_eq!(
            script.matches(&format!("svc_{service}: '")).count(),
            3,
            "{service}"
        );
    }
}
