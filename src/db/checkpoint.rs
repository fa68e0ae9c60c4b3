//! SQLite's WAL checkpoints in `pudo serve`, on a thread of their own.
//!
//! By default SQLite checkpoints in whichever connection's commit takes the write-ahead log
//! past 1,000 pages. On a busy evening that is the one SQLite writer of reservations or
//! handovers, which then spent about 15 % of its time copying pages into the database file
//! and syncing it (BENCHMARKS.md, "SQLite: checkpoints off the writer"), time every queued
//! request waited for. `pudo serve` checkpoints from this thread instead, and its pooled
//! connections keep SQLite's automatic checkpoint only as a backstop at [`BACKSTOP_PAGES`], in
//! case this thread falls behind or stops. A PASSIVE checkpoint takes no lock a writer or a
//! reader waits for, and what it copies is already durable in the log, so moving it changes
//! no guarantee.

use super::{DatabaseUrl, DbConn};
use diesel::connection::SimpleConnection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The log size (pages) at which a pooled connection of `pudo serve` still checkpoints by
/// itself (`PRAGMA wal_autocheckpoint`): about 200 MB with SQLite's 4 KiB pages.
///
/// It is also what bounds the log under a steady load. The log starts again from its
/// beginning only when a write transaction begins with every frame already copied, and the
/// writer of a busy evening commits batch after batch, each a moment after the thread's last
/// copy; so it is the writer's own checkpoint at this size (which finds all but the last
/// 100 ms copied already) that lets the log restart, and under load the log file grows to
/// about this size. A smaller backstop measured slower: 5,012 handovers/s at 10,000 pages
/// against 5,983 at 50,000 (BENCHMARKS.md, "SQLite: checkpoints off the writer", one run
/// each).
pub const BACKSTOP_PAGES: u32 = 50_000;

/// How often the thread checkpoints: often enough that the log stays a few MB under a peak
/// load (about 300 pages per 100 ms were appended in the handover benchmark).
pub const EVERY: Duration = Duration::from_millis(100);

/// The checkpoint thread; stops when dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the SQLite database of `url` every `every` on its own connection;
    /// `None` for PostgreSQL, which checkpoints by itself.
    pub fn start(
        url: &DatabaseUrl,
        every: Duration,
    ) -> Result<Option<Self>, diesel::ConnectionError> {
        if url.backend() != super::Backend::Sqlite {
            return Ok(None);
        }
        let mut conn = match url.connect()? {
            DbConn::Sqlite(c) => c,
            DbConn::Postgres(_) => return Ok(None),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut failing = false;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::park_timeout(every);
                    match conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                        Ok(()) if failing => {
                            failing = false;
                            tracing::info!("WAL checkpoints succeed again");
                        }
                        Ok(()) => {}
                        // Logged once per run of failures: the backstop keeps the log bounded.
                        Err(e) if !failing => {
                            failing = true;
                            tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                        }
                        Err(_) => {}
                    }
                }
            })
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
        Ok(Some(Self {
            stop,
            thread: Some(thread),
        }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Integer};

    #[derive(QueryableByName)]
    struct AutoCheckpoint {
        #[diesel(sql_type = BigInt)]
        wal_autocheckpoint: i64,
    }

    #[derive(QueryableByName)]
    struct TempStore {
        #[diesel(sql_type = BigInt)]
        temp_store: i64,
    }

    fn autocheckpoint(conn: &mut DbConn) -> i64 {
        diesel::sql_query("PRAGMA wal_autocheckpoint")
            .get_result::<AutoCheckpoint>(conn)
            .expect("wal_autocheckpoint")
            .wal_autocheckpoint
    }

    /// The serving pool's connections leave checkpoints to the thread, and the thread copies
    /// committed pages into the database file: with the backstop far away, nothing else would
    /// before the last connection closes.
    #[test]
    fn the_thread_checkpoints_what_the_serving_pool_commits() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("served.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("url");
        let pool = super::super::serving_pool(&url, 2).expect("pool");
        let mut conn = pool.get().expect("conn");
        assert_eq!(autocheckpoint(&mut conn), i64::from(BACKSTOP_PAGES));
        let temp: TempStore = diesel::sql_query("PRAGMA temp_store")
            .get_result(&mut *conn)
            .expect("temp_store");
        assert_eq!(temp.temp_store, 2, "temp_store = MEMORY");
        conn.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);")
            .expect("create");
        let before = std::fs::metadata(&path).expect("file").len();
        for i in 0..200 {
            diesel::sql_query("INSERT INTO t (id, v) VALUES (?, printf('%.2000c', 'x'))")
                .bind::<Integer, _>(i)
                .execute(&mut conn)
                .expect("insert");
        }
        // 200 rows of 2 KB: about 100 pages, all in the log so far.
        let checkpoints = Checkpointer::start(&url, Duration::from_millis(10))
            .expect("start")
            .expect("SQLite has one");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let copied = loop {
            let len = std::fs::metadata(&path).expect("file").len();
            if len > before + 100 * 1024 || std::time::Instant::now() > deadline {
                break len;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            copied > before + 100 * 1024,
            "the database file grew from {before} to only {copied} bytes"
        );
        drop(checkpoints);
    }

    /// Plain connections keep SQLite's defaults (imports and the CLI checkpoint as they go).
    #[test]
    fn other_pools_keep_sqlite_checkpoints() {
        let dir = tempfile::tempdir().expect("dir");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("cli.db").display()))
            .expect("url");
        let pool = super::super::pool(&url, 1).expect("pool");
        let mut conn = pool.get().expect("conn");
        assert_eq!(autocheckpoint(&mut conn), 1000);
    }

    /// PostgreSQL checkpoints by itself: no thread, and no connection is even opened.
    #[test]
    fn postgres_needs_no_checkpoint_thread() {
        let url = DatabaseUrl::parse("postgres://nobody@127.0.0.1:1/none").expect("url");
        assert!(Checkpointer::start(&url, EVERY)
            .expect("no connection")
            .is_none());
    }
}
