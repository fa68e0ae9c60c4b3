//! The customer's side of issue 6: search that says which points will have room, changing
//! the point after ordering, overflow on the day, and hold extensions.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use pudo::auth::Role;
use serde_json::{json, Value};

/// Shops around Puerta del Sol, Madrid. From the search point (40.4168, -3.7038): `sol` about
/// 30 m, `paused` 50 m, `last` 370 m, `opera` 520 m, `far` 3.7 km. From `sol`: `last` about
/// 370 m, `opera` 540 m, `far` 3.7 km (beyond the 2 km of a redirect).
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,timezone,opening_hours,status
sol,Kiosko Sol,40.41690,-3.70350,2,Europe/Madrid,Mo-Fr 09:00-14:00; Sa 10:00-13:00,active
opera,Supermercado Ópera,40.41800,-3.70970,50,Europe/Madrid,24/7,active
paused,Papelería en pausa,40.41720,-3.70400,30,Europe/Madrid,24/7,paused
closed,Antigua tienda,40.41692,-3.70352,30,Europe/Madrid,24/7,closed
last,Estanco de tarde,40.42000,-3.70500,1,Europe/Madrid,Mo-Su 17:00-21:00,active
far,Kiosko Chamartín,40.45000,-3.70000,10,Europe/Madrid,24/7,active
";

/// Searches near Sol with extra query parameters.
async fn search(app: &TestApp, extra: &str) -> Vec<Value> {
    app.get(&format!("/v1/pickup-points?lat=40.4168&lon=-3.7038{extra}"))
        .await
        .ok()["items"]
        .as_array()
        .expect("items")
        .clone()
}

fn item<'a>(items: &'a [Value], external_id: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["external_id"] == external_id)
        .unwrap_or_else(|| panic!("{external_id} in {items:?}"))
}

fn names(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["external_id"].as_str().expect("external_id"))
        .collect()
}

/// Reserves a slot; returns the reservation id.
async fn reserve(app: &TestApp, merchant: &str, shop: &str, order_ref: &str) -> i64 {
    let r = app
        .post(
            "/v1/reservations",
            merchant,
            json!({"pickup_point_id": app.shop_id(shop), "order_ref": order_ref}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    r.body["id"].as_i64().expect("id")
}

async fn every_point_says_whether_it_can_be_chosen(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    // Without the new parameters the answer holds the same points in the same order.
    let plain = search(&app, "").await;
    assert_eq!(names(&plain), ["sol", "last", "opera", "far"]);
    let sol = item(&plain, "sol");
    assert_eq!(sol["selectable"], true);
    assert_eq!(sol["unavailable_reason"], Value::Null);
    assert_eq!(sol["open_at_arrival"], Value::Null);
    assert_eq!(sol["in_stock"], Value::Null);
    assert_eq!(
        sol["services"],
        json!(["pickup", "dropoff", "returns", "staging"])
    );
    assert_eq!(
        sol["opening_hours"],
        "Mo-Fr 09:00-14:00; Sa 10:00-13:00; Su off"
    );
    assert_eq!(sol["timezone"], "Europe/Madrid");
    let opera = item(&plain, "opera");
    assert_eq!(
        (&opera["opening_hours"], &opera["timezone"]),
        (&Value::Null, &Value::Null),
        "open around the clock"
    );

    // A full point is listed (as before) but not selectable.
    reserve(&app, &merchant, "sol", "F-1").await;
    reserve(&app, &merchant, "sol", "F-2").await;
    let full = search(&app, "").await;
    assert_eq!(names(&full), names(&plain));
    let sol = item(&full, "sol");
    assert_eq!(
        (
            &sol["selectable"],
            &sol["unavailable_reason"],
            &sol["free_slots"]
        ),
        (&json!(false), &json!("full"), &json!(0))
    );

    // include_unavailable adds the paused point, greyed out; never the closed one.
    let all = search(&app, "&include_unavailable=true").await;
    assert_eq!(names(&all), ["sol", "paused", "last", "opera", "far"]);
    let paused = item(&all, "paused");
    assert_eq!(
        (
            &paused["status"],
            &paused["selectable"],
            &paused["unavailable_reason"]
        ),
        (&json!("paused"), &json!(false), &json!("paused"))
    );
    assert_eq!(
        names(&search(&app, "&include_unavailable=false").await),
        names(&plain)
    );

    // arrive_at: Sunday 2026-11-22 10:00 in Madrid. Sol and the evening shop are closed then.
    let sunday = search(&app, "&arrive_at=2026-11-22T10:00:00%2B01:00").await;
    assert_eq!(names(&sunday), names(&plain), "arrive_at filters nothing");
    let last = item(&sunday, "last");
    assert_eq!(
        (
            &last["open_at_arrival"],
            &last["selectable"],
            &last["unavailable_reason"]
        ),
        (&json!(false), &json!(false), &json!("closed_at_arrival"))
    );
    assert_eq!(item(&sunday, "sol")["unavailable_reason"], "full");
    assert_eq!(item(&sunday, "sol")["open_at_arrival"], false);
    let opera = item(&sunday, "opera");
    assert_eq!(
        (&opera["open_at_arrival"], &opera["selectable"]),
        (&json!(true), &json!(true))
    );
    // At 18:00 the evening shop is open and selectable.
    let evening = search(&app, "&arrive_at=2026-11-22T17:00:00Z").await;
    assert_eq!(item(&evening, "last")["selectable"], true);
}
on_both_backends!(every_point_says_whether_it_can_be_chosen);

/// The documented room order, computed from an answer's own fields.
fn room_key(i: &Value) -> (bool, f64, f64, i64) {
    let distance = i["distance_m"].as_f64().expect("distance");
    let capacity = i["capacity"].as_f64().expect("capacity");
    let free = i["free_slots"].as_f64().expect("free");
    let share = if capacity > 0.0 { free / capacity } else { 0.0 };
    let closed = if i["open_at_arrival"] == false {
        1.0
    } else {
        0.0
    };
    let score = distance / 1000.0 + 1.0 * (1.0 - share) + 2.0 * closed;
    (
        !i["selectable"].as_bool().expect("selectable"),
        score,
        distance,
        i["id"].as_i64().expect("id"),
    )
}

fn assert_room_order(items: &[Value]) {
    let keys: Vec<_> = items.iter().map(room_key).collect();
    for w in keys.windows(2) {
        // Tuples compare field by field: unselectable after selectable, then score,
        // distance, id.
        assert!(w[0] < w[1], "not in room order: {keys:?}");
    }
}

async fn rank_room_prefers_points_that_will_have_room(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    // Half of Sol is held: 30 m + 0.5 km of fullness scores worse than 370 m with every slot free.
    reserve(&app, &merchant, "sol", "R-1").await;
    let by_distance = search(&app, "&rank=distance").await;
    assert_eq!(names(&by_distance), names(&search(&app, "").await));
    let by_room = search(&app, "&rank=room").await;
    assert_eq!(names(&by_room)[0], "last");
    assert_room_order(&by_room);
    let mut same: Vec<&str> = names(&by_room);
    same.sort_unstable();
    let mut expected = names(&by_distance);
    expected.sort_unstable();
    assert_eq!(same, expected, "the same candidates, reordered");

    // Sunday morning: unselectable points (closed then, paused) go after the selectable ones.
    let sunday = search(
        &app,
        "&rank=room&include_unavailable=true&arrive_at=2026-11-22T09:00:00Z",
    )
    .await;
    assert_eq!(names(&sunday)[..2], ["opera", "far"]);
    assert!(sunday[2..].iter().all(|i| i["selectable"] == false));
    assert_room_order(&sunday);

    // limit applies after ranking; the answer is deterministic.
    let one = search(&app, "&rank=room&limit=1").await;
    assert_eq!(names(&one), ["last"]);
    assert_eq!(search(&app, "&rank=room").await, by_room);
}
on_both_backends!(rank_room_prefers_points_that_will_have_room);

fn stage(app: &TestApp, shop: &str, sku: &str, units: i32) {
    crate::support::stage(app, app.shop_id(shop), sku, units);
}

async fn stock_sku_marks_without_filtering(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    stage(&app, "opera", "PHONE-1", 2);
    stage(&app, "last", "PHONE-1", 0);
    let marked = search(&app, "&stock_sku=PHONE-1").await;
    assert_eq!(names(&marked), ["sol", "last", "opera", "far"]);
    let in_stock: Vec<(&str, &Value)> = marked
        .iter()
        .map(|i| (i["external_id"].as_str().expect("id"), &i["in_stock"]))
        .collect();
    assert_eq!(
        in_stock,
        [
            ("sol", &json!(false)),
            ("last", &json!(false)),
            ("opera", &json!(true)),
            ("far", &json!(false))
        ]
    );
    // sku still filters, and both together work.
    let both = search(&app, "&sku=PHONE-1&stock_sku=PHONE-1").await;
    assert_eq!(names(&both), ["opera"]);
    assert_eq!(both[0]["in_stock"], true);
    // A full point holding the item stays selectable: the staged unit becomes the parcel.
    // (sol has 2 slots: the unit holds one, K-2 the other.)
    let merchant = app.token(Role::Merchant, "acme");
    reserve(&app, &merchant, "last", "K-1").await;
    stage(&app, "sol", "TV-2", 1);
    reserve(&app, &merchant, "sol", "K-2").await;
    let full = search(&app, "&stock_sku=TV-2").await;
    assert_eq!(item(&full, "sol")["selectable"], true);
    assert_eq!(item(&full, "last")["unavailable_reason"], "full");
}
on_both_backends!(stock_sku_marks_without_filtering);

async fn bad_search_values_name_the_parameter(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let long = format!("&stock_sku={}", "X".repeat(65));
    for (extra, parameter) in [
        ("&include_unavailable=yes", "include_unavailable"),
        ("&include_unavailable=", "include_unavailable"),
        ("&rank=best", "rank"),
        ("&rank=room&rank=distance", "rank"),
        ("&arrive_at=tomorrow", "arrive_at"),
        ("&arrive_at=2026-11-22T10:00:00", "arrive_at"),
        (long.as_str(), "stock_sku"),
    ] {
        let answer = app
            .get(&format!("/v1/pickup-points?lat=40.4168&lon=-3.7038{extra}"))
            .await;
        assert_eq!(
            answer.problem(400)["parameter"],
            parameter,
            "{extra}: {}",
            answer.text
        );
    }
}
on_both_backends!(bad_search_values_name_the_parameter);

// ---- Changing the point after ordering ----

/// Asserts that every shop's live-parcel counter equals the parcels holding a slot there.
fn assert_counters_agree(app: &TestApp) {
    use diesel::prelude::*;
    use pudo::db::schema::{parcels as p, shop_load as l};
    let mut conn = app.state.pool.get().expect("conn");
    let loads: Vec<(i64, i32)> = l::table
        .select((l::shop_id, l::live))
        .order(l::shop_id)
        .load(&mut conn)
        .expect("loads");
    for (shop, live) in loads {
        let held: i64 = p::table
            .filter(p::shop_id.eq(shop))
            .filter(p::state.eq_any(["reserved", "at_point", "expired"]))
            .count()
            .get_result(&mut conn)
            .expect("count");
        assert_eq!(i64::from(live), held, "shop {shop}: counter vs rows");
    }
}

/// The payloads of the outbox events of one kind, oldest first.
fn events(app: &TestApp, kind: &str) -> Vec<Value> {
    use diesel::prelude::*;
    use pudo::db::schema::outbox as o;
    o::table
        .filter(o::kind.eq(kind))
        .select(o::payload)
        .order(o::id)
        .load::<String>(&mut app.state.pool.get().expect("conn"))
        .expect("events")
        .iter()
        .map(|p| serde_json::from_str(p).expect("json"))
        .collect()
}

fn live(app: &TestApp, shop: &str) -> i32 {
    let conn = &mut app.state.pool.get().expect("conn");
    let id = app.shop_id(shop);
    let region = pudo::network::load::region_of(conn, id)
        .expect("region")
        .expect("shop");
    pudo::network::load::live(conn, id, region).expect("live")
}

async fn post_empty(app: &TestApp, uri: &str, token: &str) -> crate::support::Answer {
    app.call(
        actix_web::test::TestRequest::post()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {token}"))),
    )
    .await
}

async fn arrive(app: &TestApp, shop: &str, id: i64) {
    let arrived = app
        .post(
            &format!("/v1/partner/parcels/{id}/arrival"),
            &app.partner_token(shop),
            json!({}),
        )
        .await;
    assert_eq!(arrived.ok()["state"], "at_point");
}

async fn code(app: &TestApp, merchant: &str, id: i64) -> String {
    app.get_as(&format!("/v1/reservations/{id}"), merchant)
        .await
        .ok()["pickup_code"]
        .as_str()
        .expect("code on first read")
        .to_owned()
}

async fn a_reservation_moves_before_arrival(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let id = reserve(&app, &merchant, "sol", "M-1").await;
    let move_to = |shop: i64| json!({ "pickup_point_id": shop });
    let uri = format!("/v1/reservations/{id}/move");

    let moved = app
        .post(&uri, &merchant, move_to(app.shop_id("opera")))
        .await;
    assert_eq!(moved.ok()["pickup_point_id"], app.shop_id("opera"));
    assert_eq!(moved.body["state"], "reserved");
    assert_eq!((live(&app, "sol"), live(&app, "opera")), (0, 1));
    let event = &events(&app, "parcel.moved")[0];
    assert_eq!(
        (&event["from"]["external_id"], &event["to"]["external_id"]),
        (&json!("sol"), &json!("opera"))
    );
    assert_eq!(event["reservation"]["id"], id);
    // Search sees the slot at its new point at once.
    let found = search(&app, "").await;
    assert_eq!(item(&found, "opera")["free_slots"], 49);
    assert_eq!(item(&found, "sol")["free_slots"], 2);

    // Moving to the point it has is a no-op.
    let same = app
        .post(&uri, &merchant, move_to(app.shop_id("opera")))
        .await;
    assert_eq!(same.ok()["pickup_point_id"], app.shop_id("opera"));
    assert_eq!(events(&app, "parcel.moved").len(), 1);
    assert_eq!(live(&app, "opera"), 1);

    // Points that cannot take it: the reservation keeps its point.
    reserve(&app, &merchant, "last", "M-2").await;
    for (shop, reason) in [("last", "full"), ("paused", "paused"), ("closed", "closed")] {
        let refused = app.post(&uri, &merchant, move_to(app.shop_id(shop))).await;
        assert_eq!(refused.problem(409)["reason"], reason, "{shop}");
    }
    app.post(&uri, &merchant, move_to(999_999))
        .await
        .problem(404);
    let still = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await;
    assert_eq!(still.ok()["pickup_point_id"], app.shop_id("opera"));
    assert_counters_agree(&app);

    // Bad bodies name the field; other merchants and other roles are refused.
    for (body, parameter) in [
        (json!({}), "pickup_point_id"),
        (json!({"pickup_point_id": "opera"}), "pickup_point_id"),
        (json!({"pickup_point_id": 1.5}), "pickup_point_id"),
        (json!({"pickup_point_id": 1, "point": 2}), "point"),
    ] {
        assert_eq!(
            app.post(&uri, &merchant, body).await.problem(400)["parameter"],
            parameter
        );
    }
    app.post(
        &uri,
        &app.token(Role::Merchant, "rival"),
        move_to(app.shop_id("sol")),
    )
    .await
    .problem(404);
    app.post(
        &uri,
        &app.partner_token("opera"),
        move_to(app.shop_id("sol")),
    )
    .await
    .problem(403);

    // Once the parcel is at its point, only a redirect on the day can change it.
    arrive(&app, "opera", id).await;
    let late = app.post(&uri, &merchant, move_to(app.shop_id("sol"))).await;
    assert_eq!(late.problem(409)["reason"], "already_arrived");
    let stay = app
        .post(&uri, &merchant, move_to(app.shop_id("opera")))
        .await;
    assert_eq!(
        stay.ok()["state"],
        "at_point",
        "the same point is still a no-op"
    );
    // A cancelled reservation cannot move either.
    let other = reserve(&app, &merchant, "sol", "M-3").await;
    app.post(
        &format!("/v1/reservations/{other}/cancel"),
        &merchant,
        json!({}),
    )
    .await
    .ok();
    let cancelled = app
        .post(
            &format!("/v1/reservations/{other}/move"),
            &merchant,
            move_to(app.shop_id("opera")),
        )
        .await;
    assert_eq!(cancelled.problem(409)["reason"], "wrong_state");
    assert_counters_agree(&app);
}
on_both_backends!(a_reservation_moves_before_arrival);

/// Two moves of two reservations race for the last free slot of a shop, several times: one
/// wins, the other keeps its old slot, and the counters always agree with the rows.
/// A move across a region border (Madrid to Barcelona): the parcel takes the new shop's region
/// (on Citus its row moves to another shard, with the same id), and arrives and is handed over
/// there.
async fn a_reservation_moves_to_another_region(backend: Backend) {
    use diesel::prelude::*;
    use pudo::db::schema::{parcels, shops};
    let csv = format!("{SHOPS}bcn,Quiosc Rambla,41.38090,2.17350,10,Europe/Madrid,24/7,active\n");
    let app = TestApp::new(backend).with_csv(&csv);
    let merchant = app.token(Role::Merchant, "acme");
    let id = reserve(&app, &merchant, "sol", "X-1").await;
    let region = |shop: &str| -> i64 {
        shops::table
            .filter(shops::external_id.eq(shop))
            .select(shops::region)
            .first(&mut app.state.pool.get().expect("conn"))
            .expect("region")
    };
    assert_ne!(
        region("sol"),
        region("bcn"),
        "the fixture spans two regions"
    );
    let moved = app
        .post(
            &format!("/v1/reservations/{id}/move"),
            &merchant,
            json!({ "pickup_point_id": app.shop_id("bcn") }),
        )
        .await;
    assert_eq!(moved.ok()["pickup_point_id"], app.shop_id("bcn"));
    assert_eq!((live(&app, "sol"), live(&app, "bcn")), (0, 1));
    let rows: Vec<(i64, i64)> = parcels::table
        .filter(parcels::id.eq(id))
        .select((parcels::shop_id, parcels::region))
        .load(&mut app.state.pool.get().expect("conn"))
        .expect("parcel");
    assert_eq!(rows, vec![(app.shop_id("bcn"), region("bcn"))]);
    assert_counters_agree(&app);
    arrive(&app, "bcn", id).await;
    let code = code(&app, &merchant, id).await;
    let handed = app
        .post(
            "/v1/partner/handovers",
            &app.partner_token("bcn"),
            json!({ "code": code }),
        )
        .await;
    assert_eq!(handed.ok()["parcel_id"], id, "{}", handed.text);
    assert_eq!(live(&app, "bcn"), 0);
}
on_both_backends!(a_reservation_moves_to_another_region);

async fn two_moves_into_the_last_slot(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let a = reserve(&app, &merchant, "sol", "L-A").await;
    let b = reserve(&app, &merchant, "opera", "L-B").await;
    let (sol, opera, last) = (
        app.shop_id("sol"),
        app.shop_id("opera"),
        app.shop_id("last"),
    );
    for round in 0..5 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [a, b]
            .into_iter()
            .map(|id| {
                let pool = app.state.pool.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.get().expect("conn");
                    barrier.wait();
                    pudo::pickup::moves::move_reservation(
                        &mut conn,
                        "acme",
                        id,
                        last,
                        chrono::Utc::now().naive_utc(),
                    )
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let winners: Vec<i64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|m| m.parcel.id))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let loser = results
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("a loser");
        assert!(
            matches!(
                loser,
                pudo::pickup::PickupError::ShopUnavailable(pudo::pickup::Unavailable::Full)
            ),
            "round {round}: {loser:?}"
        );
        let (loser_id, loser_home) = if winners[0] == a {
            (b, opera)
        } else {
            (a, sol)
        };
        let held = app
            .get_as(&format!("/v1/reservations/{loser_id}"), &merchant)
            .await;
        assert_eq!(held.ok()["pickup_point_id"], loser_home, "round {round}");
        assert_eq!(live(&app, "last"), 1);
        assert_counters_agree(&app);
        // The winner goes home for the next round.
        let winner_home = if winners[0] == a { sol } else { opera };
        pudo::pickup::moves::move_reservation(
            &mut app.state.pool.get().expect("conn"),
            "acme",
            winners[0],
            winner_home,
            chrono::Utc::now().naive_utc(),
        )
        .expect("move back");
        assert_eq!(live(&app, "last"), 0);
    }
}
on_both_backends!(two_moves_into_the_last_slot);

// ---- Overflow on the day ----

async fn metric(app: &TestApp, line_start: &str) -> Option<String> {
    app.get("/metrics")
        .await
        .text
        .lines()
        .find(|l| l.starts_with(line_start))
        .map(str::to_owned)
}

async fn a_waiting_parcel_is_redirected_with_its_code(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let sink = crate::webhook_sink::Sink::start();
    app.call(
        actix_web::test::TestRequest::put()
            .uri("/v1/merchant/webhook")
            .insert_header(("authorization", format!("Bearer {merchant}")))
            .set_json(json!({"url": sink.url})),
    )
    .await
    .ok();
    let id = reserve(&app, &merchant, "sol", "O-1").await;
    arrive(&app, "sol", id).await;
    let code = code(&app, &merchant, id).await;
    let sol_partner = app.partner_token("sol");

    // The counter is full on the day: the partner pauses the shop and asks where to send it.
    let pause = app
        .call(
            actix_web::test::TestRequest::patch()
                .uri("/v1/partner/shop")
                .insert_header(("authorization", format!("Bearer {sol_partner}")))
                .set_json(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(pause.ok()["status"], "paused");
    let options = app
        .get_as(
            &format!("/v1/partner/parcels/{id}/redirect-options"),
            &sol_partner,
        )
        .await;
    let body = options.ok();
    assert_eq!(body["from"]["external_id"], "sol");
    assert_eq!(body["radius_m"], 2000.0);
    let offered: Vec<&str> = body["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| o["external_id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        offered,
        ["last", "opera"],
        "nearest first, within 2 km, with room"
    );
    assert!(body["options"][0]["distance_m"].as_f64().expect("d") < 2000.0);

    // Redirect to the nearest with room (the default).
    let redirected = app
        .post(
            &format!("/v1/partner/parcels/{id}/redirect"),
            &sol_partner,
            json!({}),
        )
        .await;
    let body = redirected.ok();
    assert_eq!(body["pickup_point_id"], app.shop_id("last"));
    assert_eq!(body["state"], "at_point");
    assert_eq!(body["pickup_code_unchanged"], true);
    assert_eq!(
        (&body["from"]["external_id"], &body["to"]["external_id"]),
        (&json!("sol"), &json!("last"))
    );
    assert!(
        !redirected.text.contains(&code),
        "a partner never sees a code"
    );
    assert_eq!((live(&app, "sol"), live(&app, "last")), (0, 1));
    assert_counters_agree(&app);
    assert_eq!(
        metric(&app, "pudo_parcels_redirected_total")
            .await
            .as_deref(),
        Some("pudo_parcels_redirected_total{by=\"partner\"} 1")
    );

    // The customer's unchanged code works at the new shop only.
    app.post("/v1/partner/handovers", &sol_partner, json!({"code": code}))
        .await
        .problem(404);
    app.get_as(
        &format!("/v1/partner/parcels/{id}/redirect-options"),
        &sol_partner,
    )
    .await
    .problem(404);
    let handed = app
        .post(
            "/v1/partner/handovers",
            &app.partner_token("last"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(
        (
            handed.ok()["order_ref"].as_str(),
            handed.body["replay"].as_bool()
        ),
        (Some("O-1"), Some(false))
    );
    assert_eq!(live(&app, "last"), 0);
    assert_counters_agree(&app);

    // The merchant is told, with both points.
    let event = &events(&app, "parcel.redirected")[0];
    assert_eq!(
        (&event["from"]["id"], &event["to"]["id"], &event["by"]),
        (
            &json!(app.shop_id("sol")),
            &json!(app.shop_id("last")),
            &json!("partner")
        )
    );
    pudo::pickup::webhooks::dispatch_due(
        &app.state.pool,
        app.state.keys.data_key(),
        &pudo::pickup::webhooks::agent(),
    )
    .expect("dispatch");
    let delivered = sink
        .events()
        .into_iter()
        .find(|e| e["type"] == "parcel.redirected")
        .expect("parcel.redirected delivered");
    assert_eq!(delivered["data"]["to"]["external_id"], "last");
    assert_eq!(delivered["data"]["pickup_code_unchanged"], true);
}
on_both_backends!(a_waiting_parcel_is_redirected_with_its_code);

async fn a_carrier_redirects_a_parcel_on_its_way(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let carrier = app.token(Role::Carrier, "swift-couriers");
    let id = reserve(&app, &merchant, "sol", "C-1").await;
    let uri = format!("/v1/carrier/parcels/{id}/redirect");
    let to = |shop: &str| json!({ "pickup_point_id": app.shop_id(shop) });

    // Only carriers (and operators) use the carrier routes.
    app.post(&uri, &merchant, json!({})).await.problem(403);
    app.post(&uri, &app.partner_token("sol"), json!({}))
        .await
        .problem(403);
    // Another shop's partner does not see the parcel.
    app.post(
        &format!("/v1/partner/parcels/{id}/redirect"),
        &app.partner_token("opera"),
        json!({}),
    )
    .await
    .problem(404);
    // A chosen point must be near, another point, and able to take it.
    assert_eq!(
        app.post(&uri, &carrier, to("far")).await.problem(400)["parameter"],
        "pickup_point_id"
    );
    assert_eq!(
        app.post(&uri, &carrier, to("sol")).await.problem(400)["parameter"],
        "pickup_point_id"
    );
    assert_eq!(
        app.post(&uri, &carrier, to("paused")).await.problem(409)["reason"],
        "paused"
    );
    app.post(&uri, &carrier, json!({"pickup_point_id": 999_999}))
        .await
        .problem(404);

    // The chosen point takes it; the code is issued on arrival there.
    let options = app
        .get_as(
            &format!("/v1/carrier/parcels/{id}/redirect-options"),
            &carrier,
        )
        .await;
    assert_eq!(options.ok()["options"][1]["external_id"], "opera");
    let redirected = app.post(&uri, &carrier, to("opera")).await;
    assert_eq!(redirected.ok()["pickup_point_id"], app.shop_id("opera"));
    assert_eq!(redirected.body["state"], "reserved");
    assert_eq!(redirected.body["pickup_code_unchanged"], false);
    assert_eq!(events(&app, "parcel.redirected")[0]["by"], "carrier");
    assert_eq!(
        metric(&app, "pudo_parcels_redirected_total")
            .await
            .as_deref(),
        Some("pudo_parcels_redirected_total{by=\"carrier\"} 1")
    );
    arrive(&app, "opera", id).await;
    let code = code(&app, &merchant, id).await;
    let handed = app
        .post(
            "/v1/partner/handovers",
            &app.partner_token("opera"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(handed.ok()["order_ref"], "C-1");
    // A collected parcel goes nowhere.
    assert_eq!(
        app.post(&uri, &carrier, json!({})).await.problem(409)["reason"],
        "wrong_state"
    );

    // Nothing with room within 2 km: 409, and the parcel stays.
    let lonely = reserve(&app, &merchant, "far", "C-2").await;
    let none = app
        .post(
            &format!("/v1/carrier/parcels/{lonely}/redirect"),
            &carrier,
            json!({}),
        )
        .await;
    assert_eq!(none.problem(409)["reason"], "no_room_nearby");
    assert_eq!(live(&app, "far"), 1);
    // When the nearest is full, the next nearest with room is taken.
    reserve(&app, &merchant, "last", "C-3").await;
    let second = reserve(&app, &merchant, "sol", "C-4").await;
    let moved = post_empty(
        &app,
        &format!("/v1/carrier/parcels/{second}/redirect"),
        &carrier,
    )
    .await;
    assert_eq!(moved.ok()["to"]["external_id"], "opera");
    assert_counters_agree(&app);
}
on_both_backends!(a_carrier_redirects_a_parcel_on_its_way);

// ---- Hold extension ----

fn expires_at(body: &Value) -> chrono::NaiveDateTime {
    body["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse::<chrono::DateTime<chrono::Utc>>()
        .expect("an RFC 3339 timestamp")
        .naive_utc()
}

async fn a_waiting_parcel_is_held_longer_once(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let id = reserve(&app, &merchant, "opera", "H-1").await;
    let uri = format!("/v1/reservations/{id}/extend");
    let not_yet = app.post(&uri, &merchant, json!({"days": 2})).await;
    assert_eq!(not_yet.problem(409)["reason"], "not_waiting");
    arrive(&app, "opera", id).await;
    let before = expires_at(
        app.get_as(&format!("/v1/reservations/{id}"), &merchant)
            .await
            .ok(),
    );
    for days in [json!(0), json!(8), json!(-1), json!("2"), json!(1.5)] {
        let bad = app.post(&uri, &merchant, json!({ "days": days })).await;
        assert_eq!(bad.problem(400)["parameter"], "days", "{days}");
    }
    let extended = app.post(&uri, &merchant, json!({"days": 3})).await;
    assert_eq!(
        expires_at(extended.ok()),
        before + chrono::Duration::days(3)
    );
    assert_eq!(extended.body["hold_extended_days"], 3);
    let twice = app.post(&uri, &merchant, json!({"days": 1})).await;
    assert_eq!(twice.problem(409)["reason"], "already_extended");
    app.post(
        &uri,
        &app.token(Role::Merchant, "rival"),
        json!({"days": 1}),
    )
    .await
    .problem(404);
    assert_eq!(events(&app, "parcel.hold_extended")[0]["days"], 3);

    // The sweep honours the new deadline.
    let mut conn = app.state.pool.get().expect("conn");
    let swept = pudo::pickup::sweep(&mut conn, before + chrono::Duration::days(1)).expect("sweep");
    assert_eq!(swept, 0);
    drop(conn);

    // Without days, the configured maximum (7) applies.
    let other = reserve(&app, &merchant, "opera", "H-2").await;
    arrive(&app, "opera", other).await;
    let before = expires_at(
        app.get_as(&format!("/v1/reservations/{other}"), &merchant)
            .await
            .ok(),
    );
    let default = post_empty(&app, &format!("/v1/reservations/{other}/extend"), &merchant).await;
    assert_eq!(expires_at(default.ok()), before + chrono::Duration::days(7));

    // Once its deadline has passed a parcel cannot be extended, swept or not.
    let third = reserve(&app, &merchant, "opera", "H-3").await;
    arrive(&app, "opera", third).await;
    let late = chrono::Utc::now().naive_utc() + chrono::Duration::days(30);
    let over = pudo::pickup::holds::extend(
        &mut app.state.pool.get().expect("conn"),
        "acme",
        third,
        1,
        late,
    );
    assert!(
        matches!(over, Err(pudo::pickup::PickupError::HoldOver)),
        "{over:?}"
    );
    pudo::pickup::sweep(&mut app.state.pool.get().expect("conn"), late).expect("sweep");
    let gone = app
        .post(
            &format!("/v1/reservations/{third}/extend"),
            &merchant,
            json!({}),
        )
        .await;
    assert_eq!(gone.problem(409)["reason"], "not_waiting");
}
on_both_backends!(a_waiting_parcel_is_held_longer_once);

// ---- Carrier tokens from the command line ----

fn carrier_token_from_the_cli(backend: Backend) {
    let db = crate::support::TestDb::new(backend);
    let pudo = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pudo"))
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env("PUDO_SEED", "none")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run pudo")
    };
    let out = pudo(&["token", "--role", "carrier", "--sub", "swift-couriers"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let keys = pudo::auth::Keys::load(
        &mut db.pool().get().expect("conn"),
        &pudo::auth::keys::JwtSource::Generated,
        "pudo",
        "pudo-api",
    )
    .expect("keys");
    let claims = keys.verify(&token).expect("a valid token");
    assert_eq!(
        (claims.role, claims.sub.as_str(), claims.shop),
        (Role::Carrier, "swift-couriers", None)
    );
    let bound = pudo(&["token", "--role", "carrier", "--shop", "sol"]);
    assert!(!bound.status.success(), "a carrier token has no shop");
}

#[test]
fn carrier_token_from_the_cli_sqlite() {
    carrier_token_from_the_cli(Backend::Sqlite);
}

#[test]
fn carrier_token_from_the_cli_postgres() {
    carrier_token_from_the_cli(Backend::Postgres);
}
