//! Finding pickup points as people do: a map area (`bbox`, points or clusters), text (`q`),
//! towns (`/v1/places`), and when a closed point opens next.

use crate::on_both_backends;
use crate::search::FIXTURE;
use crate::support::{Backend, TestApp};

/// Around the Puerta del Sol: the three Madrid shops that are not closed.
const SOL: &str = "-3.72,40.41,-3.70,40.42";

async fn a_map_area_lists_its_points_or_counts_them_in_cells(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let answer = app.get(&format!("/v1/pickup-points?bbox={SOL}")).await;
    let mut ids = answer.external_ids();
    ids.sort();
    assert_eq!(ids, ["mad-opera", "mad-sol"], "paused and closed left out");
    assert_eq!(answer.ok()["total"], 2);
    assert_eq!(answer.ok()["clusters"], serde_json::json!([]));
    assert!(
        answer.ok()["items"][0]["distance_m"].is_null(),
        "no position given"
    );
    let with_paused = app
        .get(&format!(
            "/v1/pickup-points?bbox={SOL}&include_unavailable=true&lat=40.4168&lon=-3.7038"
        ))
        .await;
    assert_eq!(
        with_paused.external_ids(),
        ["mad-paused", "mad-sol", "mad-opera"],
        "nearest first"
    );
    // More points than the limit: clusters with exact counts and centroids.
    let clustered = app
        .get(&format!(
            "/v1/pickup-points?bbox={SOL}&limit=1&include_unavailable=true"
        ))
        .await;
    let body = clustered.ok();
    assert!(body["items"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(body["total"], 3);
    let clusters = body["clusters"].as_array().expect("clusters");
    let count: u64 = clusters
        .iter()
        .map(|c| c["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(count, 3);
    for c in clusters {
        assert!(c["cell"].as_str().is_some_and(|s| s.len() == 15));
        let (lat, lon) = (
            c["lat"].as_f64().expect("lat"),
            c["lon"].as_f64().expect("lon"),
        );
        assert!((40.41..40.42).contains(&lat) && (-3.72..-3.70).contains(&lon));
    }
    // The whole of Spain in one box: the same filters apply to clusters as to points.
    let spain = app
        .get("/v1/pickup-points?bbox=-10,35,5,44&limit=1&open_at=2026-11-16T10:00:00%2B01:00")
        .await;
    assert_eq!(
        spain.ok()["total"],
        2,
        "Kiosko Sol and Kiosko Toledo are open on Monday at 10"
    );
    // A box across the antimeridian holds nothing here; an empty answer, not an error.
    let pacific = app.get("/v1/pickup-points?bbox=170,-50,-170,50").await;
    assert_eq!(pacific.ok()["total"], 0);
    let shanghai = app
        .get("/v1/pickup-points?bbox=121,31,122,32&service=pickup")
        .await;
    assert_eq!(shanghai.external_ids(), ["sha-bund"]);
}
on_both_backends!(a_map_area_lists_its_points_or_counts_them_in_cells);

async fn text_finds_names_and_ids_as_typed(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let kiosko = app.get("/v1/pickup-points?q=KIOSKO").await;
    let mut ids = kiosko.external_ids();
    ids.sort();
    assert_eq!(ids, ["mad-far", "mad-sol"]);
    assert!(kiosko.ok()["items"][0]["distance_m"].is_null());
    let near_toledo = app
        .get("/v1/pickup-points?q=kiosk&lat=39.86&lon=-4.02")
        .await;
    assert_eq!(
        near_toledo.external_ids(),
        ["mad-far", "mad-sol"],
        "equal matches: nearest first"
    );
    assert!(near_toledo.ok()["items"][0]["distance_m"]
        .as_f64()
        .is_some_and(|d| d < 1000.0));
    assert_eq!(
        app.get("/v1/pickup-points?q=estanco%20opera")
            .await
            .external_ids(),
        ["mad-opera"],
        "accents ignored"
    );
    assert_eq!(
        app.get("/v1/pickup-points?q=%E4%BE%BF%E5%88%A9")
            .await
            .external_ids(),
        ["sha-bund"],
        "便利: a substring of a Chinese name"
    );
    assert_eq!(
        app.get("/v1/pickup-points?q=mad-sol").await.external_ids()[0],
        "mad-sol",
        "an id in full first"
    );
    assert!(
        app.get("/v1/pickup-points?q=papeleria")
            .await
            .ids()
            .is_empty(),
        "paused: not without include_unavailable"
    );
    assert_eq!(
        app.get("/v1/pickup-points?q=papeleria&include_unavailable=true")
            .await
            .external_ids(),
        ["mad-paused"]
    );
    assert!(
        app.get("/v1/pickup-points?q=antigua&include_unavailable=true")
            .await
            .ids()
            .is_empty(),
        "closed: never"
    );
    assert!(
        app.get("/v1/pickup-points?q=kiosko&radius_m=1000&lat=40.4168&lon=-3.7038")
            .await
            .external_ids()
            == ["mad-sol"]
    );
}
on_both_backends!(text_finds_names_and_ids_as_typed);

async fn text_follows_imports(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let renamed = FIXTURE.replace("Kiosko Sol", "Librería Sol");
    let app = app.with_csv(&renamed);
    assert_eq!(
        app.get("/v1/pickup-points?q=libreria").await.external_ids(),
        ["mad-sol"]
    );
    assert_eq!(
        app.get("/v1/pickup-points?q=kiosko").await.external_ids(),
        ["mad-far"]
    );
}
on_both_backends!(text_follows_imports);

async fn every_point_says_when_it_opens_next(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let answer = app
        .get("/v1/pickup-points?lat=40.4168&lon=-3.7038&limit=10")
        .await;
    for item in answer.ok()["items"].as_array().expect("items") {
        let open_now = item["open_now"].as_bool().expect("open_now");
        let next = &item["next_open_at"];
        if open_now {
            assert!(next.is_null(), "{item}");
        } else {
            let t = next.as_str().expect("a closed point opens again");
            let t = chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339");
            assert!(
                t > chrono::Utc::now() && t.to_rfc3339().ends_with("+00:00"),
                "{item}"
            );
        }
    }
}
on_both_backends!(every_point_says_when_it_opens_next);

async fn towns_by_name(backend: Backend) {
    let app = TestApp::new(backend);
    let valencia = app.get("/v1/places?q=valencia").await;
    let first = &valencia.ok()["items"][0];
    assert_eq!(first["name"], "Valencia");
    assert_eq!(first["country"], "ES");
    assert!(first["population"].as_u64().is_some_and(|p| p > 500_000));
    assert!(first["lat"].is_f64() && first["lon"].is_f64() && first["admin1"].is_string());
    let malaga = app.get("/v1/places?q=MALAGA&country=es&limit=2").await;
    assert_eq!(malaga.ok()["items"][0]["name"], "Málaga");
    assert_eq!(malaga.ok()["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        app.get("/v1/places?q=shang&country=CN&limit=1").await.ok()["items"][0]["name"],
        "Shanghai"
    );
    for (query, parameter) in [
        ("", "q"),
        ("q=", "q"),
        ("q=--", "q"),
        ("q=valencia&country=Spain", "country"),
        ("q=valencia&limit=51", "limit"),
        ("q=valencia&limit=0", "limit"),
        ("q=valencia&city=x", "city"),
    ] {
        let answer = app.get(&format!("/v1/places?{query}")).await;
        assert_eq!(
            answer.problem(400)["parameter"],
            parameter,
            "{query}: {}",
            answer.text
        );
    }
}
on_both_backends!(towns_by_name);

async fn area_and_text_parameters_are_checked_by_name(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    for (query, parameter) in [
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,2,3,4", "bbox"),
        ("bbox=-181,2,3,4", "bbox"),
        ("bbox=1,-91,3,4", "bbox"),
        ("bbox=1,5,3,4", "bbox"),
        ("bbox=1,4,1,5", "bbox"),
        ("bbox=", "bbox"),
        ("bbox=-4,40,-3,41&q=sol", "q"),
        ("bbox=-4,40,-3,41&radius_m=5", "radius_m"),
        ("bbox=-4,40,-3,41&rank=room", "rank"),
        ("bbox=-4,40,-3,41&lat=40", "lon"),
        ("bbox=-4,40,-3,41&limit=101", "limit"),
        ("q=sol&radius_m=5", "radius_m"),
        ("q=sol&rank=room", "rank"),
        ("q=%21%21", "q"),
        ("q=", "q"),
        (&format!("q={}", "a".repeat(101)), "q"),
        ("q=sol&lon=3", "lat"),
    ] {
        let answer = app.get(&format!("/v1/pickup-points?{query}")).await;
        let problem = answer.problem(400);
        assert_eq!(problem["parameter"], parameter, "{query}: {}", answer.text);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(parameter)),
            "{query}: {}",
            answer.text
        );
    }
}
on_both_backends!(area_and_text_parameters_are_checked_by_name);
