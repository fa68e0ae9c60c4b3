//! Size classes in staging (issue 19, section 1): a forecast's `size` column, plans that
//! respect each shop's room per class, manifests naming the class, and receipts that take
//! slots of the units' class or larger, on both backends.

use crate::on_both_backends;
use crate::sizes::held;
use crate::support::{Backend, TestApp};
use actix_web::test::TestRequest;
use diesel::prelude::*;
use pudo::auth::Role;
use pudo::network::sizes::SizeClass;
use serde_json::json;

/// `lockers` (nearest): 2 S and 2 M slots, no L. `wall`, 1 km away: 4 slots, no sizes
/// declared (every slot L).
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status,slots_s,slots_m,slots_l,max_weight_kg,max_dimensions_cm
lockers,Taquillas Sol,40.4169,-3.7035,4,active,2,2,0,,
wall,Kiosko,40.4259,-3.7035,4,active,,,,,
";

fn here() -> String {
    h3o::LatLng::new(40.4169, -3.7035)
        .expect("valid")
        .to_cell(h3o::Resolution::Nine)
        .to_string()
}

async fn upload(app: &TestApp, event_id: i64, body: String) -> crate::support::Answer {
    app.call(
        TestRequest::post()
            .uri(&format!("/v1/events/{event_id}/forecast"))
            .insert_header((
                "authorization",
                format!("Bearer {}", app.token(Role::Planner, "pat")),
            ))
            .insert_header(("content-type", "text/csv"))
            .set_payload(body),
    )
    .await
}

/// A new event's id.
async fn new_event(app: &TestApp) -> i64 {
    let event = app
        .post("/v1/events", &app.token(Role::Planner, "pat"), json!({"name": "11.11", "starts_at": "2026-11-11T00:00:00Z", "ends_at": "2026-11-12T00:00:00Z"}))
        .await;
    event.body["id"].as_i64().expect("id")
}

/// A dispatched plan of 2 cards (S), 1 kettle (M) and 5 TVs (L) at `lockers` and `wall`.
async fn dispatched_plan(app: &TestApp) -> (i64, serde_json::Value) {
    let event_id = new_event(app).await;
    let z = here();
    let up = upload(
        app,
        event_id,
        format!("zone,sku,units,size\n{z},CARD,2,S\n{z},KETTLE,1,m\n{z},TV,5,L\n"),
    )
    .await;
    assert_eq!(up.ok()["units"], 8, "{}", up.text);
    let planner = app.token(Role::Planner, "pat");
    let plan = app
        .post(&format!("/v1/events/{event_id}/plans"), &planner, json!({}))
        .await;
    assert_eq!(plan.status.as_u16(), 201, "{}", plan.text);
    let plan_id = plan.body["id"].as_i64().expect("plan id");
    for step in ["approve", "dispatch"] {
        app.post(&format!("/v1/plans/{plan_id}/{step}"), &planner, json!({}))
            .await
            .ok();
    }
    (plan_id, plan.body.clone())
}

fn lines(manifest: &serde_json::Value) -> Vec<(String, i64, String)> {
    manifest["items"][0]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().expect("sku").to_owned(),
                l["units"].as_i64().expect("units"),
                l["size"].as_str().expect("size").to_owned(),
            )
        })
        .collect()
}

/// The whole path with sizes: the forecast's classes stored and read back, a plan that puts
/// the TVs only in L slots (one unmet although `lockers` has a free M slot), manifests and
/// exported files naming each line's class, receipts holding slots of each class, and an
/// instant pickup keeping its unit's slot.
async fn sizes_from_forecast_to_instant_pickup(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (plan_id, plan) = dispatched_plan(&app).await;
    assert_eq!(
        (plan["served_units"].as_i64(), plan["unmet_units"].as_i64()),
        (Some(7), Some(1)),
        "{plan}"
    );
    assert_eq!(plan["report"]["unmet_by_zone"][0]["units"], 1);
    assert_eq!(
        plan["report"]["by_size"],
        json!([
            {"size": "S", "served_units": 2, "unmet_units": 0},
            {"size": "M", "served_units": 1, "unmet_units": 0},
            {"size": "L", "served_units": 4, "unmet_units": 1}
        ])
    );
    let event_id = plan["event_id"].as_i64().expect("event");
    let demand =
        pudo::staging::demand::forecast_demand(&mut app.state.pool.get().expect("conn"), event_id)
            .expect("forecast");
    let sizes: Vec<(&str, SizeClass)> = demand.iter().map(|r| (r.sku.as_str(), r.size)).collect();
    assert_eq!(
        sizes,
        [
            ("CARD", SizeClass::S),
            ("KETTLE", SizeClass::M),
            ("TV", SizeClass::L)
        ]
    );
    let (lockers, wall) = (app.partner_token("lockers"), app.partner_token("wall"));
    assert_eq!(
        lines(app.get_as("/v1/partner/staging", &lockers).await.ok()),
        [
            ("CARD".into(), 2, "S".into()),
            ("KETTLE".into(), 1, "M".into())
        ]
    );
    assert_eq!(
        lines(app.get_as("/v1/partner/staging", &wall).await.ok()),
        [("TV".into(), 4, "L".into())]
    );
    let files =
        pudo::staging::export::stored_plan_files(&mut app.state.pool.get().expect("conn"), plan_id)
            .expect("files");
    assert_eq!(
        files.manifests,
        [
            ("lockers".into(), "CARD".into(), 2, "S".into()),
            ("lockers".into(), "KETTLE".into(), 1, "M".into()),
            ("wall".into(), "TV".into(), 4, "L".into())
        ]
    );
    // Receipts: the cards take S slots and the kettle an M slot; the TVs L slots.
    let receipt = format!("/v1/partner/staging/{plan_id}/receipt");
    app.post(&receipt, &lockers, json!({})).await.ok();
    app.post(&receipt, &wall, json!({})).await.ok();
    assert_eq!(held(&app, "lockers"), (3, 2, 1));
    assert_eq!(held(&app, "wall"), (4, 0, 0));
    // The kettle becomes a parcel at once, in the M slot it held: nothing new is taken.
    let kettle = instant(&app, "lockers", "K-1", "KETTLE").await;
    assert_eq!(
        (
            kettle.body["state"].as_str(),
            kettle.body["size_class"].as_str()
        ),
        (Some("at_point"), Some("M")),
        "{}",
        kettle.text
    );
    assert_eq!(held(&app, "lockers"), (3, 2, 1));
    // A TV held an L slot: as a parcel it stays in it (shown as before sizes: no class).
    let tv = instant(&app, "wall", "T-1", "TV").await;
    assert_eq!(tv.body["state"], "at_point", "{}", tv.text);
    assert_eq!(held(&app, "wall"), (4, 0, 0));
}
on_both_backends!(sizes_from_forecast_to_instant_pickup);

/// A merchant's reservation of a staged `sku` at `shop`.
async fn instant(app: &TestApp, shop: &str, order: &str, sku: &str) -> crate::support::Answer {
    app.post(
        "/v1/reservations",
        &app.token(Role::Merchant, "acme"),
        json!({"pickup_point_id": app.shop_id(shop), "order_ref": order, "sku": sku}),
    )
    .await
}

/// A receipt whose units do not fit the free slots of their class or larger is refused with
/// `full` naming the class, and takes nothing; confirming fewer then fits.
async fn a_receipt_is_refused_naming_the_class_without_room(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (plan_id, _) = dispatched_plan(&app).await;
    // Since the plan, two medium parcels took both M slots at `lockers` (it has no L slots).
    let merchant = app.token(Role::Merchant, "acme");
    for order in ["M-1", "M-2"] {
        let r = app
            .post(
                "/v1/reservations",
                &merchant,
                json!({"pickup_point_id": app.shop_id("lockers"), "order_ref": order, "parcel": "30x30x15"}),
            )
            .await;
        assert_eq!(r.body["size_class"], "M", "{}", r.text);
    }
    let receipt = format!("/v1/partner/staging/{plan_id}/receipt");
    let lockers = app.partner_token("lockers");
    let refused = app.post(&receipt, &lockers, json!({})).await;
    let problem = refused.problem(409);
    assert_eq!(
        (problem["reason"].as_str(), problem["size_class"].as_str()),
        (Some("full"), Some("M")),
        "{}",
        refused.text
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("0 free slots of size M or larger")),
        "{problem}"
    );
    assert_eq!(held(&app, "lockers"), (2, 0, 2), "nothing taken");
    // Without the kettle the cards fit their S slots.
    let fewer = app
        .post(
            &receipt,
            &lockers,
            json!({"lines": [{"sku": "KETTLE", "received": 0}]}),
        )
        .await;
    assert_eq!(fewer.ok()["received"], true);
    assert_eq!(held(&app, "lockers"), (4, 2, 2));
}
on_both_backends!(a_receipt_is_refused_naming_the_class_without_room);

/// A forecast with a bad size, or a SKU given two sizes, is refused naming row and field,
/// and the event keeps its forecast (all or nothing).
async fn a_bad_size_is_named_and_nothing_is_replaced(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let event_id = new_event(&app).await;
    let z = here();
    upload(&app, event_id, format!("zone,sku,units\n{z},CARD,2\n"))
        .await
        .ok();
    let bad = upload(
        &app,
        event_id,
        format!("zone,sku,units,size\n{z},A,1,S\n{z},B,1,XL\n{z},C,1,M\n{z}0,C,1,L\n"),
    )
    .await;
    let errors = bad.problem(422)["errors"].clone();
    assert_eq!(
        (errors[0]["row"].as_i64(), errors[0]["field"].as_str()),
        (Some(3), Some("size")),
        "{errors}"
    );
    assert!(errors[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("XL")));
    let demand =
        pudo::staging::demand::forecast_demand(&mut app.state.pool.get().expect("conn"), event_id)
            .expect("forecast");
    assert_eq!(demand.len(), 1, "the earlier forecast stays");
    assert_eq!(
        (demand[0].sku.as_str(), demand[0].size),
        ("CARD", SizeClass::S)
    );
    let two = upload(
        &app,
        event_id,
        format!("zone,sku,units,size\n{z},A,1,S\n{},A,1,L\n", zone_next()),
    )
    .await;
    let errors = two.problem(422)["errors"].clone();
    assert_eq!(
        (errors[0]["row"].as_i64(), errors[0]["field"].as_str()),
        (Some(3), Some("size")),
        "{errors}"
    );
}
on_both_backends!(a_bad_size_is_named_and_nothing_is_replaced);

/// Another zone near `lockers`.
fn zone_next() -> String {
    h3o::LatLng::new(40.4190, -3.7035)
        .expect("valid")
        .to_cell(h3o::Resolution::Nine)
        .to_string()
}

/// A receipt racing reservations of small and medium parcels at `lockers` (2 S, 2 M): however
/// they interleave, no class holds more than its slots, and the slots held are exactly the
/// live parcels' and the staged units' of each class.
async fn receipts_and_reservations_never_overbook_a_class(backend: Backend) {
    use pudo::staging::{receipts, StagingError};
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (plan_id, _) = dispatched_plan(&app).await;
    let lockers = app.shop_id("lockers");
    let key = *app.state.keys.data_key();
    let pool = app.state.pool.clone();
    let receipt = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let mut conn = pool.get().expect("conn");
            match receipts::receive(
                &mut conn,
                lockers,
                plan_id,
                &receipts::Receipt::default(),
                chrono::Utc::now().naive_utc(),
            ) {
                Ok(_) => true,
                Err(StagingError::NoRoom { .. }) => false,
                Err(e) => panic!("unexpected refusal: {e}"),
            }
        })
    };
    let parcels: Vec<_> = (0..6)
        .map(|n| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let dims = if n % 2 == 0 { "30x20x5" } else { "30x30x15" };
                crate::sizes::reserve_sized(&pool, &key, lockers, &format!("R-{n}"), dims).is_some()
            })
        })
        .collect();
    let received = receipt.join().expect("receipt");
    let reserved = parcels
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .filter(|&ok| ok)
        .count();
    let (live, live_s, live_m) = held(&app, "lockers");
    assert!(
        live <= 4 && live_s <= 2 && live_m <= 2,
        "held {live} ({live_s} S, {live_m} M)"
    );
    let mut conn = app.state.pool.get().expect("conn");
    let classes: Vec<Option<String>> = {
        use pudo::db::schema::parcels as p;
        p::table
            .filter(p::shop_id.eq(lockers))
            .filter(p::state.eq_any(["reserved", "at_point"]))
            .select(p::size_class)
            .load(&mut *conn)
            .expect("parcels")
    };
    let stock: Vec<(i32, i32, i32)> = {
        use pudo::db::schema::staged_stock as s;
        s::table
            .filter(s::shop_id.eq(lockers))
            .select((s::units, s::units_s, s::units_m))
            .load(&mut *conn)
            .expect("stock")
    };
    let of = |c: &str| classes.iter().filter(|k| k.as_deref() == Some(c)).count() as i32;
    let units: (i32, i32, i32) = stock
        .iter()
        .fold((0, 0, 0), |a, s| (a.0 + s.0, a.1 + s.1, a.2 + s.2));
    assert_eq!(classes.len(), reserved);
    assert_eq!(units.0, if received { 3 } else { 0 });
    assert_eq!(
        (live, live_s, live_m),
        (
            classes.len() as i32 + units.0,
            of("S") + units.1,
            of("M") + units.2
        )
    );
}
on_both_backends!(receipts_and_reservations_never_overbook_a_class);
