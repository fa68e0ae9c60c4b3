//! Citus only: what pudo does while a worker is unreachable (docs/operations.md, "A worker
//! down"). A statement routed to one region's shard fails only when that shard's worker is
//! down; a statement over every region (a merchant's lookup by id or `order_ref`, the sweep)
//! fails as soon as any worker is. Such statements go through one of three helpers, which,
//! when a worker is unreachable, know the regions whose shards are on the workers that answer:
//! [`lookup_across_regions`] asks a lookup again over those regions (a row found there is the
//! answer), [`over_reachable_regions`] does work over those regions and says which it left
//! out (for work that is correct region by region), [`over_every_region`] fails naming the
//! regions left out (for answers a missing region would make wrong).

use super::DbConn;
use diesel::result::Error;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the regions of the reachable workers are reused before the workers are asked
/// again: during an outage, each lookup would otherwise probe every worker (up to
/// `citus.node_connection_timeout` for one that does not answer at all).
const REACHABLE_TTL: Duration = Duration::from_secs(2);

/// Whether `e` is Citus's refusal of a statement because a worker it needs is unreachable
/// (SQLSTATE 08006 raised by the coordinator, whose own connection is fine): refused at
/// once, or after `citus.node_connection_timeout` for a worker that does not answer.
pub fn worker_unreachable(e: &Error) -> bool {
    match e {
        Error::DatabaseError(_, info) => {
            let m = info.message();
            // Citus's fixed texts (adaptive_executor.c, connection_management.c).
            m.starts_with("connection to the remote node")
                || m.starts_with("could not establish any connections to the node")
        }
        _ => false,
    }
}

/// A worker as the coordinator has it registered, and whether it answers now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// `host:port`, as registered with `citus_add_node`.
    pub name: String,
    /// The worker's group (where its shard placements are recorded).
    pub group: i32,
    /// Whether the coordinator could open a connection to it just now.
    pub reachable: bool,
}

/// Citus only: every active primary worker and whether the coordinator reaches it
/// (`citus_check_connection_to_node`, bounded by `citus.node_connection_timeout`). Not
/// Citus (plain PostgreSQL, SQLite): no worker.
pub fn workers(conn: &mut DbConn) -> diesel::QueryResult<Vec<Worker>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Integer)]
        groupid: i32,
        #[diesel(sql_type = Bool)]
        reachable: bool,
    }
    if !super::is_citus(conn)? {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT nodename || ':' || nodeport AS name, groupid, \
                citus_check_connection_to_node(nodename, nodeport) AS reachable \
         FROM pg_dist_node \
         WHERE noderole = 'primary' AND isactive AND groupid <> 0 ORDER BY nodeid",
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Worker {
            name: r.name,
            group: r.groupid,
            reachable: r.reachable,
        })
        .collect())
}

/// Where the network's regions stand: on a worker that answers now, or not.
#[derive(Debug, Clone, Default)]
struct Reach {
    reachable: Vec<i64>,
    unreachable: Vec<i64>,
}

/// The regions (of the network's shops) by whether their shard lies on a worker that answers
/// now, read at most once per [`REACHABLE_TTL`] per process.
fn reach(conn: &mut DbConn) -> diesel::QueryResult<Reach> {
    static CACHE: Mutex<Option<(Instant, Reach)>> = Mutex::new(None);
    if let Some((at, reach)) = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
    {
        if at.elapsed() < REACHABLE_TTL {
            return Ok(reach.clone());
        }
    }
    let down: Vec<i32> = workers(conn)?
        .into_iter()
        .filter(|w| !w.reachable)
        .map(|w| w.group)
        .collect();
    for w in &down {
        tracing::warn!(
            group = w,
            "a Citus worker is unreachable: its regions answer 503"
        );
    }
    #[derive(QueryableByName)]
    struct Region {
        #[diesel(sql_type = BigInt)]
        region: i64,
    }
    // `shops` is a reference table (read from any node that answers); the placements are the
    // coordinator's own catalog. Every distributed table is co-located with `shop_load`, so
    // its shard tells where a region's rows of every table are.
    let regions: Vec<i64> = diesel::sql_query("SELECT DISTINCT region FROM shops ORDER BY region")
        .load::<Region>(conn)?
        .into_iter()
        .map(|r| r.region)
        .collect();
    let DbConn::Postgres(pg) = conn else {
        return Ok(Reach {
            reachable: regions,
            unreachable: Vec::new(),
        });
    };
    let reachable: Vec<i64> = diesel::sql_query(
        "SELECT r AS region FROM unnest($1) AS r \
         WHERE NOT EXISTS (SELECT 1 FROM pg_dist_placement p \
                           WHERE p.shardid = get_shard_id_for_distribution_column('shop_load', r) \
                             AND p.groupid = ANY($2)) \
         ORDER BY r",
    )
    .bind::<Array<BigInt>, _>(&regions)
    .bind::<Array<Integer>, _>(&down)
    .load::<Region>(pg)?
    .into_iter()
    .map(|r| r.region)
    .collect();
    let unreachable = regions
        .into_iter()
        .filter(|r| reachable.binary_search(r).is_err())
        .collect();
    let reach = Reach {
        reachable,
        unreachable,
    };
    *CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((Instant::now(), reach.clone()));
    Ok(reach)
}

/// Asks `query` over every region (`None`); if a Citus worker is unreachable and no
/// transaction is open, asks it again over the regions whose shards are on the workers that
/// answer (`Some(regions)`) and returns that answer with where the regions stand. `Err` keeps
/// the original error (anything but an unreachable worker, or inside a transaction).
fn retry_over_reachable<T>(
    conn: &mut DbConn,
    query: &mut impl FnMut(&mut DbConn, Option<&[i64]>) -> diesel::QueryResult<T>,
) -> Result<(T, Option<(Reach, Error)>), Error> {
    let e = match query(conn, None) {
        Ok(all) => return Ok((all, None)),
        Err(e) => e,
    };
    if !worker_unreachable(&e) || in_transaction(conn) {
        return Err(e);
    }
    let reach = reach(conn)?;
    let answer = query(conn, Some(&reach.reachable))?;
    Ok((answer, Some((reach, e))))
}

/// Runs `lookup` over every region (`None`). If a Citus worker is unreachable and no
/// transaction is open, runs it again over the regions whose shards are on the workers that
/// answer (`Some(regions)`): a row found there is the answer; none found is the answer only
/// when `absent_is_an_answer` (the caller can do without the unreachable regions), and
/// otherwise the original error (the row may well be on the worker that is down: 503).
pub fn lookup_across_regions<T>(
    conn: &mut DbConn,
    absent_is_an_answer: bool,
    mut lookup: impl FnMut(&mut DbConn, Option<&[i64]>) -> diesel::QueryResult<Option<T>>,
) -> diesel::QueryResult<Option<T>> {
    match retry_over_reachable(conn, &mut lookup)? {
        (found, None) => Ok(found),
        (Some(found), Some(_)) => Ok(Some(found)),
        (None, Some(_)) if absent_is_an_answer => Ok(None),
        (None, Some((_, e))) => Err(e),
    }
}

/// Runs `query` over every region (`None`) and returns its answer with no region left out.
/// If a Citus worker is unreachable and no transaction is open, runs it over the regions whose
/// shards are on the workers that answer (`Some(regions)`) and returns that answer with the
/// regions it left out. For work that stays correct region by region, where the regions left
/// out can wait for their worker (the sweep of expired parcels, the geo index's figures).
pub fn over_reachable_regions<T>(
    conn: &mut DbConn,
    mut query: impl FnMut(&mut DbConn, Option<&[i64]>) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<(T, Vec<i64>)> {
    let (answer, partial) = retry_over_reachable(conn, &mut query)?;
    Ok((
        answer,
        partial.map(|(r, _)| r.unreachable).unwrap_or_default(),
    ))
}

/// Runs `query` over every region; if a Citus worker is unreachable, fails with
/// [`regions_unavailable`] naming the regions on it (503 naming them), for answers that a
/// missing region would make wrong (a statement of every shop, stock marks).
pub fn over_every_region<T>(
    conn: &mut DbConn,
    query: impl FnOnce(&mut DbConn) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    match query(conn) {
        Err(e) if worker_unreachable(&e) && !in_transaction(conn) => {
            let down = reach(conn)?.unreachable;
            Err(if down.is_empty() {
                e
            } else {
                regions_unavailable(&down)
            })
        }
        other => other,
    }
}

/// How the message of [`regions_unavailable`] starts (`src/error.rs` answers it as it is).
pub const REGIONS_UNAVAILABLE: &str = "regions unavailable";

/// The error of a statement that needs every region while the Citus worker of `regions` does
/// not answer: a lost connection (503), whose message names the regions (H3 cells in hex).
pub fn regions_unavailable(regions: &[i64]) -> Error {
    let names: Vec<String> = regions.iter().map(|r| format!("{r:x}")).collect();
    Error::DatabaseError(
        diesel::result::DatabaseErrorKind::ClosedConnection,
        Box::new(format!(
            "{REGIONS_UNAVAILABLE}: {} (their Citus worker does not answer); a partial answer \
             would be wrong, try again shortly",
            names.join(", ")
        )),
    )
}

/// Whether a transaction is open on `conn` (a failed statement aborts it, so it cannot be
/// asked again in it).
fn in_transaction(conn: &mut DbConn) -> bool {
    use diesel::connection::TransactionManager;
    <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map_or(true, |depth| depth.is_some())
}
