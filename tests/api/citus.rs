//! On a Citus coordinator (`PUDO_TEST_CITUS_URL`): every statement of the hot paths is planned
//! on one shard. Each path runs through the domain function on a connection that records the
//! SQL it sends with its bind values (diesel instrumentation); each recorded statement is then
//! `EXPLAIN`ed with those values in place, and must be a Citus router plan with one task (or
//! not touch a distributed table at all). Without the variable the test does nothing; with it
//! set but the coordinator unreachable, it fails.

use crate::support::{citus_url, Backend, TestApp};
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use pudo::db::DbConn;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Two shops in Madrid (one region) and one in Barcelona (another).
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
sol,Kiosko Sol,40.4169,-3.7035,5
opera,Estanco Ópera,40.4180,-3.7097,3
bcn,Quiosc Rambla,41.3809,2.1735,10
";

/// Records the SQL (with its binds, diesel's `debug_query` form) of every statement run.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            self.0.lock().expect("recorder").push(query.to_string());
        }
    }
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("recorder"))
    }
}

/// Splits `SQL -- binds: [a, b]` into the SQL and the binds as SQL literals.
fn with_literals(recorded: &str) -> String {
    let (sql, binds) = match recorded.rsplit_once(" -- binds: ") {
        Some((sql, binds)) => (sql, binds),
        None => return recorded.to_owned(),
    };
    let inner = binds
        .trim()
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or("");
    let values = split_binds(inner);
    let mut sql = sql.to_owned();
    // Highest first, so that $1 does not match inside $10.
    for (i, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), &literal(value));
    }
    sql
}

/// Splits the binds' Debug list at the commas outside quotes and brackets.
fn split_binds(list: &str) -> Vec<String> {
    let (mut out, mut current) = (Vec::new(), String::new());
    let (mut in_string, mut escaped, mut depth) = (false, false, 0i32);
    for c in list.chars() {
        if in_string {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                current.push(c);
            }
            '(' | '[' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut current).trim().to_owned()),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// One bind value (Rust Debug) as an SQL literal.
fn literal(value: &str) -> String {
    if let Some(inner) = value
        .strip_prefix("Some(")
        .and_then(|v| v.strip_suffix(')'))
    {
        return literal(inner);
    }
    if value == "None" {
        return "NULL".into();
    }
    if let Some(items) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        let items: Vec<String> = split_binds(items).iter().map(|i| literal(i)).collect();
        return format!("ARRAY[{}]", items.join(", "));
    }
    if let Some(s) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        let parsed: String = serde_json::from_str(&format!("\"{s}\"")).unwrap_or_else(|_| s.into());
        return format!("'{}'", parsed.replace('\'', "''"));
    }
    if value == "true" || value == "false" || value.parse::<f64>().is_ok() {
        return value.to_owned();
    }
    // Times and anything else: a quoted literal, typed by its context.
    format!("'{}'", value.replace('\'', "''"))
}

/// `EXPLAIN`s every recorded data statement; returns those not planned on one shard, with
/// the plan's task counts, and how many were planned with one task.
fn multi_shard(conn: &mut DbConn, recorded: &[String]) -> (Vec<String>, usize) {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let (mut bad, mut routed) = (Vec::new(), 0);
    for statement in recorded {
        let sql = with_literals(statement);
        let head = sql.trim_start().to_ascii_uppercase();
        if !["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"]
            .iter()
            .any(|k| head.starts_with(k))
        {
            continue;
        }
        let plan: Vec<Line> = diesel::sql_query(format!("EXPLAIN {sql}"))
            .load(conn)
            .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
        let counts: Vec<&str> = plan
            .iter()
            .filter_map(|l| l.line.trim().strip_prefix("Task Count: "))
            .collect();
        if counts.iter().any(|c| *c != "1") {
            bad.push(format!("{sql}\n    task counts: {counts:?}"));
        } else if !counts.is_empty() {
            routed += 1;
        }
    }
    (bad, routed)
}

/// Runs `f` on a recording connection of the app's pool; returns what it returned and the
/// statements it sent.
fn recorded<T>(app: &TestApp, f: impl FnOnce(&mut DbConn) -> T) -> (T, Vec<String>) {
    let recorder = Recorder::default();
    let mut conn = app.state.pool.get().expect("conn");
    conn.set_instrumentation(recorder.clone());
    let out = f(&mut conn);
    conn.set_instrumentation(diesel::connection::get_default_instrumentation());
    (out, recorder.take())
}

#[actix_web::test]
async fn hot_statements_run_on_one_shard() {
    if citus_url().is_none() {
        return;
    }
    let app = TestApp::new(Backend::Citus).with_csv(SHOPS);
    let now = || chrono::Utc::now().naive_utc();
    let data_key = *app.state.keys.data_key();
    let issuer = pudo::pickup::CodeIssuer {
        data_key: &data_key,
        hold: chrono::Duration::days(7),
    };
    let sol = app.shop_id("sol");
    let mut report: Vec<(String, Vec<String>)> = Vec::new();

    // A reservation (the merchant's order_ref check across all regions comes first, outside
    // the transaction: see docs/operations.md), then its arrival.
    pudo::pickup::outbox::set_webhook(
        &mut app.state.pool.get().expect("conn"),
        &data_key,
        "acme",
        "http://127.0.0.1:9/hook",
        now(),
    )
    .expect("webhook");
    let ((parcel, _, _), statements) = recorded(&app, |conn| {
        let r = pudo::pickup::NewReservation {
            merchant: "acme",
            shop_id: sol,
            order_ref: "o-1",
            sku: None,
            arrive_at: None,
        };
        pudo::pickup::reserve(conn, &r, &issuer, now()).expect("reserve")
    });
    // The first statement is the order_ref lookup of every region; the transaction follows.
    assert!(
        statements[0].contains("\"order_ref\""),
        "first: {}",
        statements[0]
    );
    // The check itself tells a multi-shard statement: this one reads every region.
    let (multi, _) = multi_shard(&mut app.state.pool.get().expect("conn"), &statements[..1]);
    assert_eq!(
        multi.len(),
        1,
        "the order_ref lookup of all regions is multi-shard"
    );
    report.push(("reservation".into(), statements[1..].to_vec()));
    let (_, statements) = recorded(&app, |conn| {
        pudo::pickup::arrive(conn, &issuer, sol, parcel.id, now()).expect("arrive")
    });
    report.push(("arrival".into(), statements));

    // The handover with the code the merchant read.
    let (_, code) = pudo::pickup::read_reservation(
        &mut app.state.pool.get().expect("conn"),
        &data_key,
        "acme",
        parcel.id,
    )
    .expect("read");
    let code = code.expect("code");
    let (outcome, statements) = recorded(&app, |conn| {
        pudo::pickup::handover(conn, &data_key, sol, "test", &code, now()).expect("handover")
    });
    assert!(matches!(outcome, pudo::pickup::Outcome::Success(_)));
    report.push(("handover".into(), statements));
    let (_, statements) = recorded(&app, |conn| {
        pudo::pickup::handover(conn, &data_key, sol, "test", "WRONG-CODE", now())
            .expect("wrong code")
    });
    report.push(("handover, wrong code".into(), statements));

    // A drop-off of a registered return.
    let merchant = app.token(pudo::auth::Role::Merchant, "acme");
    let created = app
        .post(
            "/v1/returns",
            &merchant,
            json!({"pickup_point_id": sol, "order_ref": "r-1", "sku": "SHOE-42"}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let return_id = created.body["id"].as_i64().expect("id");
    let read = app
        .get_as(&format!("/v1/returns/{return_id}"), &merchant)
        .await;
    let dropoff_code = read.ok()["dropoff_code"].as_str().expect("code").to_owned();
    let (outcome, statements) = recorded(&app, |conn| {
        pudo::pickup::dropoffs::dropoff(conn, &data_key, sol, "test", &dropoff_code, now())
            .expect("dropoff")
    });
    assert!(matches!(outcome, pudo::pickup::Outcome::Success(_)));
    report.push(("drop-off".into(), statements));

    // The outbox claim of one due event.
    let due =
        pudo::pickup::outbox::due(&mut app.state.pool.get().expect("conn"), now(), 1).expect("due");
    let (claimed, statements) = recorded(&app, |conn| {
        pudo::pickup::outbox::claim(conn, &due[0], now(), chrono::Duration::seconds(30))
            .expect("claim")
    });
    assert!(claimed);
    report.push(("outbox claim".into(), statements));

    // A receipt of staged stock: a plan for sol, approved and dispatched.
    let planner = app.token(pudo::auth::Role::Planner, "pat");
    let event = app
        .post("/v1/events", &planner, json!({"name": "Singles Day", "starts_at": "2026-11-11T00:00:00+08:00", "ends_at": "2026-11-12T00:00:00+08:00", "timezone": "Asia/Shanghai"}))
        .await;
    let event_id = event.body["id"].as_i64().expect("event");
    let zone = h3o::LatLng::new(40.4170, -3.7050)
        .expect("valid")
        .to_cell(h3o::Resolution::Eight)
        .to_string();
    let up = app
        .call(
            actix_web::test::TestRequest::post()
                .uri(&format!("/v1/events/{event_id}/forecast"))
                .insert_header(("authorization", format!("Bearer {planner}")))
                .insert_header(("content-type", "text/csv"))
                .set_payload(format!("zone,sku,units\n{zone},PHONE,2\n")),
        )
        .await;
    up.ok();
    let plan = app
        .post(&format!("/v1/events/{event_id}/plans"), &planner, json!({}))
        .await;
    let plan_id = plan.body["id"].as_i64().expect("plan");
    for step in ["approve", "dispatch"] {
        app.post(&format!("/v1/plans/{plan_id}/{step}"), &planner, json!({}))
            .await
            .ok();
    }
    let (manifest, statements) = recorded(&app, |conn| {
        pudo::staging::receipts::receive(
            conn,
            sol,
            plan_id,
            &pudo::staging::receipts::Receipt::default(),
            now(),
        )
        .expect("receipt")
    });
    assert!(manifest.received);
    // The count of the plan's open lines reads every shop's lines, whatever their region (so
    // it cannot be one shard), and only once per receipt; everything else names sol's region.
    let (whole_plan, statements): (Vec<String>, Vec<String>) = statements
        .into_iter()
        .partition(|s| s.contains("COUNT(*)") && s.contains("\"manifest_lines\".\"plan_id\""));
    assert_eq!(whole_plan.len(), 1, "{whole_plan:?}");
    report.push(("receipt of staged stock".into(), statements));

    // A reservation that takes a staged unit.
    let (_, statements) = recorded(&app, |conn| {
        let r = pudo::pickup::NewReservation {
            merchant: "acme",
            shop_id: sol,
            order_ref: "o-2",
            sku: Some("PHONE"),
            arrive_at: None,
        };
        pudo::pickup::reserve(conn, &r, &issuer, now()).expect("reserve staged")
    });
    report.push((
        "reservation of a staged unit".into(),
        statements[1..].to_vec(),
    ));

    let mut conn = app.state.pool.get().expect("conn");
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, statements) in &report {
        assert!(!statements.is_empty(), "{path}: nothing recorded");
        checked += statements.len();
        let (bad, routed) = multi_shard(&mut conn, statements);
        assert!(routed > 0, "{path}: no statement planned by Citus");
        eprintln!(
            "{path}: {} statements, {routed} routed to one shard",
            statements.len()
        );
        for bad in bad {
            failures.push(format!("{path}: {bad}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} hot statements are not single-shard:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
