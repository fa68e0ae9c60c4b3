//! The fault test (issue 17, section 2), on the pg_auto_failover cluster of
//! `deploy/ha/cluster.sh` named by `PUDO_TEST_HA_URL` (its multi-host URL; without it these
//! tests do nothing, with it set they fail if the cluster cannot be reached). `.ci/run` starts
//! the cluster, runs them, and takes it down again (docs/operations.md, "The fault test").
//!
//! - [`primary_lost_twice_loses_nothing`]: two `pudo serve` on the multi-host URL under the
//!   mixed load of [`client`]; the primary node is killed with SIGKILL (its postmaster, found by
//!   `postmaster.pid`, and its keeper: killing the postmaster alone only makes the keeper start
//!   it again, with no failover), pg_auto_failover promotes the secondary; the killed node's
//!   keeper is started again as a service manager would and it rejoins as the secondary; then
//!   a failover back is forced (`cluster.sh failover`), the load still running.
//! - [`network_cut_recovers_by_itself`]: the same load against two `pudo serve` in a network
//!   namespace of the test's own (`deploy/ha/netns.sh`), whose packets to and from the database
//!   are dropped for 10 s.
//!
//! Afterwards every answer is checked against the database ([`check`]), every webhook event
//! must reach the test's receiver, and no answer may be a 500. Timings are printed, not
//! asserted (BENCHMARKS.md, "Failover"). `PUDO_TEST_HA_DIR` is the cluster's directory
//! (default `target/ha-cluster`); `HA_PORT` as for `cluster.sh`.

mod check;
mod client;
mod cluster;
mod report;

use crate::load::http::{agent, reply};
use crate::processes::{merchant_token, partner_token, setup, start, Server};
use crate::webhook_sink::Sink;
use client::{Fixture, Tally};
use cluster::{Cluster, Netns, NsServer, Schema};
use pudo::db::DatabaseUrl;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// The tests share one cluster: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
/// Load clients (threads), spread over both instances.
const CLIENTS: usize = 12;

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
h0,Kiosko Sol,40.4169,-3.7035,300
h1,Estanco Ópera,40.4180,-3.7097,300
h2,Librería Huertas,40.4143,-3.6993,300
h3,Ferretería Lavapiés,40.4088,-3.7010,300
h4,Papelería Chueca,40.4229,-3.6974,300
h5,Mercería Latina,40.4110,-3.7090,8
";

/// The shops imported and the tokens for the load; the merchant subscribed to `sink`.
fn fixture(pool: &pudo::db::Pool, bases: Vec<String>, sink: &Sink) -> Fixture {
    let (keys, shops) = setup(pool, SHOPS);
    let merchant = merchant_token(&keys, "acme");
    let hook = reply(
        agent()
            .put(format!("{}/v1/merchant/webhook", bases[0]))
            .header("authorization", &format!("Bearer {merchant}"))
            .send_json(serde_json::json!({ "url": sink.url })),
    )
    .expect("webhook");
    assert_eq!(hook.status, 200, "{}", hook.text);
    Fixture {
        bases,
        merchant,
        shops: shops
            .iter()
            .map(|(e, id)| (*id, partner_token(&keys, e, *id)))
            .collect(),
    }
}

/// Runs the load on another thread while `faults` runs here; returns the load's tally.
fn under_load(
    fixture: &Fixture,
    prefix: &str,
    started: Instant,
    faults: impl FnOnce(&AtomicUsize),
) -> Tally {
    let stop = AtomicBool::new(false);
    let last_write_ok = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let load =
            s.spawn(|| client::run(fixture, CLIENTS, prefix, started, &stop, &last_write_ok));
        faults(&last_write_ok);
        stop.store(true, Ordering::Relaxed);
        load.join().expect("the load panicked")
    })
}

/// Waits (bounded) until a write sent after `after` (run time) is answered 2xx.
fn wait_for_write(last_write_ok: &AtomicUsize, after: Duration, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Duration::from_millis(last_write_ok.load(Ordering::Relaxed) as u64) <= after {
        assert!(
            Instant::now() < deadline,
            "no write answered 2xx within 120 s of {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The primary node killed, then a failover back, under load: nothing lost, no 500.
#[test]
fn primary_lost_twice_loses_nothing() {
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    cluster.script("cluster.sh", "up");
    let schema = Schema::new(&cluster.url);
    let url = schema.on(&cluster.url);
    let pool = pudo::db::pool(&DatabaseUrl::parse(&url).expect("url"), 2).expect("pool");
    pudo::db::run_migrations(&mut pool.get().expect("conn")).expect("migrations");
    let sink = Sink::start();
    let env = [("PUDO_WEBHOOK_POLL_MS", "100")];
    let servers: Vec<Server> = start(&url, 2, &env);
    let fixture = fixture(
        &pool,
        servers.iter().map(|s| s.base.clone()).collect(),
        &sink,
    );
    drop(pool);

    let started = Instant::now();
    let mut faults = Vec::new();
    let tally = under_load(&fixture, "F", started, |last_write_ok| {
        std::thread::sleep(Duration::from_secs(8));
        let (at, wall) = (started.elapsed(), SystemTime::now());
        let node = cluster.kill_primary_node();
        eprintln!(
            "t={:.1} s: SIGKILL to the primary node {node}",
            at.as_secs_f64()
        );
        // Writes sent from now on can only succeed on a new primary.
        wait_for_write(last_write_ok, started.elapsed(), "the kill");
        for line in cluster.monitor_events(wall) {
            eprintln!("  monitor: t=+{line}");
        }
        faults.push(("primary node killed (SIGKILL)", at));
        // The killed node's keeper is started again, as its service manager would; the node
        // rejoins as the secondary. Then a failover back to it, planned.
        std::thread::sleep(Duration::from_secs(3));
        let t = Instant::now();
        cluster.script("cluster.sh", "up");
        eprintln!(
            "the killed node rejoined as the secondary in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        std::thread::sleep(Duration::from_secs(3));
        let (at, wall) = (started.elapsed(), SystemTime::now());
        eprintln!(
            "t={:.1} s: failover back (cluster.sh failover)",
            at.as_secs_f64()
        );
        cluster.script("cluster.sh", "failover");
        wait_for_write(last_write_ok, at, "the failover");
        for line in cluster.monitor_events(wall) {
            eprintln!("  monitor: t=+{line}");
        }
        faults.push(("failover back (pg_autoctl perform failover)", at));
        std::thread::sleep(Duration::from_secs(6));
    });
    report::finish(
        &cluster.url,
        &schema,
        &servers_logs(&servers),
        &sink,
        &tally,
        &faults,
        "failover",
    );
}

fn servers_logs(servers: &[Server]) -> String {
    servers
        .iter()
        .map(Server::log)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The instances' own network to the database cut for 10 s (packets dropped): they recover by
/// themselves, nothing lost, no 500.
#[test]
fn network_cut_recovers_by_itself() {
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    cluster.script("cluster.sh", "up");
    let inside_url = cluster.script("netns.sh", "up");
    let _netns = Netns(&cluster);
    let schema = Schema::new(&cluster.url);
    let pool = pudo::db::pool(
        &DatabaseUrl::parse(&schema.on(&cluster.url)).expect("url"),
        2,
    )
    .expect("pool");
    pudo::db::run_migrations(&mut pool.get().expect("conn")).expect("migrations");
    // The namespace reaches this side at HA_NET.1 (netns.sh): the webhook receiver listens there.
    let net = std::env::var("HA_NET").unwrap_or_else(|_| "10.231.0".into());
    let sink = Sink::start_on(&format!("{net}.1"));
    let env = [("PUDO_WEBHOOK_POLL_MS", "100")];
    let ns = std::env::var("HA_NETNS").unwrap_or_else(|_| "pudoha".into());
    let url = schema.on(&inside_url);
    let servers: Vec<NsServer> = [8080, 8081]
        .iter()
        .map(|port| NsServer::spawn(&ns, &format!("{net}.2"), *port, &url, &env))
        .collect();
    let fixture = fixture(
        &pool,
        servers.iter().map(|s| s.base.clone()).collect(),
        &sink,
    );
    drop(pool);

    let started = Instant::now();
    let mut faults = Vec::new();
    let tally = under_load(&fixture, "N", started, |last_write_ok| {
        std::thread::sleep(Duration::from_secs(8));
        let at = started.elapsed();
        cluster.script("netns.sh", "cut");
        eprintln!("t={:.1} s: network cut", at.as_secs_f64());
        faults.push(("network cut (10 s)", at));
        std::thread::sleep(Duration::from_secs(10));
        let back = started.elapsed();
        cluster.script("netns.sh", "restore");
        eprintln!("t={:.1} s: network back", back.as_secs_f64());
        wait_for_write(last_write_ok, back, "the network's return");
        faults.push(("network back", back));
        std::thread::sleep(Duration::from_secs(6));
    });
    let logs: Vec<String> = servers.iter().map(NsServer::log).collect();
    report::finish(
        &cluster.url,
        &schema,
        &logs.join("\n"),
        &sink,
        &tally,
        &faults,
        "network cut",
    );
}
