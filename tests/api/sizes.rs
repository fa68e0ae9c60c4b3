//! Parcel sizes (issue 19, section 1): points declare what they take and their slots by size
//! class; reservations take a slot of the smallest class with room, enforced by the database
//! per class; search filters and counts by the parcel's class.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use diesel::prelude::*;
use pudo::auth::Role;
use pudo::network::sizes::{ParcelSize, SizeClass};
use pudo::pickup::{CodeIssuer, NewReservation, PickupError};
use serde_json::json;

/// `lockers`: 1 S, 2 M, no L, up to 10 kg and 64 x 38 x 19 cm. `mini`: S slots only.
/// `counter`: no sizes declared (every slot L, the defaults). `wall`: 2 S, 2 M, 2 L.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status,slots_s,slots_m,slots_l,max_weight_kg,max_dimensions_cm
lockers,Taquillas Sol,40.4169,-3.7035,3,active,1,2,0,10,64x38x19
mini,Mini taquilla,40.4172,-3.7040,2,active,2,,,,
counter,Kiosko,40.4180,-3.7097,2,active,,,,,
wall,Pared de taquillas,40.4190,-3.7100,6,active,2,2,2,,
";

const SMALL: &str = "30x20x5";
const MEDIUM: &str = "30x30x15";
const LARGE: &str = "40x38x30";

async fn reserve(
    app: &TestApp,
    shop: &str,
    order: &str,
    parcel: Option<&str>,
    kg: Option<f64>,
) -> crate::support::Answer {
    let merchant = app.token(Role::Merchant, "acme");
    let mut body = json!({"pickup_point_id": app.shop_id(shop), "order_ref": order});
    if let Some(p) = parcel {
        body["parcel"] = json!(p);
    }
    if let Some(kg) = kg {
        body["weight_kg"] = json!(kg);
    }
    app.post("/v1/reservations", &merchant, body).await
}

/// A reservation request for a parcel of `dims` (cm).
pub fn sized(shop_id: i64, order_ref: &str, dims: &str) -> pudo::pickup::ReservationRequest {
    pudo::pickup::ReservationRequest {
        merchant: "acme".into(),
        shop_id,
        order_ref: order_ref.into(),
        sku: None,
        arrive_at: None,
        customer: None,
        size: ParcelSize {
            dims_mm: Some(pudo::network::sizes::parse_dims_cm(dims).expect("dims")),
            weight_g: None,
        },
        conditions: Default::default(),
    }
}

/// A reservation of a parcel of `dims` at `shop` straight through `reserve_for` (as many
/// threads at once do): the class it took, or `None` when no class it fits had room.
pub fn reserve_sized(
    pool: &pudo::db::Pool,
    key: &[u8; 32],
    shop: i64,
    order: &str,
    dims: &str,
) -> Option<SizeClass> {
    let r = NewReservation {
        merchant: "acme",
        shop_id: shop,
        order_ref: order,
        sku: None,
        arrive_at: None,
    };
    let size = ParcelSize {
        dims_mm: Some(pudo::network::sizes::parse_dims_cm(dims).expect("dims")),
        weight_g: None,
    };
    let issuer = CodeIssuer {
        data_key: key,
        hold: chrono::Duration::days(7),
    };
    let mut conn = pool.get().expect("conn");
    match pudo::pickup::reserve_for(
        &mut conn,
        &r,
        None,
        &size,
        &issuer,
        chrono::Utc::now().naive_utc(),
    ) {
        Ok((p, _, _)) => Some(p.size_class.expect("sized parcels name their class")),
        Err(PickupError::ClassFull(_)) => None,
        Err(e) => panic!("unexpected refusal: {e}"),
    }
}

/// Slots held at a shop: (live, live_s, live_m) as the database counts them.
pub fn held(app: &TestApp, shop: &str) -> (i32, i32, i32) {
    use pudo::db::schema::shop_load as l;
    l::table
        .filter(l::shop_id.eq(app.shop_id(shop)))
        .select((l::live, l::live_s, l::live_m))
        .first(&mut *app.state.pool.get().expect("conn"))
        .expect("load row")
}

/// Live parcels of each class at a shop, counted from the parcels themselves (NULL: L).
fn parcels_by_class(app: &TestApp, shop: &str) -> [i64; 3] {
    use pudo::db::schema::parcels as p;
    let classes: Vec<Option<String>> = p::table
        .filter(p::shop_id.eq(app.shop_id(shop)))
        .filter(p::state.eq_any(["reserved", "at_point"]))
        .select(p::size_class)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("parcels");
    let mut n = [0; 3];
    for c in classes {
        let class: SizeClass = c.as_deref().unwrap_or("L").parse().expect("class");
        n[class as usize] += 1;
    }
    n
}

async fn a_parcel_takes_the_smallest_class_with_room(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let first = reserve(&app, "lockers", "O-1", Some(SMALL), Some(1.5)).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    assert_eq!(first.body["size_class"], "S");
    // S is full: the next small parcel takes an M slot.
    let second = reserve(&app, "lockers", "O-2", Some(SMALL), None).await;
    assert_eq!(second.body["size_class"], "M", "{}", second.text);
    let third = reserve(&app, "lockers", "O-3", Some(MEDIUM), None).await;
    assert_eq!(third.body["size_class"], "M", "{}", third.text);
    assert_eq!(held(&app, "lockers"), (3, 1, 2));
    // No class with room: `full`, naming the class the parcel needs.
    let full = reserve(&app, "lockers", "O-4", Some(MEDIUM), None).await;
    let problem = full.problem(409);
    assert_eq!(problem["reason"], "full");
    assert_eq!(problem["size_class"], "M");
    // A repeat answers the same reservation, whatever the parcel says now.
    let again = reserve(&app, "lockers", "O-1", Some(SMALL), Some(1.5)).await;
    assert_eq!(again.status.as_u16(), 200);
    assert_eq!(again.body["id"], first.body["id"]);
    // Cancelling frees the slot of its class: the S slot again.
    let merchant = app.token(Role::Merchant, "acme");
    let id = first.body["id"].as_i64().expect("id");
    app.post(
        &format!("/v1/reservations/{id}/cancel"),
        &merchant,
        json!({}),
    )
    .await
    .ok();
    assert_eq!(held(&app, "lockers"), (2, 0, 2));
    let back = reserve(&app, "lockers", "O-5", Some(SMALL), None).await;
    assert_eq!(back.body["size_class"], "S", "{}", back.text);
    // The point's page says what it takes.
    let page = app
        .get(&format!("/v1/pickup-points/{}", app.shop_id("lockers")))
        .await;
    assert_eq!(
        page.ok()["sizes"],
        json!({"slots_s": 1, "slots_m": 2, "slots_l": 0, "max_weight_kg": 10.0, "max_dimensions_cm": [64.0, 38.0, 19.0]})
    );
    let page = app
        .get(&format!("/v1/pickup-points/{}", app.shop_id("counter")))
        .await;
    assert_eq!(
        page.ok()["sizes"],
        json!({"slots_s": 0, "slots_m": 0, "slots_l": 2, "max_weight_kg": 25.0, "max_dimensions_cm": [64.0, 41.0, 38.0]})
    );
    // A point without sizes: everything up to the defaults, in L.
    let legacy = reserve(&app, "counter", "O-6", Some(SMALL), Some(2.0)).await;
    assert_eq!(legacy.status.as_u16(), 201, "{}", legacy.text);
    assert_eq!(legacy.body["size_class"], "L");
    let plain = reserve(&app, "counter", "O-7", None, None).await;
    assert_eq!(plain.status.as_u16(), 201);
    assert!(
        plain.body.get("size_class").is_none(),
        "as before sizes: {}",
        plain.text
    );
    assert_eq!(held(&app, "counter"), (2, 0, 0));
    let full = reserve(&app, "counter", "O-8", None, None).await;
    let problem = full.problem(409);
    assert_eq!(problem["reason"], "full");
    assert!(problem.get("size_class").is_none(), "as before sizes");
}
on_both_backends!(a_parcel_takes_the_smallest_class_with_room);

async fn a_parcel_that_does_not_fit_is_refused_naming_the_limit(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let heavy = reserve(&app, "lockers", "H-1", Some(SMALL), Some(10.001)).await;
    let p = heavy.problem(409);
    assert_eq!(
        (p["reason"].as_str(), p["limit"].as_str()),
        (Some("does_not_fit"), Some("max_weight"))
    );
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("10 kg")),
        "{p}"
    );
    let big = reserve(&app, "lockers", "H-2", Some("20x38x64"), None).await;
    let p = big.problem(409);
    assert_eq!(p["limit"], "max_dimensions");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("64 x 38 x 19 cm")),
        "{p}"
    );
    // The defaults of a point without sizes: 25 kg, 64 x 41 x 38 cm.
    let p = reserve(&app, "counter", "H-3", None, Some(25.5)).await;
    assert_eq!(p.problem(409)["limit"], "max_weight");
    let p = reserve(&app, "counter", "H-4", Some("65x10x10"), None).await;
    assert_eq!(p.problem(409)["limit"], "max_dimensions");
    // S slots only: a medium parcel has no class.
    let p = reserve(&app, "mini", "H-5", Some(MEDIUM), None).await;
    let p = p.problem(409);
    assert_eq!(
        (p["limit"].as_str(), p["size_class"].as_str()),
        (Some("size_class"), Some("M"))
    );
    // Nothing written by any refusal.
    for shop in ["lockers", "counter", "mini"] {
        assert_eq!(held(&app, shop), (0, 0, 0), "{shop}");
    }
    // Bad measurements are 400s naming the field.
    for (parcel, kg, field) in [
        (Some("30x20"), None, "parcel"),
        (Some("0x1x1"), None, "parcel"),
        (Some("30x20x5.55"), None, "parcel"),
        (None, Some(0.0), "weight_kg"),
        (None, Some(-1.0), "weight_kg"),
        (None, Some(5000.0), "weight_kg"),
    ] {
        let a = reserve(&app, "lockers", "B-1", parcel, kg).await;
        assert_eq!(a.problem(400)["parameter"], field, "{}", a.text);
    }
}
on_both_backends!(a_parcel_that_does_not_fit_is_refused_naming_the_limit);

/// The id of a reservation just created (201).
fn created(answer: &crate::support::Answer) -> i64 {
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    answer.body["id"].as_i64().expect("id")
}

/// A sized parcel is moved by its merchant and redirected at the counter only to points it
/// fits, taking a slot of its class there: a point too small or too weak for it is 409
/// `does_not_fit` naming the limit (nothing changes), the redirect options leave it out, and
/// the slots of both points follow the parcel.
async fn moves_and_redirects_go_only_where_the_parcel_fits(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");

    // A large parcel at `wall` (an L slot): `mini` has S slots only, `lockers` is 19 cm high.
    let large = reserve(&app, "wall", "MV-1", Some(LARGE), None).await;
    let id = created(&large);
    assert_eq!(large.body["size_class"], "L");
    let uri = format!("/v1/reservations/{id}/move");
    let move_to = |shop: &str| json!({ "pickup_point_id": app.shop_id(shop) });
    for (shop, limit) in [("mini", "size_class"), ("lockers", "max_dimensions")] {
        let refused = app.post(&uri, &merchant, move_to(shop)).await;
        let p = refused.problem(409);
        assert_eq!(
            (p["reason"].as_str(), p["limit"].as_str()),
            (Some("does_not_fit"), Some(limit)),
            "move to {shop}: {p}"
        );
    }
    assert_eq!(held(&app, "wall").0, 1, "refused moves change nothing");
    assert_eq!(parcels_by_class(&app, "wall"), [0, 0, 1]);
    let moved = app.post(&uri, &merchant, move_to("counter")).await;
    assert_eq!(moved.ok()["pickup_point_id"], app.shop_id("counter"));
    assert_eq!(held(&app, "wall").0, 0);
    assert_eq!(held(&app, "counter").0, 1);
    assert_eq!(parcels_by_class(&app, "counter"), [0, 0, 1]);

    // A heavy small parcel (12 kg) at `wall`: `lockers` takes at most 10 kg.
    let heavy = reserve(&app, "wall", "MV-2", Some(SMALL), Some(12.0)).await;
    let heavy = created(&heavy);
    let refused = app
        .post(
            &format!("/v1/reservations/{heavy}/move"),
            &merchant,
            move_to("lockers"),
        )
        .await;
    assert_eq!(refused.problem(409)["limit"], "max_weight");

    // A medium parcel waits at `lockers` (an M slot) and the shop pauses: the options are
    // the points with room that it fits, never `mini` (50 m away, S slots only).
    let medium = reserve(&app, "lockers", "MV-3", Some(MEDIUM), None).await;
    let medium = created(&medium);
    assert_eq!(held(&app, "lockers"), (1, 0, 1));
    let partner = app.partner_token("lockers");
    app.post(
        &format!("/v1/partner/parcels/{medium}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();
    let pause = app
        .call(
            actix_web::test::TestRequest::patch()
                .uri("/v1/partner/shop")
                .insert_header(("authorization", format!("Bearer {partner}")))
                .set_json(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(pause.ok()["status"], "paused");
    let options = app
        .get_as(
            &format!("/v1/partner/parcels/{medium}/redirect-options"),
            &partner,
        )
        .await;
    let offered: Vec<String> = options.ok()["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| o["external_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        offered,
        ["counter", "wall"],
        "nearest first, only where it fits"
    );
    let redirect = format!("/v1/partner/parcels/{medium}/redirect");
    let refused = app
        .post(
            &redirect,
            &partner,
            json!({"pickup_point_id": app.shop_id("mini")}),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 409, "{}", refused.text);
    assert_eq!(held(&app, "mini"), (0, 0, 0));
    assert_eq!(
        held(&app, "lockers"),
        (1, 0, 1),
        "a refused redirect changes nothing"
    );
    let redirected = app
        .post(
            &redirect,
            &partner,
            json!({"pickup_point_id": app.shop_id("wall")}),
        )
        .await;
    assert_eq!(redirected.ok()["pickup_point_id"], app.shop_id("wall"));
    assert_eq!(held(&app, "lockers"), (0, 0, 0));
    assert_eq!(
        held(&app, "wall"),
        (2, 1, 1),
        "the heavy S parcel and this M parcel"
    );
    assert_eq!(parcels_by_class(&app, "wall"), [1, 1, 0]);
}
on_both_backends!(moves_and_redirects_go_only_where_the_parcel_fits);

/// Many threads (the statement path) and many HTTP requests (the write path: group commit,
/// and the functions on PostgreSQL) race for the slots of each class: no class is ever held
/// beyond its slots, the counters match the parcels, and a parcel never holds a slot smaller
/// than it.
async fn classes_are_never_overbooked_under_concurrency(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let wall = app.shop_id("wall");
    let sizes = [SMALL, MEDIUM, LARGE];
    let pool = app.state.pool.clone();
    let key = *app.state.keys.data_key();
    let threads: Vec<_> = (0..18)
        .map(|n| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                reserve_sized(&pool, &key, wall, &format!("T-{n}"), sizes[n % 3])
            })
        })
        .collect();
    let mut placed: Vec<(usize, SizeClass)> = Vec::new();
    for (n, t) in threads.into_iter().enumerate() {
        if let Some(class) = t.join().expect("thread") {
            placed.push((n % 3, class));
        }
    }
    // Then through the write path (group commit, and the functions on PostgreSQL), from many
    // tasks at once, on a fresh point of the same kind.
    let app2 = TestApp::new(backend).with_csv(SHOPS);
    let wall2 = app2.shop_id("wall");
    let tasks: Vec<_> = (0..18)
        .map(|n| {
            let writes: std::sync::Arc<pudo::pickup::Writes> = app2.state.writes.clone();
            let request = sized(wall2, &format!("W-{n}"), sizes[n % 3]);
            tokio::spawn(async move { writes.reserve(request).await })
        })
        .collect();
    for (n, t) in tasks.into_iter().enumerate() {
        match t.await.expect("task") {
            Ok((p, true, _)) => placed.push((n % 3, p.size_class.expect("class"))),
            Err(PickupError::ClassFull(_)) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    for a in [&app, &app2] {
        let by_class = parcels_by_class(a, "wall");
        assert_eq!(
            by_class,
            [2, 2, 2],
            "every class filled exactly, never beyond"
        );
        assert_eq!(held(a, "wall"), (6, 2, 2), "the counters match the parcels");
    }
    // A parcel never holds a slot smaller than the class it needs (0: S, 1: M, 2: L).
    for (needed, class) in placed {
        assert!(
            class as usize >= needed,
            "a parcel of class {needed} in {class}"
        );
    }
}
on_both_backends!(classes_are_never_overbooked_under_concurrency);

async fn search_filters_and_counts_by_the_parcels_class(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let near = "/v1/pickup-points?lat=40.4170&lon=-3.7036&limit=10";
    let all = app.get(near).await;
    assert_eq!(all.external_ids().len(), 4);
    assert!(
        all.body["items"][0].get("size_class").is_none(),
        "unchanged without a parcel"
    );
    // A medium parcel: not `mini` (S only); `lockers` counts its M slots.
    let medium = app.get(&format!("{near}&parcel={MEDIUM}")).await;
    let ids = medium.external_ids();
    assert!(!ids.contains(&"mini".to_owned()), "{ids:?}");
    assert_eq!(ids.len(), 3);
    let item = |a: &crate::support::Answer, shop: &str| {
        a.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["external_id"] == shop)
            .cloned()
            .expect("listed")
    };
    let lockers = item(&medium, "lockers");
    assert_eq!(
        (
            lockers["size_class"].as_str(),
            lockers["free_slots"].as_i64()
        ),
        (Some("M"), Some(2))
    );
    // A heavy parcel: only points taking 12 kg (the 25 kg defaults).
    let heavy = app.get(&format!("{near}&weight_kg=12")).await;
    let mut ids = heavy.external_ids();
    ids.sort();
    assert_eq!(
        ids,
        ["counter", "mini", "wall"],
        "lockers takes 10 kg at most"
    );
    // With include_unavailable the others are listed, greyed out with the limit.
    let shown = app
        .get(&format!("{near}&weight_kg=12&include_unavailable=true"))
        .await;
    let lockers = item(&shown, "lockers");
    assert_eq!(lockers["selectable"], false);
    assert_eq!(lockers["unavailable_reason"], "does_not_fit");
    assert_eq!(lockers["limit"], "max_weight");
    // Fill the M slots: a medium parcel's room at `lockers` is gone, a small one's is not
    // (its S slot), and min_free counts the parcel's classes.
    reserve(&app, "lockers", "F-1", Some(MEDIUM), None)
        .await
        .body["id"]
        .as_i64()
        .expect("id");
    reserve(&app, "lockers", "F-2", Some(MEDIUM), None)
        .await
        .body["id"]
        .as_i64()
        .expect("id");
    let medium = app.get(&format!("{near}&parcel={MEDIUM}")).await;
    let lockers = item(&medium, "lockers");
    assert_eq!(
        (
            lockers["free_slots"].as_i64(),
            lockers["unavailable_reason"].as_str()
        ),
        (Some(0), Some("full"))
    );
    let small = app.get(&format!("{near}&parcel={SMALL}&min_free=1")).await;
    assert_eq!(item(&small, "lockers")["free_slots"], 1);
    let two = app.get(&format!("{near}&parcel={SMALL}&min_free=2")).await;
    assert!(!two.external_ids().contains(&"lockers".to_owned()));
    for bad in [
        "parcel=30x20",
        "parcel=",
        "weight_kg=heavy",
        "weight_kg=0",
        "parcel=1x1x1x1",
    ] {
        let a = app.get(&format!("{near}&{bad}")).await;
        let field = bad.split('=').next().expect("name");
        assert_eq!(a.problem(400)["parameter"], field, "{bad}");
    }
}
on_both_backends!(search_filters_and_counts_by_the_parcels_class);

/// A shop's external id, capacity, S and M slots, maximum weight and sides, as stored.
type StoredSizes = (String, i32, i32, i32, Option<i32>, [Option<i32>; 3]);
/// The same, column by column.
type SizeColumns = (
    String,
    i32,
    i32,
    i32,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
);

/// What every shop declares about sizes, by external id, as stored.
fn stored_sizes(app: &TestApp) -> Vec<StoredSizes> {
    use pudo::db::schema::shops as s;
    let rows: Vec<SizeColumns> = s::table
        .order(s::external_id)
        .select((
            s::external_id,
            s::capacity,
            s::slots_s,
            s::slots_m,
            s::max_weight_g,
            s::max_length_mm,
            s::max_width_mm,
            s::max_height_mm,
        ))
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("shops");
    rows.into_iter()
        .map(|r| (r.0, r.1, r.2, r.3, r.4, [r.5, r.6, r.7]))
        .collect()
}

/// The size columns survive export and import in both formats; a file without them resets a
/// point to the default (every slot L), as documented.
async fn size_columns_round_trip(backend: Backend) {
    use pudo::network::import::Format;
    let awkward = "\
external_id,name,latitude,longitude,capacity,slots_s,slots_m,slots_l,max_weight_kg,max_dimensions_cm
odd,Taquillas raras,40.42,-3.70,7,3,0,4,0.125,38.5x64x8.5
only-m,Solo M,40.43,-3.71,5,,5,,999.999,
";
    let source = TestApp::new(backend).with_csv(SHOPS).with_csv(awkward);
    let original = stored_sizes(&source);
    assert_eq!(
        original.iter().find(|r| r.0 == "odd").expect("odd"),
        &(
            "odd".to_owned(),
            7,
            3,
            0,
            Some(125),
            [Some(640), Some(385), Some(85)]
        )
    );
    for format in [Format::Csv, Format::GeoJson] {
        let file = source.export(format);
        let text = String::from_utf8(file.clone()).expect("utf-8");
        if format == Format::Csv {
            assert!(TestApp::csv_header(&file)
                .ends_with("slots_s,slots_m,slots_l,max_weight_kg,max_dimensions_cm"));
            assert!(text.contains(",3,0,4,0.125,64x38.5x8.5"), "{text}");
        }
        let target = TestApp::imported(backend, &file, format);
        assert_eq!(stored_sizes(&target), original, "{format:?}");
    }
    // A network without sizes exports without the columns, as before.
    let plain =
        TestApp::new(backend).with_csv("external_id,name,latitude,longitude,capacity\na,A,1,1,3\n");
    let file = plain.export(Format::Csv);
    assert!(!String::from_utf8(file).expect("utf-8").contains("slots_s"));
    // Re-imported without the columns: every slot L again.
    let reset = source.with_csv(
        "external_id,name,latitude,longitude,capacity\nodd,Taquillas raras,40.42,-3.70,7\n",
    );
    let odd = stored_sizes(&reset)
        .into_iter()
        .find(|r| r.0 == "odd")
        .expect("odd");
    assert_eq!(odd, ("odd".to_owned(), 7, 0, 0, None, [None, None, None]));
}
on_both_backends!(size_columns_round_trip);

/// Bad size columns reject the whole file, each error naming its row and column.
#[test]
fn bad_size_columns_name_row_and_field() {
    use pudo::network::import::{parse, Format};
    let csv = "\
external_id,name,latitude,longitude,capacity,slots_s,slots_m,slots_l,max_weight_kg,max_dimensions_cm
a,A,40.1,-3.1,5,2,2,2,,
b,B,40.2,-3.2,5,4,3,,,
c,C,40.3,-3.3,5,x,,,,
d,D,40.4,-3.4,5,,,,0,
e,E,40.5,-3.5,5,,,,,30x20
f,F,40.6,-3.6,5,1,1,3,2.5,30x20x5
";
    let rejected = parse(csv.as_bytes(), Format::Csv).expect_err("rejected");
    let found: Vec<(usize, &str)> = rejected
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (2, "capacity"),
            (3, "slots_s"),
            (4, "slots_s"),
            (5, "max_weight_kg"),
            (6, "max_dimensions_cm")
        ],
        "{:?}",
        rejected.errors
    );
    let geojson = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-3.7,40.4]},
       "properties":{"external_id":"g","name":"G","capacity":4,"slots_s":4,"max_weight_kg":2.5,"max_dimensions_cm":"64x38x8"}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-3.7,40.5]},
       "properties":{"external_id":"h","name":"H","capacity":4,"slots_m":-1}}]}"#;
    let rejected = parse(geojson.as_bytes(), Format::GeoJson).expect_err("rejected");
    assert_eq!(
        rejected
            .errors
            .iter()
            .map(|e| (e.row, e.field.as_str()))
            .collect::<Vec<_>>(),
        [(2, "slots_m")]
    );
    let one = geojson.replace(r#""slots_m":-1"#, r#""slots_m":0"#);
    let shops = parse(one.as_bytes(), Format::GeoJson).expect("valid");
    assert_eq!(shops[0].sizes.slots_s, 4);
    assert_eq!(shops[0].sizes.max_weight_g, Some(2500));
    assert_eq!(shops[0].sizes.max_dims_mm, Some([640, 380, 80]));
}

/// The OpenAPI document gives the patterns the parsers follow (schemathesis fuzzes the API
/// with them: tests/contract), for the search's `parcel` and `weight_kg` and the reservation's
/// `parcel`; the reservation's `weight_kg` is a number from 0.001 to 1000.
#[actix_web::test]
async fn the_contract_states_the_parcel_patterns() {
    use pudo::network::sizes::{DIMS_PATTERN, WEIGHT_PATTERN};
    let app = TestApp::new(Backend::Sqlite);
    let doc = app.get("/openapi.json").await;
    let doc = doc.ok();
    let params = doc["paths"]["/v1/pickup-points"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let pattern = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"]["pattern"].clone())
            .expect("parameter")
    };
    assert_eq!(pattern("parcel"), DIMS_PATTERN);
    assert_eq!(pattern("weight_kg"), WEIGHT_PATTERN);
    // The request is `oneOf` two objects (with and without a named recipient), alike here.
    let variants = doc["components"]["schemas"]["ReservationRequest"]["oneOf"]
        .as_array()
        .expect("oneOf");
    assert_eq!(variants.len(), 2);
    for variant in variants {
        let body = &variant["properties"];
        assert_eq!(body["parcel"]["pattern"], DIMS_PATTERN);
        assert_eq!(body["weight_kg"]["minimum"], 0.001);
        assert_eq!(body["weight_kg"]["maximum"], 1000.0);
    }
}

/// Staged units hold slots of their class or larger (`staging::stock`): received stock takes
/// slots per class, never beyond a class's slots, and the allocator's room at a point is its
/// free slots per class.
async fn staged_units_hold_slots_by_class(backend: Backend) {
    use pudo::network::load;
    let app = TestApp::new(backend).with_csv(SHOPS);
    let wall = app.shop_id("wall");
    let mut conn = app.state.pool.get().expect("conn");
    let region = load::region_of(&mut conn, wall)
        .expect("query")
        .expect("shop");
    let now = chrono::Utc::now().naive_utc();
    assert_eq!(
        load::free_by_class(&mut conn, wall, region).expect("free"),
        [2, 2, 2],
        "S, M and L slots of wall"
    );
    assert!(!load::take_slots_for_stock(&mut conn, wall, region, [0, 0, 3], now).expect("take"));
    assert!(!load::take_slots_for_stock(&mut conn, wall, region, [3, 0, 0], now).expect("take"));
    assert!(load::take_slots_for_stock(&mut conn, wall, region, [1, 1, 2], now).expect("take"));
    assert_eq!(
        load::free_by_class(&mut conn, wall, region).expect("free"),
        [1, 1, 0]
    );
    drop(conn);
    assert_eq!(held(&app, "wall"), (4, 1, 1));
    // The L slots are held; S and M still take their parcels, L ones are full.
    let small = reserve(&app, "wall", "ST-1", Some(SMALL), None).await;
    assert_eq!(small.body["size_class"], "S", "{}", small.text);
    let large = reserve(&app, "wall", "ST-2", Some(LARGE), None).await;
    assert_eq!(large.problem(409)["size_class"], "L");
    let rooms =
        pudo::staging::plans::staging_shops(&mut app.state.pool.get().expect("conn"), None, None)
            .expect("rooms");
    let counter = app.shop_id("counter");
    let room = |id: i64| {
        rooms
            .iter()
            .find(|s| s.id == id)
            .map(|s| SizeClass::ALL.map(|c| s.room(c)))
    };
    // wall: its M slot left (the S one went to ST-1); counter: every slot L.
    assert_eq!(
        (room(wall), room(counter)),
        (Some([0, 1, 0]), Some([0, 0, 2]))
    );
}
on_both_backends!(staged_units_hold_slots_by_class);
