//! Returns at the counter over HTTP: registration, the drop-off code, drop-off taking a slot,
//! carrier collection, webhooks and the shared bound on wrong codes.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use actix_web::test::TestRequest;
use pudo::auth::Role;
use serde_json::{json, Value};

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status
small,Kiosko Pequeño,40.4169,-3.7035,1,active
big,Supermercado,40.4180,-3.7097,50,active
paused,Cerrado hoy,40.4170,-3.7040,10,paused
";

/// Registers a return and reads its drop-off code (the one time it is shown).
async fn register(app: &TestApp, merchant: &str, shop: i64, order_ref: &str) -> (i64, String) {
    let created = app
        .post(
            "/v1/returns",
            merchant,
            json!({"pickup_point_id": shop, "order_ref": order_ref, "sku": "SHOE-42"}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["state"], "registered");
    assert!(created.body.get("dropoff_code").is_none());
    let id = created.body["id"].as_i64().expect("id");
    let read = app.get_as(&format!("/v1/returns/{id}"), merchant).await;
    let code = read.ok()["dropoff_code"]
        .as_str()
        .expect("code on first read")
        .to_owned();
    assert!(read.body["dropoff_code_qr_svg"]
        .as_str()
        .is_some_and(|s| s.contains("<svg")));
    (id, code)
}

async fn live(app: &TestApp, partner: &str) -> i64 {
    app.get_as("/v1/partner/shop", partner).await.ok()["live_parcels"]
        .as_i64()
        .expect("live")
}

fn outbox_kinds(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use pudo::db::schema::outbox;
    outbox::table
        .select(outbox::kind)
        .order(outbox::id)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("outbox")
}

fn ledger_kinds(app: &TestApp, shop: i64) -> Vec<(String, String, i64)> {
    use diesel::prelude::*;
    use pudo::db::schema::ledger;
    ledger::table
        .filter(ledger::shop_id.eq(shop))
        .select((ledger::kind, ledger::event_key, ledger::amount_minor))
        .order(ledger::id)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("ledger")
}

async fn dropoff_then_collection(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (small, big) = (app.shop_id("small"), app.shop_id("big"));
    let merchant = app.token(Role::Merchant, "acme");
    let (id, code) = register(&app, &merchant, big, "RET-1").await;

    // Registration is idempotent on order_ref, and bound to one point.
    let again = app
        .post(
            "/v1/returns",
            &merchant,
            json!({"pickup_point_id": big, "order_ref": "RET-1"}),
        )
        .await;
    assert_eq!(
        (again.status.as_u16(), again.body["id"].as_i64()),
        (200, Some(id))
    );
    let elsewhere = app
        .post(
            "/v1/returns",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "RET-1"}),
        )
        .await;
    assert_eq!(elsewhere.problem(409)["reason"], "order_ref_in_use");
    let paused = app
        .post(
            "/v1/returns",
            &merchant,
            json!({"pickup_point_id": app.shop_id("paused"), "order_ref": "RET-P"}),
        )
        .await;
    assert_eq!(paused.problem(409)["reason"], "paused");
    app.post(
        "/v1/returns",
        &merchant,
        json!({"pickup_point_id": 999_999, "order_ref": "RET-X"}),
    )
    .await
    .problem(404);
    let blank = app
        .post(
            "/v1/returns",
            &merchant,
            json!({"pickup_point_id": big, "order_ref": " "}),
        )
        .await;
    assert_eq!(blank.problem(400)["parameter"], "order_ref");
    // The code is shown once, and only to its merchant.
    let second = app.get_as(&format!("/v1/returns/{id}"), &merchant).await;
    assert!(second.ok().get("dropoff_code").is_none());
    let other = app.token(Role::Merchant, "globex");
    app.get_as(&format!("/v1/returns/{id}"), &other)
        .await
        .problem(404);

    // Another shop cannot accept it: the code is wrong there.
    let small_partner = app.partner_token("small");
    app.post(
        "/v1/partner/dropoffs",
        &small_partner,
        json!({"code": code}),
    )
    .await
    .problem(404);

    // At its shop it is accepted once; a repeat answers replay; it takes a slot.
    let partner = app.partner_token("big");
    assert_eq!(live(&app, &partner).await, 0);
    let done = app
        .post("/v1/partner/dropoffs", &partner, json!({"code": code}))
        .await;
    assert_eq!(done.ok()["return_id"], id);
    assert_eq!(done.body["order_ref"], "RET-1");
    assert_eq!(done.body["sku"], "SHOE-42");
    assert_eq!(done.body["replay"], false);
    let replay = app
        .post("/v1/partner/dropoffs", &partner, json!({"code": code}))
        .await;
    assert_eq!(replay.ok()["replay"], true);
    assert_eq!(replay.body["dropped_off_at"], done.body["dropped_off_at"]);
    assert_eq!(live(&app, &partner).await, 1);

    // Waiting for the carrier.
    let waiting = app.get_as("/v1/partner/collections", &partner).await;
    assert_eq!(waiting.ids(), [id]);
    assert_eq!(waiting.body["items"][0]["state"], "dropped_off");
    assert!(app
        .get_as("/v1/partner/collections", &small_partner)
        .await
        .ids()
        .is_empty());

    // All or nothing: an unknown id, another shop's return, one not dropped off yet.
    let unknown = app
        .post(
            "/v1/partner/collections",
            &partner,
            json!({"return_ids": [id, 987_654]}),
        )
        .await;
    assert!(unknown.problem(404)["detail"]
        .as_str()
        .is_some_and(|d| d.contains("987654") && !d.contains(&id.to_string())));
    app.post(
        "/v1/partner/collections",
        &small_partner,
        json!({"return_ids": [id]}),
    )
    .await
    .problem(404);
    let (early, _) = register(&app, &merchant, big, "RET-2").await;
    let not_yet = app
        .post(
            "/v1/partner/collections",
            &partner,
            json!({"return_ids": [id, early]}),
        )
        .await;
    assert_eq!(not_yet.problem(409)["reason"], "not_dropped_off");
    assert!(not_yet.body["detail"]
        .as_str()
        .is_some_and(|d| d.contains(&early.to_string())));
    assert_eq!(
        app.get_as("/v1/partner/collections", &partner).await.ids(),
        [id],
        "nothing collected"
    );
    app.post(
        "/v1/partner/collections",
        &partner,
        json!({"return_ids": []}),
    )
    .await
    .problem(400);

    // The driver takes it: the slot is free; a repeat changes nothing.
    let taken = app
        .post(
            "/v1/partner/collections",
            &partner,
            json!({"return_ids": [id, id]}),
        )
        .await;
    assert_eq!(taken.ok()["collected_now"], json!([id]));
    assert_eq!(taken.body["items"][0]["state"], "collected");
    let repeat = app
        .post(
            "/v1/partner/collections",
            &partner,
            json!({"return_ids": [id]}),
        )
        .await;
    assert_eq!(repeat.ok()["collected_now"], json!([]));
    assert_eq!(repeat.body["already_collected"], json!([id]));
    assert_eq!(live(&app, &partner).await, 0);
    assert!(app
        .get_as("/v1/partner/collections", &partner)
        .await
        .ids()
        .is_empty());
    // The code stays used: typing it again is a replay, not a second drop-off.
    let late = app
        .post("/v1/partner/dropoffs", &partner, json!({"code": code}))
        .await;
    assert_eq!(late.ok()["replay"], true);
    assert_eq!(live(&app, &partner).await, 0);

    // The merchant heard of both steps, and the shop was paid for both, once.
    let kinds = outbox_kinds(&app);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.starts_with("return."))
            .collect::<Vec<_>>(),
        ["return.dropped_off", "return.collected"]
    );
    assert_eq!(
        ledger_kinds(&app, big),
        [
            ("dropoff".to_owned(), format!("dropoff:{id}"), 35),
            (
                "return_sent_back".to_owned(),
                format!("return_collected:{id}"),
                20
            ),
        ]
    );
    assert!(ledger_kinds(&app, small).is_empty());
    let metrics = app.get("/metrics").await.text;
    for line in [
        "pudo_returns_total{step=\"dropped_off\"} 1",
        "pudo_returns_total{step=\"replay\"} 2",
        "pudo_returns_total{step=\"refused\"} 1",
        "pudo_returns_total{step=\"collected\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
on_both_backends!(dropoff_then_collection);

async fn dropoff_respects_capacity(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let small = app.shop_id("small");
    let merchant = app.token(Role::Merchant, "acme");
    let partner = app.partner_token("small");
    // The one slot is held by a reservation: the drop-off is refused, the return stays.
    let reservation = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "ORD-1"}),
        )
        .await;
    assert_eq!(reservation.status.as_u16(), 201);
    let (id, code) = register(&app, &merchant, small, "RET-1").await;
    let full = app
        .post("/v1/partner/dropoffs", &partner, json!({"code": code}))
        .await;
    assert_eq!(full.problem(409)["reason"], "full");
    assert!(app
        .get_as("/v1/partner/collections", &partner)
        .await
        .ids()
        .is_empty());
    assert_eq!(live(&app, &partner).await, 1);
    // A reservation cannot take the slot a drop-off holds either.
    let rid = reservation.body["id"].as_i64().expect("id");
    app.post(
        &format!("/v1/reservations/{rid}/cancel"),
        &merchant,
        json!({}),
    )
    .await
    .ok();
    app.post("/v1/partner/dropoffs", &partner, json!({"code": code}))
        .await
        .ok();
    let refused = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "ORD-2"}),
        )
        .await;
    assert_eq!(refused.problem(409)["reason"], "full");
    assert_eq!(
        app.get_as("/v1/partner/collections", &partner).await.ids(),
        [id]
    );
    // The shop pauses: a new drop-off is refused as paused.
    let big = app.shop_id("big");
    let big_partner = app.partner_token("big");
    let (_, code2) = register(&app, &merchant, big, "RET-2").await;
    app.call(
        TestRequest::patch()
            .uri("/v1/partner/shop")
            .insert_header(("authorization", format!("Bearer {big_partner}")))
            .set_json(json!({"status": "paused"})),
    )
    .await
    .ok();
    let paused = app
        .post("/v1/partner/dropoffs", &big_partner, json!({"code": code2}))
        .await;
    assert_eq!(paused.problem(409)["reason"], "paused");
}
on_both_backends!(dropoff_respects_capacity);

/// Wrong drop-off and pickup codes count towards one bound per shop, and are audited.
async fn wrong_codes_share_the_bound(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let big = app.shop_id("big");
    let (_, code) = register(&app, &merchant, big, "RET-1").await;
    let partner = app.partner_token("big");
    let wrong = |n: u32| {
        let first = if code.starts_with('9') { '1' } else { '9' };
        json!({"code": format!("{first}{n:07}")})
    };
    for n in 0..3 {
        app.post("/v1/partner/handovers", &partner, wrong(n))
            .await
            .problem(404);
    }
    for n in 3..5 {
        app.post("/v1/partner/dropoffs", &partner, wrong(n))
            .await
            .problem(404);
    }
    app.post("/v1/partner/dropoffs", &partner, json!({"code": "abc"}))
        .await;
    let limited = app
        .post("/v1/partner/dropoffs", &partner, json!({"code": code}))
        .await;
    limited.problem(429);
    let retry = app
        .call(
            TestRequest::post()
                .uri("/v1/partner/dropoffs")
                .insert_header(("authorization", format!("Bearer {partner}")))
                .set_json(json!({"code": code})),
        )
        .await;
    assert_eq!(retry.status.as_u16(), 429);
    app.post("/v1/partner/handovers", &partner, wrong(9))
        .await
        .problem(429);
    use diesel::prelude::*;
    use pudo::db::schema::handover_attempts as h;
    let rows: Vec<(String, String, Option<i64>)> = h::table
        .select((h::kind, h::result, h::return_id))
        .order(h::id)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("audit");
    let seen: Vec<(&str, &str)> = rows
        .iter()
        .map(|(k, r, _)| (k.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("handover", "wrong_code"),
            ("handover", "wrong_code"),
            ("handover", "wrong_code"),
            ("dropoff", "wrong_code"),
            ("dropoff", "wrong_code"),
            ("dropoff", "rate_limited"),
            ("dropoff", "rate_limited"),
            ("dropoff", "rate_limited"),
            ("handover", "rate_limited"),
        ]
    );
    // Nothing was dropped off while limited; another shop is not affected.
    assert!(app
        .get_as("/v1/partner/collections", &partner)
        .await
        .ids()
        .is_empty());
    app.post(
        "/v1/partner/dropoffs",
        &app.partner_token("small"),
        json!({"code": "12345678"}),
    )
    .await
    .problem(404);
}
on_both_backends!(wrong_codes_share_the_bound);

/// A drop-off code is refused once its validity is over (410), and nothing is taken in.
async fn expired_dropoff_codes_are_gone(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let big = app.shop_id("big");
    let (id, code) = register(&app, &merchant, big, "RET-1").await;
    let later = chrono::Utc::now().naive_utc()
        + chrono::Duration::days(pudo::pickup::returns::DROPOFF_CODE_DAYS)
        + chrono::Duration::minutes(1);
    let result = pudo::pickup::dropoffs::dropoff(
        &mut app.state.pool.get().expect("conn"),
        app.state.keys.data_key(),
        big,
        "shop:big",
        &code,
        later,
    )
    .and_then(|outcome| outcome.into_result(pudo::pickup::CodeKind::Dropoff));
    assert!(
        matches!(result, Err(pudo::pickup::PickupError::DropoffCodeExpired)),
        "{result:?}"
    );
    let view: Value = app
        .get_as(&format!("/v1/returns/{id}"), &merchant)
        .await
        .ok()
        .clone();
    assert_eq!(view["state"], "registered");
    assert!(ledger_kinds(&app, big).is_empty());
}
on_both_backends!(expired_dropoff_codes_are_gone);

/// A return can only be registered at a point offering the `returns` service; one offering
/// only pickup and drop-off of new parcels refuses it with the reason.
async fn returns_need_the_returns_service(backend: Backend) {
    let app = TestApp::new(backend).with_csv(
        "external_id,name,latitude,longitude,capacity,services\n\
         pickup-only,Solo recogidas,40.4169,-3.7035,10,pickup|dropoff\n\
         everything,Todo,40.4180,-3.7097,10,\n",
    );
    let merchant = app.token(Role::Merchant, "acme");
    let refused = app
        .post(
            "/v1/returns",
            &merchant,
            json!({"pickup_point_id": app.shop_id("pickup-only"), "order_ref": "RET-S"}),
        )
        .await;
    assert_eq!(refused.problem(409)["reason"], "no_returns_service");
    let (_, code) = register(&app, &merchant, app.shop_id("everything"), "RET-S").await;
    assert_eq!(code.len(), 8, "{code}");
}
on_both_backends!(returns_need_the_returns_service);
