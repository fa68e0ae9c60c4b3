//! The pickup flow over HTTP: reservations, arrival, codes, handover, returns, webhooks.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use crate::webhook_sink::Sink;
use actix_web::test::TestRequest;
use pudo::auth::Role;
use serde_json::json;

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status
small,Kiosko Pequeño,40.4169,-3.7035,2,active
big,Supermercado,40.4180,-3.7097,50,active
paused,Cerrado hoy,40.4170,-3.7040,10,paused
";

async fn whole_flow(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (small, big) = (app.shop_id("small"), app.shop_id("big"));
    let merchant = app.token(Role::Merchant, "acme");
    let sink = Sink::start();
    let hook = app
        .call(
            TestRequest::put()
                .uri("/v1/merchant/webhook")
                .insert_header(("authorization", format!("Bearer {merchant}")))
                .set_json(json!({"url": sink.url})),
        )
        .await;
    let secret = hook.ok()["secret"].as_str().expect("secret").to_owned();

    // Reserve, idempotently.
    let first = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "A-1"}),
        )
        .await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    let id = first.body["id"].as_i64().expect("id");
    assert_eq!(first.body["state"], "reserved");
    let again = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "A-1"}),
        )
        .await;
    assert_eq!(
        (again.status.as_u16(), again.body["id"].as_i64()),
        (200, Some(id))
    );
    let elsewhere = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": big, "order_ref": "A-1"}),
        )
        .await;
    assert_eq!(elsewhere.problem(409)["reason"], "order_ref_in_use");

    // Search shows the held slot.
    let search = app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&limit=1")
        .await;
    assert_eq!(search.ok()["items"][0]["free_slots"], 1);

    // The partner sees it arriving, marks arrival; the code goes to the merchant only.
    let partner = app.partner_token("small");
    let arriving = app
        .get_as("/v1/partner/parcels?state=arriving", &partner)
        .await;
    assert_eq!(arriving.ok()["items"][0]["id"], id);
    let arrived = app
        .post(
            &format!("/v1/partner/parcels/{id}/arrival"),
            &partner,
            json!({}),
        )
        .await;
    assert_eq!(arrived.ok()["state"], "at_point");
    assert!(
        !arrived.text.contains("code"),
        "a partner never sees a code: {}",
        arrived.text
    );
    let repeat = app
        .post(
            &format!("/v1/partner/parcels/{id}/arrival"),
            &partner,
            json!({}),
        )
        .await;
    assert_eq!(repeat.ok()["state"], "at_point");
    let read = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await;
    let code = read.ok()["pickup_code"]
        .as_str()
        .expect("code on first read")
        .to_owned();
    assert_eq!(code.len(), 8);
    assert!(read.body["pickup_code_qr_svg"]
        .as_str()
        .is_some_and(|s| s.contains("<svg")));
    let reread = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await;
    assert!(
        reread.ok().get("pickup_code").is_none(),
        "the code is readable once"
    );

    // Another shop's partner cannot touch the parcel; another merchant cannot read it.
    let other = app.partner_token("big");
    app.post(
        &format!("/v1/partner/parcels/{id}/arrival"),
        &other,
        json!({}),
    )
    .await
    .problem(404);
    app.post("/v1/partner/handovers", &other, json!({"code": code}))
        .await
        .problem(404);
    app.get_as(
        &format!("/v1/reservations/{id}"),
        &app.token(Role::Merchant, "rival"),
    )
    .await
    .problem(404);

    // Handover: wrong code, right code, replay.
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    app.post("/v1/partner/handovers", &partner, json!({"code": wrong}))
        .await
        .problem(404);
    let done = app
        .post("/v1/partner/handovers", &partner, json!({"code": code}))
        .await;
    assert_eq!(done.ok()["order_ref"], "A-1");
    assert_eq!(done.body["replay"], false);
    let replay = app
        .post("/v1/partner/handovers", &partner, json!({"code": code}))
        .await;
    assert_eq!(
        (
            replay.ok()["replay"].as_bool(),
            replay.body["parcel_id"].as_i64()
        ),
        (Some(true), Some(id))
    );
    let shop = app.get_as("/v1/partner/shop", &partner).await;
    assert_eq!(
        (
            shop.ok()["live_parcels"].as_i64(),
            shop.body["free_slots"].as_i64()
        ),
        (Some(0), Some(2))
    );

    // Webhooks: every event delivered, signed, with the code on arrival.
    let delivered = pudo::pickup::webhooks::dispatch_due(
        &app.state.pool,
        app.state.keys.data_key(),
        &pudo::pickup::webhooks::agent(),
    )
    .expect("dispatch");
    assert_eq!(delivered, 3);
    let kinds: Vec<String> = sink
        .events()
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["reservation.created", "parcel.arrived", "parcel.picked_up"]
    );
    assert_eq!(sink.events()[1]["data"]["pickup_code"], code.as_str());
    for r in sink.received.lock().expect("lock").iter() {
        let sig = &r.headers["pudo-signature"];
        let (t, v1) = sig
            .trim_start_matches("t=")
            .split_once(",v1=")
            .expect("signature format");
        assert_eq!(
            v1,
            pudo::pickup::codes::sign(&secret, t.parse().expect("t"), r.body.as_bytes())
        );
        assert_eq!(
            r.headers["pudo-event-id"],
            serde_json::from_str::<serde_json::Value>(&r.body).expect("json")["id"]
        );
    }
    let again = pudo::pickup::webhooks::dispatch_due(
        &app.state.pool,
        app.state.keys.data_key(),
        &pudo::pickup::webhooks::agent(),
    )
    .expect("dispatch");
    assert_eq!(again, 0, "nothing is sent twice once delivered");
}
on_both_backends!(whole_flow);

async fn capacity_and_status_are_enforced(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let small = app.shop_id("small");
    for n in 0..2 {
        let r = app
            .post(
                "/v1/reservations",
                &merchant,
                json!({"pickup_point_id": small, "order_ref": format!("C-{n}")}),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201);
    }
    let full = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "C-9"}),
        )
        .await;
    assert_eq!(full.problem(409)["reason"], "full");
    let paused = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": app.shop_id("paused"), "order_ref": "C-8"}),
        )
        .await;
    assert_eq!(paused.problem(409)["reason"], "paused");
    app.post(
        "/v1/reservations",
        &merchant,
        json!({"pickup_point_id": 999_999, "order_ref": "C-7"}),
    )
    .await
    .problem(404);
    let search = app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&min_free=1")
        .await;
    assert!(
        !search.external_ids().contains(&"small".to_owned()),
        "a full point is filtered by min_free"
    );
    // Cancelling frees a slot.
    let first = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "C-0"}),
        )
        .await;
    let id = first.body["id"].as_i64().expect("id");
    assert_eq!(
        app.post(
            &format!("/v1/reservations/{id}/cancel"),
            &merchant,
            json!({})
        )
        .await
        .ok()["state"],
        "cancelled"
    );
    app.post(
        &format!("/v1/reservations/{id}/cancel"),
        &merchant,
        json!({}),
    )
    .await
    .problem(409);
    assert_eq!(
        app.post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "C-9"})
        )
        .await
        .status
        .as_u16(),
        201
    );
    // The partner pauses and reopens; capacity cannot drop below what is held.
    let partner = app.partner_token("small");
    let shrink = app
        .call(
            TestRequest::patch()
                .uri("/v1/partner/shop")
                .insert_header(("authorization", format!("Bearer {partner}")))
                .set_json(json!({"capacity": 1})),
        )
        .await;
    assert_eq!(shrink.problem(409)["reason"], "capacity_below_load");
    let pause = app
        .call(
            TestRequest::patch()
                .uri("/v1/partner/shop")
                .insert_header(("authorization", format!("Bearer {partner}")))
                .set_json(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(pause.ok()["status"], "paused");
    assert!(!app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035")
        .await
        .external_ids()
        .contains(&"small".to_owned()));
    let close = app
        .call(
            TestRequest::patch()
                .uri("/v1/partner/shop")
                .insert_header(("authorization", format!("Bearer {partner}")))
                .set_json(json!({"status": "closed"})),
        )
        .await;
    assert_eq!(close.problem(400)["parameter"], "status");
    // Bad bodies are 400s naming the problem.
    app.post(
        "/v1/reservations",
        &merchant,
        json!({"pickup_point_id": small}),
    )
    .await
    .problem(400);
    let empty = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": " "}),
        )
        .await;
    assert_eq!(empty.problem(400)["parameter"], "order_ref");
}
on_both_backends!(capacity_and_status_are_enforced);

async fn guessing_codes_is_throttled(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let big = app.shop_id("big");
    let id = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": big, "order_ref": "G-1"}),
        )
        .await
        .body["id"]
        .as_i64()
        .expect("id");
    let partner = app.partner_token("big");
    app.post(
        &format!("/v1/partner/parcels/{id}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();
    let code = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await
        .body["pickup_code"]
        .as_str()
        .expect("code")
        .to_owned();
    let wrong = if code.starts_with('9') { "1" } else { "9" };
    for n in 0..5 {
        app.post(
            "/v1/partner/handovers",
            &partner,
            json!({"code": format!("{wrong}{n:07}")}),
        )
        .await
        .problem(404);
    }
    let sixth = app
        .post("/v1/partner/handovers", &partner, json!({"code": code}))
        .await;
    sixth.problem(429);
    let retry = app
        .call(
            TestRequest::post()
                .uri("/v1/partner/handovers")
                .insert_header(("authorization", format!("Bearer {partner}")))
                .set_json(json!({"code": code})),
        )
        .await;
    assert_eq!(retry.status.as_u16(), 429);
    // Every attempt is audited, with no code in clear anywhere in the table.
    use diesel::prelude::*;
    use pudo::db::schema::handover_attempts as h;
    let rows: Vec<(String, String)> = h::table
        .select((h::result, h::actor))
        .order(h::id)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("audit");
    let results: Vec<&str> = rows.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        results,
        [
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "rate_limited",
            "rate_limited"
        ]
    );
    assert!(rows.iter().all(|(_, actor)| actor == "shop:big"));
    // Another shop is not affected.
    let other = app.partner_token("small");
    app.post("/v1/partner/handovers", &other, json!({"code": "12345678"}))
        .await
        .problem(404);
}
on_both_backends!(guessing_codes_is_throttled);

async fn expiry_and_returns(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let small = app.shop_id("small");
    let id = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": small, "order_ref": "E-1"}),
        )
        .await
        .body["id"]
        .as_i64()
        .expect("id");
    let partner = app.partner_token("small");
    app.post(
        &format!("/v1/partner/parcels/{id}/return"),
        &partner,
        json!({}),
    )
    .await
    .problem(409);
    app.post(
        &format!("/v1/partner/parcels/{id}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();
    let code = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await
        .body["pickup_code"]
        .as_str()
        .expect("code")
        .to_owned();
    let later = chrono::Utc::now().naive_utc() + chrono::Duration::days(8);
    let swept =
        pudo::pickup::sweep(&mut app.state.pool.get().expect("conn"), later).expect("sweep");
    assert_eq!(swept, 1);
    app.post("/v1/partner/handovers", &partner, json!({"code": code}))
        .await
        .problem(410);
    let to_return = app
        .get_as("/v1/partner/parcels?state=to_return", &partner)
        .await;
    assert_eq!(to_return.ok()["items"][0]["id"], id);
    let returned = app
        .post(
            &format!("/v1/partner/parcels/{id}/return"),
            &partner,
            json!({}),
        )
        .await;
    assert_eq!(returned.ok()["state"], "returned");
    assert_eq!(
        app.get_as("/v1/partner/shop", &partner).await.ok()["live_parcels"],
        0
    );
    app.get_as("/v1/partner/parcels?state=lost", &partner)
        .await
        .problem(400);
}
on_both_backends!(expiry_and_returns);

async fn tokens_are_checked(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let small = app.shop_id("small");
    let body = json!({"pickup_point_id": small, "order_ref": "T-1"});
    // No token, garbage, forged signature, alg none, expired, foreign issuer/audience.
    app.call(TestRequest::post().uri("/v1/reservations").set_json(&body))
        .await
        .problem(401);
    app.post("/v1/reservations", "garbage", body.clone())
        .await
        .problem(401);
    let real = app.token(Role::Merchant, "acme");
    let parts: Vec<&str> = real.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], parts[1], "AAAA".repeat(10));
    app.post("/v1/reservations", &forged, body.clone())
        .await
        .problem(401);
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    app.post("/v1/reservations", &none, body.clone())
        .await
        .problem(401);
    let expired = app
        .state
        .keys
        .issue("acme", Role::Merchant, None, chrono::Duration::minutes(-5))
        .expect("token");
    app.post("/v1/reservations", &expired, body.clone())
        .await
        .problem(401);
    let other_keys = pudo::auth::Keys::for_tests();
    let foreign = other_keys
        .issue("acme", Role::Merchant, None, chrono::Duration::minutes(5))
        .expect("token");
    app.post("/v1/reservations", &foreign, body.clone())
        .await
        .problem(401);
    // Wrong role: a partner cannot reserve, a merchant cannot use the partner API.
    app.post(
        "/v1/reservations",
        &app.partner_token("small"),
        body.clone(),
    )
    .await
    .problem(403);
    app.get_as("/v1/partner/shop", &real).await.problem(403);
    // API key exchange.
    let (_, key) = pudo::auth::api_keys::rotate(&mut app.state.pool.get().expect("conn"), "small")
        .expect("rotate")
        .expect("shop");
    let exchanged = app
        .call(
            TestRequest::post()
                .uri("/v1/auth/token")
                .set_json(json!({"shop": "small", "api_key": key})),
        )
        .await;
    let token = exchanged.ok()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        app.get_as("/v1/partner/shop", &token).await.ok()["external_id"],
        "small"
    );
    app.call(
        TestRequest::post()
            .uri("/v1/auth/token")
            .set_json(json!({"shop": "small", "api_key": "pk_wrong"})),
    )
    .await
    .problem(401);
    app.call(
        TestRequest::post()
            .uri("/v1/auth/token")
            .set_json(json!({"shop": "big", "api_key": key})),
    )
    .await
    .problem(401);
    // Rotation invalidates the old key.
    pudo::auth::api_keys::rotate(&mut app.state.pool.get().expect("conn"), "small")
        .expect("rotate");
    app.call(
        TestRequest::post()
            .uri("/v1/auth/token")
            .set_json(json!({"shop": "small", "api_key": key})),
    )
    .await
    .problem(401);
}
on_both_backends!(tokens_are_checked);

async fn failed_webhooks_are_retried(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let sink = Sink::start();
    *sink.status.lock().expect("lock") = 500;
    let put = TestRequest::put()
        .uri("/v1/merchant/webhook")
        .insert_header(("authorization", format!("Bearer {merchant}")))
        .set_json(json!({"url": sink.url}));
    app.call(put).await.ok();
    let bad_url = TestRequest::put()
        .uri("/v1/merchant/webhook")
        .insert_header(("authorization", format!("Bearer {merchant}")))
        .set_json(json!({"url": "ftp://example.invalid/x"}));
    assert_eq!(app.call(bad_url).await.problem(400)["parameter"], "url");
    let small = app.shop_id("small");
    app.post(
        "/v1/reservations",
        &merchant,
        json!({"pickup_point_id": small, "order_ref": "W-1"}),
    )
    .await;
    let pool = &app.state.pool;
    let (key, agent) = (app.state.keys.data_key(), pudo::pickup::webhooks::agent());
    assert_eq!(
        pudo::pickup::webhooks::dispatch_due(pool, key, &agent).expect("dispatch"),
        0
    );
    let mut conn = pool.get().expect("conn");
    assert_eq!(
        pudo::pickup::outbox::pending(&mut conn).expect("pending"),
        1
    );
    use diesel::prelude::*;
    use pudo::db::schema::outbox as o;
    let (attempts, error): (i32, Option<String>) = o::table
        .select((o::attempts, o::last_error))
        .first(&mut conn)
        .expect("row");
    assert_eq!(
        (attempts, error.as_deref()),
        (1, Some("HTTP 500 Internal Server Error"))
    );
    // Not due again until the backoff has passed.
    assert_eq!(
        pudo::pickup::webhooks::dispatch_due(pool, key, &agent).expect("dispatch"),
        0
    );
    // Time passes, the receiver recovers: the event arrives once.
    *sink.status.lock().expect("lock") = 200;
    diesel::update(o::table)
        .set(o::next_attempt_at.eq(chrono::Utc::now().naive_utc()))
        .execute(&mut conn)
        .expect("rewind");
    assert_eq!(
        pudo::pickup::webhooks::dispatch_due(pool, key, &agent).expect("dispatch"),
        1
    );
    assert_eq!(sink.events().len(), 1);
    assert_eq!(
        pudo::pickup::outbox::pending(&mut conn).expect("pending"),
        0
    );
}
on_both_backends!(failed_webhooks_are_retried);

/// Events of a merchant without a webhook URL wait for one: the poll leaves them alone (it
/// asks only for the events of merchants with a webhook), they never hold up another
/// merchant's deliveries, and once the merchant sets a URL they are delivered, oldest first.
async fn events_wait_for_their_merchants_webhook(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (quiet, hooked) = (
        app.token(Role::Merchant, "quiet"),
        app.token(Role::Merchant, "hooked"),
    );
    let big = app.shop_id("big");
    for i in 0..3 {
        app.post(
            "/v1/reservations",
            &quiet,
            json!({"pickup_point_id": big, "order_ref": format!("Q-{i}")}),
        )
        .await;
    }
    let sink = Sink::start();
    let put = |token: &str| {
        TestRequest::put()
            .uri("/v1/merchant/webhook")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"url": sink.url}))
    };
    app.call(put(&hooked)).await.ok();
    app.post(
        "/v1/reservations",
        &hooked,
        json!({"pickup_point_id": big, "order_ref": "H-1"}),
    )
    .await;
    let pool = &app.state.pool;
    let (key, agent) = (app.state.keys.data_key(), pudo::pickup::webhooks::agent());
    let now = chrono::Utc::now().naive_utc();
    {
        let mut conn = pool.get().expect("conn");
        let due = pudo::pickup::outbox::due(&mut conn, now, 100).expect("due");
        let merchants: Vec<&str> = due.iter().map(|e| e.merchant.as_str()).collect();
        assert_eq!(
            merchants,
            ["hooked"],
            "only events that can be sent are asked for"
        );
    }
    assert_eq!(
        pudo::pickup::webhooks::dispatch_due(pool, key, &agent).expect("dispatch"),
        1
    );
    assert_eq!(sink.events().len(), 1);
    // The quiet merchant's three events waited; with a URL they go, in order.
    app.call(put(&quiet)).await.ok();
    assert_eq!(
        pudo::pickup::webhooks::dispatch_due(pool, key, &agent).expect("dispatch"),
        3
    );
    let refs: Vec<String> = sink.events()[1..]
        .iter()
        .map(|e| {
            e["data"]["reservation"]["order_ref"]
                .as_str()
                .expect("ref")
                .to_owned()
        })
        .collect();
    assert_eq!(refs, ["Q-0", "Q-1", "Q-2"]);
    let mut conn = pool.get().expect("conn");
    assert_eq!(
        pudo::pickup::outbox::pending(&mut conn).expect("pending"),
        0
    );
}
on_both_backends!(events_wait_for_their_merchants_webhook);

use crate::support::stage;

async fn staged_stock_makes_pickup_instant(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let big = app.shop_id("big");
    stage(&app, big, "PHONE-1", 1);
    // Search by SKU lists only the shop holding it.
    let found = app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&sku=PHONE-1")
        .await;
    assert_eq!(found.external_ids(), ["big"]);
    assert!(app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&sku=NOTHING")
        .await
        .ids()
        .is_empty());
    // Reserving it there takes the unit and is ready at once, with a code.
    let r = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": big, "order_ref": "S-1", "sku": "PHONE-1"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    assert_eq!(r.body["state"], "at_point");
    let id = r.body["id"].as_i64().expect("id");
    let code = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await
        .body["pickup_code"]
        .as_str()
        .expect("code at once")
        .to_owned();
    let done = app
        .post(
            "/v1/partner/handovers",
            &app.partner_token("big"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(done.ok()["order_ref"], "S-1");
    // The last unit is gone: the next one is an ordinary reservation, and search agrees.
    let next = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": big, "order_ref": "S-2", "sku": "PHONE-1"}),
        )
        .await;
    assert_eq!(next.body["state"], "reserved");
    assert!(app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&sku=PHONE-1")
        .await
        .ids()
        .is_empty());
    // A paused shop with stock takes no reservation, and the unit is not lost.
    stage(&app, app.shop_id("paused"), "TV-9", 1);
    let paused = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": app.shop_id("paused"), "order_ref": "S-3", "sku": "TV-9"}),
        )
        .await;
    assert_eq!(paused.problem(409)["reason"], "paused");
    app.get("/v1/pickup-points?lat=1&lon=1&sku=")
        .await
        .problem(400);
}
on_both_backends!(staged_stock_makes_pickup_instant);

/// Many reservations race for few staged units: never below zero, each unit taken once.
async fn racing_for_the_last_staged_units(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let big = app.shop_id("big");
    stage(&app, big, "GIFT", 3);
    let pool = app.state.pool.clone();
    let key = *app.state.keys.data_key();
    let handles: Vec<_> = (0..12)
        .map(|n| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let r = pudo::pickup::NewReservation {
                    merchant: "acme",
                    shop_id: big,
                    order_ref: &format!("R-{n}"),
                    sku: Some("GIFT"),
                    arrive_at: None,
                };
                let issuer = pudo::pickup::CodeIssuer {
                    data_key: &key,
                    hold: chrono::Duration::days(7),
                };
                pudo::pickup::reserve(
                    &mut pool.get().expect("conn"),
                    &r,
                    &issuer,
                    chrono::Utc::now().naive_utc(),
                )
                .expect("reserve")
                .0
                .state
            })
        })
        .collect();
    let states: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let instant = states
        .iter()
        .filter(|s| **s == pudo::pickup::ParcelState::AtPoint)
        .count();
    assert_eq!(instant, 3, "{states:?}");
    use diesel::prelude::*;
    use pudo::db::schema::staged_stock as st;
    let left: i32 = st::table
        .filter(st::shop_id.eq(big))
        .select(st::units)
        .first(&mut pool.get().expect("conn"))
        .expect("stock");
    assert_eq!(left, 0);
}
on_both_backends!(racing_for_the_last_staged_units);
