//! The authorisation table of docs/security.md, checked cell by cell against the real app, and
//! checked to list exactly the routes of the OpenAPI document.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use actix_web::test as web_test;
use pudo::auth::Role;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use utoipa::OpenApi;

/// Bodies for routes whose role check cannot be reached with a body made from the schema,
/// keyed by "METHOD /path" (see docs/security.md, "Adding a route"). Empty today.
const SAMPLE_BODIES: &[(&str, &str)] = &[];

/// A caller: no token, or a token with a role.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    Token(Role),
}

impl Caller {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "anonymous" => Self::Anonymous,
            "partner" => Self::Token(Role::Partner),
            "merchant" => Self::Token(Role::Merchant),
            "planner" => Self::Token(Role::Planner),
            "admin" => Self::Token(Role::Admin),
            "carrier" => Self::Token(Role::Carrier),
            _ => return None,
        })
    }

    fn name(self) -> String {
        match self {
            Self::Anonymous => "anonymous".into(),
            Self::Token(role) => role.to_string(),
        }
    }
}

/// One row: a route and whether each caller may call it.
struct Row {
    method: String,
    path: String,
    cells: Vec<(Caller, bool)>,
}

impl Row {
    fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Parses the table between the `authz-table` markers of docs/security.md.
fn table() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/security.md");
    let doc = std::fs::read_to_string(path).expect("docs/security.md");
    let start = doc
        .find("<!-- authz-table:start -->")
        .expect("start marker");
    let end = doc.find("<!-- authz-table:end -->").expect("end marker");
    let mut lines = doc[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('|'));
    let split = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_owned())
            .collect()
    };
    let header = split(lines.next().expect("header row"));
    assert_eq!(
        header.first().map(String::as_str),
        Some("method"),
        "{header:?}"
    );
    assert_eq!(
        header.get(1).map(String::as_str),
        Some("path"),
        "{header:?}"
    );
    assert_eq!(
        header.last().map(String::as_str),
        Some("notes"),
        "{header:?}"
    );
    let callers: Vec<Caller> = header[2..header.len() - 1]
        .iter()
        .map(|name| Caller::parse(name).unwrap_or_else(|| panic!("unknown caller column {name:?}")))
        .collect();
    assert_eq!(callers.len(), 6, "one column per caller: {header:?}");
    lines.next().expect("separator row");
    lines
        .map(|line| {
            let cells = split(line);
            assert_eq!(
                cells.len(),
                header.len(),
                "row has the wrong number of cells: {line}"
            );
            let access = cells[2..cells.len() - 1]
                .iter()
                .zip(&callers)
                .map(|(c, caller)| {
                    let allowed = match c.as_str() {
                        "allow" => true,
                        "deny" => false,
                        other => panic!("cell {other:?} is neither allow nor deny in: {line}"),
                    };
                    (*caller, allowed)
                });
            Row {
                method: cells[0].to_uppercase(),
                path: cells[1].clone(),
                cells: access.collect(),
            }
        })
        .collect()
}

fn openapi() -> Value {
    serde_json::to_value(pudo::api::ApiDoc::openapi()).expect("OpenAPI as JSON")
}

#[test]
fn the_table_lists_exactly_the_documented_routes() {
    let rows = table();
    let mut in_table = BTreeSet::new();
    for row in &rows {
        assert!(in_table.insert(row.route()), "{} has two rows", row.route());
    }
    let doc = openapi();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .into_iter()
                .flat_map(|o| o.keys())
                .filter(|m| {
                    ["get", "put", "post", "delete", "patch", "head", "options"]
                        .contains(&m.as_str())
                })
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let missing: Vec<_> = documented.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&documented).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/security.md's authorisation table and /openapi.json disagree.\n\
         Routes without a row (add one, see \"Adding a route\"): {missing:#?}\n\
         Rows for routes that do not exist: {stale:#?}"
    );
}

/// A value that deserialises as `schema` (required fields only).
fn sample(schema: &Value, doc: &Value) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().expect("ref name");
        return sample(&doc["components"]["schemas"][name], doc);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema[key].as_array() {
            let chosen = variants
                .iter()
                .find(|v| v["type"] != "null")
                .unwrap_or(&variants[0]);
            return sample(chosen, doc);
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(m) = sample(part, doc) {
                merged.extend(m);
            }
        }
        return Value::Object(merged);
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match kind.as_str() {
        Some("string") if schema["format"] == "date-time" => json!("2026-11-11T00:00:00Z"),
        Some("string") => json!("x"),
        Some("integer") => json!(1),
        Some("number") => json!(1.0),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        _ => {
            let mut object = Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().expect("required name");
                object.insert(name.into(), sample(&schema["properties"][name], doc));
            }
            Value::Object(object)
        }
    }
}

/// The request body for a route: content type and bytes.
fn body_for(row: &Row, doc: &Value, api_key: &str) -> Option<(String, Vec<u8>)> {
    let route = row.route();
    if route == "POST /v1/auth/token" {
        let body = json!({"shop": "sec-1", "api_key": api_key});
        return Some(("application/json".into(), body.to_string().into_bytes()));
    }
    if let Some((_, body)) = SAMPLE_BODIES.iter().find(|(r, _)| *r == route) {
        return Some(("application/json".into(), body.as_bytes().to_vec()));
    }
    let content =
        doc["paths"][&row.path][row.method.to_lowercase()]["requestBody"]["content"].as_object()?;
    let (content_type, media) = content.iter().next()?;
    if content_type.contains("json") {
        let body = sample(&media["schema"], doc);
        Some((content_type.clone(), body.to_string().into_bytes()))
    } else {
        Some((content_type.clone(), b"x".to_vec()))
    }
}

async fn the_table_holds_for_every_cell(backend: Backend) {
    let app = TestApp::new(backend).with_csv(
        "external_id,name,latitude,longitude,capacity\nsec-1,Sec,40.4,-3.7,5\nsec-2,Sec2,40.5,-3.7,5\n",
    );
    let api_key = {
        let mut conn = app.state.pool.get().expect("conn");
        pudo::auth::api_keys::rotate(&mut conn, "sec-1")
            .expect("rotate")
            .expect("shop")
            .1
    };
    let doc = openapi();
    let service = web_test::init_service(pudo::api::app(app.state.clone())).await;
    let rows = table();
    let (mut failures, mut checked) = (Vec::new(), 0);
    for row in &rows {
        let uri = row
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let method = actix_web::http::Method::from_bytes(row.method.as_bytes()).expect("method");
        for &(caller, allowed) in &row.cells {
            let mut req = web_test::TestRequest::default()
                .method(method.clone())
                .uri(&uri);
            if let Caller::Token(role) = caller {
                let token = if role == Role::Partner {
                    app.partner_token("sec-1")
                } else {
                    app.token(role, "sec-caller")
                };
                req = req.insert_header(("authorization", format!("Bearer {token}")));
            }
            if let Some((content_type, body)) = body_for(row, &doc, &api_key) {
                req = req
                    .insert_header(("content-type", content_type))
                    .set_payload(body);
            }
            let res = web_test::call_service(&service, req.to_request()).await;
            let status = res.status().as_u16();
            let body = web_test::read_body(res).await;
            let detail = String::from_utf8_lossy(&body);
            checked += 1;
            let wrong = match (allowed, caller) {
                (false, Caller::Anonymous) if status != 401 => Some("expected 401"),
                (false, Caller::Token(_)) if status != 403 => Some("expected 403"),
                (true, _) if status == 401 || status == 403 => Some("expected neither 401 nor 403"),
                (true, _) if status == 405 || detail.contains("no such route") => {
                    Some("the route does not exist")
                }
                _ => None,
            };
            if let Some(why) = wrong {
                failures.push(format!(
                    "{} as {}: table says {}, {why}, got {status}: {}",
                    row.route(),
                    caller.name(),
                    if allowed { "allow" } else { "deny" },
                    detail.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(checked >= rows.len() * 6);
    assert!(
        failures.is_empty(),
        "{} of {checked} cells of docs/security.md disagree with the app:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
on_both_backends!(the_table_holds_for_every_cell);
