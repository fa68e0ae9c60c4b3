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

/// A database that cannot be reached answers 503 `application/problem+json` with `Retry-After`,
/// at once (the pool holds no connection), never 500; liveness still answers. On PostgreSQL
/// nothing listens on the port, as after a primary is killed (connection refused); on SQLite
/// the file cannot be opened.
async fn an_unreachable_database_answers_503_at_once(backend: Backend) {
    use actix_web::test;
    let live = TestApp::new(backend);
    let merchant = live.token(pudo::auth::Role::Merchant, "acme");
    let dead = match backend {
        Backend::Sqlite => "sqlite:///nonexistent-pudo-dir/pudo.db",
        Backend::Postgres | Backend::Citus => "postgres://postgres@127.0.0.1:1/pudo",
    };
    let url = pudo::db::DatabaseUrl::parse(dead).expect("url");
    let mut state = live.state.clone();
    state.pool = pudo::db::pool_unchecked(&url, 4);
    state.network = std::sync::Arc::new(pudo::network::service::Network::new(state.pool.clone()));
    state.writes = std::sync::Arc::new(
        pudo::pickup::Writes::start(
            state.pool.clone(),
            live.state.writes.settings(),
            *live.state.keys.data_key(),
            live.state.hold,
        )
        .expect("writers"),
    );
    let app = test::init_service(pudo::api::app(state)).await;
    let reserve = || {
        TestRequest::post()
            .uri("/v1/reservations")
            .insert_header(("authorization", format!("Bearer {merchant}")))
            .set_json(serde_json::json!({"pickup_point_id": 1, "order_ref": "ORD-1"}))
    };
    for (what, request) in [
        ("reservation", reserve()),
        ("readyz", TestRequest::get().uri("/readyz")),
        ("reservation again", reserve()),
    ] {
        let started = std::time::Instant::now();
        let answer = test::call_service(&app, request.to_request()).await;
        let took = started.elapsed();
        assert_eq!(answer.status(), 503, "{what}");
        assert!(answer.headers().contains_key("retry-after"), "{what}");
        assert_eq!(
            answer.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/problem+json"[..]),
            "{what}"
        );
        assert!(
            took < std::time::Duration::from_secs(3),
            "{what} took {took:?}"
        );
        let body: serde_json::Value = test::read_body_json(answer).await;
        assert_eq!(body["status"], 503, "{what}");
    }
    let health = test::call_service(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(health.status(), 200);
}
on_both_backends!(an_unreachable_database_answers_503_at_once);

/// A failover closes every connection to the old primary: the pool finds them dead at
/// checkout, drops them and opens new ones, so the next requests succeed; none answers 500.
/// (The connections of this test are cut with `pg_terminate_backend`, found by their
/// `application_name`, so that no other test's are.)
#[actix_web::test]
async fn cut_connections_are_replaced_without_an_error() {
    use diesel::RunQueryDsl;
    let db = crate::support::TestDb::new(Backend::Postgres);
    let name = format!("pudo_cut_{}", std::process::id());
    let url =
        pudo::db::DatabaseUrl::parse(&format!("{}&application_name={name}", db.url)).expect("url");
    let pool = pudo::db::pool(&url, 4).expect("pool");
    pudo::db::run_migrations(&mut pool.get().expect("conn")).expect("migrations");
    let network = pudo::network::service::Network::new(pool.clone());
    network.refresh().expect("load index");
    let app = TestApp {
        db,
        state: crate::support::state_for(pool, network),
    };
    let merchant = app.token(pudo::auth::Role::Merchant, "acme");
    assert_eq!(app.get("/readyz").await.ok()["status"], "ready");
    let mut admin = url.connect().expect("admin connection");
    let cut = diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{name}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .expect("terminate");
    assert!(cut >= 1, "no connection of the pool was found to cut");
    assert_eq!(app.get("/readyz").await.ok()["status"], "ready");
    let missing = app
        .post(
            "/v1/reservations",
            &merchant,
            serde_json::json!({"pickup_point_id": 999_999, "order_ref": "ORD-1"}),
        )
        .await;
    missing.problem(404);
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
            "GET /favicon.ico",
            "GET /healthz",
            "GET /metrics",
            "GET /openapi.json",
            "GET /partner/",
            "GET /partner/{file}",
            "GET /readyz",
            "GET /v1/carrier/parcels/{id}/redirect-options",
            "GET /v1/events",
            "GET /v1/h3-cells",
            "GET /v1/merchant/cash",
            "GET /v1/merchant/notifications",
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
            "GET /v1/places",
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
            "PUT /v1/merchant/notifications",
            "PUT /v1/merchant/webhook",
            "PUT /v1/ops/fees",
            "PUT /v1/partner/shop/capabilities",
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
            "bbox",
            "q",
            "limit",
            "radius_m",
            "open_at",
            "min_free",
            "sku",
            "arrive_at",
            "include_unavailable",
            "rank",
            "stock_sku",
            "service",
            "capability",
            "parcel",
            "weight_kg"
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
