//! The cluster of `deploy/ha/cluster.sh` as the fault test drives it: which node is the primary,
//! killing it, the monitor's events, a schema of the test's own, and `pudo serve` inside the
//! network namespace of `deploy/ha/netns.sh`.

use crate::load::http::agent;
use pudo::db::DatabaseUrl;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The cluster under test.
pub(super) struct Cluster {
    pub(super) url: String,
    dir: PathBuf,
    root: PathBuf,
}

impl Cluster {
    pub(super) fn from_env() -> Option<Self> {
        let url = std::env::var("PUDO_TEST_HA_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::var_os("PUDO_TEST_HA_DIR")
            .map_or_else(|| root.join("target/ha-cluster"), PathBuf::from);
        Some(Self { url, dir, root })
    }

    /// Runs `deploy/ha/SCRIPT ARG`; its report (stderr) is printed; returns stdout's last line.
    pub(super) fn script(&self, script: &str, arg: &str) -> String {
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
    pub(super) fn primary_port(&self) -> u16 {
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
    pub(super) fn kill_primary_node(&self) -> String {
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
    pub(super) fn monitor_events(&self, since: SystemTime) -> Vec<String> {
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
pub(super) struct Schema {
    url: String,
    name: String,
}

impl Schema {
    pub(super) fn new(base: &str) -> Self {
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
    pub(super) fn on(&self, url: &str) -> String {
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
pub(super) struct NsServer {
    child: Child,
    pub(super) base: String,
    log: tempfile::NamedTempFile,
}

impl NsServer {
    pub(super) fn spawn(
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
    pub(super) fn log(&self) -> String {
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
pub(super) struct Netns<'a>(pub(super) &'a Cluster);

impl Drop for Netns<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.0.root.join("deploy/ha/netns.sh"))
            .arg("down")
            .status();
    }
}
