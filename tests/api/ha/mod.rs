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
mod report;

use crate::load::http::{agent, reply};
use crate::processes::{merchant_token, partner_token, setup, start, Server};
use crate::webhook_sink::Sink;
use client::{Fixture, Tally};
use pudo::db::DatabaseUrl;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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

/// The cluster under test.
struct Cluster {
    url: String,
    dir: PathBuf,
    root: PathBuf,
}

impl Cluster {
    fn from_env() -> Option<Self> {
        let url = std::env::var("PUDO_TEST_HA_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::var_os("PUDO_TEST_HA_DIR")
            .map_or_else(|| root.join("target/ha-cluster"), PathBuf::from);
        Some(Self { url, dir, root })
    }

    /// Runs `deploy/ha/SCRIPT ARG`; its report (stderr) is printed; returns stdout's last line.
    fn script(&self, script: &str, arg: &str) -> String {
        let out = Command::new(self.root.join("deploy/ha").join(script))
            .arg(arg)
            .env("HA_DIR", &self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{script} {arg}: {e}"));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "{script} {arg} failed: {}",
            out.status
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout.lines().last().unwrap_or("").to_owned()
    }

    /// The port of the node the URL reaches for writes.
    fn primary_port(&self) -> u16 {
        #[derive(diesel::QueryableByName)]
        struct Port {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            port: i32,
        }
        let url = DatabaseUrl::parse(&self.url).expect("PUDO_TEST_HA_URL is a postgres:// URL");
        let mut conn = url
            .connect()
            .unwrap_or_else(|e| panic!("the HA cluster at {} is not reachable: {e}", self.url));
        let p: Port = diesel::RunQueryDsl::get_result(
            diesel::sql_query("SELECT inet_server_port() AS port"),
            &mut conn,
        )
        .expect("port");
        u16::try_from(p.port).expect("a port")
    }

    /// SIGKILLs every process of the node serving writes (its keeper, the keeper's children,
    /// its postmaster and backends), as a machine loss; returns the node's name.
    fn kill_primary_node(&self) -> String {
        let port = self.primary_port().to_string();
        for node in ["node1", "node2"] {
            let data = self.dir.join(node);
            let pidfile = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            let lines: Vec<&str> = pidfile.lines().collect();
            if lines.get(3) != Some(&port.as_str()) {
                continue;
            }
            let postmaster: u32 = lines[0].trim().parse().expect("postmaster pid");
            // pg_autoctl keeps its pid under XDG_RUNTIME_DIR/pg_autoctl<absolute data dir>.
            let keeper_file = format!(
                "{}/xdg/run/pg_autoctl{}/pg_autoctl.pid",
                self.dir.display(),
                data.display()
            );
            let keeper: u32 = std::fs::read_to_string(&keeper_file)
                .unwrap_or_else(|e| panic!("{keeper_file}: {e}"))
                .lines()
                .next()
                .and_then(|l| l.trim().parse().ok())
                .expect("keeper pid");
            let victims = descendants(&[keeper, postmaster]);
            // A short-lived child may exit between the listing and the kill: kill's status is
            // not the test; that the keeper and the postmaster are gone is.
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(victims.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status()
                .expect("kill");
            for pid in [keeper, postmaster] {
                let alive = || {
                    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                        !s.rsplit_once(')')
                            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
                    })
                };
                let deadline = Instant::now() + Duration::from_secs(5);
                while alive() {
                    assert!(Instant::now() < deadline, "process {pid} survived SIGKILL");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            return format!(
                "{node} (port {port}; keeper {keeper}, postmaster {postmaster}, {} processes)",
                victims.len()
            );
        }
        panic!(
            "no node of {} has postmaster.pid with port {port}",
            self.dir.display()
        );
    }

    /// The monitor's events since `since`, as seconds after it (where the failover's time goes).
    fn monitor_events(&self, since: SystemTime) -> Vec<String> {
        let port: u16 = std::env::var("HA_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(26432);
        let epoch = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("time")
            .as_secs_f64();
        let sql = format!(
            "SELECT round((extract(epoch from eventtime) - {epoch})::numeric, 2) || ' s  ' || nodename \
             || ': reported ' || reportedstate || ', goal ' || goalstate FROM pgautofailover.event \
             WHERE eventtime > to_timestamp({epoch}) ORDER BY eventid"
        );
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .args(["-U", "postgres", "-d", "pg_auto_failover", "-c", &sql])
            .output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect(),
            Err(e) => vec![format!("(monitor not read: {e})")],
        }
    }
}

/// `roots` and every process below them, from /proc.
fn descendants(roots: &[u32]) -> Vec<u32> {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The parent is the second field after the command name, which may hold spaces.
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        {
            if let Ok(ppid) = ppid.parse() {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let (mut found, mut todo) = (Vec::new(), roots.to_vec());
    while let Some(pid) = todo.pop() {
        if !found.contains(&pid) {
            found.push(pid);
            todo.extend(children.get(&pid).into_iter().flatten());
        }
    }
    found
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A fresh schema in the cluster's database, dropped at the end.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(base: &str) -> Self {
        let name = format!("ha_{}_{}", std::process::id(), nanos());
        let mut admin = DatabaseUrl::parse(base)
            .expect("url")
            .connect()
            .expect("connect");
        diesel::connection::SimpleConnection::batch_execute(
            &mut admin,
            &format!("CREATE SCHEMA {name}"),
        )
        .expect("create schema");
        Self {
            url: base.to_owned(),
            name,
        }
    }

    /// `url` with this schema as its search path.
    fn on(&self, url: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut admin) = DatabaseUrl::parse(&self.url).expect("url").connect() {
            let _ = diesel::connection::SimpleConnection::batch_execute(
                &mut admin,
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            );
        }
    }
}

/// A `pudo serve` inside the namespace of `deploy/ha/netns.sh`; killed when dropped.
struct NsServer {
    child: Child,
    base: String,
    log: tempfile::NamedTempFile,
}

impl NsServer {
    fn spawn(
        netns: &str,
        inside: &str,
        port: u16,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new("ip");
        command.args(["netns", "exec", netns, env!("CARGO_BIN_EXE_pudo"), "serve"]);
        for (name, _) in std::env::vars() {
            if name.starts_with("PUDO_") {
                command.env_remove(name);
            }
        }
        let child = command
            .env("DATABASE_URL", database_url)
            .env("PUDO_SEED", "none")
            .env("PUDO_BIND", format!("{inside}:{port}"))
            .env("RUST_LOG", "warn")
            .env("PUDO_WORKERS", "2")
            .env("PUDO_DB_POOL", "8")
            .env("PUDO_JWT_SECRET", crate::processes::JWT_SECRET)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.reopen().expect("log")))
            .stderr(Stdio::from(log.reopen().expect("log")))
            .spawn()
            .expect("ip netns exec pudo serve");
        let server = Self {
            child,
            base: format!("http://{inside}:{port}"),
            log,
        };
        let agent = agent();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !agent
            .get(format!("{}/readyz", server.base))
            .call()
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "{} not ready within 30 s",
                server.base
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

impl NsServer {
    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for NsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Takes the namespace down again however the test ends.
struct Netns<'a>(&'a Cluster);

impl Drop for Netns<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.0.root.join("deploy/ha/netns.sh"))
            .arg("down")
            .status();
    }
}

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
