//! The network as the service runs it: this instance's geo index, kept in step with the
//! database through the network revision (see [`store::current_revision`]).

use super::closure_store;
use super::closures::Closure;
use super::import::{self, Format, Rejected};
use super::index::{GeoIndex, IndexedShop};
use super::store::{self, ShopRow, UpsertSummary};
use super::ShopInput;
use crate::db::{DbError, Pool};
use chrono::NaiveDateTime;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::Instant;

/// Share of the network that, when changed at once, makes a refresh rebuild the index from
/// scratch instead of applying each change.
const FULL_RELOAD_SHARE: usize = 8;

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file had bad rows; nothing was stored.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The database failed; nothing was stored.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// The shop network of one running instance: its geo index and what keeps the index in step
/// with the database (imports through it, the revision and slot-count followers). The pool
/// it holds is for that alone; everything else gets its connections from the application's
/// pool (the application state's).
pub struct Network {
    pool: Pool,
    index: RwLock<GeoIndex>,
    revision: AtomicI64,
    loaded: AtomicBool,
    refreshing: Mutex<()>,
    loads_seen: Mutex<Option<NaiveDateTime>>,
    /// Regions left out of the index: their Citus worker did not answer when it was loaded.
    pending: Mutex<Vec<i64>>,
    /// Regions whose slot counts are to be read whole: their worker did not answer a poll.
    stale_loads: Mutex<Vec<i64>>,
}

/// How far back each poll of live parcel counts looks past the previous poll, to cover
/// transactions that committed a little after the time they stamped.
const LOAD_OVERLAP_SECONDS: i64 = 5;

impl Network {
    /// A network whose index follows the database of `pool`; empty, not yet loaded.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            index: RwLock::new(GeoIndex::default()),
            revision: AtomicI64::new(-1),
            loaded: AtomicBool::new(false),
            refreshing: Mutex::new(()),
            loads_seen: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
            stale_loads: Mutex::new(Vec::new()),
        }
    }

    /// A pooled connection for keeping the index fresh.
    fn conn(&self) -> Result<crate::db::PooledConn, DbError> {
        Ok(crate::db::checkout(&self.pool)?)
    }

    /// Read access to the geo index, for searches. Hold it only as long as the search.
    pub fn index(&self) -> RwLockReadGuard<'_, GeoIndex> {
        // A panic while holding the lock cannot leave the index half-written (every writer
        // swaps or upserts whole shops), so a poisoned lock is still safe to read.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the index has been loaded from the database at least once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The network revision the index reflects (-1 before the first load).
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Acquire)
    }

    /// Brings the index up to the database's latest revision; returns the number of shops
    /// applied. Cheap when nothing changed: one single-row query.
    ///
    /// On Citus with a worker down, a load from scratch takes the shops of the regions whose
    /// worker answers (`shops` is a reference table, but their closures and slot counts are
    /// on the regions' shards) and leaves the others pending: each later refresh tries them
    /// again, and they join the index as soon as their worker answers.
    pub fn refresh(&self) -> Result<usize, DbError> {
        let _one_at_a_time = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = crate::db::checkout(&self.pool)?;
        let latest = store::current_revision(&mut conn)?;
        let seen = self.revision();
        if latest <= seen && self.is_loaded() {
            drop(conn);
            self.load_pending()?;
            return Ok(0);
        }
        let started = Instant::now();
        let held = self.index().len();
        let changed = if seen < 0 {
            None
        } else {
            Some((
                store::changed_between(&mut conn, seen, latest)?,
                closure_store::for_revisions(&mut conn, seen, latest)?,
            ))
        };
        let applied = changed.as_ref().map_or(0, |(rows, _)| rows.len());
        match changed {
            Some((rows, closures)) if applied * FULL_RELOAD_SHARE <= held.max(1) => {
                // A pending region's shops join with the rest of it (`load_pending`).
                let pending = self.pending_regions();
                let rows: Vec<ShopRow> = rows
                    .into_iter()
                    .filter(|r| !pending.contains(&r.region))
                    .collect();
                let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
                for shop in indexed(&rows, &closures) {
                    index.upsert(shop);
                }
            }
            _ => self.load_whole(&mut conn)?,
        }
        drop(conn);
        self.revision.store(latest, Ordering::Release);
        self.loaded.store(true, Ordering::Release);
        let shops = self.index().len();
        tracing::info!(
            revision = latest,
            applied,
            shops,
            ms = started.elapsed().as_millis() as u64,
            "geo index refreshed"
        );
        Ok(applied)
    }

    /// Builds the index from scratch: every shop of the regions whose closures and slot
    /// counts can be read now; the other regions become pending.
    fn load_whole(&self, conn: &mut crate::db::DbConn) -> Result<(), DbError> {
        let rows = store::load_all(conn)?;
        let loads_at = chrono::Utc::now().naive_utc();
        let ((closures, loads), left_out) =
            crate::db::citus::over_reachable_regions(conn, |conn, regions| {
                Ok((
                    closure_store::all_in(conn, regions)?,
                    super::load::all_in(conn, regions)?,
                ))
            })?;
        let rows: Vec<ShopRow> = rows
            .into_iter()
            .filter(|r| !left_out.contains(&r.region))
            .collect();
        let mut fresh = GeoIndex::build(indexed(&rows, &closures));
        for (shop, held) in loads {
            fresh.set_held(shop, held);
        }
        if !left_out.is_empty() {
            tracing::warn!(
                regions = left_out.len(),
                shops = rows.len(),
                "geo index loaded without the regions of an unreachable Citus worker; they join when it answers"
            );
        }
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        *self.loads_seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(loads_at);
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = left_out;
        Ok(())
    }

    /// The regions whose shops are not in the index yet (their worker did not answer).
    pub fn pending_regions(&self) -> Vec<i64> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds to the index the shops of the pending regions whose worker answers now, with
    /// their closures and slot counts.
    fn load_pending(&self) -> Result<(), DbError> {
        let pending = self.pending_regions();
        if pending.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn()?;
        let ((rows, closures, loads, loaded), _) =
            crate::db::citus::over_reachable_regions(&mut conn, |conn, reachable| {
                let want: Vec<i64> = pending
                    .iter()
                    .filter(|r| reachable.is_none_or(|ok| ok.contains(r)))
                    .copied()
                    .collect();
                Ok((
                    store::in_regions(conn, &want)?,
                    closure_store::all_in(conn, Some(&want))?,
                    super::load::in_regions(conn, &want)?,
                    want,
                ))
            })?;
        drop(conn);
        if loaded.is_empty() {
            return Ok(());
        }
        {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            for shop in indexed(&rows, &closures) {
                index.upsert(shop);
            }
            for (shop, held) in loads {
                index.set_held(shop, held);
            }
        }
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|r| !loaded.contains(r));
        tracing::info!(
            regions = loaded.len(),
            shops = rows.len(),
            "regions whose Citus worker answers again joined the geo index"
        );
        Ok(())
    }

    /// Brings the index's live parcel counts (free slots) up to date with the database.
    ///
    /// On Citus with a worker down, the counts of the regions whose worker answers; the
    /// others are read whole once their worker answers again (their changes since the last
    /// poll would be missed otherwise).
    pub fn refresh_loads(&self) -> Result<usize, DbError> {
        let mut seen = self.loads_seen.lock().unwrap_or_else(|p| p.into_inner());
        let started = chrono::Utc::now().naive_utc();
        let since = seen.map_or(NaiveDateTime::MIN, |t| {
            t - chrono::Duration::seconds(LOAD_OVERLAP_SECONDS)
        });
        let mut stale = self.stale_loads.lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = self.conn()?;
        let ((loads, refreshed), left_out) =
            crate::db::citus::over_reachable_regions(&mut conn, |conn, reachable| {
                let whole: Vec<i64> = stale
                    .iter()
                    .filter(|r| reachable.is_none_or(|ok| ok.contains(r)))
                    .copied()
                    .collect();
                let mut loads = super::load::changed_since(conn, since, reachable)?;
                if !whole.is_empty() {
                    loads.extend(super::load::in_regions(conn, &whole)?);
                }
                Ok((loads, whole))
            })?;
        drop(conn);
        stale.retain(|r| !refreshed.contains(r));
        for r in left_out {
            if !stale.contains(&r) {
                stale.push(r);
            }
        }
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        for &(shop, held) in &loads {
            index.set_held(shop, held);
        }
        *seen = Some(started);
        Ok(loads.len())
    }

    /// Records a shop's live parcel count that this instance just changed.
    pub fn set_live(&self, shop_id: i64, live: i32) {
        self.index
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .set_live(shop_id, live);
    }

    /// Records a slot of `class` this instance just took at a shop, which now holds `live`
    /// slots in all (the next [`Self::refresh_loads`] reads the exact counts per class).
    pub fn note_taken(&self, shop_id: i64, live: i32, class: super::sizes::SizeClass) {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        let Some(shop) = index.get(shop_id) else {
            return;
        };
        let mut held = shop.held();
        held.live = live;
        match class {
            super::sizes::SizeClass::S => held.live_s += 1,
            super::sizes::SizeClass::M => held.live_m += 1,
            super::sizes::SizeClass::L => {}
        }
        index.set_held(shop_id, held);
    }

    /// Validates a whole file and stores every shop in it, or none; then refreshes the index.
    pub fn import_file(
        &self,
        content: &[u8],
        format: Format,
        progress: &mut dyn FnMut(usize),
    ) -> Result<UpsertSummary, ImportError> {
        let shops = import::parse(content, format)?;
        self.import(&shops, progress)
    }

    /// Stores validated shops (all or nothing) and refreshes the index.
    pub fn import(
        &self,
        shops: &[ShopInput],
        progress: &mut dyn FnMut(usize),
    ) -> Result<UpsertSummary, ImportError> {
        let summary = store::upsert_shops(&mut *self.conn()?, shops, progress)?;
        self.refresh()?;
        Ok(summary)
    }
}

fn indexed<'a>(
    rows: &'a [ShopRow],
    closures: &'a HashMap<i64, Vec<Closure>>,
) -> impl Iterator<Item = IndexedShop> + 'a {
    let mut hours = HashMap::new();
    rows.iter().filter_map(move |row| {
        let shop = row.to_indexed_cached(
            &mut hours,
            closures.get(&row.id).map_or(&[][..], Vec::as_slice),
        );
        if shop.is_none() {
            tracing::warn!(
                id = row.id,
                "shop row has an unreadable status, time zone or hours; left out of search"
            );
        }
        shop
    })
}
