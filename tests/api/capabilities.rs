//! Point capabilities (issue 19, section 2): shop files declare step-free access, parking,
//! cash on delivery, ID checks and a photo (all or nothing, errors naming row and field);
//! exports round-trip them; `open_24_7` follows the hours; search answers, the point's page and
//! the partner's shop list them; `capability=` filters nearest, `bbox` (exact clusters) and `q=`.

use crate::addresses::item;
use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use actix_web::test::TestRequest;
use pudo::auth::Role;
use pudo::network::import::Format;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// `sol`: every declared capability and a photo, open around the clock (no hours: always).
/// `kiosko`: parking, weekday hours. `estanco`: step-free and ID checks, `Mo-Su 00:00-24:00`
/// (every minute: open_24_7 too). `bare`: nothing declared, weekday hours.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,timezone,opening_hours,capabilities,photo_url
sol,Kiosko Sol,40.4169,-3.7035,5,Europe/Madrid,,step_free|parking|cash_on_delivery|id_check,https://img.example.com/shops/sol.jpg
kiosko,Kiosko Carabanchel,40.3890,-3.7360,5,Europe/Madrid,Mo-Fr 09:00-20:00,parking,
estanco,Estanco Ávila,40.4172,-3.7040,5,Europe/Madrid,Mo-Su 00:00-24:00,ID_CHECK | step_free,
bare,Kiosko Latina,40.4100,-3.7100,5,Europe/Madrid,Mo-Fr 09:00-20:00,,
";

fn ids(answer: &Value) -> BTreeSet<String> {
    answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["external_id"].as_str().expect("id").to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

async fn capabilities_reach_search_page_and_partner(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let search = app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&limit=10")
        .await;
    let sol = item(search.ok(), "sol");
    assert_eq!(
        sol["capabilities"],
        json!([
            "step_free",
            "parking",
            "cash_on_delivery",
            "id_check",
            "open_24_7"
        ])
    );
    assert_eq!(sol["photo_url"], "https://img.example.com/shops/sol.jpg");
    let estanco = item(search.ok(), "estanco");
    assert_eq!(
        estanco["capabilities"],
        json!(["step_free", "id_check", "open_24_7"]),
        "every minute of every day is around the clock"
    );
    assert_eq!(estanco["photo_url"], Value::Null);
    assert_eq!(
        item(search.ok(), "kiosko")["capabilities"],
        json!(["parking"])
    );
    assert_eq!(item(search.ok(), "bare")["capabilities"], json!([]));

    // The point's page.
    let page = app
        .get(&format!("/v1/pickup-points/{}", app.shop_id("sol")))
        .await;
    assert_eq!(page.ok()["capabilities"], sol["capabilities"]);
    assert_eq!(page.body["photo_url"], sol["photo_url"]);
    let page = app
        .get(&format!("/v1/pickup-points/{}", app.shop_id("bare")))
        .await;
    assert_eq!(
        (&page.ok()["capabilities"], &page.body["photo_url"]),
        (&json!([]), &Value::Null)
    );

    // The partner's own shop.
    let partner = app.partner_token("estanco");
    let shop = app.get_as("/v1/partner/shop", &partner).await;
    assert_eq!(
        shop.ok()["capabilities"],
        json!(["step_free", "id_check", "open_24_7"])
    );

    // New hours change the derived capability at once; a file without the columns declares
    // nothing (as a file without services offers every service).
    let app = app.with_csv(
        "external_id,name,latitude,longitude,capacity,timezone,opening_hours\n\
         estanco,Estanco Ávila,40.4172,-3.7040,5,Europe/Madrid,Mo-Sa 08:00-22:00\n\
         kiosko,Kiosko Carabanchel,40.3890,-3.7360,5,Europe/Madrid,24/7\n",
    );
    let search = app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&limit=10")
        .await;
    assert_eq!(item(search.ok(), "estanco")["capabilities"], json!([]));
    assert_eq!(
        item(search.ok(), "kiosko")["capabilities"],
        json!(["open_24_7"])
    );
    let open = app
        .get("/v1/pickup-points?lat=40.4169&lon=-3.7035&capability=open_24_7")
        .await;
    assert_eq!(ids(open.ok()), set(&["sol", "kiosko"]));
}
on_both_backends!(capabilities_reach_search_page_and_partner);

async fn capability_filter_on_nearest_and_text(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let near = "/v1/pickup-points?lat=40.4169&lon=-3.7035&limit=10";
    for (query, want) in [
        ("", set(&["sol", "kiosko", "estanco", "bare"])),
        ("&capability=parking", set(&["sol", "kiosko"])),
        ("&capability=step_free", set(&["sol", "estanco"])),
        // Every capability asked for must hold: repeated or comma-separated alike.
        (
            "&capability=step_free&capability=id_check&capability=open_24_7",
            set(&["sol", "estanco"]),
        ),
        ("&capability=parking,step_free", set(&["sol"])),
        ("&capability=parking&capability=step_free", set(&["sol"])),
        ("&capability=cash_on_delivery", set(&["sol"])),
        ("&capability=parking,parking", set(&["sol", "kiosko"])),
        ("&capability=open_24_7", set(&["sol", "estanco"])),
        ("&capability=parking&capability=open_24_7", set(&["sol"])),
    ] {
        let answer = app.get(&format!("{near}{query}")).await;
        assert_eq!(ids(answer.ok()), want, "{query}");
    }
    // Text search takes the same filter.
    let text = app
        .get("/v1/pickup-points?q=kiosko&capability=parking")
        .await;
    assert_eq!(ids(text.ok()), set(&["sol", "kiosko"]));
    let text = app
        .get("/v1/pickup-points?q=kiosko&capability=parking&capability=open_24_7")
        .await;
    assert_eq!(ids(text.ok()), set(&["sol"]));
    // Unknown names and empty items are refused, naming the parameter and the value.
    for bad in [
        "capability=lift",
        "capability=parking,lift",
        "capability=parking&capability=lift",
        "capability=",
        "capability=parking,,step_free",
    ] {
        let answer = app.get(&format!("{near}&{bad}")).await;
        let problem = answer.problem(400);
        assert_eq!(problem["parameter"], "capability", "{bad}");
        if bad.contains("lift") {
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("\"lift\"")),
                "{bad}: {}",
                answer.text
            );
        }
    }
}
on_both_backends!(capability_filter_on_nearest_and_text);

/// A grid of shops around Madrid whose capabilities and hours follow their number, and the
/// shops a filter keeps, computed from the same rule (the reference the answers are held to).
/// A grid shop: external id, latitude, longitude and capabilities (open_24_7 included).
type GridShop = (String, f64, f64, BTreeSet<&'static str>);

fn grid() -> (String, Vec<GridShop>) {
    let mut csv = String::from(
        "external_id,name,latitude,longitude,capacity,timezone,opening_hours,capabilities\n",
    );
    let mut shops = Vec::new();
    for i in 0..240 {
        let (lat, lon) = (
            40.30 + (i / 16) as f64 * 0.013,
            -3.80 + (i % 16) as f64 * 0.013,
        );
        let mut caps: BTreeSet<&str> = BTreeSet::new();
        let declared: Vec<&str> = ["step_free", "parking", "cash_on_delivery", "id_check"]
            .into_iter()
            .enumerate()
            .filter(|(b, _)| (i * 7 + i / 5) & (1 << b) != 0)
            .map(|(_, n)| n)
            .collect();
        caps.extend(declared.iter());
        let hours = if i % 3 == 0 {
            caps.insert("open_24_7");
            "24/7"
        } else {
            "Mo-Sa 09:00-21:00"
        };
        csv.push_str(&format!(
            "g{i},Tienda {i},{lat:.5},{lon:.5},4,Europe/Madrid,{hours},{}\n",
            declared.join("|")
        ));
        shops.push((format!("g{i}"), lat, lon, caps));
    }
    (csv, shops)
}

async fn capability_filter_is_exact_on_areas_and_clusters(backend: Backend) {
    let (csv, shops) = grid();
    let app = TestApp::new(backend).with_csv(&csv);
    let boxes = [
        (-3.80, 40.30, -3.60, 40.50),
        (-3.75, 40.33, -3.66, 40.41),
        (-3.70, 40.36, -3.69, 40.37),
    ];
    let filters: [&[&str]; 6] = [
        &[],
        &["parking"],
        &["step_free", "id_check"],
        &["open_24_7"],
        &["cash_on_delivery", "open_24_7"],
        &[
            "step_free",
            "parking",
            "cash_on_delivery",
            "id_check",
            "open_24_7",
        ],
    ];
    for (w, s, e, n) in boxes {
        for wanted in filters {
            let matching: BTreeSet<String> = shops
                .iter()
                .filter(|(_, lat, lon, caps)| {
                    (w..=e).contains(lon)
                        && (s..=n).contains(lat)
                        && wanted.iter().all(|c| caps.contains(c))
                })
                .map(|(id, ..)| id.clone())
                .collect();
            let filter: String = wanted.iter().map(|c| format!("&capability={c}")).collect();
            // With room for every point: exactly the matching points.
            let uri = format!("/v1/pickup-points?bbox={w},{s},{e},{n}&limit=100{filter}");
            let all = app.get(&uri).await;
            assert_eq!(all.ok()["total"], matching.len(), "{uri}");
            if matching.len() <= 100 {
                assert_eq!(ids(&all.body), matching, "{uri}");
            }
            // Clusters: exact counts that add up to the matching points.
            let uri = format!("/v1/pickup-points?bbox={w},{s},{e},{n}&limit=1{filter}");
            let clustered = app.get(&uri).await;
            assert_eq!(clustered.ok()["total"], matching.len(), "{uri}");
            if matching.len() > 1 {
                let clusters = clustered.body["clusters"].as_array().expect("clusters");
                let counted: u64 = clusters
                    .iter()
                    .map(|c| c["count"].as_u64().expect("count"))
                    .sum();
                assert_eq!(counted, matching.len() as u64, "{uri}");
                assert!(clusters.iter().all(|c| c["count"].as_u64() > Some(0)));
            }
        }
    }
    // The nearest points with a capability are the nearest matching ones, in order.
    let answer = app
        .get(
            "/v1/pickup-points?lat=40.40&lon=-3.70&limit=5&capability=parking&capability=open_24_7",
        )
        .await;
    let haversine = |lat: f64, lon: f64| {
        let (p1, p2) = (40.40f64.to_radians(), lat.to_radians());
        let (dp, dl) = (p2 - p1, (lon + 3.70f64).to_radians());
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * 6_371_008.8 * a.sqrt().asin()
    };
    let mut want: Vec<(f64, &str)> = shops
        .iter()
        .filter(|(.., caps)| caps.contains("parking") && caps.contains("open_24_7"))
        .map(|(id, lat, lon, _)| (haversine(*lat, *lon), id.as_str()))
        .collect();
    want.sort_by(|a, b| a.0.total_cmp(&b.0));
    let want: Vec<&str> = want.iter().take(5).map(|(_, id)| *id).collect();
    assert_eq!(answer.external_ids(), want);
}
on_both_backends!(capability_filter_is_exact_on_areas_and_clusters);

/// Stored capabilities and photos by external id.
fn stored(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    let mut rows: Vec<_> = pudo::network::store::load_all(&mut app.state.pool.get().expect("conn"))
        .expect("rows")
        .into_iter()
        .map(|r| (r.external_id, r.capabilities, r.photo_url))
        .collect();
    rows.sort();
    rows
}

async fn capability_columns_round_trip(backend: Backend) {
    let source = TestApp::new(backend).with_csv(SHOPS);
    let original = stored(&source);
    assert_eq!(
        original[3],
        (
            "sol".to_owned(),
            "step_free,parking,cash_on_delivery,id_check".to_owned(),
            Some("https://img.example.com/shops/sol.jpg".to_owned())
        )
    );
    assert_eq!(
        original[1].1, "step_free,id_check",
        "canonical order, open_24_7 never stored"
    );
    for format in [Format::Csv, Format::GeoJson] {
        let file = source.export(format);
        let text = String::from_utf8(file.clone()).expect("utf-8");
        if format == Format::Csv {
            assert!(TestApp::csv_header(&file).ends_with(",capabilities,photo_url"));
            assert!(text.contains(
                ",step_free|parking|cash_on_delivery|id_check,https://img.example.com/shops/sol.jpg"
            ));
        } else {
            assert!(
                text.contains(r#""capabilities":["step_free","id_check"]"#),
                "{text}"
            );
        }
        let target = TestApp::imported(backend, &file, format);
        assert_eq!(stored(&target), original, "{format:?}");
    }
    // A network declaring nothing exports without the columns, as before.
    let plain =
        TestApp::new(backend).with_csv("external_id,name,latitude,longitude,capacity\na,A,1,1,3\n");
    let file = plain.export(Format::Csv);
    assert!(!String::from_utf8(file)
        .expect("utf-8")
        .contains("capabilities"));
}
on_both_backends!(capability_columns_round_trip);

/// Bad capability columns reject the whole file over HTTP, each error naming its row and
/// column, and nothing is stored.
async fn bad_capability_columns_name_row_and_field(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let before = stored(&app);
    let csv = "\
external_id,name,latitude,longitude,capacity,opening_hours,capabilities,photo_url
sol,Kiosko Sol,40.4169,-3.7035,5,,parking,https://img.example.com/new.jpg
b,B,40.2,-3.2,5,,lift,
c,C,40.3,-3.3,5,,open_24_7,
d,D,40.4,-3.4,5,,parking|parking,
e,E,40.5,-3.5,5,,,http://img.example.com/e.jpg
f,F,40.6,-3.6,5,,,javascript:alert(1)
g,G,40.7,-3.7,5,,step_free,https://img.example.com/g h.jpg
";
    let planner = app.token(Role::Planner, "planner");
    let req = TestRequest::post()
        .uri("/v1/shops/import")
        .insert_header(("authorization", format!("Bearer {planner}")))
        .insert_header(("content-type", "text/csv"))
        .set_payload(csv);
    let answer = app.call(req).await;
    let problem = answer.problem(422);
    let found: Vec<(u64, &str)> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().expect("row"),
                e["field"].as_str().expect("field"),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (3, "capabilities"),
            (4, "capabilities"),
            (5, "capabilities"),
            (6, "photo_url"),
            (7, "photo_url"),
            (8, "photo_url")
        ],
        "{}",
        answer.text
    );
    assert!(
        answer.text.contains("follows from opening_hours"),
        "{}",
        answer.text
    );
    assert_eq!(stored(&app), before, "nothing stored");
    // GeoJSON: arrays of names, or the same text; wrong item types are named too.
    let geojson = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-3.7, 40.4]},
         "properties": {"external_id": "h", "name": "H", "capacity": 4,
                        "capabilities": ["parking", "id_check"], "photo_url": "https://img.example.com/h.jpg"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-3.7, 40.5]},
         "properties": {"external_id": "i", "name": "I", "capacity": 4, "capabilities": [1]}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-3.7, 40.6]},
         "properties": {"external_id": "j", "name": "J", "capacity": 4, "photo_url": "ftp://x.example/j.jpg"}}
    ]});
    let rejected = pudo::network::import::parse(geojson.to_string().as_bytes(), Format::GeoJson)
        .expect_err("rejected");
    let found: Vec<(usize, &str)> = rejected
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(found, [(2, "capabilities"), (3, "photo_url")]);
    let good = pudo::network::import::parse(
        json!({"type": "FeatureCollection", "features": [geojson["features"][0]]})
            .to_string()
            .as_bytes(),
        Format::GeoJson,
    )
    .expect("valid");
    assert_eq!(good[0].profile.capabilities.to_string(), "parking,id_check");
}
on_both_backends!(bad_capability_columns_name_row_and_field);
