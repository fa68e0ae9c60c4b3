//! Citus only: what pudo does while a worker is unreachable (docs/operations.md, "A worker
//! down"). A statement routed to one region's shard fails only when that shard's worker is
//! down; a statement over every region (a merchant's lookup by id or `order_ref`) fails as
//! soon as any worker is. Such lookups go through [`lookup_across_regions`], which, when a
//! worker is unreachable, asks again over the regions whose shards are on the workers that
//! answer, so that the other regions keep working.

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

/// The regions (of the network's shops) whose shard lies on a worker that answers now, read
/// at most once per [`REACHABLE_TTL`] per process.
fn reachable_regions(conn: &mut DbConn) -> diesel::QueryResult<Vec<i64>> {
    static CACHE: Mutex<Option<(Instant, Vec<i64>)>> = Mutex::new(None);
    if let Some((at, regions)) = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
    {
        if at.elapsed() < REACHABLE_TTL {
            return Ok(regions.clone());
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
    let regions: Vec<i64> = diesel::sql_query("SELECT DISTINCT region FROM shops")
        .load::<Region>(conn)?
        .into_iter()
        .map(|r| r.region)
        .collect();
    let DbConn::Postgres(pg) = conn else {
        return Ok(regions);
    };
    let reachable: Vec<i64> = diesel::sql_query(
        "SELECT r AS region FROM unnest($1) AS r \
         WHERE NOT EXISTS (SELECT 1 FROM pg_dist_placement p \
                           WHERE p.shardid = get_shard_id_for_distribution_column('shop_load', r) \
                             AND p.groupid = ANY($2))",
    )
    .bind::<Array<BigInt>, _>(&regions)
    .bind::<Array<Integer>, _>(&down)
    .load::<Region>(pg)?
    .into_iter()
    .map(|r| r.region)
    .collect();
    *CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        Some((Instant::now(), reachable.clone()));
    Ok(reachable)
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
    let first = lookup(conn, None);
    let Err(e) = first else {
        return first;
    };
    if !worker_unreachable(&e) || in_transaction(conn) {
        return Err(e);
    }
    let regions = reachable_regions(conn)?;
    match lookup(conn, Some(&regions))? {
        Some(found) => Ok(Some(found)),
        None if absent_is_an_answer => Ok(None),
        None => Err(e),
    }
}

/// Whether a transaction is open on `conn` (a failed statement aborts it, so it cannot be
/// asked again in it).
fn in_transaction(conn: &mut DbConn) -> bool {
    use diesel::connection::TransactionManager;
    <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map_or(true, |depth| depth.is_some())
}
