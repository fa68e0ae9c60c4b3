//! People's names sealed at rest (issue 19's names under issue 20's personal-data rule): the
//! name a `named_recipient` check compares the ID with and the authorised collector are never
//! stored in clear (no table, no event), are shown opened where the counter needs them, are
//! sealed at start where a database of before holds them in clear, and are erased with the
//! customer's e-mail address.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use pudo::auth::Role;
use serde_json::{json, Value};

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status
kiosk,Kiosko Sol,40.4169,-3.7035,20,active
";

const RECIPIENT: &str = "Ana Zubizarreta";
const COLLECTOR: &str = "Luis Etxeberria";

/// The conditions of a parcel with both names.
fn named() -> Value {
    json!({
        "id_check": "named_recipient",
        "recipient_name": RECIPIENT,
        "collector_name": COLLECTOR,
    })
}

/// Reserves `order_ref` at the kiosk with `conditions` and marks it arrived: the reservation's
/// answer, the arrival's answer and the pickup code.
async fn waiting(app: &TestApp, order_ref: &str, conditions: Value) -> (Value, Value, String) {
    let merchant = app.token(Role::Merchant, "acme");
    let partner = app.partner_token("kiosk");
    let mut body = json!({"pickup_point_id": app.shop_id("kiosk"), "order_ref": order_ref});
    for (k, v) in conditions.as_object().expect("object") {
        body[k] = v.clone();
    }
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
    let arrived = arrived.ok().clone();
    let read = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await;
    let code = read.ok()["pickup_code"].as_str().expect("code").to_owned();
    (reserved.body, arrived, code)
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    t: Option<String>,
}

fn texts(app: &TestApp, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<Text>(&mut *app.state.pool.get().expect("conn"))
        .expect(sql)
        .into_iter()
        .filter_map(|r| r.t)
        .collect()
}

/// Every row of every table of the test's database, as text.
fn everything_stored(app: &TestApp, backend: Backend) -> String {
    let mut all = String::new();
    if backend == Backend::Sqlite {
        for table in texts(
            app,
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        ) {
            let columns = texts(
                app,
                &format!("SELECT name AS t FROM pragma_table_info('{table}')"),
            );
            let row = columns
                .iter()
                .map(|c| format!("coalesce(CAST(\"{c}\" AS TEXT), '')"))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            for r in texts(app, &format!("SELECT {row} AS t FROM \"{table}\"")) {
                all.push_str(&r);
                all.push('\n');
            }
        }
    } else {
        for table in texts(
            app,
            "SELECT tablename::text AS t FROM pg_tables WHERE schemaname = current_schema()",
        ) {
            for r in texts(app, &format!("SELECT x::text AS t FROM \"{table}\" x")) {
                all.push_str(&r);
                all.push('\n');
            }
        }
    }
    assert!(all.contains("Kiosko Sol"), "the dump reads the tables");
    all
}

fn assert_no_names(stored: &str, when: &str) {
    for name in [RECIPIENT, COLLECTOR, "Zubizarreta", "Etxeberria"] {
        assert!(!stored.contains(name), "{name} stored in clear {when}");
    }
}

/// After a reservation with a named recipient and a collector, its arrival and the refused
/// and confirmed handovers, no table and no outbox row holds either name in clear; the
/// merchant's answers and the partner's views show them; the handover rules are unchanged;
/// events leave the names out.
async fn names_are_sealed_at_rest_and_shown_at_the_counter(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let partner = app.partner_token("kiosk");
    let merchant = app.token(Role::Merchant, "acme");
    let (reserved, arrived, code) = waiting(&app, "NAMES-1", named()).await;
    let id = reserved["id"].as_i64().expect("id");
    for answer in [&reserved, &arrived] {
        assert_eq!(answer["recipient_name"], RECIPIENT);
        assert_eq!(answer["collector_name"], COLLECTOR);
        assert_eq!(answer["id_check"], "named_recipient");
    }
    let read = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await;
    assert_eq!(read.ok()["recipient_name"], RECIPIENT);
    assert_eq!(read.ok()["collector_name"], COLLECTOR);
    let list = app.get_as("/v1/partner/parcels", &partner).await;
    let item = list.ok()["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["id"] == id)
        .expect("listed")
        .clone();
    assert_eq!(item["recipient_name"], RECIPIENT);
    assert_eq!(item["collector_name"], COLLECTOR);
    assert_no_names(&everything_stored(&app, backend), "after the arrival");
    let sealed = texts(
        &app,
        &format!(
            "SELECT recipient_name_sealed AS t FROM parcels WHERE id = {id} \
             UNION ALL SELECT collector_name_sealed AS t FROM parcels WHERE id = {id}"
        ),
    );
    assert_eq!(sealed.len(), 2, "both names stored, sealed");
    assert!(texts(
        &app,
        "SELECT coalesce(recipient_name, collector_name) AS t FROM parcels"
    )
    .is_empty());

    // The handover rules: 409 id_check_required (with the name to compare) until confirmed.
    let refused = app
        .post("/v1/partner/handovers", &partner, json!({ "code": code }))
        .await;
    let p = refused.problem(409);
    assert_eq!(p["reason"], "id_check_required");
    assert_eq!(p["recipient_name"], RECIPIENT);
    assert_eq!(p["collector_name"], COLLECTOR);
    let done = app
        .post(
            "/v1/partner/handovers",
            &partner,
            json!({ "code": code, "id_checked": true }),
        )
        .await;
    assert_eq!(done.ok()["replay"], false);
    assert_eq!(done.ok()["id_checked"], "named_recipient");
    assert_eq!(done.ok()["collector_name"], COLLECTOR);
    assert_no_names(&everything_stored(&app, backend), "after the handover");

    // Events: the reservation without the names (the merchant holds them), its conditions
    // otherwise.
    let events = texts(&app, "SELECT payload AS t FROM outbox");
    assert!(events.len() >= 3, "{events:?}");
    for event in &events {
        let event: Value = serde_json::from_str(event).expect("json");
        let r = &event["reservation"];
        assert!(r.get("recipient_name").is_none(), "{event}");
        assert!(r.get("collector_name").is_none(), "{event}");
        assert_eq!(r["id_check"], "named_recipient", "{event}");
    }
}
on_both_backends!(names_are_sealed_at_rest_and_shown_at_the_counter);

/// A database of before sealing holds names in clear: the start-up step seals them, leaves
/// the clear columns empty, and the views show the same names; run again it finds nothing.
async fn clear_names_of_before_are_sealed_at_start(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let partner = app.partner_token("kiosk");
    let (reserved, _, _) = waiting(&app, "OLD-1", named()).await;
    let (plain, _, _) = waiting(&app, "OLD-2", json!({"collector_name": "x"})).await;
    let (id, plain) = (
        reserved["id"].as_i64().expect("id"),
        plain["id"].as_i64().expect("id"),
    );
    // As migration 2026-12-08-000130 leaves a database of before: names in clear only.
    {
        use pudo::db::schema::parcels;
        let mut conn = app.state.pool.get().expect("conn");
        diesel::update(parcels::table.filter(parcels::id.eq(id)))
            .set((
                parcels::recipient_name.eq(RECIPIENT),
                parcels::collector_name.eq(COLLECTOR),
                parcels::recipient_name_sealed.eq(None::<String>),
                parcels::collector_name_sealed.eq(None::<String>),
            ))
            .execute(&mut *conn)
            .expect("clear names");
        diesel::update(parcels::table.filter(parcels::id.eq(plain)))
            .set((
                parcels::collector_name.eq("Marta Olaizola"),
                parcels::collector_name_sealed.eq(None::<String>),
            ))
            .execute(&mut *conn)
            .expect("clear name");
    }
    assert!(
        everything_stored(&app, backend).contains(RECIPIENT),
        "the dump sees names in clear"
    );
    let seal = || {
        pudo::pickup::names::seal_clear(
            app.state.keys.data_key(),
            &mut app.state.pool.get().expect("conn"),
        )
        .expect("seal")
    };
    assert_eq!(seal(), (2, Vec::new()));
    assert_no_names(&everything_stored(&app, backend), "after the start-up step");
    assert!(!everything_stored(&app, backend).contains("Olaizola"));
    let list = app.get_as("/v1/partner/parcels", &partner).await;
    let items = list.ok()["items"].as_array().expect("items").clone();
    let item = |id: i64| items.iter().find(|p| p["id"] == id).expect("listed");
    assert_eq!(item(id)["recipient_name"], RECIPIENT);
    assert_eq!(item(id)["collector_name"], COLLECTOR);
    assert_eq!(item(plain)["collector_name"], "Marta Olaizola");
    assert_eq!(seal(), (0, Vec::new()), "nothing left in clear");
}
on_both_backends!(clear_names_of_before_are_sealed_at_start);

/// The sweep erases the names of parcels picked up, returned or cancelled over the retention
/// window ago (PUDO_CUSTOMER_DATA_DAYS), as it erases e-mail addresses; a waiting parcel keeps
/// them; the views then show the conditions without a name, and a replayed handover of the
/// finished parcel answers without one.
async fn names_are_erased_after_the_retention_window(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let partner = app.partner_token("kiosk");
    let merchant = app.token(Role::Merchant, "acme");
    let (picked, _, code) = waiting(&app, "END-1", named()).await;
    let (kept, _, _) = waiting(&app, "END-2", named()).await;
    let cancelled = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": app.shop_id("kiosk"), "order_ref": "END-3",
                   "collector_name": COLLECTOR}),
        )
        .await;
    let cancelled = cancelled.body["id"].as_i64().expect("id");
    let (picked, kept) = (
        picked["id"].as_i64().expect("id"),
        kept["id"].as_i64().expect("id"),
    );
    app.post(
        "/v1/partner/handovers",
        &partner,
        json!({ "code": code, "id_checked": true }),
    )
    .await
    .ok();
    app.post(
        &format!("/v1/reservations/{cancelled}/cancel"),
        &merchant,
        json!({}),
    )
    .await
    .ok();
    let ended = chrono::Utc::now().naive_utc();
    let erase = |at: NaiveDateTime| {
        pudo::pickup::names::erase_ended(&mut app.state.pool.get().expect("conn"), at, 14)
            .expect("erase")
    };
    assert_eq!(erase(ended + Duration::days(13)), 0);
    assert_eq!(erase(ended + Duration::days(14) + Duration::minutes(1)), 2);
    assert_eq!(erase(ended + Duration::days(30)), 0);
    let with_names = texts(
        &app,
        "SELECT CAST(id AS TEXT) AS t FROM parcels \
         WHERE recipient_name_sealed IS NOT NULL OR collector_name_sealed IS NOT NULL",
    );
    assert_eq!(
        with_names,
        [kept.to_string()],
        "the waiting parcel keeps them"
    );

    let read = app
        .get_as(&format!("/v1/reservations/{picked}"), &merchant)
        .await;
    let read = read.ok();
    assert_eq!(read["state"], "picked_up");
    assert_eq!(read["id_check"], "named_recipient");
    assert!(read.get("recipient_name").is_none(), "{read}");
    assert!(read.get("collector_name").is_none(), "{read}");
    let replay = app
        .post("/v1/partner/handovers", &partner, json!({ "code": code }))
        .await;
    assert_eq!(replay.ok()["replay"], true);
    assert!(replay.ok().get("collector_name").is_none());
    let read = app
        .get_as(&format!("/v1/reservations/{kept}"), &merchant)
        .await;
    assert_eq!(read.ok()["recipient_name"], RECIPIENT);
}
on_both_backends!(names_are_erased_after_the_retention_window);
