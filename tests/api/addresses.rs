//! Addresses (issue 20): shop files carry them (all or nothing, errors naming row and field),
//! exports round-trip them, and they reach the search answer, the point's page, the partner's
//! shop, the merchant's reservation answer and the webhook events. Also the assumed arrival
//! window and the room order's visible unavailable points.

use crate::on_both_backends;
use crate::support::{Backend, TestApp, TestDb};
use crate::webhook_sink::Sink;
use actix_web::test::TestRequest;
use pudo::auth::Role;
use pudo::network::import::Format;
use pudo::network::service::Network;
use serde_json::{json, Value};

/// A full Madrid address with a phone and Spanish and Chinese texts, a Shanghai one with a
/// Chinese name only, and a shop without an address.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,timezone,street,postcode,city,region,country,phone,name_zh,address_zh,name_es,address_es
mad-118,Papelería Carabanchel #118,40.3890,-3.7360,5,Europe/Madrid,\"Calle del General Ricardos 118, local 2\",28019,Madrid,Comunidad de Madrid,es,+34 915 55 01 18,卡拉班切尔文具店,马德里 General Ricardos 街 118 号,,
sha-7,Bund Mart 7,31.2400,121.4900,5,Asia/Shanghai,Zhongshan East 1st Rd 12,200002,Shanghai,Shanghai,CN,,外滩便利店 7,上海市黄浦区中山东一路12号,Tienda del Bund 7,\"Zhongshan East 1st Rd 12, Shanghái\"
bare,No Address,40.3895,-3.7365,5,Europe/Madrid,,,,,,,,,,
";

fn post_csv(app: &TestApp, token: &str, body: &str) -> TestRequest {
    let _ = app;
    TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("content-type", "text/csv"))
        .set_payload(body.to_owned())
}

/// The item of a search answer with this external id.
pub fn item<'a>(answer: &'a Value, external_id: &str) -> &'a Value {
    answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["external_id"] == external_id)
        .unwrap_or_else(|| panic!("{external_id} listed in {answer}"))
}

async fn addresses_reach_every_answer(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let madrid = json!({
        "street": "Calle del General Ricardos 118, local 2",
        "postcode": "28019",
        "city": "Madrid",
        "region": "Comunidad de Madrid",
        "country": "ES",
    });

    // The search answer.
    let search = app
        .get("/v1/pickup-points?lat=40.389&lon=-3.736&limit=5")
        .await;
    let point = item(search.ok(), "mad-118");
    assert_eq!(point["address"], madrid);
    assert_eq!(point["phone"], "+34 915 55 01 18");
    assert_eq!(
        point["localized"],
        json!({"zh": {"name": "卡拉班切尔文具店", "address": "马德里 General Ricardos 街 118 号"}, "es": null})
    );
    let bare = item(search.ok(), "bare");
    assert_eq!(
        (&bare["address"], &bare["phone"], &bare["localized"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    let far = app
        .get("/v1/pickup-points?lat=31.24&lon=121.49&limit=1")
        .await;
    assert_eq!(far.ok()["items"][0]["address"]["country"], "CN");
    assert_eq!(
        far.ok()["items"][0]["localized"]["es"]["address"],
        "Zhongshan East 1st Rd 12, Shanghái"
    );

    // The point's page and the partner's shop.
    let id = app.shop_id("mad-118");
    let page = app.get(&format!("/v1/pickup-points/{id}")).await;
    assert_eq!(page.ok()["address"], madrid);
    assert_eq!(page.ok()["phone"], "+34 915 55 01 18");
    let partner = app.partner_token("mad-118");
    let shop = app.get_as("/v1/partner/shop", &partner).await;
    assert_eq!(shop.ok()["address"], madrid);

    // The merchant's reservation answer (creation, repeat, read) and the webhook events.
    let sink = Sink::start();
    let merchant = app.token(Role::Merchant, "acme");
    app.call(
        TestRequest::put()
            .uri("/v1/merchant/webhook")
            .insert_header(("authorization", format!("Bearer {merchant}")))
            .set_json(json!({"url": sink.url})),
    )
    .await
    .ok();
    let reserved = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": id, "order_ref": "A-1"}),
        )
        .await;
    assert_eq!(reserved.status.as_u16(), 201, "{}", reserved.text);
    let contact = &reserved.body["pickup_point"];
    assert_eq!(contact["address"], madrid);
    assert_eq!(contact["name"], "Papelería Carabanchel #118");
    assert_eq!(contact["id"], id);
    let parcel = reserved.body["id"].as_i64().expect("id");
    let read = app
        .get_as(&format!("/v1/reservations/{parcel}"), &merchant)
        .await;
    assert_eq!(read.ok()["pickup_point"], *contact);
    let delivered = pudo::pickup::webhooks::dispatch_due_with_points(
        &app.state.pool,
        app.state.keys.data_key(),
        &pudo::pickup::webhooks::agent(),
        &app.state.network,
    )
    .expect("dispatch");
    assert_eq!(delivered, 1);
    let event = &sink.events()[0];
    assert_eq!(event["type"], "reservation.created");
    assert_eq!(event["data"]["reservation"]["pickup_point"], *contact);
}
on_both_backends!(addresses_reach_every_answer);

async fn bad_addresses_are_refused_naming_row_and_field(backend: Backend) {
    let app = TestApp::new(backend);
    let planner = app.token(Role::Planner, "pat");
    let long = "x".repeat(201);
    let bad = format!(
        "external_id,name,latitude,longitude,capacity,street,postcode,city,country,phone\n\
         a,A,40.1,-3.1,1,Calle 1,28001,Madrid,ESP,\n\
         b,B,40.2,-3.2,1,{long},28001,Madrid,ES,\n\
         c,C,40.3,-3.3,1,Calle 3,28001,,ES,\n\
         d,D,40.4,-3.4,1,,,Madrid,XX,\n\
         e,E,40.5,-3.5,1,,28/01,Madrid,ES,call me\n\
         f,F,40.6,-3.6,1,Calle 6,,Madrid,,\n\
         g,G,40.7,-3.7,1,Calle 7,28001,Madrid,es,+34 600 000 000\n"
    );
    let rejected = app.call(post_csv(&app, &planner, &bad)).await;
    let errors: Vec<(i64, String)> = rejected.problem(422)["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap_or(0),
                e["field"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, String)> = [
        (2, "country"),
        (3, "street"),
        (4, "city"),
        (5, "country"),
        (6, "postcode"),
        (6, "phone"),
        (7, "country"),
    ]
    .into_iter()
    .map(|(r, f)| (r, f.to_owned()))
    .collect();
    assert_eq!(errors, expected, "{}", rejected.text);
    let first = &rejected.body["errors"][0]["message"];
    assert!(
        first.as_str().is_some_and(|m| m.contains("ISO 3166")),
        "{first}"
    );
    assert_eq!(app.shop_count(), 0, "all or nothing");
}
on_both_backends!(bad_addresses_are_refused_naming_row_and_field);

/// The network's export, as text.
fn export(url: &str, format: Format) -> String {
    let mut conn = pudo::db::DatabaseUrl::parse(url)
        .expect("url")
        .connect()
        .expect("connect");
    let mut out = Vec::new();
    pudo::network::export::export(&mut conn, format, &mut out, &mut |_, _| {}).expect("export");
    String::from_utf8(out).expect("utf-8")
}

async fn addresses_round_trip_through_export(backend: Backend) {
    let source = TestDb::new(backend);
    Network::new(source.pool())
        .import_file(SHOPS.as_bytes(), Format::Csv, &mut |_| {})
        .expect("imports");
    for format in [Format::Csv, Format::GeoJson] {
        let file = export(&source.url, format);
        assert!(
            file.contains("Calle del General Ricardos 118, local 2"),
            "{file}"
        );
        let target = TestDb::new(backend);
        Network::new(target.pool())
            .import_file(file.as_bytes(), format, &mut |_| {})
            .unwrap_or_else(|e| panic!("{format:?} re-imports: {e:?}\n{file}"));
        assert_eq!(export(&target.url, format), file, "{format:?} round-trips");
        assert_eq!(
            export(&target.url, Format::Csv),
            export(&source.url, Format::Csv),
            "{format:?} keeps every field"
        );
    }

    // A file without the address columns keeps the stored addresses; an empty cell clears one.
    let network = Network::new(source.pool());
    network
        .import_file(
            b"external_id,name,latitude,longitude,capacity\nmad-118,Renamed,40.3890,-3.7360,6\n",
            Format::Csv,
            &mut |_| {},
        )
        .expect("imports");
    let csv = export(&source.url, Format::Csv);
    assert!(csv.contains("Renamed") && csv.contains("28019"), "{csv}");
    network
        .import_file(
            b"external_id,name,latitude,longitude,capacity,city,country\nmad-118,Renamed,40.3890,-3.7360,6,,\n",
            Format::Csv,
            &mut |_| {},
        )
        .expect("imports");
    let csv = export(&source.url, Format::Csv);
    assert!(!csv.contains("28019"), "{csv}");
}
on_both_backends!(addresses_round_trip_through_export);

async fn no_arrival_time_assumes_the_next_two_days(backend: Backend) {
    // A holiday from today (in the shop's zone, whatever the hour) and one in a month.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Madrid)
        .date_naive();
    let later = today + chrono::Duration::days(30);
    let csv = format!(
        "external_id,name,latitude,longitude,capacity,timezone,closures\n\
         holiday,Cerrado Hoy,40.4169,-3.7035,5,Europe/Madrid,{today}/{today} Fiesta\n\
         later,Abierto,40.4170,-3.7036,5,Europe/Madrid,{later}/{later} Fiesta\n"
    );
    let app = TestApp::new(backend).with_csv(&csv);
    let search = app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&limit=5")
        .await;
    let closed = item(search.ok(), "holiday");
    assert_eq!(
        (&closed["selectable"], &closed["unavailable_reason"]),
        (&json!(false), &json!("closed_for_period"))
    );
    assert_eq!(item(search.ok(), "later")["selectable"], true);
    let merchant = app.token(Role::Merchant, "acme");
    let refused = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": app.shop_id("holiday"), "order_ref": "H-1"}),
        )
        .await;
    assert_eq!(refused.problem(409)["reason"], "closed_for_period");
    let taken = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": app.shop_id("later"), "order_ref": "H-2"}),
        )
        .await;
    assert_eq!(taken.status.as_u16(), 201, "{}", taken.text);
    // With an arrival time after the holiday, the point is chosen as before.
    let after = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let search = app
        .get(&format!(
            "/v1/pickup-points?lat=40.4169&lon=-3.7035&limit=5&arrive_at={}",
            after.replace('+', "%2B")
        ))
        .await;
    assert_eq!(
        item(search.ok(), "holiday")["unavailable_reason"],
        Value::Null
    );
}
on_both_backends!(no_arrival_time_assumes_the_next_two_days);

async fn the_room_order_keeps_the_nearest_unavailable_points(backend: Backend) {
    // Twelve shops with room in a line going east, and right at the customer's position a full
    // one and a paused one.
    let mut csv = String::from("external_id,name,latitude,longitude,capacity,status\n");
    csv.push_str("full,Full,40.0,-3.0001,0,active\npaused,Paused,40.0,-3.0002,5,paused\n");
    for i in 0..12 {
        csv.push_str(&format!(
            "room{i},Room {i},40.0,{},5,active\n",
            -3.0 + 0.001 * f64::from(i + 1)
        ));
    }
    let app = TestApp::new(backend).with_csv(&csv);
    let answer = app
        .get("/v1/pickup-points?lat=40.0&lon=-3.0&limit=10&rank=room&include_unavailable=true")
        .await;
    let listed: Vec<(String, bool)> = answer.ok()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["external_id"].as_str().unwrap_or("").to_owned(),
                i["selectable"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert_eq!(listed.len(), 10);
    let expected: Vec<(String, bool)> = (0..8)
        .map(|i| (format!("room{i}"), true))
        .chain([("paused".to_owned(), false), ("full".to_owned(), false)])
        .collect();
    // Selectable first; the paused one has the better room score (every slot free).
    assert_eq!(listed, expected);
    assert_eq!(answer.body["items"][8]["unavailable_reason"], "paused");
    assert_eq!(answer.body["items"][9]["unavailable_reason"], "full");
}
on_both_backends!(the_room_order_keeps_the_nearest_unavailable_points);
