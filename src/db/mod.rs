//! Storage: one diesel code base on SQLite (the embedded default) and PostgreSQL.
//!
//! The backend is chosen from the URL scheme, never by trying connections in turn (SQLite
//! would accept any string as a file name). Connections come from an r2d2 pool whose manager
//! applies the per-connection SQLite PRAGMAs. Where SQL must differ (upserts), the function
//! concerned matches on [`DbConn`] once.
//!
//! Rule for write transactions: start them with a write. On SQLite a deferred transaction that
//! reads first cannot later upgrade to a write lock if another writer committed in between.

pub mod checkpoint;
pub mod citus;
pub mod schema;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

/// Migrations for SQLite, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// Migrations for PostgreSQL, embedded in the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock that serialises migrations of concurrent instances.
const MIGRATION_LOCK: i64 = 0x7075_646f; // "pudo"

pub use conn::DbConn;

#[allow(
    missing_docs,
    reason = "the MultiConnection derive generates undocumented items"
)]
mod conn {
    use diesel::{PgConnection, SqliteConnection};

    /// A connection to either backend.
    #[derive(diesel::MultiConnection)]
    pub enum DbConn {
        /// PostgreSQL, for production and several instances.
        Postgres(PgConnection),
        /// SQLite, the embedded default.
        Sqlite(SqliteConnection),
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH`
    Sqlite,
    /// `postgres://…` or `postgresql://…`
    Postgres,
}

/// Errors opening, pooling or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL has no scheme pudo knows.
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got {0:?})")]
    UnknownScheme(String),
    /// The pool could not open a connection.
    #[error("cannot connect to the database: {0}")]
    Pool(#[from] r2d2::PoolError),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// A parsed `DATABASE_URL`.
#[derive(Clone)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
}

impl std::fmt::Debug for DatabaseUrl {
    // Never print a PostgreSQL password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH` or `postgres://…`.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::UnknownScheme(url.to_owned()));
            }
            return Ok(Self {
                backend: Backend::Sqlite,
                target: path.to_owned(),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                target: url.to_owned(),
            });
        }
        Err(DbError::UnknownScheme(redact(url)))
    }

    /// The backend this URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => redact(&self.target),
        }
    }

    /// Opens one connection (outside any pool), with the SQLite PRAGMAs applied.
    pub fn connect(&self) -> Result<DbConn, diesel::ConnectionError> {
        match self.backend {
            Backend::Sqlite => {
                let mut c = SqliteConnection::establish(&self.target)?;
                // busy_timeout first: switching to WAL takes a lock, and while another
                // process (an import, `pudo partner-key`) writes, it must wait, not fail.
                c.batch_execute("PRAGMA busy_timeout = 15000;")
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                switch_to_wal(&mut c)
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                c.batch_execute(
                    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -65536;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(c))
            }
            Backend::Postgres => Ok(DbConn::Postgres(PgConnection::establish(
                &with_libpq_defaults(&self.target),
            )?)),
        }
    }
}

/// Puts the database file in WAL mode (a no-op once it is: the mode is stored in the file).
///
/// On a new file, connections opened at the same moment (a pool's first connections, or two
/// processes) all try to switch it, each holding a shared lock and wanting the exclusive one;
/// SQLite answers one of them "database is locked" at once, without waiting out the busy
/// timeout, because waiting could deadlock. Once the other's switch is done, the same
/// statement succeeds, so it is retried for up to about two seconds.
fn switch_to_wal(c: &mut SqliteConnection) -> Result<(), diesel::result::Error> {
    const ATTEMPTS: u32 = 100;
    let mut attempt = 1;
    loop {
        match c.batch_execute("PRAGMA journal_mode = WAL;") {
            Err(diesel::result::Error::DatabaseError(_, info))
                // SQLite's fixed text for SQLITE_BUSY (diesel does not expose the code).
                if attempt < ATTEMPTS && info.message().contains("database is locked") =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// libpq settings added to a PostgreSQL URL that does not set them itself. Without them a
/// primary that vanishes from the network (a dead machine sends no RST) holds each connection
/// attempt for the kernel's SYN retries (about two minutes) per host of a multi-host URL, and a
/// query on an open connection for TCP's retransmissions (about fifteen minutes), instead of
/// failing fast and over (docs/operations.md, "Failover with pg_auto_failover"). No
/// `statement_timeout`: cancelling a COMMIT that waits for the synchronous standby leaves it
/// committed on the primary alone, and the client is told it succeeded.
const LIBPQ_DEFAULTS: [(&str, &str); 5] = [
    // Seconds per host tried (libpq's minimum is 2).
    ("connect_timeout", "2"),
    // Milliseconds sent data may stay unacknowledged before the connection is given up. The
    // peer's kernel acknowledges at once however busy PostgreSQL is (a COMMIT waiting for the
    // standby included), so only a dead peer or network reaches it. Each checkout's `SELECT 1`
    // on a connection whose packets vanish waits this long, and r2d2 may try several in turn:
    // at 5 s, an answer in the fault test's network cut took 10.5 s (BENCHMARKS.md, "Failover").
    ("tcp_user_timeout", "2000"),
    // An idle pooled connection to a dead peer is found out within about 2 + 1 s (with
    // tcp_user_timeout set, Linux ends it once that much time passed without an acknowledgement).
    ("keepalives_idle", "2"),
    ("keepalives_interval", "1"),
    ("keepalives_count", "2"),
];

fn with_libpq_defaults(url: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let mut out = url.to_owned();
    for (key, value) in LIBPQ_DEFAULTS {
        let in_url = query.split('&').any(|kv| kv.split('=').next() == Some(key));
        let in_env = key == "connect_timeout" && std::env::var_os("PGCONNECT_TIMEOUT").is_some();
        if !in_url && !in_env {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{key}={value}"));
        }
    }
    out
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// r2d2 manager that opens connections of the backend the URL names.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    serving: bool,
}

/// What `pudo serve`'s SQLite connections add to [`DatabaseUrl::connect`]'s: temporary files
/// (the sub-journal of each request's savepoint in a batch) in memory rather than in a file
/// written through the kernel, which took 12 % of the handover writer's time (BENCHMARKS.md,
/// "SQLite: checkpoints off the writer"; a service transaction touches at most a few hundred
/// pages), and the automatic checkpoint as a backstop only ([`checkpoint`]).
fn serving_pragmas() -> String {
    format!(
        "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = {};",
        checkpoint::BACKSTOP_PAGES
    )
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        let mut conn = self
            .url
            .connect()
            .map_err(diesel::r2d2::Error::ConnectionError)?;
        if let (true, DbConn::Sqlite(c)) = (self.serving, &mut conn) {
            c.batch_execute(&serving_pragmas())
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        // A connection whose transaction could not be closed (its COMMIT or ROLLBACK failed,
        // e.g. the server went away) is dropped, not handed to the next request.
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// The connection pool shared by request handlers and background tasks.
pub type Pool = r2d2::Pool<Manager>;
/// A connection checked out of the [`Pool`].
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// How long a request waits for a pooled connection while the pool has some: past it, the
/// request answers 503. r2d2 also retries a failed connection attempt after 0.4 s, 0.8 s …
/// up to half of this, which bounds how long a recovered database waits to be used.
pub const POOL_WAIT: Duration = Duration::from_secs(5);
/// How long a request waits when the pool has no connection at all: every one failed its
/// check and none could be opened again, so the database is unreachable (a dead primary, a
/// failover under way) and the request is refused with 503 at once rather than held.
pub const POOL_WAIT_WHEN_DOWN: Duration = Duration::from_millis(500);

/// Builds a pool and checks that one connection can be opened.
pub fn pool(url: &DatabaseUrl, max_size: u32) -> Result<Pool, DbError> {
    Ok(builder(max_size).build(Manager {
        url: url.clone(),
        serving: false,
    })?)
}

/// [`pool`] for `pudo serve`: on SQLite its connections keep temporary files in memory and
/// leave checkpoints to a [`checkpoint::Checkpointer`], which the caller starts.
pub fn serving_pool(url: &DatabaseUrl, max_size: u32) -> Result<Pool, DbError> {
    Ok(builder(max_size).build(Manager {
        url: url.clone(),
        serving: true,
    })?)
}

/// Builds a pool without opening any connection: for tests of an unreachable database.
pub fn pool_unchecked(url: &DatabaseUrl, max_size: u32) -> Pool {
    builder(max_size).build_unchecked(Manager {
        url: url.clone(),
        serving: false,
    })
}

fn builder(max_size: u32) -> r2d2::Builder<Manager> {
    // Every checkout runs `is_valid` (r2d2's default, made explicit): a connection to a primary
    // that died or was demoted is dropped there, and the request gets a new one.
    r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(POOL_WAIT)
        .test_on_check_out(true)
}

/// A connection from the pool: waits up to [`POOL_WAIT`], or only [`POOL_WAIT_WHEN_DOWN`] while
/// the pool holds no connection at all.
pub fn checkout(pool: &Pool) -> Result<PooledConn, r2d2::PoolError> {
    let wait = if pool.state().connections == 0 {
        POOL_WAIT_WHEN_DOWN
    } else {
        POOL_WAIT
    };
    pool.get_timeout(wait)
}

/// Applies every pending migration; returns the names of those applied.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let to_strings =
        |v: Vec<diesel::migration::MigrationVersion<'_>>| v.iter().map(|m| m.to_string()).collect();
    match conn {
        DbConn::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(to_strings)
            .map_err(|e| DbError::Migration(e.to_string())),
        DbConn::Postgres(c) => {
            // Several instances may start at once on one database: one migrates, the others wait.
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(to_strings);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            result.map_err(|e| DbError::Migration(e.to_string()))
        }
    }
}

/// Checks that the database answers.
pub fn ping(conn: &mut DbConn) -> Result<(), DbError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

/// Whether the database is a Citus coordinator (the `citus` extension is installed), as the
/// migrations decide it. SQLite: never.
pub fn is_citus(conn: &mut DbConn) -> diesel::QueryResult<bool> {
    match conn {
        DbConn::Sqlite(_) => Ok(false),
        DbConn::Postgres(pg) => diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
        ))
        .get_result(pg),
    }
}

/// Citus only: gives rows of a distributed `table` another `region` (their distribution key,
/// which Citus never lets an `UPDATE` set) by copying them with the new region and deleting
/// the originals, in the caller's transaction. The rows are `t`, those of `FROM table t,
/// {using} WHERE {condition}` (`using` may be empty); `region` is the SQL of the new region
/// (a column of `using`, or a number), and `condition` must exclude rows already in it.
/// Returns the SQL of the copy and of the delete, so that a caller moving several tables
/// linked by foreign keys can copy all first and delete in reverse order.
pub fn citus_move_sql(
    conn: &mut DbConn,
    table: &str,
    using: &str,
    condition: &str,
    region: &str,
) -> diesel::QueryResult<(String, String)> {
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT column_name::text AS name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .load(conn)?;
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let values: Vec<String> = names
        .iter()
        .map(|c| {
            if *c == "region" {
                region.to_owned()
            } else {
                format!("t.{c}")
            }
        })
        .collect();
    let from = if using.is_empty() {
        format!("{table} t")
    } else {
        format!("{table} t, {using}")
    };
    let using_clause = if using.is_empty() {
        String::new()
    } else {
        format!(" USING {using}")
    };
    Ok((
        format!(
            "INSERT INTO {table} ({}) SELECT {} FROM {from} WHERE {condition}",
            names.join(", "),
            values.join(", ")
        ),
        format!("DELETE FROM {table} t{using_clause} WHERE {condition}"),
    ))
}

/// In a transaction that reads or writes several shards of a distributed table and then
/// writes a reference table (e.g. `plans` after counting a plan's open manifest lines), Citus
/// must run the multi-shard statements over one connection per node, or it refuses the
/// reference write. Call first in the transaction; on plain PostgreSQL the setting is an
/// unused placeholder, on SQLite nothing is done.
pub fn citus_sequential(conn: &mut DbConn) -> diesel::QueryResult<()> {
    if let DbConn::Postgres(pg) = conn {
        pg.batch_execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")?;
    }
    Ok(())
}

/// Runs `f` in a read-only transaction that sees one snapshot of the database from its first
/// read to its end, on both backends, so that a long read in pages (an export) is consistent
/// while others write. PostgreSQL: `REPEATABLE READ READ ONLY`; SQLite in WAL mode: a deferred
/// transaction keeps the snapshot of its first read.
pub fn in_snapshot<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        if let DbConn::Postgres(pg) = conn {
            pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        f(conn)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://pudo.db")
                .expect("ok")
                .backend(),
            Backend::Sqlite
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db")
                .expect("ok")
                .backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db")
                .expect("ok")
                .backend(),
            Backend::Postgres
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("pudo.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    /// Eight connections opened at once on a new file all succeed, in WAL mode. Without the
    /// retry of `switch_to_wal`, about one connection in a hundred failed here with "database
    /// is locked" (17 of 1,600 in one run).
    #[test]
    fn connections_opened_at_once_on_a_new_file_all_succeed() {
        use diesel::sql_types::Text;
        #[derive(diesel::QueryableByName)]
        struct Mode {
            #[diesel(sql_type = Text)]
            journal_mode: String,
        }
        let dir = tempfile::tempdir().expect("dir");
        for run in 0..100 {
            let path = dir.path().join(format!("new-{run}.db"));
            let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("url");
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let opened: Vec<_> = (0..8)
                .map(|_| {
                    let (url, start) = (url.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        url.connect().map_err(|e| e.to_string())
                    })
                })
                .collect();
            for thread in opened {
                let mut conn = thread
                    .join()
                    .expect("thread")
                    .unwrap_or_else(|e| panic!("run {run}: {e}"));
                let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
                    .get_result(&mut conn)
                    .expect("journal mode");
                assert_eq!(mode.journal_mode, "wal", "run {run}");
            }
        }
    }

    #[test]
    fn libpq_timeouts_are_added_unless_the_url_sets_them() {
        let all = "connect_timeout=2&tcp_user_timeout=2000&keepalives_idle=2&\
                   keepalives_interval=1&keepalives_count=2";
        if std::env::var_os("PGCONNECT_TIMEOUT").is_none() {
            assert_eq!(
                with_libpq_defaults("postgres://u@h1:1,h2:2/db"),
                format!("postgres://u@h1:1,h2:2/db?{all}")
            );
            assert_eq!(
                with_libpq_defaults("postgres://u@h/db?target_session_attrs=read-write"),
                format!("postgres://u@h/db?target_session_attrs=read-write&{all}")
            );
        }
        let own = "postgres://u@h/db?connect_timeout=10&tcp_user_timeout=0&keepalives_idle=60\
                   &keepalives_interval=10&keepalives_count=5";
        assert_eq!(with_libpq_defaults(own), own);
    }

    #[test]
    fn passwords_never_reach_logs() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/pudo").expect("ok");
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/pudo");
        assert!(!format!("{url:?}").contains("s3cret"));
        let err = DatabaseUrl::parse("mysql://app:s3cret@db/x").expect_err("unknown");
        assert!(!err.to_string().contains("s3cret"));
    }
}
