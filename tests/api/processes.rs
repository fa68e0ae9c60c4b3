//! Real `pudo serve` processes (issue 3): four instances sharing one PostgreSQL never overbook
//! a shop nor hand a parcel over twice, and a process killed with SIGKILL in the middle of a
//! load loses nothing that it answered, and its successor delivers every webhook event.
//!
//! Every process is killed when its guard drops, every wait is bounded, everything listens on
//! 127.0.0.1 only.

use crate::load::http::{agent, get, post, reply, Reply};
use crate::support::{Backend, TestDb};
use crate::webhook_sink::Sink;
use diesel::prelude::*;
use pudo::auth::keys::JwtSource;
use pudo::auth::{Keys, Role};
use pudo::db::schema::{handover_attempts, outbox, parcels, shop_load, shops};
use pudo::db::Pool;
use pudo::network::import::Format;
use pudo::network::service::Network;
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// The HS256 secret every instance and the test share, so tokens minted here work everywhere.
pub(crate) const JWT_SECRET: &str = "processes-test-jwt-secret-0123456789abcdef";
/// How long a process may take to answer `/readyz` 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `pudo serve`; killed (SIGKILL) and reaped when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    log: tempfile::NamedTempFile,
}

impl Server {
    /// Starts `pudo serve` on a free loopback port (does not wait for it).
    pub(crate) fn spawn(database_url: &str, extra_env: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_pudo"));
        command.arg("serve");
        // Nothing from the caller's environment decides how these processes run.
        for (name, _) in std::env::vars() {
            if name.starts_with("PUDO_") {
                command.env_remove(name);
            }
        }
        command
            .env("DATABASE_URL", database_url)
            .env("PUDO_SEED", "none")
            .env("PUDO_BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .env("PUDO_WORKERS", "2")
            .env("PUDO_DB_POOL", "8")
            .env("PUDO_JWT_SECRET", JWT_SECRET)
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.reopen().expect("log")))
            .stderr(Stdio::from(log.reopen().expect("log")));
        let child = command.spawn().expect("spawn pudo serve");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn log(&self) -> String {
        let mut text = String::new();
        let _ = self
            .log
            .reopen()
            .and_then(|mut f| f.read_to_string(&mut text));
        text
    }

    /// Waits (bounded) for `/readyz` 200. `Err(log)` if the process exited first.
    fn wait_ready(&mut self, agent: &ureq::Agent) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("pudo serve exited with {status}:\n{}", self.log()));
            }
            if let Ok(res) = agent.get(self.url("/readyz")).call() {
                if res.status() == 200 {
                    return Ok(());
                }
            }
            assert!(
                Instant::now() < deadline,
                "pudo serve at {} not ready within {READY_TIMEOUT:?}:\n{}",
                self.base,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the running process with SIGKILL and reaps it.
    fn sigkill(&mut self) {
        assert!(
            matches!(self.child.try_wait(), Ok(None)),
            "pudo serve died before it was killed:\n{}",
            self.log()
        );
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `n` instances at once and waits until each is ready; an instance that lost its port
/// to another process between our probe and its bind is started again on another port.
pub(crate) fn start(database_url: &str, n: usize, extra_env: &[(&str, &str)]) -> Vec<Server> {
    let agent = agent();
    let mut servers: Vec<Server> = (0..n)
        .map(|_| Server::spawn(database_url, extra_env))
        .collect();
    for server in &mut servers {
        let mut tries = 0;
        while let Err(log) = server.wait_ready(&agent) {
            tries += 1;
            assert!(
                tries < 3 && log.contains("binding"),
                "pudo serve failed to start: {log}"
            );
            *server = Server::spawn(database_url, extra_env);
        }
    }
    servers
}

/// Runs `f` over `items` on `threads` threads; results in the order of `items`.
pub(crate) fn parallel<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().expect("lock")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("lock")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// A network imported in-process; returns the keys (same JWT secret as the servers) and the
/// shops `(external_id, id)` in file order.
pub(crate) fn setup(pool: &Pool, csv: &str) -> (Keys, Vec<(String, i64)>) {
    let network = Network::new(pool.clone());
    network
        .import_file(csv.as_bytes(), Format::Csv, &mut |_| {})
        .expect("fixture imports");
    let mut conn = pool.get().expect("conn");
    let keys = Keys::load(
        &mut conn,
        &JwtSource::Secret(JWT_SECRET.into()),
        "pudo",
        "pudo-api",
    )
    .expect("keys");
    let shops: Vec<(String, i64)> = shops::table
        .select((shops::external_id, shops::id))
        .order(shops::id)
        .load(&mut conn)
        .expect("shops");
    (keys, shops)
}

pub(crate) fn merchant_token(keys: &Keys, merchant: &str) -> String {
    keys.issue(merchant, Role::Merchant, None, chrono::Duration::hours(1))
        .expect("token")
}

pub(crate) fn partner_token(keys: &Keys, external_id: &str, id: i64) -> String {
    keys.issue(
        &format!("shop:{external_id}"),
        Role::Partner,
        Some(id),
        chrono::Duration::hours(1),
    )
    .expect("token")
}

fn live(pool: &Pool) -> HashMap<i64, i32> {
    shop_load::table
        .select((shop_load::shop_id, shop_load::live))
        .load(&mut pool.get().expect("conn"))
        .expect("shop_load")
        .into_iter()
        .collect()
}

/// `(id, shop_id, order_ref, state)` of every parcel.
fn all_parcels(pool: &Pool) -> Vec<(i64, i64, String, String)> {
    parcels::table
        .select((
            parcels::id,
            parcels::shop_id,
            parcels::order_ref,
            parcels::state,
        ))
        .order(parcels::id)
        .load(&mut pool.get().expect("conn"))
        .expect("parcels")
}

/// Every shop's `shop_load.live` equals its parcels in reserved, at_point or expired.
fn assert_live_matches_parcels(pool: &Pool, when: &str) {
    let mut held: HashMap<i64, i32> = HashMap::new();
    for (_, shop, _, state) in all_parcels(pool) {
        if matches!(state.as_str(), "reserved" | "at_point" | "expired") {
            *held.entry(shop).or_default() += 1;
        }
    }
    for (shop, live) in live(pool) {
        assert_eq!(
            live,
            held.get(&shop).copied().unwrap_or(0),
            "{when}: shop {shop}'s shop_load.live disagrees with its live parcels"
        );
    }
}

const FIVE_SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
p0,Kiosko Sol,40.4169,-3.7035,20
p1,Estanco Ópera,40.4180,-3.7097,20
p2,Librería Huertas,40.4143,-3.6993,20
p3,Ferretería Lavapiés,40.4088,-3.7010,20
p4,Papelería Chueca,40.4229,-3.6974,20
";

/// Four processes on one PostgreSQL schema: 500 concurrent reservations for 100 slots, then
/// 50 concurrent confirmations of one pickup code.
#[test]
fn four_instances_on_postgres_never_overbook_nor_hand_over_twice() {
    let db = TestDb::new(Backend::Postgres);
    let pool = db.pool();
    let (keys, shops) = setup(&pool, FIVE_SHOPS);
    assert_eq!(shops.len(), 5);
    let servers = start(&db.url, 4, &[]);
    let agent = agent();
    let merchant = merchant_token(&keys, "acme");

    // 500 reservations, distinct order refs, round-robin over shops and instances.
    let requests: Vec<(usize, i64, String)> = (0..500)
        .map(|i| (i % 4, shops[i % 5].1, format!("R-{i:03}")))
        .collect();
    let replies = parallel(48, &requests, |(instance, shop, order_ref)| {
        post(
            &agent,
            &servers[*instance].url("/v1/reservations"),
            &merchant,
            &json!({"pickup_point_id": shop, "order_ref": order_ref}),
        )
    });
    let mut created: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    let mut unexpected = Vec::new();
    for ((instance, shop, order_ref), reply) in requests.iter().zip(&replies) {
        match reply {
            Ok(r) if r.status == 201 => {
                assert_eq!(
                    (
                        r.body["pickup_point_id"].as_i64(),
                        r.body["order_ref"].as_str(),
                        r.body["state"].as_str()
                    ),
                    (Some(*shop), Some(order_ref.as_str()), Some("reserved")),
                    "{}",
                    r.text
                );
                let id = r.body["id"].as_i64().expect("id");
                created
                    .entry(*shop)
                    .or_default()
                    .push((id, order_ref.clone()));
            }
            Ok(r) if r.status == 409 && r.body["reason"] == "full" => {}
            other => unexpected.push(format!("{order_ref} on instance {instance}: {other:?}")),
        }
    }
    assert!(
        unexpected.is_empty(),
        "{} reservations answered neither 201 nor 409 full:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    for (external_id, shop) in &shops {
        assert_eq!(
            created.get(shop).map_or(0, Vec::len),
            20,
            "shop {external_id} (capacity 20) took exactly 20 reservations"
        );
    }
    let loads = live(&pool);
    for (external_id, shop) in &shops {
        assert_eq!(loads[shop], 20, "shop_load.live of {external_id}");
    }
    let stored = all_parcels(&pool);
    assert_eq!(
        stored.len(),
        100,
        "exactly the 100 reservations answered 201"
    );
    assert!(stored.iter().all(|(_, _, _, state)| state == "reserved"));
    let stored: HashSet<(i64, i64, String)> = stored
        .into_iter()
        .map(|(id, shop, order_ref, _)| (id, shop, order_ref))
        .collect();
    let answered: HashSet<(i64, i64, String)> = created
        .iter()
        .flat_map(|(shop, v)| v.iter().map(|(id, o)| (*id, *shop, o.clone())))
        .collect();
    assert_eq!(
        stored, answered,
        "the rows are exactly the answered reservations"
    );

    // Every instance's search follows the loads written by the others (polled every second).
    for server in &servers {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let search = get(
                &agent,
                &server.url("/v1/pickup-points?lat=40.4169&lon=-3.7035&min_free=1"),
                &merchant,
            )
            .expect("search");
            assert_eq!(search.status, 200, "{}", search.text);
            if search.body["items"].as_array().is_some_and(Vec::is_empty) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} still offers free slots at full shops: {}",
                server.base,
                search.text
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // One parcel arrives; its code is confirmed 50 times at once across the 4 instances.
    let (external_id, shop) = &shops[0];
    let (parcel, order_ref) = created[shop][0].clone();
    let partner = partner_token(&keys, external_id, *shop);
    let arrived = post(
        &agent,
        &servers[1].url(&format!("/v1/partner/parcels/{parcel}/arrival")),
        &partner,
        &json!({}),
    )
    .expect("arrival");
    assert_eq!(
        (arrived.status, arrived.body["state"].as_str()),
        (200, Some("at_point")),
        "{}",
        arrived.text
    );
    let read = get(
        &agent,
        &servers[2].url(&format!("/v1/reservations/{parcel}")),
        &merchant,
    )
    .expect("read");
    let code = read.body["pickup_code"]
        .as_str()
        .unwrap_or_else(|| panic!("the first read carries the code: {}", read.text))
        .to_owned();
    let barrier = Barrier::new(50);
    let confirmations: Vec<usize> = (0..50).collect();
    let replies = parallel(50, &confirmations, |k| {
        barrier.wait();
        post(
            &agent,
            &servers[k % 4].url("/v1/partner/handovers"),
            &partner,
            &json!({ "code": code }),
        )
    });
    let mut first = 0;
    let mut unexpected = Vec::new();
    for (k, reply) in replies.iter().enumerate() {
        match reply {
            Ok(r) if r.status == 200 => {
                assert_eq!(
                    (r.body["parcel_id"].as_i64(), r.body["order_ref"].as_str()),
                    (Some(parcel), Some(order_ref.as_str())),
                    "{}",
                    r.text
                );
                match r.body["replay"].as_bool() {
                    Some(false) => first += 1,
                    Some(true) => {}
                    None => unexpected.push(format!("#{k}: {}", r.text)),
                }
            }
            Ok(r) if r.status == 409 => {}
            other => unexpected.push(format!("#{k} on instance {}: {other:?}", k % 4)),
        }
    }
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
    assert_eq!(first, 1, "exactly one confirmation hands the parcel over");
    let mut conn = pool.get().expect("conn");
    let state: String = parcels::table
        .find(parcel)
        .select(parcels::state)
        .first(&mut conn)
        .expect("parcel");
    assert_eq!(state, "picked_up");
    let results: Vec<String> = handover_attempts::table
        .filter(handover_attempts::parcel_id.eq(parcel))
        .select(handover_attempts::result)
        .load(&mut conn)
        .expect("attempts");
    assert_eq!(results.len(), 50, "every attempt is audited");
    assert_eq!(results.iter().filter(|r| *r == "success").count(), 1);
    let picked_up_events: i64 = outbox::table
        .filter(outbox::kind.eq("parcel.picked_up"))
        .count()
        .get_result(&mut conn)
        .expect("outbox");
    assert_eq!(picked_up_events, 1, "one parcel.picked_up event");
    assert_eq!(live(&pool)[shop], 19, "the handover freed one slot");
}

const FOUR_SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
k0,Kiosko Sol,40.4169,-3.7035,30
k1,Estanco Ópera,40.4180,-3.7097,30
k2,Librería Huertas,40.4143,-3.6993,30
k3,Ferretería Lavapiés,40.4088,-3.7010,30
";

/// What one request of the load came to.
type Outcome = Result<Reply, String>;
/// A parcel waiting at its shop: `(parcel id, shop id, pickup code)`.
type Waiting = (i64, i64, String);

fn answered<T>(requests: &[(T, Outcome)]) -> usize {
    requests.iter().filter(|(_, o)| o.is_ok()).count()
}

/// One process serves handovers and new reservations from several threads and is killed with
/// SIGKILL in the middle; a new process on the same database finds everything it answered,
/// consistent counters, and delivers every webhook event at least once.
fn killed_mid_load_loses_nothing(backend: Backend) {
    let db = TestDb::new(backend);
    let pool = db.pool();
    let (keys, shops) = setup(&pool, FOUR_SHOPS);
    let env = [("PUDO_WEBHOOK_POLL_MS", "100")];
    let sink = Sink::start();
    let agent = agent();
    let merchant = merchant_token(&keys, "acme");
    let partners: HashMap<i64, String> = shops
        .iter()
        .map(|(e, id)| (*id, partner_token(&keys, e, *id)))
        .collect();
    let mut first = start(&db.url, 1, &env).pop().expect("a server");
    let hook = reply(
        agent
            .put(first.url("/v1/merchant/webhook"))
            .header("authorization", &format!("Bearer {merchant}"))
            .send_json(json!({ "url": sink.url })),
    )
    .expect("webhook");
    assert_eq!(hook.status, 200, "{}", hook.text);

    // 60 parcels (15 per shop) reserved, arrived, their codes read by the merchant.
    let setup_orders: Vec<(i64, String)> = (0..60)
        .map(|i| (shops[i % 4].1, format!("S-{i:02}")))
        .collect();
    let waiting: Vec<Waiting> = parallel(8, &setup_orders, |(shop, order_ref)| {
        let r = post(
            &agent,
            &first.url("/v1/reservations"),
            &merchant,
            &json!({"pickup_point_id": shop, "order_ref": order_ref}),
        )
        .expect("reserve");
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_i64().expect("id");
        let a = post(
            &agent,
            &first.url(&format!("/v1/partner/parcels/{id}/arrival")),
            &partners[shop],
            &json!({}),
        )
        .expect("arrival");
        assert_eq!(a.status, 200, "{}", a.text);
        let read = get(
            &agent,
            &first.url(&format!("/v1/reservations/{id}")),
            &merchant,
        )
        .expect("read");
        let code = read.body["pickup_code"]
            .as_str()
            .unwrap_or_else(|| panic!("code on first read: {}", read.text))
            .to_owned();
        (id, *shop, code)
    });

    // The load: 3 threads confirm handovers, 3 reserve new orders; SIGKILL once both are
    // well under way, with requests in flight.
    let queue = Mutex::new(waiting.iter().cloned().collect::<VecDeque<_>>());
    let handovers: Mutex<Vec<(Waiting, Outcome)>> = Mutex::new(Vec::new());
    let reservations: Mutex<Vec<((i64, String), Outcome)>> = Mutex::new(Vec::new());
    let next_order = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (handover_url, reserve_url) = (
        first.url("/v1/partner/handovers"),
        first.url("/v1/reservations"),
    );
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Some(item) = queue.lock().expect("lock").pop_front() else {
                        break;
                    };
                    let (_, shop, code) = &item;
                    let outcome = post(
                        &agent,
                        &handover_url,
                        &partners[shop],
                        &json!({ "code": code }),
                    );
                    handovers.lock().expect("lock").push((item, outcome));
                }
            });
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let n = next_order.fetch_add(1, Ordering::Relaxed);
                    if n >= 400 {
                        break;
                    }
                    let shop = shops[n % 4].1;
                    let order_ref = format!("L-{n:03}");
                    let outcome = post(
                        &agent,
                        &reserve_url,
                        &merchant,
                        &json!({"pickup_point_id": shop, "order_ref": order_ref}),
                    );
                    reservations
                        .lock()
                        .expect("lock")
                        .push(((shop, order_ref), outcome));
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline
            && (answered(handovers.lock().expect("lock").as_slice()) < 15
                || answered(reservations.lock().expect("lock").as_slice()) < 15)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        first.sigkill();
        stop.store(true, Ordering::Relaxed);
    });
    let mut handovers = handovers.into_inner().expect("lock");
    let mut reservations = reservations.into_inner().expect("lock");
    assert!(
        answered(&handovers) >= 15 && answered(&reservations) >= 15,
        "the load made progress before the kill: {} handovers, {} reservations answered",
        answered(&handovers),
        answered(&reservations)
    );

    // Before the kill, only the answers the API promises.
    let mut unexpected = Vec::new();
    for ((id, _, _), outcome) in &handovers {
        if let Ok(r) = outcome {
            if !(r.status == 200 && r.body["parcel_id"] == *id && r.body["replay"] == false) {
                unexpected.push(format!("handover of {id}: {} {}", r.status, r.text));
            }
        }
    }
    for ((_, order_ref), outcome) in &reservations {
        if let Ok(r) = outcome {
            if !(r.status == 201 || r.status == 409 && r.body["reason"] == "full") {
                unexpected.push(format!("reservation {order_ref}: {} {}", r.status, r.text));
            }
        }
    }
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
    assert_live_matches_parcels(&pool, "after the kill");

    let (lost_handovers, lost_reservations) = (
        handovers.len() - answered(&handovers),
        reservations.len() - answered(&reservations),
    );

    // Events the dead process had claimed wait out their lease (30 s, see
    // `pickup::webhooks`) before another process may retry them; time that out here. Every
    // other undelivered event is due already.
    let leased;
    {
        let mut conn = pool.get().expect("conn");
        let now = chrono::Utc::now().naive_utc();
        let pending: Vec<(i64, i32, chrono::NaiveDateTime)> = outbox::table
            .filter(outbox::delivered_at.is_null())
            .select((outbox::id, outbox::attempts, outbox::next_attempt_at))
            .load(&mut conn)
            .expect("outbox");
        for (id, attempts, next) in &pending {
            if *next > now {
                assert!(
                    *attempts >= 1 && *next <= now + chrono::Duration::seconds(31),
                    "undelivered event {id} is neither due nor leased: attempts {attempts}, next at {next}"
                );
            }
        }
        leased = diesel::update(
            outbox::table.filter(
                outbox::delivered_at
                    .is_null()
                    .and(outbox::next_attempt_at.gt(now)),
            ),
        )
        .set(outbox::next_attempt_at.eq(now))
        .execute(&mut conn)
        .expect("end the dead process's leases");
    }

    // A new process on the same database; the requests whose answers the kill swallowed are
    // sent again, as a client would: idempotency gives their real outcome.
    let second = start(&db.url, 1, &env).pop().expect("a server");
    for ((id, shop, code), outcome) in &mut handovers {
        if outcome.is_err() {
            let r = post(
                &agent,
                &second.url("/v1/partner/handovers"),
                &partners[shop],
                &json!({ "code": code }),
            )
            .expect("handover retried");
            assert!(
                r.status == 200 && r.body["parcel_id"] == *id,
                "retried handover of {id}: {}",
                r.text
            );
            *outcome = Ok(r);
        }
    }
    for ((shop, order_ref), outcome) in &mut reservations {
        if outcome.is_err() {
            let r = post(
                &agent,
                &second.url("/v1/reservations"),
                &merchant,
                &json!({"pickup_point_id": shop, "order_ref": order_ref}),
            )
            .expect("reservation retried");
            assert!(
                [200, 201].contains(&r.status) || r.status == 409 && r.body["reason"] == "full",
                "retried reservation {order_ref}: {}",
                r.text
            );
            *outcome = Ok(r);
        }
    }

    // Every handover answered 200 has its parcel picked up, audited as one success.
    let mut conn = pool.get().expect("conn");
    let stored = all_parcels(&pool);
    let state: HashMap<i64, &str> = stored
        .iter()
        .map(|(id, _, _, s)| (*id, s.as_str()))
        .collect();
    let successes: Vec<i64> = handover_attempts::table
        .filter(handover_attempts::result.eq("success"))
        .select(handover_attempts::parcel_id.assume_not_null())
        .load(&mut conn)
        .expect("attempts");
    let confirmed: HashSet<i64> = handovers.iter().map(|((id, _, _), _)| *id).collect();
    for (id, _, _) in &waiting {
        let expected = if confirmed.contains(id) {
            "picked_up"
        } else {
            "at_point"
        };
        assert_eq!(state[id], expected, "parcel {id}");
        assert_eq!(
            successes.iter().filter(|p| *p == id).count(),
            usize::from(confirmed.contains(id)),
            "success rows of parcel {id}"
        );
    }

    // Every reservation answered 201/200 exists exactly once, at its shop; one answered only
    // 409 does not exist; no order_ref exists twice.
    let mut rows: HashMap<&str, Vec<i64>> = HashMap::new();
    for (_, shop, order_ref, _) in &stored {
        rows.entry(order_ref.as_str()).or_default().push(*shop);
    }
    assert!(
        rows.values().all(|v| v.len() == 1),
        "an order_ref exists twice"
    );
    assert_eq!(
        stored.len(),
        rows.len(),
        "no order_ref exists twice (one merchant)"
    );
    for ((shop, order_ref), outcome) in &reservations {
        let r = outcome.as_ref().expect("answered");
        if r.status == 409 {
            assert!(
                !rows.contains_key(order_ref.as_str()),
                "{order_ref} was refused yet exists"
            );
        } else {
            assert_eq!(
                rows.get(order_ref.as_str()),
                Some(&vec![*shop]),
                "{order_ref} answered {}",
                r.status
            );
        }
    }
    let known: HashSet<&str> = setup_orders
        .iter()
        .map(|(_, o)| o.as_str())
        .chain(reservations.iter().map(|((_, o), _)| o.as_str()))
        .collect();
    assert!(
        rows.keys().all(|o| known.contains(o)),
        "every stored order_ref was requested"
    );
    assert_live_matches_parcels(&pool, "after the restart");
    for (shop, live) in live(&pool) {
        assert!(live <= 30, "shop {shop} holds {live} parcels, capacity 30");
    }

    // One event per committed change, and every one reaches the sink (at least once).
    let events: Vec<(String, String)> = outbox::table
        .select((outbox::event_id, outbox::kind))
        .load(&mut conn)
        .expect("outbox");
    let count = |kind: &str| events.iter().filter(|(_, k)| k == kind).count();
    assert_eq!(count("reservation.created"), stored.len());
    assert_eq!(
        count("parcel.arrived"),
        waiting.len(),
        "one arrival event per arrived parcel"
    );
    assert_eq!(
        count("parcel.picked_up"),
        stored.iter().filter(|p| p.3 == "picked_up").count()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = pudo::pickup::outbox::pending(&mut conn).expect("pending");
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} events still undelivered 30 s after the restart:\n{}",
            second.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let received: Vec<String> = sink
        .received
        .lock()
        .expect("lock")
        .iter()
        .map(|r| r.headers["pudo-event-id"].clone())
        .collect();
    let distinct: HashSet<&str> = received.iter().map(String::as_str).collect();
    let ids: HashSet<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
    let missing: Vec<&&str> = ids.difference(&distinct).collect();
    assert!(missing.is_empty(), "events never delivered: {missing:?}");
    assert!(
        distinct.is_subset(&ids),
        "the sink received events that are not in the outbox"
    );
    eprintln!(
        "{backend:?}: killed with {} handovers and {} reservations answered, {lost_handovers} \
         and {lost_reservations} unanswered (in flight or refused); {leased} events leased by the dead process; \
         {} events, {} deliveries",
        handovers.len() - lost_handovers,
        reservations.len() - lost_reservations,
        ids.len(),
        received.len()
    );
}

#[test]
fn killed_mid_load_loses_nothing_postgres() {
    killed_mid_load_loses_nothing(Backend::Postgres);
}

/// The same on a Citus coordinator (`PUDO_TEST_CITUS_URL`; nothing without it).
#[test]
fn killed_mid_load_loses_nothing_citus() {
    if crate::support::citus_url().is_some() {
        killed_mid_load_loses_nothing(Backend::Citus);
    }
}

#[test]
fn killed_mid_load_loses_nothing_sqlite() {
    killed_mid_load_loses_nothing(Backend::Sqlite);
}
