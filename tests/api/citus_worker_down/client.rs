//! The worker-down test's own cluster, and an HTTP client that keeps what the test looks at
//! in each answer.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The cluster's coordinator port; the workers take the next two (inside the range kept for
/// Citus tests, 25432-25440, above the shared cluster's 25432-25434).
pub(super) const PORT: u16 = 25437;

/// The cluster of this test; taken down when dropped.
pub(super) struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn run(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Command::new(root.join("deploy/citus/cluster.sh"))
            .args(args)
            .env("CITUS_DIR", &self.dir)
            .env("CITUS_PORT", PORT.to_string())
            .env("WORKERS", "2")
            .output()
    }

    /// Runs `deploy/citus/cluster.sh ARGS` on this cluster; its stdout.
    pub(super) fn script(&self, args: &[&str]) -> String {
        let out = self.run(args).expect("run deploy/citus/cluster.sh");
        assert!(
            out.status.success(),
            "cluster.sh {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A new cluster (one left by an interrupted run is removed first) and its URL.
    pub(super) fn up() -> (Self, String) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/citus-worker-down");
        let cluster = Self { dir };
        cluster.script(&["down"]);
        let url = cluster.script(&["up"]);
        let url = url.lines().last().expect("the URL").to_owned();
        (cluster, url)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(&["down"]);
    }
}

/// An answer with the headers this test looks at.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Answer {
    /// Asserts a 503 `application/problem+json` of type `unavailable` with `Retry-After`.
    pub fn assert_unavailable(&self, what: &str) {
        assert_eq!(self.status, 503, "{what}: {self:?}");
        assert_eq!(self.content_type, "application/problem+json", "{what}");
        assert_eq!(
            self.body["type"], "https://pudo.dev/problems/unavailable",
            "{what}"
        );
        assert!(self.retry_after.is_some(), "{what}: no Retry-After");
    }
}

/// One `pudo serve` seen through HTTP, remembering the slowest answer.
pub(super) struct Client {
    agent: ureq::Agent,
    base: String,
    pub slowest: std::cell::Cell<Duration>,
}

impl Client {
    /// A client of the server at `base` (`http://host:port`).
    pub fn new(base: String) -> Self {
        Self {
            agent: crate::load::http::agent(),
            base,
            slowest: std::cell::Cell::new(Duration::ZERO),
        }
    }

    /// `GET path` with `token` (none: no authorization header).
    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, token, None)
    }

    /// `POST path` with `token` and a JSON body (`{}` when none).
    pub fn post(&self, path: &str, token: &str, body: Option<Value>) -> Answer {
        self.call("POST", path, token, Some(body.unwrap_or(json!({}))))
    }

    /// `PUT path` with `token` and a JSON body.
    pub fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("PUT", path, token, Some(body))
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        let auth = format!("Bearer {token}");
        let res = match (method, body) {
            ("GET", _) if token.is_empty() => self.agent.get(&url).call(),
            ("GET", _) => self.agent.get(&url).header("authorization", &auth).call(),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("authorization", &auth)
                .send_json(b),
            (_, b) => self
                .agent
                .post(&url)
                .header("authorization", &auth)
                .send_json(b.unwrap_or(json!({}))),
        };
        let mut res = res.unwrap_or_else(|e| panic!("{method} {url}: no answer: {e}"));
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after");
        let text = res.body_mut().read_to_string().unwrap_or_default();
        self.slowest.set(self.slowest.get().max(started.elapsed()));
        Answer {
            status: res.status().as_u16(),
            content_type,
            retry_after,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// `/metrics` as text.
    pub fn metrics(&self) -> String {
        self.agent
            .get(format!("{}/metrics", self.base))
            .call()
            .expect("metrics")
            .body_mut()
            .read_to_string()
            .expect("text")
    }
}

/// Failures collected instead of stopping at the first, so that one run lists them all.
#[derive(Default)]
pub(super) struct Failures(Vec<String>);

impl Failures {
    /// Records `what` unless `a` has status `want`; returns `a`.
    pub fn expect(&mut self, who: &str, what: &str, a: Answer, want: u16) -> Answer {
        if a.status != want {
            self.0
                .push(format!("{who}: {what}: {} {}", a.status, a.body));
        }
        a
    }

    /// Panics listing every failure, if any.
    pub fn assert_none(&self, context: &str) {
        assert!(self.0.is_empty(), "{context}:\n{}", self.0.join("\n"));
    }
}
