//! Searching pickup points over HTTP.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use pudo::network::geo::{haversine_m, Point};

/// Madrid (Europe/Madrid) and Shanghai (Asia/Shanghai) shops with different hours.
pub const FIXTURE: &str = "\
external_id,name,latitude,longitude,capacity,timezone,opening_hours,status
mad-sol,Kiosko Sol,40.41690,-3.70350,20,Europe/Madrid,Mo-Fr 09:00-14:00; Sa 10:00-13:00,active
mad-opera,Estanco Ópera,40.41800,-3.70970,15,Europe/Madrid,Mo-Su 17:00-21:00,active
mad-paused,Papelería Cerrada,40.41695,-3.70355,30,Europe/Madrid,24/7,paused
mad-closed,Antigua tienda,40.41692,-3.70352,30,Europe/Madrid,24/7,closed
mad-far,Kiosko Toledo,39.86280,-4.02730,10,Europe/Madrid,24/7,active
sha-bund,外滩便利店,31.24000,121.49000,40,Asia/Shanghai,Mo-Su 07:00-23:00,active
";

async fn nearest_first_with_exact_distances(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let answer = app
        .get("/v1/pickup-points?lat=40.4168&lon=-3.7038&limit=3")
        .await;
    assert_eq!(
        answer.external_ids(),
        ["mad-sol", "mad-opera", "mad-far"],
        "paused and closed never listed"
    );
    let items = answer.body["items"].as_array().expect("items");
    let q = Point::from_degrees(40.4168, -3.7038);
    for item in items {
        let p = Point::from_degrees(
            item["lat"].as_f64().expect("lat"),
            item["lon"].as_f64().expect("lon"),
        );
        assert_eq!(
            item["distance_m"].as_f64(),
            Some(haversine_m(&q, &p)),
            "exact haversine"
        );
        assert_eq!(item["status"], "active");
        assert!(item["h3_cell"].as_str().is_some_and(|c| c.len() == 15));
        assert!(
            item["open_now"].is_boolean() && item["capacity"].is_i64() && item["name"].is_string()
        );
    }
    let d: Vec<f64> = items
        .iter()
        .map(|i| i["distance_m"].as_f64().expect("d"))
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]));
    // Default limit is 10: every active shop in the fixture fits.
    assert_eq!(
        app.get("/v1/pickup-points?lat=40.4168&lon=-3.7038")
            .await
            .ids()
            .len(),
        4
    );
}
on_both_backends!(nearest_first_with_exact_distances);

async fn radius_limits_the_answer(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let near = app
        .get("/v1/pickup-points?lat=40.4168&lon=-3.7038&radius_m=1000")
        .await;
    assert_eq!(near.external_ids(), ["mad-sol", "mad-opera"]);
    let none = app
        .get("/v1/pickup-points?lat=0.5&lon=0.5&radius_m=10")
        .await;
    assert!(none.ids().is_empty());
    // Far from everything, the nearest is still found, on the other side of the world.
    let far = app.get("/v1/pickup-points?lat=-45&lon=-170&limit=1").await;
    assert_eq!(far.ids().len(), 1);
}
on_both_backends!(radius_limits_the_answer);

async fn open_at_reads_each_shop_in_its_time_zone(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let open_at = |t: &str| {
        format!(
            "/v1/pickup-points?lat=40.4168&lon=-3.7038&radius_m=100000&open_at={}",
            t.replace('+', "%2B")
        )
    };
    // Monday 2026-01-12 08:30 UTC = 09:30 in Madrid (CET): Sol open, Ópera closed.
    assert_eq!(
        app.get(&open_at("2026-01-12T08:30:00Z"))
            .await
            .external_ids(),
        ["mad-sol", "mad-far"]
    );
    // The same wall time given with an offset is the same instant.
    assert_eq!(
        app.get(&open_at("2026-01-12T09:30:00+01:00"))
            .await
            .external_ids(),
        ["mad-sol", "mad-far"]
    );
    // Monday 2026-07-13 12:30 UTC = 14:30 in Madrid (CEST): Sol just closed. In winter the same
    // UTC time is 13:30 CET and Sol is open: the DST shift decides.
    assert_eq!(
        app.get(&open_at("2026-07-13T12:30:00Z"))
            .await
            .external_ids(),
        ["mad-far"]
    );
    assert_eq!(
        app.get(&open_at("2026-01-12T12:30:00Z"))
            .await
            .external_ids(),
        ["mad-sol", "mad-far"]
    );
    // 16:30 UTC on a January Sunday is 17:30 in Madrid (Ópera open) and 00:30 in Shanghai (closed).
    let sunday = "2026-01-11T16:30:00Z";
    assert_eq!(
        app.get(&open_at(sunday)).await.external_ids(),
        ["mad-opera", "mad-far"]
    );
    let shanghai = app
        .get(&format!(
            "/v1/pickup-points?lat=31.24&lon=121.49&limit=1&open_at={sunday}"
        ))
        .await;
    assert_eq!(
        shanghai.external_ids(),
        ["mad-opera"],
        "the Shanghai shop is closed at 00:30 local"
    );
    // 23:30 UTC is 07:30 the next morning in Shanghai: open.
    let morning = app
        .get("/v1/pickup-points?lat=31.24&lon=121.49&limit=1&open_at=2026-01-11T23:30:00Z")
        .await;
    assert_eq!(morning.external_ids(), ["sha-bund"]);
}
on_both_backends!(open_at_reads_each_shop_in_its_time_zone);

async fn bad_parameters_are_400_naming_the_parameter(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    for (query, parameter) in [
        ("lon=1", "lat"),
        ("lat=1", "lon"),
        ("lat=abc&lon=1", "lat"),
        ("lat=90.5&lon=1", "lat"),
        ("lat=1&lon=-181", "lon"),
        ("lat=NaN&lon=1", "lat"),
        ("lat=1&lon=inf", "lon"),
        ("lat=1&lon=1&limit=0", "limit"),
        ("lat=1&lon=1&limit=101", "limit"),
        ("lat=1&lon=1&limit=2.5", "limit"),
        ("lat=1&lon=1&limit=", "limit"),
        ("lat=1&lon=1&radius_m=-5", "radius_m"),
        ("lat=1&lon=1&open_at=tomorrow", "open_at"),
        ("lat=1&lon=1&open_at=2026-01-01T10:00:00", "open_at"),
        ("lat=1&lon=1&lmit=5", "lmit"),
        ("lat=1&lat=2&lon=1", "lat"),
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
    assert_eq!(
        app.get("/v1/pickup-points?lat=1&lon=1&limit=100")
            .await
            .ids()
            .len(),
        4
    );
    assert_eq!(
        app.get("/v1/pickup-points?lat=1&lon=1&limit=1")
            .await
            .ids()
            .len(),
        1
    );
}
on_both_backends!(bad_parameters_are_400_naming_the_parameter);

async fn one_pickup_point(backend: Backend) {
    let app = TestApp::new(backend).with_csv(FIXTURE);
    let id = app
        .get("/v1/pickup-points?lat=40.4168&lon=-3.7038&limit=1")
        .await
        .ids()[0];
    let shop = app.get(&format!("/v1/pickup-points/{id}")).await;
    let body = shop.ok();
    assert_eq!(body["external_id"], "mad-sol");
    assert_eq!(body["timezone"], "Europe/Madrid");
    assert_eq!(
        body["opening_hours"],
        "Mo-Fr 09:00-14:00; Sa 10:00-13:00; Su off"
    );
    assert_eq!(body["capacity"], 20);
    assert!(
        body["region"].as_str().is_some_and(|r| r.starts_with("83")),
        "resolution-3 region: {}",
        body["region"]
    );
    assert!(body["open_now"].is_boolean());
    app.get("/v1/pickup-points/999999").await.problem(404);
    let bad = app.get("/v1/pickup-points/abc").await;
    assert_eq!(bad.problem(400)["parameter"], "id");
}
on_both_backends!(one_pickup_point);
