//! Conditions at the counter (issue 19, section 2): cash on delivery, ID and age checks and a
//! named collector. A handover is refused until the partner confirms what the parcel asks
//! for, on every write path; the cash is recorded apart from the fees and the statement
//! settles both; bad conditions are refused naming the field.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use crate::writes::count;
use diesel::prelude::*;
use pudo::auth::Role;
use pudo::pickup::handover::{handover_many, HandoverRequest};
use pudo::pickup::{Confirmations, Outcome};
use serde_json::{json, Value};

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status
kiosk,Kiosko Sol,40.4169,-3.7035,20,active
";

/// [`SHOPS`] and a second shop.
const TWO_SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status
kiosk,Kiosko Sol,40.4169,-3.7035,20,active
corner,Tienda Esquina,40.4180,-3.7010,20,active
";

/// `body` with the fields of `more` added.
fn with(mut body: Value, more: &Value) -> Value {
    for (k, v) in more.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

/// A parcel reserved over HTTP with `conditions` (merged into the body) and arrived at the
/// kiosk: the reservation's answer (the arrival's answer carries the same conditions) and the
/// pickup code.
async fn waiting(app: &TestApp, order_ref: &str, conditions: Value) -> (Value, String) {
    waiting_at(app, "acme", "kiosk", order_ref, conditions).await
}

/// As [`waiting`], for `merchant` at the shop `shop` (its external id).
async fn waiting_at(
    app: &TestApp,
    merchant: &str,
    shop: &str,
    order_ref: &str,
    conditions: Value,
) -> (Value, String) {
    let merchant = app.token(Role::Merchant, merchant);
    let partner = app.partner_token(shop);
    let body = with(
        json!({"pickup_point_id": app.shop_id(shop), "order_ref": order_ref}),
        &conditions,
    );
    let reserved = app.post("/v1/reservations", &merchant, body).await;
    assert_eq!(reserved.status.as_u16(), 201, "{}", reserved.text);
    let id = reserved.body["id"].as_i64().expect("id");
    let arrived = app
        .post(
            &format!("/v1/partner/parcels/{id}/arrival"),
            &partner,
            json!({}),
        )
        .await;
    // The partner's answer at the scan-in carries the conditions (on PostgreSQL from the
    // arrival's function).
    for key in conditions.as_object().expect("object").keys() {
        assert_eq!(arrived.ok()[key], reserved.body[key], "{key}");
    }
    let read = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await;
    let code = read.ok()["pickup_code"].as_str().expect("code").to_owned();
    (reserved.body, code)
}

fn cod() -> Value {
    json!({"cash_on_delivery": {"amount_minor": 2550, "currency": "EUR"}})
}

/// Over HTTP: the merchant's answer, the partner's list and the events carry the conditions
/// (events without people's names);
/// a handover without the confirmations is refused naming what is missing (cash first, then
/// the check), changes nothing and is no wrong code; with them it hands over, names what was
/// confirmed, records the cash once, and the audit says what was confirmed.
async fn handovers_wait_for_the_confirmations(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let partner = app.partner_token("kiosk");
    let (reserved, code) = waiting(
        &app,
        "COD-1",
        json!({
            "cash_on_delivery": {"amount_minor": 2550, "currency": "EUR"},
            "id_check": "age_18",
            "collector_name": "Luis García",
        }),
    )
    .await;
    let id = reserved["id"].as_i64().expect("id");
    assert_eq!(
        reserved["cash_on_delivery"],
        json!({"amount_minor": 2550, "currency": "EUR"})
    );
    assert_eq!(reserved["id_check"], "age_18");
    assert_eq!(reserved["collector_name"], "Luis García");
    assert!(reserved.get("recipient_name").is_none());

    // The partner sees them before the handover.
    let list = app.get_as("/v1/partner/parcels", &partner).await;
    let item = list.ok()["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["id"] == id)
        .expect("listed")
        .clone();
    assert_eq!(item["cash_on_delivery"]["amount_minor"], 2550);
    assert_eq!(item["id_check"], "age_18");
    assert_eq!(item["collector_name"], "Luis García");

    let handover = |body: Value| app.post("/v1/partner/handovers", &partner, body);
    let refused = handover(json!({ "code": code })).await;
    let p = refused.problem(409);
    assert_eq!(p["reason"], "cash_not_confirmed");
    assert_eq!(
        p["cash_on_delivery"],
        json!({"amount_minor": 2550, "currency": "EUR"})
    );
    assert!(p["detail"].as_str().expect("detail").contains("2550 EUR"));
    // Every condition at once, so that the counter shows them all before confirming.
    assert_eq!(p["id_check"], "age_18");
    assert_eq!(p["collector_name"], "Luis García");
    let refused = handover(json!({ "code": code, "cash_collected": true })).await;
    let p = refused.problem(409);
    assert_eq!(p["reason"], "id_check_required");
    assert_eq!(p["id_check"], "age_18");
    let refused = handover(json!({ "code": code, "id_checked": true })).await;
    assert_eq!(refused.problem(409)["reason"], "cash_not_confirmed");
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM cash_ledger"),
        0,
        "nothing collected before the handover"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM parcels WHERE state = 'at_point'"
        ),
        1
    );

    let done = handover(json!({ "code": code, "cash_collected": true, "id_checked": true })).await;
    let done = done.ok();
    assert_eq!(done["parcel_id"], id);
    assert_eq!(done["replay"], false);
    assert_eq!(
        done["cash_collected"],
        json!({"amount_minor": 2550, "currency": "EUR"})
    );
    assert_eq!(done["id_checked"], "age_18");
    assert_eq!(done["collector_name"], "Luis García");
    // A retry is a replay, whatever it confirms; the cash is recorded once.
    let again = handover(json!({ "code": code })).await;
    assert_eq!(again.ok()["replay"], true);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM cash_ledger WHERE amount_minor = 2550 AND currency = 'EUR'"
        ),
        1
    );

    // The audit: three refusals under their own words (not wrong codes), one confirmed
    // handover, and nothing about the ID but that it was checked.
    use pudo::db::schema::handover_attempts as a;
    let audit: Vec<(String, Option<String>)> = a::table
        .select((a::result, a::confirmed))
        .order(a::id)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("audit");
    assert_eq!(
        audit,
        [
            ("cash_not_confirmed".to_owned(), None),
            ("id_check_required".to_owned(), None),
            ("cash_not_confirmed".to_owned(), None),
            (
                "success".to_owned(),
                Some("cash_collected,id_checked".to_owned())
            ),
            ("replay".to_owned(), None),
        ]
    );
    // Counted apart from wrong codes.
    let metrics = app.get("/metrics").await.text;
    for (result, n) in [
        ("cash_not_confirmed", 2),
        ("id_check_required", 1),
        ("wrong_code", 0),
    ] {
        let line = format!("pudo_handover_failures_total{{result=\"{result}\"}} {n}");
        assert!(metrics.lines().any(|l| l == line), "{line}");
    }
    // The events carry the conditions, not the names.
    use pudo::db::schema::outbox;
    let picked: String = outbox::table
        .filter(outbox::kind.eq("parcel.picked_up"))
        .select(outbox::payload)
        .first(&mut *app.state.pool.get().expect("conn"))
        .expect("event");
    // Byte for byte the view serde writes, whichever path wrote it (on PostgreSQL the
    // handover's function builds it in SQL).
    let row = pudo::pickup::parcels::find_for_merchant(
        &mut app.state.pool.get().expect("conn"),
        "acme",
        id,
    )
    .expect("parcel");
    assert_eq!(
        picked,
        serde_json::to_string(&json!({ "reservation": row.view() })).expect("json")
    );
    let picked: Value = serde_json::from_str(&picked).expect("json");
    assert_eq!(
        picked["reservation"]["cash_on_delivery"]["amount_minor"],
        2550
    );
    // People's names stay out of events (the merchant gave them; tests/api/names.rs).
    assert!(picked["reservation"].get("collector_name").is_none());
}
on_both_backends!(handovers_wait_for_the_confirmations);

/// A named recipient: the check is required, the answer names it, and the named collector
/// alone changes nothing about the code (a parcel with only a collector hands over with the
/// code alone, as before).
async fn a_named_recipient_and_a_collector(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let partner = app.partner_token("kiosk");
    let (reserved, code) = waiting(
        &app,
        "NR-1",
        json!({"id_check": "named_recipient", "recipient_name": "Ana García"}),
    )
    .await;
    assert_eq!(reserved["recipient_name"], "Ana García");
    let refused = app
        .post("/v1/partner/handovers", &partner, json!({ "code": code }))
        .await;
    let p = refused.problem(409);
    assert_eq!(p["reason"], "id_check_required");
    assert_eq!(p["id_check"], "named_recipient");
    assert_eq!(
        p["recipient_name"], "Ana García",
        "the name to compare the ID with"
    );
    assert!(p.get("cash_on_delivery").is_none());
    let done = app
        .post(
            "/v1/partner/handovers",
            &partner,
            json!({ "code": code, "id_checked": true }),
        )
        .await;
    assert_eq!(done.ok()["id_checked"], "named_recipient");
    assert!(done.ok().get("cash_collected").is_none());

    let (_, code) = waiting(&app, "COL-1", json!({"collector_name": "Luis"})).await;
    let done = app
        .post("/v1/partner/handovers", &partner, json!({ "code": code }))
        .await;
    assert_eq!(done.ok()["replay"], false);
    assert_eq!(done.ok()["collector_name"], "Luis");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM cash_ledger"), 0);
}
on_both_backends!(a_named_recipient_and_a_collector);

/// Every write path decides alike: alone (the statement path), in a batch on the statement
/// path, and in a batch through the PostgreSQL functions (group commit): refused without the
/// confirmations, handed over with them, the cash recorded once per parcel.
async fn every_write_path_checks_the_conditions(backend: Backend) {
    for functions in [true, false] {
        let app = TestApp::new(backend).with_csv(SHOPS);
        let shop = app.shop_id("kiosk");
        let (a, code_a) = waiting(&app, "W-1", cod()).await;
        let (b, code_b) = waiting(&app, "W-2", json!({"id_check": "age_18"})).await;
        let (a, b) = (a["id"].as_i64().expect("id"), b["id"].as_i64().expect("id"));
        let attempt = |code: &str, cash_collected, id_checked| HandoverRequest {
            shop_id: shop,
            actor: "partner:test".into(),
            code: code.into(),
            confirmed: Confirmations {
                cash_collected,
                id_checked,
            },
        };
        let batch = vec![
            attempt(&code_a, false, true),
            attempt(&code_b, true, false),
            attempt(&code_a, true, false),
            attempt(&code_b, false, true),
            attempt(&code_a, true, true),
        ];
        let now = chrono::Utc::now().naive_utc();
        let key = app.state.keys.data_key();
        let mut conn = app.state.pool.get().expect("conn");
        let answers = match &mut *conn {
            // The functions themselves, so that a failing call cannot pass unseen (the write
            // path would take the statements instead).
            pudo::db::DbConn::Postgres(pg) if functions && backend == Backend::Postgres => {
                use pudo::pickup::{codes, write_functions as wf};
                let args: Vec<wf::HandoverArgs<'_>> = batch
                    .iter()
                    .map(|r| wf::HandoverArgs {
                        shop_id: r.shop_id,
                        actor: &r.actor,
                        code_hash: codes::normalise(&r.code)
                            .map(|c| codes::hash(key, r.shop_id, &c)),
                        confirmed: r.confirmed,
                    })
                    .collect();
                wf::handover_batch(pg, key, &args, wf::to_micros(now))
                    .expect("the functions answer")
            }
            _ => handover_many(&mut conn, key, &batch, now, functions),
        };
        drop(conn);
        let shown: Vec<String> = answers
            .iter()
            .map(|o| match o {
                Ok(Outcome::Success(h)) => format!(
                    "success {} {:?} {:?}",
                    h.parcel_id,
                    h.cash_collected.as_ref().map(|c| c.amount_minor),
                    h.id_checked.map(|c| c.as_str())
                ),
                Ok(Outcome::Replay(h)) => format!("replay {}", h.parcel_id),
                Ok(other) => format!("{} {:?}", other.label(), other.subject()),
                Err(e) => format!("{e}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                format!("cash_not_confirmed Some({a})"),
                format!("id_check_required Some({b})"),
                format!("success {a} Some(2550) None"),
                format!("success {b} None Some(\"age_18\")"),
                format!("replay {a}"),
            ],
            "functions: {functions}"
        );
        assert_eq!(
            count(&app, "SELECT count(*) AS n FROM cash_ledger"),
            1,
            "functions: {functions}"
        );
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM handover_attempts WHERE confirmed = 'cash_collected'"
            ),
            1
        );
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM handover_attempts WHERE confirmed = 'id_checked'"
            ),
            1
        );
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM handover_attempts WHERE result = 'wrong_code'"
            ),
            0
        );

        // Alone, without group commit: the same rule.
        let (_, code_c) = waiting(&app, "W-3", cod()).await;
        let mut conn = app.state.pool.get().expect("conn");
        let key = app.state.keys.data_key();
        let now = chrono::Utc::now().naive_utc();
        let alone = pudo::pickup::handover(&mut conn, key, shop, "partner:test", &code_c, now)
            .expect("answer");
        assert_eq!(alone.label(), "cash_not_confirmed");
        let alone = pudo::pickup::handover::handover_confirming(
            &mut conn,
            key,
            shop,
            "partner:test",
            &code_c,
            Confirmations {
                cash_collected: true,
                id_checked: false,
            },
            now,
        )
        .expect("answer");
        assert_eq!(alone.label(), "success");
    }
}
on_both_backends!(every_write_path_checks_the_conditions);

/// The statement settles fees and cash apart: fee lines and totals as before, the cash in its
/// own lines, and per currency fees earned, cash collected and the net, reconciling with the
/// ledgers (JSON and CSV).
async fn statements_settle_cash_and_fees(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let partner = app.partner_token("kiosk");
    let mut cash = 0;
    for (i, (amount, confirm)) in [(2550, true), (1000, true), (700, false)]
        .into_iter()
        .enumerate()
    {
        let conditions = json!({"cash_on_delivery": {"amount_minor": amount, "currency": "EUR"}});
        let (_, code) = waiting(&app, &format!("S-{i}"), conditions).await;
        let answer = app
            .post(
                "/v1/partner/handovers",
                &partner,
                json!({ "code": code, "cash_collected": confirm }),
            )
            .await;
        if confirm {
            answer.ok();
            cash += amount;
        } else {
            answer.problem(409);
        }
    }
    // A parcel without cash: a fee, no cash.
    let (_, code) = waiting(&app, "S-plain", json!({})).await;
    app.post("/v1/partner/handovers", &partner, json!({ "code": code }))
        .await
        .ok();

    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let st = app
        .get_as(&format!("/v1/partner/statement?month={month}"), &partner)
        .await;
    let st = st.ok();
    let fees = count(
        &app,
        "SELECT CAST(coalesce(sum(amount_minor), 0) AS BIGINT) AS n FROM ledger",
    );
    assert_eq!(fees, 3 * 30, "three handovers at the default fee");
    assert_eq!(
        st["grand_totals"][0]["amount_minor"], fees,
        "cash is no fee"
    );
    assert_eq!(st["cash_lines"].as_array().expect("cash lines").len(), 2);
    let line_sum: i64 = st["cash_lines"]
        .as_array()
        .expect("cash lines")
        .iter()
        .map(|l| l["amount_minor"].as_i64().expect("amount"))
        .sum();
    assert_eq!(line_sum, cash);
    assert_eq!(
        st["settlement"],
        json!([{
            "currency": "EUR",
            "fees_earned_minor": fees,
            "cash_collected_minor": cash,
            "net_owed_minor": cash - fees,
        }])
    );
    assert_eq!(
        count(
            &app,
            "SELECT CAST(sum(amount_minor) AS BIGINT) AS n FROM cash_ledger"
        ),
        cash
    );
    let csv = app
        .call(
            actix_web::test::TestRequest::get()
                .uri(&format!("/v1/partner/statement?month={month}&format=csv"))
                .insert_header(("authorization", format!("Bearer {partner}"))),
        )
        .await;
    assert!(
        csv.text.contains(&format!(",,,,,,,{},EUR", cash - fees)) && csv.text.contains("net_owed,"),
        "{}",
        csv.text
    );
    assert_eq!(csv.text.matches("cash_line,").count(), 2);
}
on_both_backends!(statements_settle_cash_and_fees);

/// Bad conditions are refused before anything is written, naming the field; nested objects
/// that are not objects too (serde would read a struct from an array).
async fn bad_conditions_name_the_field(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let shop = app.shop_id("kiosk");
    let cases = [
        (
            json!({"cash_on_delivery": {"amount_minor": 0, "currency": "EUR"}}),
            "cash_on_delivery.amount_minor",
        ),
        (
            json!({"cash_on_delivery": {"amount_minor": -5, "currency": "EUR"}}),
            "cash_on_delivery.amount_minor",
        ),
        (
            json!({"cash_on_delivery": {"amount_minor": 1.5, "currency": "EUR"}}),
            "cash_on_delivery.amount_minor",
        ),
        (
            json!({"cash_on_delivery": {"amount_minor": 100, "currency": "eur"}}),
            "cash_on_delivery.currency",
        ),
        (
            json!({"cash_on_delivery": {"amount_minor": 100, "currency": "EURO"}}),
            "cash_on_delivery.currency",
        ),
        (
            json!({"cash_on_delivery": {"amount_minor": 100}}),
            "cash_on_delivery.currency",
        ),
        (
            json!({"cash_on_delivery": {"amount_minor": 100, "currency": "EUR", "x": 1}}),
            "cash_on_delivery.x",
        ),
        (
            json!({"cash_on_delivery": [null, null]}),
            "cash_on_delivery",
        ),
        (
            json!({"cash_on_delivery": [100, "EUR"]}),
            "cash_on_delivery",
        ),
        (json!({"cash_on_delivery": 100}), "cash_on_delivery"),
        (json!({"id_check": "age_21"}), "id_check"),
        (json!({"id_check": "named_recipient"}), "recipient_name"),
        (
            json!({"id_check": "age_18", "recipient_name": "Ana"}),
            "recipient_name",
        ),
        (json!({"recipient_name": "Ana"}), "recipient_name"),
        (json!({"collector_name": ""}), "collector_name"),
        (json!({"collector_name": "x".repeat(101)}), "collector_name"),
        (json!({"collector_name": "a\u{7}b"}), "collector_name"),
    ];
    for (i, (conditions, field)) in cases.into_iter().enumerate() {
        let body = with(
            json!({"pickup_point_id": shop, "order_ref": format!("BAD-{i}")}),
            &conditions,
        );
        let answer = app.post("/v1/reservations", &merchant, body.clone()).await;
        let p = answer.problem(400);
        assert_eq!(p["parameter"], field, "{body}: {}", answer.text);
    }
    assert_eq!(count(&app, "SELECT count(*) AS n FROM parcels"), 0);
    // And the handover's confirmations are booleans.
    let partner = app.partner_token("kiosk");
    let answer = app
        .post(
            "/v1/partner/handovers",
            &partner,
            json!({"code": "1234 5678", "cash_collected": "yes"}),
        )
        .await;
    assert_eq!(answer.problem(400)["parameter"], "cash_collected");
}
on_both_backends!(bad_conditions_name_the_field);

/// Whether `value` fits a property's schema as the reservation's variants state them: its
/// `enum` when it has one, otherwise its `type` (`string` or `null`).
fn fits(property: &Value, value: &Value) -> bool {
    if let Some(values) = property["enum"].as_array() {
        return values.contains(value);
    }
    match property["type"].as_str() {
        Some("null") => value.is_null(),
        Some("string") => value.is_string(),
        other => panic!("unexpected type {other:?} in {property}"),
    }
}

/// The OpenAPI document says the rule of `recipient_name` (with, and only with, `id_check:
/// named_recipient`) as `oneOf` two objects, and it says it exactly: for every combination of
/// the two fields (absent, null, a value), the API accepts the request when exactly one
/// variant takes it, and refuses it naming `recipient_name` otherwise. The contract fuzzing
/// (tests/contract) relies on it to send only requests the API accepts. The names share the
/// order reference's pattern (not blank, no control characters).
async fn the_contract_states_the_named_recipient_rule(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let doc = app.get("/openapi.json").await.ok().clone();
    let variants = doc["components"]["schemas"]["ReservationRequest"]["oneOf"]
        .as_array()
        .expect("oneOf")
        .clone();
    assert_eq!(variants.len(), 2);
    let order_ref_pattern = &variants[0]["properties"]["order_ref"]["pattern"];
    assert!(order_ref_pattern.is_string());
    for variant in &variants {
        assert_eq!(variant["additionalProperties"], false);
        for name in ["recipient_name", "collector_name"] {
            let property = &variant["properties"][name];
            if property["type"] != "null" {
                assert_eq!(&property["pattern"], order_ref_pattern, "{name}");
                assert_eq!(property["maxLength"], 100, "{name}");
            }
        }
    }
    let takes = |variant: &Value, body: &Value| {
        ["id_check", "recipient_name"]
            .iter()
            .all(|field| match body.get(*field) {
                Some(value) => fits(&variant["properties"][*field], value),
                None => !variant["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|f| f == *field)),
            })
    };
    let id_checks = [
        None,
        Some(Value::Null),
        Some(json!("age_18")),
        Some(json!("named_recipient")),
    ];
    let names = [None, Some(Value::Null), Some(json!("Ana García"))];
    let mut accepted = 0;
    for (i, id_check) in id_checks.iter().enumerate() {
        for (j, name) in names.iter().enumerate() {
            let mut body = json!({"pickup_point_id": app.shop_id("kiosk"), "order_ref": format!("RULE-{i}-{j}")});
            if let Some(v) = id_check {
                body["id_check"] = v.clone();
            }
            if let Some(v) = name {
                body["recipient_name"] = v.clone();
            }
            let matching = variants.iter().filter(|v| takes(v, &body)).count();
            let answer = app.post("/v1/reservations", &merchant, body.clone()).await;
            if matching == 1 {
                assert_eq!(answer.status.as_u16(), 201, "{body}: {}", answer.text);
                accepted += 1;
            } else {
                assert_eq!(matching, 0, "{body} fits both variants");
                assert_eq!(answer.problem(400)["parameter"], "recipient_name", "{body}");
            }
        }
    }
    // Without a check or with age_18 (absent, null): no name or a null one; named: a name.
    assert_eq!(accepted, 3 * 2 + 1);
}
on_both_backends!(the_contract_states_the_named_recipient_rule);

/// A merchant's cash of a month (`GET /v1/merchant/cash`): per currency the sum and every
/// collection (parcel, order reference, shop, amount, when), only its own, only handed-over
/// parcels, and the same rows as the cash lines of the shops' statements (JSON and CSV); a
/// bad month is refused naming it, and a partner may not read it.
async fn merchants_see_the_cash_collected_for_them(backend: Backend) {
    let app = TestApp::new(backend).with_csv(TWO_SHOPS);
    let collected = [
        ("acme", "kiosk", "A-1", 2550, "EUR"),
        ("acme", "corner", "A-2", 1000, "EUR"),
        ("acme", "corner", "A-3", 500, "GBP"),
        ("zeta", "kiosk", "Z-1", 700, "EUR"),
    ];
    for (merchant, shop, order_ref, amount, currency) in collected {
        let conditions =
            json!({"cash_on_delivery": {"amount_minor": amount, "currency": currency}});
        let (_, code) = waiting_at(&app, merchant, shop, order_ref, conditions).await;
        app.post(
            "/v1/partner/handovers",
            &app.partner_token(shop),
            json!({ "code": code, "cash_collected": true }),
        )
        .await
        .ok();
    }
    // Waiting, not handed over: no cash yet.
    waiting_at(&app, "acme", "kiosk", "A-4", cod()).await;

    let acme = app.token(Role::Merchant, "acme");
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let answer = app
        .get_as(&format!("/v1/merchant/cash?month={month}"), &acme)
        .await;
    let cash = answer.ok().clone();
    assert_eq!(cash["merchant"], "acme");
    assert_eq!(cash["month"], month.as_str());
    // What matters of each currency and line (ids and times aside).
    let summary: Vec<Value> = cash["currencies"]
        .as_array()
        .expect("currencies")
        .iter()
        .map(|c| {
            let lines: Vec<Value> = c["lines"]
                .as_array()
                .expect("lines")
                .iter()
                .map(|l| json!([l["order_ref"], l["shop"]["external_id"], l["amount_minor"]]))
                .collect();
            json!([
                c["currency"],
                c["collections"],
                c["cash_collected_minor"],
                lines
            ])
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            json!([
                "EUR",
                2,
                3550,
                [["A-1", "kiosk", 2550], ["A-2", "corner", 1000]]
            ]),
            json!(["GBP", 1, 500, [["A-3", "corner", 500]]]),
        ]
    );

    // The same rows as the statements' cash lines of acme, at both shops.
    let key = |l: &Value| {
        (
            l["id"].as_i64().expect("id"),
            l["parcel_id"].as_i64().expect("parcel"),
            l["amount_minor"].as_i64().expect("amount"),
            l["currency"].as_str().expect("currency").to_owned(),
        )
    };
    let mut from_statements = Vec::new();
    for shop in ["kiosk", "corner"] {
        let st = app
            .get_as(
                &format!("/v1/partner/statement?month={month}"),
                &app.partner_token(shop),
            )
            .await;
        for l in st.ok()["cash_lines"].as_array().expect("cash lines") {
            if l["merchant"] == "acme" {
                assert_eq!(l["shop_id"], app.shop_id(shop));
                from_statements.push(key(l));
            }
        }
    }
    let mut from_merchant: Vec<_> = cash["currencies"]
        .as_array()
        .expect("currencies")
        .iter()
        .flat_map(|c| c["lines"].as_array().expect("lines").iter().map(key))
        .collect();
    from_statements.sort();
    from_merchant.sort();
    assert_eq!(from_merchant, from_statements);

    // Only its own: zeta sees its one collection.
    let zeta = app
        .get_as(
            &format!("/v1/merchant/cash?month={month}"),
            &app.token(Role::Merchant, "zeta"),
        )
        .await;
    let zeta = zeta.ok();
    assert_eq!(zeta["currencies"][0]["cash_collected_minor"], 700);
    assert_eq!(zeta["currencies"][0]["lines"][0]["order_ref"], "Z-1");
    assert_eq!(zeta["currencies"].as_array().map(Vec::len), Some(1));
    // Another month: nothing.
    let before = app.get_as("/v1/merchant/cash?month=2020-01", &acme).await;
    assert_eq!(before.ok()["currencies"], json!([]));

    // CSV: a line per collection and a total per currency.
    let csv = app
        .get_as(
            &format!("/v1/merchant/cash?month={month}&format=csv"),
            &acme,
        )
        .await;
    assert_eq!(csv.status.as_u16(), 200, "{}", csv.text);
    let mut rows = csv.text.lines();
    assert_eq!(
        rows.next(),
        Some("record,month,collected_at,parcel_id,order_ref,shop_id,shop_external_id,shop_name,collections,amount_minor,currency")
    );
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 3 + 2, "{}", csv.text);
    assert!(
        rows[0].starts_with(&format!("line,{month},")),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains(",A-1,"), "{}", rows[0]);
    assert!(
        rows[0].ends_with(",kiosk,Kiosko Sol,1,2550,EUR"),
        "{}",
        rows[0]
    );
    assert_eq!(rows[3], format!("total,{month},,,,,,,2,3550,EUR"));
    assert_eq!(rows[4], format!("total,{month},,,,,,,1,500,GBP"));

    // Bad input and other roles.
    let bad = app.get_as("/v1/merchant/cash?month=2026-13", &acme).await;
    assert_eq!(bad.problem(400)["parameter"], "month");
    let missing = app.get_as("/v1/merchant/cash", &acme).await;
    assert_eq!(missing.problem(400)["parameter"], "month");
    let format = app
        .get_as(
            &format!("/v1/merchant/cash?month={month}&format=xml"),
            &acme,
        )
        .await;
    assert_eq!(format.problem(400)["parameter"], "format");
    let partner = app
        .get_as(
            &format!("/v1/merchant/cash?month={month}"),
            &app.partner_token("kiosk"),
        )
        .await;
    partner.problem(403);
}
on_both_backends!(merchants_see_the_cash_collected_for_them);
