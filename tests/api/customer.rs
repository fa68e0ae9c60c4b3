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
    assert_eq!(sol["services"], json!(["pickup"]));
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
    use diesel::prelude::*;
    use pudo::db::schema::staged_stock as st;
    diesel::insert_into(st::table)
        .values((
            st::shop_id.eq(app.shop_id(shop)),
            st::sku.eq(sku),
            st::region.eq(0i64),
            st::units.eq(units),
        ))
        .execute(&mut app.state.network.conn().expect("conn"))
        .expect("stage");
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
    let merchant = app.token(Role::Merchant, "acme");
    reserve(&app, &merchant, "last", "K-1").await;
    stage(&app, "sol", "TV-2", 1);
    reserve(&app, &merchant, "sol", "K-2").await;
    reserve(&app, &merchant, "sol", "K-3").await;
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
