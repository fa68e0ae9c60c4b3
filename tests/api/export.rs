//! `pudo export`: the network round-trips through `pudo import shops` on both backends and in
//! both formats; stored plans come out as the files `pudo plan` writes; bad flags and
//! unwritable paths are refused without leaving partial files.

use crate::support::{Backend, TestDb};
use diesel::prelude::*;
use pudo::db::schema::shops;
use pudo::network::import::Format;
use pudo::network::service::Network;
use std::path::Path;
use std::process::{Command, Output};

fn pudo(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pudo"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .env("PUDO_SEED", "none")
        .output()
        .expect("run pudo")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Shops whose every field is awkward somewhere: quotes, commas, line-free unicode, many
/// decimals, negative coordinates, capacity 0, every status, hours in several zones; then
/// enough plain shops to cross the export's page size more than once.
fn network_csv() -> String {
    let mut csv = String::from(
        "external_id,name,latitude,longitude,capacity,timezone,opening_hours,status,services,closures\n\
         q1,\"Kiosko \"\"El Sol\"\", Madrid\",40.416912345678901,-3.70351,20,Europe/Madrid,Mo-Fr 09:00-14:00; Sa 10:00-13:00,active,pickup|returns,\"2026-12-24/2026-12-26 Navidad, \"\"cerrado\"\";2027-01-01\"\n\
         q2,上海便利店 №7,31.2304,121.4737,0,Asia/Shanghai,Mo-Su 00:00-24:00,paused,staging,2027-02-10/2027-02-16 春节\n\
         q3,Estanco Ópera,-33.8688,151.2093,100000,Australia/Sydney,,closed,,\n\
         q4,  Trimmed name  ,0.5,-0.000001,1,,,,dropoff,\n",
    );
    for i in 0..(2 * pudo::network::export::PAGE as usize + 7) {
        csv.push_str(&format!(
            "n{i},Tienda {i},{},{},{},Europe/Madrid,Mo-Sa 08:00-20:00,active,,\n",
            36.0 + (i % 97) as f64 * 0.0713,
            -9.0 + (i / 97) as f64 * 0.0917,
            i % 40
        ));
    }
    csv
}

type ShopFields = (
    String,
    String,
    f64,
    f64,
    i64,
    i64,
    i32,
    String,
    String,
    String,
    String,
);

fn stored_shops(url: &str) -> Vec<ShopFields> {
    let db_url = pudo::db::DatabaseUrl::parse(url).expect("url");
    let mut conn = db_url.connect().expect("connect");
    shops::table
        .select((
            shops::external_id,
            shops::name,
            shops::latitude,
            shops::longitude,
            shops::h3_cell,
            shops::region,
            shops::capacity,
            shops::timezone,
            shops::opening_hours,
            shops::status,
            shops::services,
        ))
        .order(shops::external_id)
        .load(&mut conn)
        .expect("shops")
}

/// Every stored closure by shop: (external id, first day, last day, reason).
fn stored_closures(url: &str) -> Vec<(String, String, String, String)> {
    use pudo::db::schema::shop_closures;
    let db_url = pudo::db::DatabaseUrl::parse(url).expect("url");
    let mut conn = db_url.connect().expect("connect");
    let rows: Vec<(String, chrono::NaiveDate, chrono::NaiveDate, String)> = shop_closures::table
        .inner_join(shops::table)
        .select((
            shops::external_id,
            shop_closures::starts_on,
            shop_closures::ends_on,
            shop_closures::reason,
        ))
        .order((shops::external_id, shop_closures::starts_on))
        .load(&mut conn)
        .expect("closures");
    rows.into_iter()
        .map(|(e, a, b, r)| (e, a.to_string(), b.to_string(), r))
        .collect()
}

fn network_round_trip(backend: Backend) {
    let source = TestDb::new(backend);
    Network::new(source.pool())
        .import_file(network_csv().as_bytes(), Format::Csv, &mut |_| {})
        .expect("the fixture imports");
    let original = stored_shops(&source.url);
    assert_eq!(original.len(), 2 * 5000 + 11);
    let closures = stored_closures(&source.url);
    assert_eq!(closures.len(), 3, "{closures:?}");
    let dir = tempfile::tempdir().expect("dir");

    let csv_file = dir.path().join("network.csv");
    let geojson_file = dir.path().join("network.geojson");
    let out = pudo(
        &source.url,
        &["export", "network", "--out", path(&csv_file)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exported 10011 shops"),
        "{}",
        stderr(&out)
    );
    let out = pudo(
        &source.url,
        &[
            "export",
            "network",
            "--format",
            "geojson",
            "--out",
            path(&geojson_file),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Standard output carries the same file.
    let piped = pudo(&source.url, &["export", "network"]);
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(
        piped.stdout,
        std::fs::read(&csv_file).expect("csv"),
        "stdout and --out agree"
    );

    for file in [&csv_file, &geojson_file] {
        let target = TestDb::new(backend);
        target.pool();
        let out = pudo(&target.url, &["import", "shops", path(file)]);
        assert!(out.status.success(), "{}: {}", file.display(), stderr(&out));
        let imported = stored_shops(&target.url);
        let differ: Vec<(&ShopFields, &ShopFields)> = original
            .iter()
            .zip(&imported)
            .filter(|(a, b)| a != b)
            .take(3)
            .collect();
        assert!(
            differ.is_empty() && imported.len() == original.len(),
            "{} imports into an empty database as the same shops: {} vs {} shops, first \
             differences (exported, imported): {differ:?}",
            file.display(),
            original.len(),
            imported.len()
        );
        assert_eq!(
            stored_closures(&target.url),
            closures,
            "{} carries the closures",
            file.display()
        );
    }
}

#[test]
fn network_round_trip_sqlite() {
    network_round_trip(Backend::Sqlite);
}

#[test]
fn network_round_trip_postgres() {
    network_round_trip(Backend::Postgres);
}

#[test]
fn bad_flags_and_paths_are_refused_and_leave_files_alone() {
    let db = TestDb::new(Backend::Sqlite);
    Network::new(db.pool())
        .import_file(
            b"external_id,name,latitude,longitude,capacity\na,A,40.4,-3.7,5\n",
            Format::Csv,
            &mut |_| {},
        )
        .expect("imports");
    let dir = tempfile::tempdir().expect("dir");
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    let mismatch = dir.path().join("net.geojson");
    let out = pudo(
        &db.url,
        &[
            "export",
            "network",
            "--format",
            "csv",
            "--out",
            path(&mismatch),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--format csv does not match the extension of --out"),
        "{}",
        stderr(&out)
    );
    let out = pudo(&db.url, &["export", "network", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown format");
    assert!(stderr(&out).contains("xml"), "{}", stderr(&out));

    let nowhere = dir.path().join("missing").join("net.csv");
    let out = pudo(&db.url, &["export", "network", "--out", path(&nowhere)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    let out = pudo(&db.url, &["export", "network", "--out", path(dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));

    // A failure after the target was chosen (here: the database cannot be opened) leaves an
    // existing file as it was.
    let kept = dir.path().join("kept.csv");
    std::fs::write(&kept, "old content\n").expect("write");
    let out = pudo(
        "postgres://nobody@127.0.0.1:1/none",
        &["export", "network", "--out", path(&kept)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&kept).expect("read"),
        "old content\n"
    );

    let file = dir.path().join("kept.csv");
    let out = pudo(&db.url, &["export", "plans", "--out", path(&file)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a directory"),
        "{}",
        stderr(&out)
    );
    let out = pudo(&db.url, &["export", "plans", "--event", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = pudo(
        &db.url,
        &["export", "plans", "--event", "7", "--out", path(dir.path())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("7"), "{}", stderr(&out));
    assert_eq!(
        listing(),
        vec!["kept.csv".to_owned()],
        "no file left behind"
    );
}

fn plans_export(backend: Backend) {
    use pudo::staging::{allocator::Params, demand, events, forecast::ForecastRow, plans};
    let db = TestDb::new(backend);
    let pool = db.pool();
    Network::new(pool.clone())
        .import_file(
            "external_id,name,latitude,longitude,capacity\n\
             sol,Kiosko Sol,40.4169,-3.7035,5\n\
             opera,Estanco Ópera,40.4180,-3.7097,3\n"
                .as_bytes(),
            Format::Csv,
            &mut |_| {},
        )
        .expect("imports");
    let mut conn = pool.get().expect("conn");
    let now = chrono::Utc::now().naive_utc();
    let zone = h3o::LatLng::new(40.4170, -3.7050)
        .expect("valid")
        .to_cell(h3o::Resolution::Eight);
    let mut plan_ids = Vec::new();
    for name in ["Singles Day", "Black Friday"] {
        let event = events::create_event(
            &mut conn,
            name,
            now,
            now + chrono::Duration::days(1),
            "Europe/Madrid",
            "pat",
            now,
        )
        .expect("event");
        let rows = [("PHONE", 6), ("TV", 4)].map(|(sku, units)| ForecastRow {
            zone,
            sku: sku.into(),
            units,
            size: pudo::network::sizes::SizeClass::S,
        });
        demand::replace_forecast(&mut conn, event.id, &rows).expect("forecast");
        let plan = plans::compute_plan(
            &mut conn,
            event.id,
            &Params {
                radius_km: 3.0,
                penalty_km: 50.0,
            },
            None,
            "pat",
            now,
        )
        .expect("plan");
        plan_ids.push((event.id, plan.id, plan.total_cost_km));
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = pudo(&db.url, &["export", "plans", "--out", path(dir.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exported 2 plan(s)"),
        "{}",
        stderr(&out)
    );
    for (_, plan, cost) in &plan_ids {
        let plan_dir = dir.path().join(format!("plan-{plan}"));
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(plan_dir.join("plan.json")).expect("plan.json"))
                .expect("json");
        assert_eq!(summary["id"], *plan);
        assert_eq!(summary["state"], "draft");
        assert_eq!(summary["total_cost_km"].as_f64(), Some(*cost));
        assert_eq!(summary["served_units"], 8);
        assert_eq!(summary["unmet_units"], 2);
        assert_eq!(summary["parameters"]["radius_km"], 3.0);
        let manifests = std::fs::read_to_string(plan_dir.join("manifests.csv")).expect("csv");
        let mut lines = manifests.lines();
        assert_eq!(lines.next(), Some("shop_external_id,sku,units,size"));
        let units: u64 = lines
            .map(|l| {
                let fields: Vec<&str> = l.split(',').collect();
                assert!(["sol", "opera"].contains(&fields[0]), "{l}");
                fields[2].parse::<u64>().expect("units")
            })
            .sum();
        assert_eq!(units, 8, "the manifests carry every staged unit");
        let svg = std::fs::read_to_string(plan_dir.join("map.svg")).expect("svg");
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{svg:.40}"
        );
    }

    // One event only.
    let only = tempfile::tempdir().expect("dir");
    let (event, plan, _) = plan_ids[1];
    let out = pudo(
        &db.url,
        &[
            "export",
            "plans",
            "--event",
            &event.to_string(),
            "--out",
            path(only.path()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let written: Vec<String> = std::fs::read_dir(only.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, vec![format!("plan-{plan}")]);
}

#[test]
fn plans_export_sqlite() {
    plans_export(Backend::Sqlite);
}

#[test]
fn plans_export_postgres() {
    plans_export(Backend::Postgres);
}
