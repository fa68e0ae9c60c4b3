//! The test harness: a fresh database per test on either backend, and an app to call.
//!
//! SQLite databases are files in a temporary directory. PostgreSQL tests each get a fresh
//! schema in the database named by `PUDO_TEST_DATABASE_URL` (default: the local server at
//! `postgres://postgres@127.0.0.1:5432/test`); a test that cannot reach it fails.
//!
//! With `PUDO_TEST_CITUS_URL` set (a Citus coordinator, e.g. the last line of
//! `deploy/citus/cluster.sh up`), every `on_both_backends!` test also runs on it, in a fresh
//! schema that the migrations distribute; unset, those third runs pass without doing anything,
//! and set but unreachable, they fail.

use actix_web::http::StatusCode;
use actix_web::test;
use pudo::api::{self, metrics::Metrics, AppState};
use pudo::auth::keys::JwtSource;
use pudo::auth::{Keys, Role};
use pudo::db::{self, DatabaseUrl};
use pudo::network::service::Network;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// A Citus coordinator (`PUDO_TEST_CITUS_URL`): PostgreSQL, distributed by region.
    Citus,
}

/// The Citus coordinator the Citus runs use, if `PUDO_TEST_CITUS_URL` is set (and not empty).
pub fn citus_url() -> Option<String> {
    std::env::var("PUDO_TEST_CITUS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A fresh, migrated database that is dropped with the value.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

fn postgres_base_url() -> String {
    std::env::var("PUDO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("pudo.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    schema: None,
                }
            }
            Backend::Postgres | Backend::Citus => {
                static N: AtomicU32 = AtomicU32::new(0);
                let base = if backend == Backend::Citus {
                    citus_url().expect("PUDO_TEST_CITUS_URL is set for a Citus test")
                } else {
                    postgres_base_url()
                };
                let name = format!(
                    "t_{}_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed),
                    nanos()
                );
                let mut admin = DatabaseUrl::parse(&base)
                    .expect("PUDO_TEST_DATABASE_URL must be a postgres:// URL")
                    .connect()
                    .unwrap_or_else(|e| panic!("PostgreSQL at {base} is not reachable: {e}"));
                diesel::connection::SimpleConnection::batch_execute(
                    &mut admin,
                    &format!("CREATE SCHEMA {name}"),
                )
                .expect("create schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{name}");
                Self {
                    url,
                    _dir: None,
                    schema: Some((base, name)),
                }
            }
        }
    }

    pub fn pool(&self) -> db::Pool {
        let url = DatabaseUrl::parse(&self.url).expect("url");
        let pool = db::pool(&url, 4).expect("pool");
        db::run_migrations(&mut pool.get().expect("conn")).expect("migrations");
        pool
    }
}

/// Application state over a pool and the network that follows it, with keys generated in its
/// database.
pub fn state_for(pool: db::Pool, network: Network) -> AppState {
    let keys = Keys::load(
        &mut pool.get().expect("conn"),
        &JwtSource::Generated,
        "pudo",
        "pudo-api",
    )
    .expect("keys");
    let path = pudo::pickup::WritePath::for_database(&mut pool.get().expect("conn")).expect("path");
    let is_sqlite = matches!(*pool.get().expect("conn"), db::DbConn::Sqlite(_));
    let writes = pudo::config::WriteOverrides::default().apply(path, is_sqlite, 4);
    let writes = pudo::pickup::Writes::start(
        pool.clone(),
        writes,
        *keys.data_key(),
        chrono::Duration::days(7),
    )
    .expect("writers");
    AppState {
        writes: Arc::new(writes),
        pool,
        network: Arc::new(network),
        metrics: Arc::new(Metrics::new().expect("metrics")),
        max_upload_bytes: 8 * 1024 * 1024,
        keys: Arc::new(keys),
        partner_token_ttl: chrono::Duration::minutes(60),
        hold: chrono::Duration::days(7),
        hold_extension_max_days: 7,
        token_rate_limit: Arc::new(api::rate_limit::RateLimit::new(30, 10, Vec::new())),
        scan_in_limit: chrono::Duration::minutes(30),
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = &self.schema {
            if let Ok(mut admin) = DatabaseUrl::parse(base).expect("url").connect() {
                let _ = diesel::connection::SimpleConnection::batch_execute(
                    &mut admin,
                    &format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
                );
            }
        }
    }
}

/// Puts `units` received staged units of `sku` at a shop, as a receipt does: each takes an L
/// slot of the shop (panics when they do not fit).
pub fn stage(app: &TestApp, shop: i64, sku: &str, units: i32) {
    use diesel::Connection;
    let mut conn = app.state.pool.get().expect("conn");
    conn.transaction(|conn| -> diesel::QueryResult<()> {
        let region = pudo::network::load::lock(conn, shop)?.expect("shop");
        let now = chrono::Utc::now().naive_utc();
        assert!(
            pudo::network::load::take_slots_for_stock(conn, shop, region, [0, 0, units], now)?,
            "{units} staged units do not fit shop {shop}"
        );
        pudo::staging::stock::add(conn, shop, sku, region, [0, 0, units])
    })
    .expect("stage");
}

/// The application over a fresh database with an empty network.
pub struct TestApp {
    /// Held so the database lives as long as the app.
    #[allow(dead_code, reason = "kept for its Drop")]
    pub db: TestDb,
    pub state: AppState,
}

/// An answer: status, content type and JSON body (`Value::Null` when not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    pub fn new(backend: Backend) -> Self {
        let db = TestDb::new(backend);
        let pool = db.pool();
        let network = Network::new(pool.clone());
        network.refresh().expect("load index");
        let state = state_for(pool, network);
        Self { db, state }
    }

    /// A bearer token for a merchant, planner or admin.
    pub fn token(&self, role: Role, sub: &str) -> String {
        self.state
            .keys
            .issue(sub, role, None, chrono::Duration::minutes(30))
            .expect("token")
    }

    /// A partner token for the shop with this external id.
    pub fn partner_token(&self, external_id: &str) -> String {
        let id = self.shop_id(external_id);
        self.state
            .keys
            .issue(
                &format!("shop:{external_id}"),
                Role::Partner,
                Some(id),
                chrono::Duration::minutes(30),
            )
            .expect("token")
    }

    pub fn shop_id(&self, external_id: &str) -> i64 {
        use diesel::prelude::*;
        use pudo::db::schema::shops;
        shops::table
            .filter(shops::external_id.eq(external_id))
            .select(shops::id)
            .first(&mut *self.state.pool.get().expect("conn"))
            .expect("shop exists")
    }

    pub async fn post(&self, uri: &str, token: &str, body: serde_json::Value) -> Answer {
        self.call(
            test::TestRequest::post()
                .uri(uri)
                .insert_header(("authorization", format!("Bearer {token}")))
                .set_json(body),
        )
        .await
    }

    pub async fn get_as(&self, uri: &str, token: &str) -> Answer {
        self.call(
            test::TestRequest::get()
                .uri(uri)
                .insert_header(("authorization", format!("Bearer {token}"))),
        )
        .await
    }

    /// Imports a CSV through the domain (not HTTP), for setting up a network.
    pub fn with_csv(self, csv: &str) -> Self {
        self.state
            .network
            .import_file(
                csv.as_bytes(),
                pudo::network::import::Format::Csv,
                &mut |_| {},
            )
            .expect("fixture imports");
        self
    }

    pub async fn call(&self, req: test::TestRequest) -> Answer {
        let app = test::init_service(api::app(self.state.clone())).await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = test::read_body(res).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            body,
            text,
        }
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.call(test::TestRequest::get().uri(uri)).await
    }

    /// The network as `pudo export network` writes it.
    pub fn export(&self, format: pudo::network::import::Format) -> Vec<u8> {
        let mut file = Vec::new();
        pudo::network::export::export(
            &mut self.state.pool.get().expect("conn"),
            format,
            &mut file,
            &mut |_, _| {},
        )
        .expect("export");
        file
    }

    /// The header line of an exported CSV file.
    pub fn csv_header(file: &[u8]) -> String {
        String::from_utf8_lossy(file)
            .lines()
            .next()
            .expect("header")
            .to_owned()
    }

    /// A fresh app on `backend` with `file` imported through the domain.
    pub fn imported(backend: Backend, file: &[u8], format: pudo::network::import::Format) -> Self {
        let app = Self::new(backend);
        app.state
            .network
            .import_file(file, format, &mut |_| {})
            .expect("the file imports");
        app
    }

    pub fn shop_count(&self) -> i64 {
        pudo::network::store::count(&mut self.state.pool.get().expect("conn")).expect("count")
    }
}

impl Answer {
    /// Asserts a problem+json answer with this status; returns its body.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content type {}",
            self.content_type
        );
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "detail in {}",
            self.text
        );
        &self.body
    }

    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text);
        &self.body
    }

    pub fn ids(&self) -> Vec<i64> {
        self.ok()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_i64().expect("id"))
            .collect()
    }

    pub fn external_ids(&self) -> Vec<String> {
        self.ok()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["external_id"].as_str().expect("external_id").to_owned())
            .collect()
    }
}

/// Runs an async test body once on SQLite and once on PostgreSQL, and a third time on Citus
/// when `PUDO_TEST_CITUS_URL` is set (`cargo test --test api citus` runs only those).
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await
            }
            #[actix_web::test]
            async fn citus() {
                if $crate::support::citus_url().is_some() {
                    super::$name($crate::support::Backend::Citus).await
                }
            }
        }
    };
}
