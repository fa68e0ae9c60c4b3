//! The figures an on-call pages on, as `/metrics` shows them: full shops and the webhook
//! backlog (read from the database at scrape time, cached), handover failures by result.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use actix_web::test::TestRequest;
use diesel::prelude::*;
use pudo::api::metrics::Metrics;
use pudo::auth::Role;
use pudo::db::schema::{outbox, parcels};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status
one,Kiosko de una plaza,40.4169,-3.7035,1,active
two,Estanco de dos plazas,40.4180,-3.7097,2,active
none,Mostrador sin sitio,40.4170,-3.7040,0,active
resting,Cerrado hoy,40.4171,-3.7041,0,paused
";

/// The value of one sample of the exposition text (`name` with its labels, if any).
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name).then(|| value.parse::<f64>().expect("a number"))
        })
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

async fn scrape(app: &TestApp) -> String {
    let answer = app.get("/metrics").await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    answer.text
}

async fn figures(app: &TestApp) -> (f64, f64, f64) {
    let text = scrape(app).await;
    (
        sample(&text, "pudo_shops_full"),
        sample(&text, "pudo_outbox_pending_events"),
        sample(&text, "pudo_outbox_oldest_pending_age_seconds"),
    )
}

async fn patch_shop(app: &TestApp, partner: &str, body: serde_json::Value) {
    let answer = app
        .call(
            TestRequest::patch()
                .uri("/v1/partner/shop")
                .insert_header(("authorization", format!("Bearer {partner}")))
                .set_json(body),
        )
        .await;
    answer.ok();
}

async fn reserve(app: &TestApp, merchant: &str, shop: i64, order_ref: &str) -> i64 {
    let answer = app
        .post(
            "/v1/reservations",
            merchant,
            json!({"pickup_point_id": shop, "order_ref": order_ref}),
        )
        .await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    answer.body["id"].as_i64().expect("id")
}

/// Full shops and the webhook backlog follow every change that moves them, read afresh at
/// each scrape (no cache here).
async fn database_figures_follow_changes(backend: Backend) {
    let mut app = TestApp::new(backend).with_csv(SHOPS);
    app.state.metrics = Arc::new(
        Metrics::new()
            .expect("metrics")
            .with_db_figures_ttl(Duration::ZERO),
    );
    let (one, two) = (app.shop_id("one"), app.shop_id("two"));
    let merchant = app.token(Role::Merchant, "acme");
    // An active shop of capacity 0 is full; a paused one is not counted.
    assert_eq!(figures(&app).await, (1.0, 0.0, 0.0));

    reserve(&app, &merchant, one, "A-1").await;
    // The event waits for a webhook URL: not a delivery backlog yet.
    assert_eq!(figures(&app).await, (2.0, 0.0, 0.0));
    let hook = app
        .call(
            TestRequest::put()
                .uri("/v1/merchant/webhook")
                .insert_header(("authorization", format!("Bearer {merchant}")))
                .set_json(json!({"url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    hook.ok();
    let (full, pending, _) = figures(&app).await;
    assert_eq!((full, pending), (2.0, 1.0));

    // The oldest undelivered event's age, in seconds.
    let two_minutes_ago = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(120);
    diesel::update(outbox::table)
        .set(outbox::created_at.eq(two_minutes_ago))
        .execute(&mut *app.state.pool.get().expect("conn"))
        .expect("age the event");
    let first = reserve(&app, &merchant, two, "B-1").await;
    reserve(&app, &merchant, two, "B-2").await;
    let (full, pending, age) = figures(&app).await;
    assert_eq!((full, pending), (3.0, 3.0));
    assert!((120.0..600.0).contains(&age), "oldest event age {age}");

    // Pausing takes a full shop out of the count, reopening puts it back; more capacity
    // gives it room; an import that pauses it does the same.
    let partner_one = app.partner_token("one");
    patch_shop(&app, &partner_one, json!({"status": "paused"})).await;
    assert_eq!(figures(&app).await.0, 2.0);
    patch_shop(&app, &partner_one, json!({"status": "active"})).await;
    assert_eq!(figures(&app).await.0, 3.0);
    patch_shop(&app, &app.partner_token("two"), json!({"capacity": 5})).await;
    assert_eq!(figures(&app).await.0, 2.0);
    let app = app.with_csv(
        "external_id,name,latitude,longitude,capacity,status\n\
         one,Kiosko de una plaza,40.4169,-3.7035,1,paused\n",
    );
    assert_eq!(figures(&app).await.0, 1.0);

    // A cancellation frees a slot and adds an event; delivering every event empties the
    // backlog.
    let cancel = app
        .post(
            &format!("/v1/reservations/{first}/cancel"),
            &merchant,
            json!({}),
        )
        .await;
    cancel.ok();
    assert_eq!(figures(&app).await.1, 4.0);
    let ids: Vec<(i64, i64)> = outbox::table
        .select((outbox::id, outbox::region))
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("ids");
    for (id, region) in ids {
        pudo::pickup::outbox::delivered(
            &mut app.state.pool.get().expect("conn"),
            id,
            region,
            chrono::Utc::now().naive_utc(),
        )
        .expect("delivered");
    }
    assert_eq!(figures(&app).await, (1.0, 0.0, 0.0));
}
on_both_backends!(database_figures_follow_changes);

/// Within the cache's lifetime a scrape answers the figures read before, without asking the
/// database again.
async fn database_figures_are_cached(backend: Backend) {
    let mut app = TestApp::new(backend).with_csv(SHOPS);
    app.state.metrics = Arc::new(
        Metrics::new()
            .expect("metrics")
            .with_db_figures_ttl(Duration::from_secs(3600)),
    );
    let merchant = app.token(Role::Merchant, "acme");
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "pudo_shops_full"), 1.0);
    let read_at = sample(&text, "pudo_db_figures_timestamp_seconds");
    assert!(read_at > 1.7e9, "a unix time: {read_at}");
    reserve(&app, &merchant, app.shop_id("one"), "A-1").await;
    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, "pudo_shops_full"),
        1.0,
        "served from the cache"
    );
    assert_eq!(sample(&text, "pudo_db_figures_timestamp_seconds"), read_at);
}
on_both_backends!(database_figures_are_cached);

/// Refused handovers are counted by result: wrong codes, the throttle after five, an expired
/// code; successes and replays are not failures.
async fn handover_failures_by_result(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let two = app.shop_id("two");
    let merchant = app.token(Role::Merchant, "acme");
    let failures = |text: &str, result: &str| {
        sample(
            text,
            &format!("pudo_handover_failures_total{{result=\"{result}\"}}"),
        )
    };
    let text = scrape(&app).await;
    for result in ["wrong_code", "expired", "rate_limited", "not_collectable"] {
        assert_eq!(failures(&text, result), 0.0, "{result} from the start");
    }

    // Two parcels at shop "two" arrive; one is handed over (then replayed), one expires.
    let (partner_one, partner_two) = (app.partner_token("one"), app.partner_token("two"));
    let mut codes = Vec::new();
    for order_ref in ["C-1", "C-2"] {
        let id = reserve(&app, &merchant, two, order_ref).await;
        app.post(
            &format!("/v1/partner/parcels/{id}/arrival"),
            &partner_two,
            json!({}),
        )
        .await
        .ok();
        let read = app
            .get_as(&format!("/v1/reservations/{id}"), &merchant)
            .await;
        codes.push((
            id,
            read.ok()["pickup_code"].as_str().expect("code").to_owned(),
        ));
    }
    for _ in 0..2 {
        app.post(
            "/v1/partner/handovers",
            &partner_two,
            json!({"code": codes[0].1}),
        )
        .await
        .ok();
    }
    diesel::update(parcels::table.find(codes[1].0))
        .set(parcels::expires_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::hours(1)))
        .execute(&mut *app.state.pool.get().expect("conn"))
        .expect("expire");
    app.post(
        "/v1/partner/handovers",
        &partner_two,
        json!({"code": codes[1].1}),
    )
    .await
    .problem(410);

    // Five wrong codes at shop "one", then the sixth attempt is throttled.
    for _ in 0..5 {
        app.post(
            "/v1/partner/handovers",
            &partner_one,
            json!({"code": "00000000"}),
        )
        .await
        .problem(404);
    }
    app.post(
        "/v1/partner/handovers",
        &partner_one,
        json!({"code": "00000000"}),
    )
    .await
    .problem(429);

    let text = scrape(&app).await;
    assert_eq!(failures(&text, "wrong_code"), 5.0);
    assert_eq!(failures(&text, "rate_limited"), 1.0);
    assert_eq!(failures(&text, "expired"), 1.0);
    assert_eq!(failures(&text, "not_collectable"), 0.0);
    assert_eq!(
        sample(&text, "pudo_handovers_total{outcome=\"success\"}"),
        1.0
    );
    assert_eq!(
        sample(&text, "pudo_handovers_total{outcome=\"replay\"}"),
        1.0
    );
    // The search latency histogram every on-call dashboard starts from.
    app.get("/v1/pickup-points?lat=40.4169&lon=-3.7035")
        .await
        .ok();
    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            "pudo_http_request_duration_seconds_count{route=\"/v1/pickup-points\"}"
        ),
        1.0
    );
}
on_both_backends!(handover_failures_by_result);

/// Reservations refused with 409 are counted by the answer's reason and the size class it
/// names; every reason's series is there at 0 before the first refusal, and a created
/// reservation or a repeat of one is not a refusal.
async fn reservation_refusals_by_reason(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let refusals = |text: &str, reason: &str, class: &str| {
        sample(
            text,
            &format!(
                "pudo_reservation_refusals_total{{reason=\"{reason}\",size_class=\"{class}\"}}"
            ),
        )
    };
    let text = scrape(&app).await;
    for reason in ["full", "paused", "does_not_fit", "order_ref_in_use"] {
        assert_eq!(refusals(&text, reason, ""), 0.0, "{reason} from the start");
    }

    let refused = |shop: i64, order_ref: &'static str, body: serde_json::Value| {
        let app = &app;
        let merchant = merchant.clone();
        async move {
            let mut request = json!({"pickup_point_id": shop, "order_ref": order_ref});
            request
                .as_object_mut()
                .expect("object")
                .extend(body.as_object().expect("object").clone());
            let answer = app.post("/v1/reservations", &merchant, request).await;
            assert_eq!(answer.status.as_u16(), 409, "{}", answer.text);
            answer.body["reason"].as_str().expect("reason").to_owned()
        }
    };
    let one = app.shop_id("one");
    reserve(&app, &merchant, one, "R-1").await;
    // A repeat of the same order is the same reservation again (200), not a refusal.
    let again = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": one, "order_ref": "R-1"}),
        )
        .await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.text);
    assert_eq!(refused(one, "R-2", json!({})).await, "full");
    assert_eq!(refused(one, "R-3", json!({})).await, "full");
    assert_eq!(
        refused(app.shop_id("resting"), "R-4", json!({})).await,
        "paused"
    );
    assert_eq!(
        refused(app.shop_id("two"), "R-5", json!({"weight_kg": 500})).await,
        "does_not_fit"
    );

    let text = scrape(&app).await;
    assert_eq!(refusals(&text, "full", ""), 2.0, "{text}");
    assert_eq!(refusals(&text, "paused", ""), 1.0);
    assert_eq!(refusals(&text, "does_not_fit", ""), 1.0);
    assert_eq!(refusals(&text, "order_ref_in_use", ""), 0.0);
    assert_eq!(sample(&text, "pudo_reservations_total"), 1.0);
}
on_both_backends!(reservation_refusals_by_reason);
