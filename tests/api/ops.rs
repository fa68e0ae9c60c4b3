//! Operations endpoints, the OpenAPI document and error shapes.

use crate::on_both_backends;
use crate::search::FIXTURE;
use crate::support::{Backend, TestApp};
use actix_web::test::TestRequest;

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    assert_eq!(app.get("/healthz").await.ok()["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.ok()["status"], "ready");
    assert_eq!(ready.body["shops"], 6);
    assert_eq!(ready.body["revision"], 1);
}
on_both_backends!(health_and_readiness);

#[actix_web::test]
async fn not_ready_until_the_index_is_loaded() {
    let db = crate::support::TestDb::new(Backend::Sqlite);
    let pool = db.pool();
    let network = pudo::network::service::Network::new(pool.clone());
    let app = crate::support::TestApp {
        db,
        state: crate::support::state_for(pool, network),
    };
    let answer = app.get("/readyz").await;
    assert!(answer.problem(503)["detail"]
        .as_str()
        .is_some_and(|d| d.contains("index")));
}

#[actix_web::test]
async fn metrics_count_requests_by_route() {
    let app = TestApp::new(Backend::Sqlite).with_csv(FIXTURE);
    app.get("/v1/pickup-points?lat=40&lon=-3").await.ok();
    app.get("/v1/pickup-points?lat=400&lon=-3")
        .await
        .problem(400);
    let metrics = app.get("/metrics").await;
    assert!(metrics.content_type.starts_with("text/plain"));
    let text = metrics.text;
    assert!(
        text.contains(
            r#"pudo_http_requests_total{method="GET",route="/v1/pickup-points",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"pudo_http_requests_total{method="GET",route="/v1/pickup-points",status="400"} 1"#
    ));
    assert!(text.contains("pudo_http_request_duration_seconds_bucket"));
    assert!(text.contains("pudo_index_shops 6"));
    assert!(text.contains("pudo_searches_total 1"));
}

#[actix_web::test]
async fn openapi_documents_every_route() {
    let app = TestApp::new(Backend::Sqlite);
    let doc = app.get("/openapi.json").await;
    let body = doc.ok();
    assert!(body["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    let paths = body["paths"].as_object().expect("paths");
    let mut documented: Vec<String> = paths
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .into_iter()
                .flat_map(|o| o.keys())
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    documented.sort();
    assert_eq!(
        documented,
        [
            "GET /healthz",
            "GET /metrics",
            "GET /openapi.json",
            "GET /partner/",
            "GET /partner/{file}",
            "GET /readyz",
            "GET /v1/carrier/parcels/{id}/redirect-options",
            "GET /v1/events",
            "GET /v1/h3-cells",
            "GET /v1/ops/fees",
            "GET /v1/ops/health",
            "GET /v1/ops/scan-ins",
            "GET /v1/ops/shops/{id}/health",
            "GET /v1/partner/collections",
            "GET /v1/partner/parcels",
            "GET /v1/partner/parcels/{id}/redirect-options",
            "GET /v1/partner/shop",
            "GET /v1/partner/shop/closures",
            "GET /v1/partner/staging",
            "GET /v1/partner/statement",
            "GET /v1/pickup-points",
            "GET /v1/pickup-points/{id}",
            "GET /v1/plans/{id}",
            "GET /v1/plans/{id}/map.svg",
            "GET /v1/reservations/{id}",
            "GET /v1/returns/{id}",
            "GET /widget/",
            "GET /widget/{file}",
            "PATCH /v1/partner/shop",
            "POST /v1/auth/token",
            "POST /v1/carrier/handins",
            "POST /v1/carrier/parcels/{id}/redirect",
            "POST /v1/events",
            "POST /v1/events/{id}/forecast",
            "POST /v1/events/{id}/forecast/derive",
            "POST /v1/events/{id}/plans",
            "POST /v1/partner/collections",
            "POST /v1/partner/dropoffs",
            "POST /v1/partner/handovers",
            "POST /v1/partner/parcels/{id}/arrival",
            "POST /v1/partner/parcels/{id}/redirect",
            "POST /v1/partner/parcels/{id}/return",
            "POST /v1/partner/staging/{id}/receipt",
            "POST /v1/plans/{id}/approve",
            "POST /v1/plans/{id}/dispatch",
            "POST /v1/reservations",
            "POST /v1/reservations/{id}/cancel",
            "POST /v1/reservations/{id}/extend",
            "POST /v1/reservations/{id}/move",
            "POST /v1/returns",
            "POST /v1/shops/import",
            "PUT /v1/merchant/webhook",
            "PUT /v1/ops/fees",
            "PUT /v1/partner/shop/closures",
        ]
    );
    let params: Vec<&str> = paths["/v1/pickup-points"]["get"]["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        params,
        [
            "lat",
            "lon",
            "limit",
            "radius_m",
            "open_at",
            "min_free",
            "sku",
            "arrive_at",
            "include_unavailable",
            "rank",
            "stock_sku",
            "service"
        ]
    );
    // Every route in the document answers something other than "no such route".
    for route in documented {
        let (method, path) = route.split_once(' ').expect("method path");
        let path = path.replace("{id}", "1");
        let req = TestRequest::default().method(method.parse().expect("method"));
        let answer = app.call(req.uri(&path)).await;
        assert_ne!(answer.body["detail"], "no such route", "{route}");
    }
}

#[actix_web::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::new(Backend::Sqlite);
    app.get("/v1/nothing-here").await.problem(404);
    let wrong_method = app
        .call(TestRequest::delete().uri("/v1/pickup-points"))
        .await;
    assert!([404, 405].contains(&wrong_method.status.as_u16()));
    wrong_method.problem(wrong_method.status.as_u16());
}

#[actix_web::test]
async fn the_partner_app_is_served() {
    let app = TestApp::new(Backend::Sqlite);
    let page = app.get("/partner/").await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text.contains("<title>pudo partner</title>"));
}
