//! The customer's search for a pickup point: the nearest points that match, each with whether
//! it can be chosen and why not, ordered by distance or by the room order
//! ([`crate::network::availability`]).
//!
//! Two steps, so that a search without a SKU never touches the database: [`StockMarks::load`]
//! reads which shops hold staged units of the SKUs asked for (only when one is), then
//! [`nearest`] ranks from the in-memory index alone.

use crate::network::availability::{self, Availability, RoomKey};
use crate::network::index::IndexedShop;
use crate::network::services::Service;
use crate::network::{GeoIndex, SearchFilter};
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use std::collections::HashSet;

/// How a search answer is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rank {
    /// Nearest first.
    #[default]
    Distance,
    /// Selectable first, then by the room score (see [`availability`]).
    Room,
}

/// A validated search.
#[derive(Debug, Clone)]
pub struct PointQuery {
    /// Latitude of the customer, degrees.
    pub lat: f64,
    /// Longitude of the customer, degrees.
    pub lon: f64,
    /// How many points to answer.
    pub limit: usize,
    /// Only points within this many metres.
    pub radius_m: Option<f64>,
    /// Only points open at this instant.
    pub open_at: Option<DateTime<Utc>>,
    /// Only points with at least this many free slots.
    pub min_free: Option<i32>,
    /// Only points holding staged units of this SKU.
    pub sku: Option<String>,
    /// The parcel's expected arrival.
    pub arrive_at: Option<DateTime<Utc>>,
    /// Paused points too, marked not selectable.
    pub include_unavailable: bool,
    /// The order.
    pub rank: Rank,
    /// Marks, without filtering, the points holding staged units of this SKU.
    pub stock_sku: Option<String>,
    /// Only points offering this service.
    pub service: Service,
}

impl PointQuery {
    /// Whether the search needs [`StockMarks::load`] (a SKU was asked for).
    pub fn needs_stock(&self) -> bool {
        self.sku.is_some() || self.stock_sku.is_some()
    }
}

/// Which shops hold staged units of the search's SKUs.
#[derive(Debug, Clone, Default)]
pub struct StockMarks {
    /// Shops holding `sku` (the search keeps only these), when `sku` was given.
    stocked: Option<HashSet<i64>>,
    /// Shops holding `stock_sku` (marked, not filtered), when it was given.
    marked: Option<HashSet<i64>>,
}

impl StockMarks {
    /// Reads the shops holding staged units of the query's SKUs (none asked: nothing read).
    pub fn load(conn: &mut crate::db::DbConn, q: &PointQuery) -> QueryResult<Self> {
        let mut holding = |sku: &Option<String>| -> QueryResult<Option<HashSet<i64>>> {
            sku.as_deref()
                .map(|sku| {
                    crate::staging::stock::shops_with_stock(conn, sku)
                        .map(|ids| ids.into_iter().collect())
                })
                .transpose()
        };
        Ok(Self {
            stocked: holding(&q.sku)?,
            marked: holding(&q.stock_sku)?,
        })
    }
}

/// One point of an answer, borrowing the shop from the index.
#[derive(Debug, Clone, Copy)]
pub struct RankedPoint<'a> {
    /// The shop.
    pub shop: &'a IndexedShop,
    /// Haversine distance from the customer, metres.
    pub distance_m: f64,
    /// Whether it can be chosen, and why not.
    pub availability: Availability,
    /// Whether it holds staged units of `stock_sku`; `None` when none was given.
    pub in_stock: Option<bool>,
    /// Free slots as the index knows them.
    pub free_slots: i32,
}

/// The points answering `q`, in the answer's order (at most `q.limit`).
pub fn nearest<'a>(
    index: &'a GeoIndex,
    q: &PointQuery,
    stock: &StockMarks,
) -> Vec<RankedPoint<'a>> {
    let in_stock = |shop: &IndexedShop| stock.stocked.as_ref().is_none_or(|s| s.contains(&shop.id));
    let filter = SearchFilter {
        // The room order reorders more of the nearest points than it answers.
        limit: match q.rank {
            Rank::Distance => q.limit,
            Rank::Room => availability::room_candidates(q.limit),
        },
        max_distance_m: q.radius_m,
        open_at: q.open_at,
        min_free: q.min_free,
        accept: stock
            .stocked
            .as_ref()
            .map(|_| &in_stock as &(dyn Fn(&IndexedShop) -> bool + Sync)),
        include_paused: q.include_unavailable,
        service: Some(q.service),
    };
    let now = Utc::now();
    let mut ranked: Vec<(RoomKey, RankedPoint<'a>)> = index
        .search(q.lat, q.lon, &filter)
        .into_iter()
        .map(|hit| {
            let marked = stock.marked.as_ref().map(|m| m.contains(&hit.shop.id));
            // A staged unit of the item becomes the parcel without taking a free slot.
            let holds_item = stock.stocked.is_some() || marked == Some(true);
            let a = availability::assess_at(hit.shop, q.arrive_at, now, holds_item);
            let free_slots = availability::free_slots(hit.shop);
            let key = RoomKey {
                selectable: a.selectable,
                score: availability::room_score(
                    hit.distance_m,
                    free_slots,
                    hit.shop.capacity,
                    a.open_at_arrival,
                ),
                distance_m: hit.distance_m,
                id: hit.shop.id,
            };
            let point = RankedPoint {
                shop: hit.shop,
                distance_m: hit.distance_m,
                availability: a,
                in_stock: marked,
                free_slots,
            };
            (key, point)
        })
        .collect();
    if q.rank == Rank::Room {
        ranked.sort_by(|a, b| availability::room_order(&a.0, &b.0));
        let keys: Vec<RoomKey> = ranked.iter().map(|(k, _)| *k).collect();
        let kept = availability::room_answer(&keys, q.limit);
        let mut next = kept.iter().peekable();
        let mut i = 0;
        ranked.retain(|_| {
            let keep = next.next_if_eq(&&i).is_some();
            i += 1;
            keep
        });
    }
    ranked.into_iter().map(|(_, point)| point).collect()
}
