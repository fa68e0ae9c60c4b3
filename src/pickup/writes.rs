//! The write path of the two requests a peak evening is made of, reservations and handovers:
//! which SQL they take (server-side functions on PostgreSQL, statements elsewhere) and the
//! group committers that gather concurrent requests into one transaction.
//!
//! Whatever the path, a request's answer is sent only after the commit that holds it, and it
//! is the answer the request would have had alone: the batch functions
//! ([`super::reservations::reserve_many`], [`super::handover::handover_many`]) decide every
//! request with the same checks, in order of arrival.

use super::group_commit::{GroupCommit, GroupCommitSettings};
use super::handover::{handover_many, HandoverAnswer, HandoverRequest};
use super::reservations::{reserve_many, CodeIssuer, ReservationRequest, ReserveAnswer};
use super::PickupError;
use crate::db::{DbConn, Pool};
use chrono::Utc;
use diesel::result::{DatabaseErrorKind, Error as DbErr};
use diesel::Connection;
use std::time::Duration;

/// Which SQL the writes take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePath {
    /// One call of a server-side function per batch (plain PostgreSQL).
    Functions,
    /// The statements of the domain modules, one by one (SQLite, Citus, and PostgreSQL when
    /// asked for).
    Statements,
}

impl WritePath {
    /// The path for this database: functions on plain PostgreSQL; statements on SQLite and on
    /// Citus, where every statement is routed to its region's shard by itself (the functions
    /// would run on the coordinator).
    pub fn for_database(conn: &mut DbConn) -> diesel::QueryResult<Self> {
        let postgres = matches!(conn, DbConn::Postgres(_));
        Ok(if postgres && !crate::db::is_citus(conn)? {
            Self::Functions
        } else {
            Self::Statements
        })
    }
}

/// How writes are made: the path and how requests are gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSettings {
    /// The SQL path.
    pub path: WritePath,
    /// How concurrent requests are gathered (`max_batch` 1: each alone).
    pub group_commit: GroupCommitSettings,
}

impl WriteSettings {
    /// The defaults for a database: on PostgreSQL batches of up to 64 requests gathered for up
    /// to 1 ms, written by [`POSTGRES_WRITERS`] writers per kind at once; on SQLite, which has
    /// one writer, batches of up to 64 of the requests already queued, by one writer per kind;
    /// on Citus each request alone (a batch would span regions, i.e. shards, in one
    /// distributed transaction).
    pub fn defaults(path: WritePath, is_sqlite: bool, pool_size: u32) -> Self {
        let batched = |writers: usize| GroupCommitSettings {
            window: Duration::from_millis(1),
            max_batch: 64,
            writers,
        };
        let group_commit = match (path, is_sqlite) {
            // SQLite's one writer is the bottleneck under load, and while it writes a batch the
            // next one queues: waiting for more after it only left it idle (handovers 5,983/s
            // without a window against 5,298/s with 1 ms; BENCHMARKS.md, "SQLite:
            // checkpoints off the writer").
            (_, true) => GroupCommitSettings {
                window: Duration::ZERO,
                ..batched(1)
            },
            (WritePath::Functions, false) => batched(POSTGRES_WRITERS),
            (WritePath::Statements, false) => GroupCommitSettings {
                window: Duration::ZERO,
                max_batch: 1,
                writers: pool_size as usize,
            },
        };
        Self { path, group_commit }
    }
}

/// Batches of each kind written at once on plain PostgreSQL, whatever the pool's size.
///
/// A batch costs about five statements whatever its size, so fewer, fuller batches pay as
/// long as the database's cores stay busy: on the 2-core machine of BENCHMARKS.md
/// ("Group-commit writers"), interleaved midnight runs answered 9,550 reservation requests/s
/// with 1 writer, 9,765 and 9,841 with 4 (the earlier default, a quarter of a pool of 16) and
/// 10,847 and 11,106 with 2. A database server with more cores may take more
/// (`PUDO_GROUP_COMMIT_WRITERS`).
pub const POSTGRES_WRITERS: usize = 2;

/// The reservation and handover writers of one instance.
pub struct Writes {
    settings: WriteSettings,
    reservations: GroupCommit<ReservationRequest, ReserveAnswer>,
    handovers: GroupCommit<HandoverRequest, HandoverAnswer>,
}

impl Writes {
    /// Starts the writers on `pool`; `data_key` hashes and seals codes, `hold` is how long a
    /// parcel waits at the shop.
    pub fn start(
        pool: Pool,
        settings: WriteSettings,
        data_key: [u8; 32],
        hold: chrono::Duration,
    ) -> std::io::Result<Self> {
        let functions = settings.path == WritePath::Functions;
        let reservation_pool = pool.clone();
        let reservations = GroupCommit::start(
            "reserve",
            settings.group_commit,
            |r: &ReservationRequest| r.shop_id.unsigned_abs(),
            move |requests: Vec<ReservationRequest>| {
                let issuer = CodeIssuer {
                    data_key: &data_key,
                    hold,
                };
                with_pooled(&reservation_pool, requests.len(), |conn| {
                    let now = now_micros();
                    reserve_many(conn, &requests, &issuer, now, functions)
                })
            },
        )?;
        let handovers = GroupCommit::start(
            "handover",
            settings.group_commit,
            |h: &HandoverRequest| h.shop_id.unsigned_abs(),
            move |requests: Vec<HandoverRequest>| {
                with_pooled(&pool, requests.len(), |conn| {
                    let now = now_micros();
                    handover_many(conn, &data_key, &requests, now, functions)
                })
            },
        )?;
        Ok(Self {
            settings,
            reservations,
            handovers,
        })
    }

    /// How this instance writes.
    pub fn settings(&self) -> WriteSettings {
        self.settings
    }

    /// Reserves a slot ([`super::reserve`]), possibly together with concurrent reservations.
    pub async fn reserve(&self, request: ReservationRequest) -> ReserveAnswer {
        self.reservations
            .submit(request)
            .await
            .unwrap_or_else(|| Err(failed_batch()))
    }

    /// Confirms a handover ([`super::handover`]), possibly together with concurrent ones.
    pub async fn handover(&self, request: HandoverRequest) -> HandoverAnswer {
        self.handovers
            .submit(request)
            .await
            .unwrap_or_else(|| Err(failed_batch()))
    }
}

/// The statement path of a batch: every request decided by `alone` in one transaction, each
/// in a savepoint of its own (a refused request rolls back only itself). If the transaction
/// fails as a whole, each request is run again alone, so every request still gets its own
/// outcome; every write is idempotent, so a batch that did commit answers repeats.
pub(super) fn in_one_transaction<R, T>(
    conn: &mut DbConn,
    requests: &[R],
    shop_of: impl Fn(&R) -> i64,
    alone: impl Fn(&mut DbConn, &R) -> Result<T, PickupError>,
) -> Vec<Result<T, PickupError>> {
    if let [only] = requests {
        return vec![alone(conn, only)];
    }
    let together = conn.transaction(|conn| -> Result<Vec<_>, DbErr> {
        if let Some(first) = requests.first() {
            // Writes first, so that SQLite takes its write lock now (`load::region_for_write`).
            crate::network::load::region_for_write(conn, shop_of(first))?;
        }
        Ok(requests.iter().map(|r| alone(conn, r)).collect())
    });
    together.unwrap_or_else(|_| requests.iter().map(|r| alone(conn, r)).collect())
}

/// Now, to the microsecond PostgreSQL keeps: an event written with it says what a later read
/// of the row says.
fn now_micros() -> chrono::NaiveDateTime {
    super::write_functions::to_micros(Utc::now().naive_utc())
}

/// Runs `write` on a pooled connection; without one, every request of the batch is refused
/// as the database being unavailable (503).
fn with_pooled<T>(
    pool: &Pool,
    n: usize,
    write: impl FnOnce(&mut DbConn) -> Vec<Result<T, PickupError>>,
) -> Vec<Result<T, PickupError>> {
    match crate::db::checkout(pool) {
        Ok(mut conn) => write(&mut conn),
        Err(e) => {
            tracing::warn!(error = %e, "no database connection for a batch of writes");
            (0..n).map(|_| Err(unavailable(e.to_string()))).collect()
        }
    }
}

fn unavailable(why: String) -> PickupError {
    PickupError::Db(DbErr::DatabaseError(
        DatabaseErrorKind::UnableToSendCommand,
        Box::new(why),
    ))
}

fn failed_batch() -> PickupError {
    PickupError::Db(DbErr::RollbackTransaction)
}
