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
