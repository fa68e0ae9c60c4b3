//! Request body limits: 64 KiB for JSON bodies, `PUDO_MAX_UPLOAD_MB` for file imports, each a
//! 413 problem naming its limit.

use crate::on_both_backends;
use crate::support::{Answer, Backend, TestApp};
use actix_web::test;
use pudo::auth::Role;

async fn send(app: &TestApp, uri: &str, token: &str, content_type: &str, body: Vec<u8>) -> Answer {
    app.call(
        test::TestRequest::post()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("content-type", content_type))
            .set_payload(body),
    )
    .await
}

/// A syntactically valid JSON object of about `bytes` bytes.
fn json_of(bytes: usize) -> Vec<u8> {
    format!(
        r#"{{"pickup_point_id":1,"order_ref":"{}"}}"#,
        "x".repeat(bytes)
    )
    .into_bytes()
}

async fn json_bodies_stop_at_64_kib(backend: Backend) {
    let app = TestApp::new(backend)
        .with_csv("external_id,name,latitude,longitude,capacity\nlim-1,Lim,40.4,-3.7,5\n");
    let merchant = app.token(Role::Merchant, "acme");
    let planner = app.token(Role::Planner, "alice");
    let partner = app.partner_token("lim-1");
    let big = 65 * 1024;
    // web::Json, raw bodies parsed by hand, and optional JSON bodies alike.
    for (uri, token) in [
        ("/v1/reservations", &merchant),
        ("/v1/reservations/1/move", &merchant),
        ("/v1/reservations/1/extend", &merchant),
        (
            "/v1/carrier/parcels/1/redirect",
            &app.token(Role::Carrier, "swift"),
        ),
        ("/v1/partner/parcels/1/redirect", &partner),
        ("/v1/partner/handovers", &partner),
        ("/v1/events/1/plans", &planner),
        ("/v1/partner/staging/1/receipt", &partner),
        ("/v1/auth/token", &merchant),
    ] {
        let answer = send(&app, uri, token, "application/json", json_of(big)).await;
        let problem = answer.problem(413);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("64 KiB")),
            "{uri}: {}",
            answer.text
        );
    }
    // Just under the limit is read (and judged on its merits).
    let fits = send(
        &app,
        "/v1/reservations",
        &merchant,
        "application/json",
        json_of(60 * 1024),
    )
    .await;
    assert_ne!(fits.status.as_u16(), 413, "{}", fits.text);
    // An optional body that is present but malformed is a 400, never taken as absent.
    for (uri, token) in [
        ("/v1/events/1/plans", &planner),
        ("/v1/partner/staging/1/receipt", &partner),
    ] {
        let answer = send(
            &app,
            uri,
            token,
            "application/json",
            b"{\"lines\": [".to_vec(),
        )
        .await;
        assert!(answer.problem(400)["detail"]
            .as_str()
            .is_some_and(|d| d.contains("JSON")));
    }
}
on_both_backends!(json_bodies_stop_at_64_kib);

async fn uploads_stop_at_the_configured_limit(backend: Backend) {
    let mut app = TestApp::new(backend);
    app.state.max_upload_bytes = 4 * 1024;
    let planner = app.token(Role::Planner, "alice");
    let header = "external_id,name,latitude,longitude,capacity\n";
    let mut csv = header.to_owned();
    for i in 0..200 {
        csv.push_str(&format!("up-{i},Shop {i},40.4,-3.7,5\n"));
    }
    assert!(csv.len() > 4 * 1024);
    for uri in ["/v1/shops/import", "/v1/events/1/forecast"] {
        let answer = send(&app, uri, &planner, "text/csv", csv.clone().into_bytes()).await;
        let detail = answer.problem(413)["detail"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        assert!(
            detail.contains("4 KiB") && detail.contains("PUDO_MAX_UPLOAD_MB"),
            "{detail}"
        );
    }
    assert_eq!(app.shop_count(), 0, "nothing of a refused upload is stored");
    // Above the JSON limit but within the upload limit: imported.
    app.state.max_upload_bytes = 1024 * 1024;
    let mut large = header.to_owned();
    for i in 0..3000 {
        large.push_str(&format!("up-{i},Shop {i},40.4,-3.7,5\n"));
    }
    assert!(large.len() > 64 * 1024);
    let answer = send(
        &app,
        "/v1/shops/import",
        &planner,
        "text/csv",
        large.into_bytes(),
    )
    .await;
    assert_eq!(answer.ok()["inserted"], 3000);
}
on_both_backends!(uploads_stop_at_the_configured_limit);
