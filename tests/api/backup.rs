//! Backups taken under load restore to a consistent database (docs/operations.md, "Backup and
//! restore"): SQLite's online copy (`VACUUM INTO`) and PostgreSQL's `pg_dump` → `pg_restore`,
//! each taken while reservations, arrivals, handovers and cancellations run, restored into a
//! fresh database, and checked there: every shop's slot counter equals what it holds and stays
//! within capacity, one ledger line per paid handover, one event per change.

use crate::support::{Backend, TestApp};
use diesel::prelude::*;
use pudo::db::schema::{ledger, outbox, parcels, returns, shop_load, shops, staged_stock};
use pudo::db::{DatabaseUrl, DbConn};
use pudo::pickup::{self, CodeIssuer, CodeKind, NewReservation};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
a,Kiosko A,40.4169,-3.7035,40
b,Kiosko B,40.4180,-3.7097,40
c,Kiosko C,40.4170,-3.7040,3
";

/// Checks a database for the consistency a restore must keep; `Err` names each violation.
pub(crate) fn consistency(conn: &mut DbConn) -> Result<usize, Vec<String>> {
    let db = |e: diesel::result::Error| vec![format!("reading the database: {e}")];
    let mut bad = Vec::new();
    let loads: Vec<(i64, i32, i32)> = shop_load::table
        .inner_join(shops::table)
        .select((shop_load::shop_id, shop_load::live, shops::capacity))
        .load(conn)
        .map_err(db)?;
    let mut held: HashMap<i64, i64> = HashMap::new();
    let live_parcels: Vec<i64> = parcels::table
        .filter(parcels::state.eq_any(["reserved", "at_point", "expired"]))
        .select(parcels::shop_id)
        .load(conn)
        .map_err(db)?;
    let dropped: Vec<i64> = returns::table
        .filter(returns::state.eq("dropped_off"))
        .select(returns::shop_id)
        .load(conn)
        .map_err(db)?;
    for shop in live_parcels.into_iter().chain(dropped) {
        *held.entry(shop).or_default() += 1;
    }
    let staged: Vec<(i64, i32)> = staged_stock::table
        .select((staged_stock::shop_id, staged_stock::units))
        .load(conn)
        .map_err(db)?;
    for (shop, units) in staged {
        *held.entry(shop).or_default() += i64::from(units);
    }
    for (shop, live, capacity) in &loads {
        let holds = held.get(shop).copied().unwrap_or(0);
        if i64::from(*live) != holds {
            bad.push(format!("shop {shop}: slot counter {live}, holds {holds}"));
        }
        if live > capacity {
            bad.push(format!("shop {shop}: {live} slots held of {capacity}"));
        }
    }
    // One ledger line per handover, for a parcel handed over.
    let picked: Vec<i64> = parcels::table
        .filter(parcels::state.eq("picked_up"))
        .select(parcels::id)
        .load(conn)
        .map_err(db)?;
    let paid: Vec<String> = ledger::table
        .filter(ledger::kind.eq("handover"))
        .select(ledger::event_key)
        .load(conn)
        .map_err(db)?;
    let mut paid_sorted = paid.clone();
    paid_sorted.sort();
    let mut expected: Vec<String> = picked.iter().map(|id| format!("handover:{id}")).collect();
    expected.sort();
    if paid_sorted != expected {
        bad.push(format!(
            "{} handovers paid, {} parcels picked up",
            paid.len(),
            picked.len()
        ));
    }
    // One event per change, for its parcel.
    let events: Vec<(String, String)> = outbox::table
        .select((outbox::kind, outbox::payload))
        .load(conn)
        .map_err(db)?;
    let mut per_kind: HashMap<(String, i64), usize> = HashMap::new();
    for (kind, payload) in &events {
        let value: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
        if let Some(id) = value["reservation"]["id"].as_i64() {
            *per_kind.entry((kind.clone(), id)).or_default() += 1;
        }
    }
    let rows: Vec<(i64, String, Option<chrono::NaiveDateTime>)> = parcels::table
        .select((parcels::id, parcels::state, parcels::arrived_at))
        .load(conn)
        .map_err(db)?;
    for (id, state, arrived_at) in &rows {
        let count = |kind: &str| per_kind.get(&(kind.to_owned(), *id)).copied().unwrap_or(0);
        let wanted = [
            ("reservation.created", 1),
            ("parcel.arrived", usize::from(arrived_at.is_some())),
            ("parcel.picked_up", usize::from(state == "picked_up")),
            ("reservation.cancelled", usize::from(state == "cancelled")),
        ];
        for (kind, n) in wanted {
            if count(kind) != n {
                bad.push(format!(
                    "parcel {id} ({state}): {} {kind} events, {n} expected",
                    count(kind)
                ));
            }
        }
    }
    if bad.is_empty() {
        Ok(rows.len())
    } else {
        bad.truncate(20);
        Err(bad)
    }
}

/// Reservations, arrivals, handovers and cancellations from `threads` clients until `stop`.
fn load(
    app: &TestApp,
    threads: usize,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<usize>> {
    let shops = [app.shop_id("a"), app.shop_id("b"), app.shop_id("c")];
    (0..threads)
        .map(|client| {
            let pool = app.state.pool.clone();
            let key = *app.state.keys.data_key();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let issuer = CodeIssuer {
                    data_key: &key,
                    hold: chrono::Duration::days(7),
                };
                let mut done = 0;
                while !stop.load(Ordering::Relaxed) {
                    let shop = shops[done % shops.len()];
                    let mut conn = pool.get().expect("conn");
                    let now = chrono::Utc::now().naive_utc();
                    let order_ref = format!("B-{client}-{done}");
                    let r = NewReservation {
                        merchant: "acme",
                        shop_id: shop,
                        order_ref: &order_ref,
                        sku: None,
                        arrive_at: None,
                    };
                    done += 1;
                    // A full shop refuses: that is part of the load too.
                    let Ok((parcel, _, _)) = pickup::reserve(&mut conn, &r, &issuer, now) else {
                        continue;
                    };
                    if done % 4 == 0 {
                        pickup::cancel(&mut conn, "acme", parcel.id, now).expect("cancel");
                        continue;
                    }
                    pickup::arrive(&mut conn, &issuer, shop, parcel.id, now).expect("arrive");
                    if done % 3 == 0 {
                        continue;
                    }
                    let code = pickup::read_reservation(&mut conn, &key, "acme", parcel.id)
                        .expect("read")
                        .1
                        .expect("code");
                    pickup::handover(&mut conn, &key, shop, "shop", &code, now)
                        .expect("handover")
                        .into_result(CodeKind::Handover)
                        .expect("handed over");
                }
                done
            })
        })
        .collect()
}

fn stop_load(stop: &AtomicBool, clients: Vec<std::thread::JoinHandle<usize>>) -> usize {
    stop.store(true, Ordering::Relaxed);
    clients.into_iter().map(|c| c.join().expect("client")).sum()
}

/// The same database with one slot counter off by one: the check must see it.
fn corrupted_fails(conn: &mut DbConn) {
    let shop: i64 = shop_load::table
        .select(shop_load::shop_id)
        .first(conn)
        .expect("a shop");
    diesel::update(shop_load::table.find(shop))
        .set(shop_load::live.eq(shop_load::live + 1))
        .execute(conn)
        .expect("corrupt");
    let errors = consistency(conn).expect_err("a counter off by one is found");
    assert!(
        errors.iter().any(|e| e.contains(&format!("shop {shop}"))),
        "{errors:?}"
    );
}

#[actix_web::test]
async fn sqlite_online_copy_under_load_restores_consistent() {
    let app = TestApp::new(Backend::Sqlite).with_csv(SHOPS);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(&app, 4, stop.clone());
    std::thread::sleep(std::time::Duration::from_millis(800));
    let copy_dir = tempfile::tempdir().expect("dir");
    let copy = copy_dir.path().join("backup.db");
    diesel::sql_query(format!("VACUUM INTO '{}'", copy.display()))
        .execute(&mut *app.state.pool.get().expect("conn"))
        .expect("VACUUM INTO under load");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let orders = stop_load(&stop, clients);
    assert!(orders > 20, "the load ran ({orders} orders)");
    let restored = DatabaseUrl::parse(&format!("sqlite://{}", copy.display())).expect("url");
    let mut conn = restored.connect().expect("open the copy");
    let parcels = consistency(&mut conn).unwrap_or_else(|e| panic!("restored copy: {e:#?}"));
    assert!(parcels > 0, "the copy holds the orders made before it");
    consistency(&mut app.state.pool.get().expect("conn"))
        .unwrap_or_else(|e| panic!("the live database: {e:#?}"));
    corrupted_fails(&mut conn);
}

#[actix_web::test]
async fn postgres_dump_under_load_restores_consistent() {
    let app = TestApp::new(Backend::Postgres).with_csv(SHOPS);
    let url = app.db.url.clone();
    let schema = url
        .split("search_path%3D")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("the test's schema")
        .to_owned();
    let base = url.split('?').next().expect("base url").to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(&app, 4, stop.clone());
    std::thread::sleep(std::time::Duration::from_millis(800));
    let dump = tempfile::NamedTempFile::new().expect("dump file");
    let dumped = std::process::Command::new("pg_dump")
        .args(["-Fc", "-n", &schema, "-f"])
        .arg(dump.path())
        .arg(&base)
        .output()
        .expect("pg_dump (postgresql-client) is installed");
    assert!(
        dumped.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let orders = stop_load(&stop, clients);
    assert!(orders > 20, "the load ran ({orders} orders)");

    // A fresh database to restore into, dropped at the end.
    let restore_db = format!("r_{schema}");
    let (server, _) = base.rsplit_once('/').expect("a database in the URL");
    let mut admin = DatabaseUrl::parse(&base)
        .expect("url")
        .connect()
        .expect("admin");
    diesel::connection::SimpleConnection::batch_execute(
        &mut admin,
        &format!("CREATE DATABASE {restore_db}"),
    )
    .expect("create database");
    let restored_base = format!("{server}/{restore_db}");
    let restored = std::process::Command::new("pg_restore")
        .args(["--no-owner", "-d", &restored_base])
        .arg(dump.path())
        .output()
        .expect("pg_restore");
    let result = std::panic::catch_unwind(|| {
        assert!(
            restored.status.success(),
            "pg_restore: {}",
            String::from_utf8_lossy(&restored.stderr)
        );
        let url = DatabaseUrl::parse(&format!("{restored_base}?options=-csearch_path%3D{schema}"))
            .expect("url");
        let mut conn = url.connect().expect("restored database");
        let parcels = consistency(&mut conn).unwrap_or_else(|e| panic!("restored dump: {e:#?}"));
        assert!(parcels > 0, "the dump holds the orders made before it");
        corrupted_fails(&mut conn);
    });
    consistency(&mut app.state.pool.get().expect("conn"))
        .unwrap_or_else(|e| panic!("the live database: {e:#?}"));
    let _ = diesel::connection::SimpleConnection::batch_execute(
        &mut admin,
        &format!("DROP DATABASE IF EXISTS {restore_db} WITH (FORCE)"),
    );
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
