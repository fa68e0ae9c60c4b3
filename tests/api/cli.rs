//! The `pudo` binary: import exit codes, all or nothing, seed output.

use crate::support::{Backend, TestDb};
use std::process::Command;

fn pudo(db: &TestDb, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pudo"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run pudo")
}

fn count(db: &TestDb) -> i64 {
    pudo::network::store::count(&mut db.pool().get().expect("conn")).expect("count")
}

fn import_exit_codes(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().expect("dir");
    let good = dir.path().join("shops.csv");
    std::fs::write(&good, crate::search::FIXTURE).expect("write");
    let out = pudo(&db, &["import", "shops", good.to_str().expect("path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("6 shops inserted"));
    assert_eq!(count(&db), 6);

    let bad = dir.path().join("bad.geojson");
    std::fs::write(
        &bad,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,91]},"properties":{"external_id":"x","name":"y","capacity":1}}]}"#,
    )
    .expect("write");
    let out = pudo(&db, &["import", "shops", bad.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("row 1, latitude: 91 is out of range"),
        "{stderr}"
    );
    assert_eq!(count(&db), 6, "nothing imported");

    let missing = pudo(&db, &["import", "shops", "/nonexistent/shops.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("reading /nonexistent/shops.csv"));
}

#[test]
fn import_exit_codes_sqlite() {
    import_exit_codes(Backend::Sqlite);
}

#[test]
fn import_exit_codes_postgres() {
    import_exit_codes(Backend::Postgres);
}

#[test]
fn seed_writes_a_csv_that_imports() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = tempfile::tempdir().expect("dir");
    let out_file = dir.path().join("es.csv");
    let out = pudo(
        &db,
        &[
            "seed",
            "--country",
            "ES",
            "--out",
            out_file.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shops = pudo::network::import::parse(
        &std::fs::read(&out_file).expect("read"),
        pudo::network::import::Format::Csv,
    )
    .expect("the seed CSV is a valid shop file");
    assert_eq!(
        shops,
        pudo::network::seed::generate(pudo::network::seed::Country::Es)
    );
}

#[test]
fn bad_settings_are_named() {
    let db = TestDb::new(Backend::Sqlite);
    let out = Command::new(env!("CARGO_BIN_EXE_pudo"))
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root:hunter2@localhost/x")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DATABASE_URL must start with sqlite:// or postgres://"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "password leaked: {stderr}");
    let out = pudo(&db, &["seed", "--country", "FR"]);
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_pudo"))
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .env("PUDO_WORKERS", "many")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("PUDO_WORKERS=\"many\" is invalid"));
}

#[test]
fn plan_writes_a_plan_manifests_and_a_map() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = tempfile::tempdir().expect("dir");
    let shops = dir.path().join("shops.csv");
    std::fs::write(
        &shops,
        "external_id,name,latitude,longitude,capacity\nsol,Sol,40.4169,-3.7035,5\nopera,Opera,40.4180,-3.7097,3\n",
    )
    .expect("write");
    assert!(
        pudo(&db, &["import", "shops", shops.to_str().expect("path")])
            .status
            .success()
    );
    let zone = h3o::LatLng::new(40.4170, -3.7050)
        .expect("valid")
        .to_cell(h3o::Resolution::Eight);
    let forecast = dir.path().join("forecast.csv");
    std::fs::write(
        &forecast,
        format!("zone,sku,units\n{zone},PHONE,6\n{zone},TV,4\n"),
    )
    .expect("write");
    let out = dir.path().join("plan");
    let run = pudo(
        &db,
        &[
            "plan",
            "--forecast",
            forecast.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).expect("plan.json"))
            .expect("json");
    assert_eq!(
        (
            plan["served_units"].as_u64(),
            plan["unmet_units"].as_u64(),
            plan["shops_used"].as_u64()
        ),
        (Some(8), Some(2), Some(2))
    );
    assert_eq!(plan["parameters"]["radius_km"], 3.0);
    assert!(
        plan["total_cost_km"]
            .as_f64()
            .is_some_and(|c| c > 100.0 && c < 110.0),
        "2 unmet × 50 km plus < 1 km each"
    );
    let manifests = std::fs::read_to_string(out.join("manifests.csv")).expect("manifests");
    let lines: Vec<&str> = manifests.lines().collect();
    assert_eq!(lines[0], "shop_external_id,sku,units,size");
    // A forecast without a size column: every line is of class S.
    let total: u32 = lines[1..]
        .iter()
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            assert_eq!(fields.get(3), Some(&"S"), "{l}");
            fields[2].parse::<u32>().expect("units")
        })
        .sum();
    assert_eq!(total, 8);
    assert!(std::fs::read_to_string(out.join("map.svg"))
        .expect("map")
        .starts_with("<svg"));

    std::fs::write(&forecast, "zone,sku,units\nnot-a-cell,PHONE,6\n").expect("write");
    let bad = pudo(
        &db,
        &[
            "plan",
            "--forecast",
            forecast.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("row 2, zone"));
    std::fs::write(&forecast, format!("zone,sku,units\n{zone},PHONE,6\n")).expect("write");
    // The same checks as the API's: a radius of 0 or above 50 km is refused, by name.
    for bad_radius in ["0", "80"] {
        let radius = pudo(
            &db,
            &[
                "plan",
                "--forecast",
                forecast.to_str().expect("path"),
                "--radius-km",
                bad_radius,
                "--out",
                out.to_str().expect("path"),
            ],
        );
        assert_eq!(radius.status.code(), Some(2), "--radius-km {bad_radius}");
        assert!(
            String::from_utf8_lossy(&radius.stderr)
                .contains("--radius-km: must be above 0 and at most 50"),
            "{}",
            String::from_utf8_lossy(&radius.stderr)
        );
    }
}
