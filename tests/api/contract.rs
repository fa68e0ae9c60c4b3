//! The API contract: JSON bodies name the field at fault (`api::body::Body`), every error the
//! document lists is problem+json, undeclared methods answer 405 with `Allow`, timestamps
//! carry their offset. The whole document is fuzzed by tests/contract/run.sh.

use crate::support::{Backend, TestApp};
use actix_web::test::{self, TestRequest};
use pudo::api;
use pudo::auth::Role;
use serde_json::json;

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,timezone,opening_hours,status
sol,Kiosko Sol,40.41690,-3.70350,20,Europe/Madrid,24/7,active
";

/// A POST with a raw body and content type.
fn raw(uri: &str, token: &str, content_type: &str, body: &'static str) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("content-type", content_type))
        .set_payload(body)
}

#[actix_web::test]
async fn body_errors_name_the_field_by_its_path() {
    let app = TestApp::new(Backend::Sqlite).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let sol = app.shop_id("sol");
    for (body, parameter) in [
        (json!({ "pickup_point_id": sol }), "order_ref"),
        (
            json!({ "pickup_point_id": "sol", "order_ref": "A-1" }),
            "pickup_point_id",
        ),
        (
            json!({ "pickup_point_id": sol, "order_ref": 7 }),
            "order_ref",
        ),
        (
            json!({ "pickup_point_id": sol, "order_ref": "A-1", "colour": "red" }),
            "colour",
        ),
        (
            json!({ "pickup_point_id": sol, "order_ref": "A-1", "customer_email": 7 }),
            "customer_email",
        ),
        (
            json!({ "pickup_point_id": sol, "order_ref": "A-1", "customer_email": "a b@c.de" }),
            "customer_email",
        ),
        (
            json!({ "pickup_point_id": sol, "order_ref": "A-1", "customer_email": "a@b.de", "customer_language": "fr" }),
            "customer_language",
        ),
        (
            json!({ "pickup_point_id": sol, "order_ref": "A-1", "customer_language": "es" }),
            "customer_language",
        ),
    ] {
        let answer = app.post("/v1/reservations", &merchant, body.clone()).await;
        let problem = answer.problem(400);
        assert_eq!(problem["parameter"], parameter, "{body}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with(parameter)),
            "{}",
            answer.text
        );
    }
    // A whole number written as a float is the number JSON Schema says it is.
    let whole = json!({ "pickup_point_id": sol as f64, "order_ref": "A-1" });
    assert_eq!(
        app.post("/v1/reservations", &merchant, whole).await.status,
        201
    );
}

#[actix_web::test]
async fn nested_body_fields_are_named_with_their_index() {
    let app = TestApp::new(Backend::Sqlite).with_csv(SHOPS);
    let partner = app.partner_token("sol");
    for (lines, parameter) in [
        (
            json!([{ "sku": "A", "received": "two" }]),
            "lines[0].received",
        ),
        (
            json!([{ "sku": "A", "received": 1 }, { "received": 1 }]),
            "lines[1].sku",
        ),
        (
            json!([{ "sku": "A", "received": 1, "note": "x" }]),
            "lines[0].note",
        ),
        (json!({ "sku": "A" }), "lines"),
    ] {
        let answer = app
            .post(
                "/v1/partner/staging/1/receipt",
                &partner,
                json!({ "lines": lines }),
            )
            .await;
        assert_eq!(answer.problem(400)["parameter"], parameter, "{lines}");
    }
}

#[actix_web::test]
async fn what_is_not_a_json_object_is_refused_without_a_parameter() {
    let app = TestApp::new(Backend::Sqlite).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    for (content_type, body, says) in [
        (
            "application/json",
            "{\"pickup_point_id\": ",
            "not valid JSON",
        ),
        ("application/json", "[1, \"A-1\"]", "JSON object"),
        ("application/json", "{} {}", "not valid JSON"),
        ("text/plain", "{}", "application/json"),
        (
            "application/x-www-form-urlencoded",
            "a=1",
            "application/json",
        ),
    ] {
        let answer = app
            .call(raw("/v1/reservations", &merchant, content_type, body))
            .await;
        let problem = answer.problem(400);
        assert!(problem.get("parameter").is_none(), "{}", answer.text);
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains(says)),
            "{content_type} {body}: {}",
            answer.text
        );
    }
    // `+json` types are JSON; an empty optional body is `{}`.
    let extend = app
        .call(raw(
            "/v1/reservations/1/extend",
            &merchant,
            "application/merge-patch+json",
            "",
        ))
        .await;
    extend.problem(404);
}

#[actix_web::test]
async fn an_oversized_json_body_is_413() {
    let app = TestApp::new(Backend::Sqlite);
    let merchant = app.token(Role::Merchant, "acme");
    let big = format!(
        "{{\"order_ref\": \"{}\"}}",
        "x".repeat(api::body::JSON_LIMIT)
    );
    let answer = app
        .call(
            TestRequest::post()
                .uri("/v1/reservations")
                .insert_header(("authorization", format!("Bearer {merchant}")))
                .insert_header(("content-type", "application/json"))
                .set_payload(big),
        )
        .await;
    answer.problem(413);
}

#[actix_web::test]
async fn an_undeclared_method_on_a_known_path_is_405_with_allow() {
    let app = TestApp::new(Backend::Sqlite);
    let service = test::init_service(api::app(app.state.clone())).await;
    for (method, path, allow) in [
        ("DELETE", "/v1/pickup-points", "GET"),
        ("PUT", "/v1/pickup-points/7", "GET"),
        ("TRACE", "/healthz", "GET"),
        ("GET", "/v1/reservations", "POST"),
    ] {
        let req = TestRequest::default()
            .method(method.parse().expect("method"))
            .uri(path)
            .to_request();
        let res = test::call_service(&service, req).await;
        assert_eq!(res.status().as_u16(), 405, "{method} {path}");
        assert_eq!(res.headers().get("allow").expect("Allow"), allow);
        let content_type = res.headers().get("content-type").expect("content type");
        assert!(content_type
            .as_bytes()
            .starts_with(b"application/problem+json"));
    }
    app.get("/v1/nowhere").await.problem(404);
}

#[actix_web::test]
async fn timestamps_are_rfc3339_in_utc() {
    let app = TestApp::new(Backend::Sqlite).with_csv(SHOPS);
    let point = app
        .get(&format!("/v1/pickup-points/{}", app.shop_id("sol")))
        .await;
    for field in ["created_at", "updated_at"] {
        let text = point.body[field].as_str().expect(field);
        assert!(text.ends_with('Z'), "{field}: {text}");
        chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    }
}

/// Every operation of the document keeps the conventions of docs/contract.md, so a route added
/// without them fails here before schemathesis runs.
#[actix_web::test]
async fn every_documented_error_is_problem_json_and_protected_routes_list_401_and_403() {
    let app = TestApp::new(Backend::Sqlite);
    let doc = app.get("/openapi.json").await.body;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let at = format!("{} {path}", method.to_uppercase());
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success answer"
            );
            for (status, response) in responses {
                if status.as_str() >= "400" {
                    let schema = &response["content"]["application/problem+json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Problem",
                        "{at} {status}"
                    );
                }
            }
            let protected = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if protected {
                for status in ["401", "403"] {
                    assert!(responses.contains_key(status), "{at}: no {status}");
                }
            }
            let has_input = op["requestBody"].is_object()
                || op["parameters"].as_array().is_some_and(|p| !p.is_empty());
            if has_input {
                assert!(responses.contains_key("400"), "{at}: no 400");
            }
            if op["requestBody"]["content"]["application/json"].is_object() {
                assert!(responses.contains_key("413"), "{at}: no 413");
            }
        }
    }
    // Schemas that describe a known shape are not a bare object.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for (name, schema) in schemas {
        let bare = schema["type"] == "object" && schema.get("properties").is_none();
        assert!(!bare || schema.get("allOf").is_some(), "{name}: {schema}");
    }
}
