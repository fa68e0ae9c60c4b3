//! The customer's search for a pickup point: the nearest points that match, each with whether
//! it can be chosen and why not, ordered by distance or by the room order
//! ([`crate::network::availability`]).
//!
//! Two steps, so that a search without a SKU never touches the database: [`StockMarks::load`]
//! reads which shops hold staged units of the SKUs asked for (only when one is), then
//! [`nearest`] ranks from the in-memory index alone.

use crate::network::availability::{self, Availability, RoomKey};
use crate::network::capabilities::Capabilities;
use crate::network::index::text::Query as TextQuery;
use crate::network::index::IndexedShop;
use crate::network::services::Service;
use crate::network::sizes::{DoesNotFit, ParcelSize, SizeClass};
use crate::network::{AreaAnswer, BoundingBox, Cluster};
use crate::network::{GeoIndex, SearchFilter};
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use h3o::Resolution;
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
    /// Latitude and longitude of the customer, degrees: the nearest search's centre, the
    /// distances and tie-break of a text or area search; optional for those.
    pub position: Option<(f64, f64)>,
    /// A map area: the points inside it, or their clusters ([`in_area`]).
    pub area: Option<BoundingBox>,
    /// Text to find ([`by_text`]).
    pub text: Option<TextQuery>,
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
    /// Only points with every one of these capabilities (`capability=`; none: any point).
    pub capabilities: Capabilities,
    /// The parcel's measurements (`parcel=`, `weight_kg=`): only points that take it (with
    /// `include_unavailable`, the others too, marked `does_not_fit`), their room being that
    /// of the classes it may take ([`availability::room`]); `min_free` counts those.
    pub parcel: Option<ParcelSize>,
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
    ///
    /// On Citus with a worker down (docs/operations.md, "A worker down"): `sku` keeps the
    /// shops holding it in the regions that answer (a point of the other regions could not
    /// take a reservation now anyway), while `stock_sku` fails naming the regions that do not
    /// answer (503): it marks points without filtering them, and a point of such a region
    /// would be marked "not in stock" when it may well hold some.
    pub fn load(conn: &mut crate::db::DbConn, q: &PointQuery) -> QueryResult<Self> {
        use crate::db::citus::{over_every_region, over_reachable_regions};
        use crate::staging::stock::shops_with_stock;
        let stocked = match q.sku.as_deref() {
            Some(sku) => Some(
                over_reachable_regions(conn, |conn, regions| shops_with_stock(conn, sku, regions))?
                    .0,
            ),
            None => None,
        };
        let marked = match q.stock_sku.as_deref() {
            Some(sku) => Some(over_every_region(conn, |conn| {
                shops_with_stock(conn, sku, None)
            })?),
            None => None,
        };
        Ok(Self {
            stocked: stocked.map(|ids| ids.into_iter().collect()),
            marked: marked.map(|ids| ids.into_iter().collect()),
        })
    }
}

/// One point of an answer, borrowing the shop from the index.
#[derive(Debug, Clone, Copy)]
pub struct RankedPoint<'a> {
    /// The shop.
    pub shop: &'a IndexedShop,
    /// Haversine distance from the customer, metres; `None` when the search had no position.
    pub distance_m: Option<f64>,
    /// Whether it can be chosen, and why not.
    pub availability: Availability,
    /// Whether it holds staged units of `stock_sku`; `None` when none was given.
    pub in_stock: Option<bool>,
    /// Free slots as the index knows them (those the search's parcel may take, if given).
    pub free_slots: i32,
    /// The size class the search's parcel needs here (`None` without one).
    pub size_class: Option<SizeClass>,
    /// The limit the search's parcel exceeds here, if it does not fit.
    pub misfit: Option<DoesNotFit>,
}

/// Whether a shop passes the conditions of `q` the index does not check itself: staged
/// stock of `sku`, and the parcel (it fits, with `min_free` slots of its classes free; or,
/// with `include_unavailable` and no `min_free`, it does not fit and is shown as such).
fn passes(q: &PointQuery, stock: &StockMarks, shop: &IndexedShop) -> bool {
    if stock
        .stocked
        .as_ref()
        .is_some_and(|s| !s.contains(&shop.id))
    {
        return false;
    }
    match &q.parcel {
        None => true,
        Some(p) => match shop.room_for(p) {
            Ok(free) => q.min_free.is_none_or(|m| free >= m),
            Err(_) => q.include_unavailable && q.min_free.is_none(),
        },
    }
}

/// Whether `q` needs [`passes`] (else the index alone decides).
fn needs_check(q: &PointQuery, stock: &StockMarks) -> bool {
    stock.stocked.is_some() || q.parcel.is_some()
}

/// The index's own `min_free`: with a parcel it counts the parcel's classes ([`passes`]).
fn index_min_free(q: &PointQuery) -> Option<i32> {
    q.min_free.filter(|_| q.parcel.is_none())
}

/// The points answering `q`, in the answer's order (at most `q.limit`).
pub fn nearest<'a>(
    index: &'a GeoIndex,
    q: &PointQuery,
    stock: &StockMarks,
) -> Vec<RankedPoint<'a>> {
    let Some((lat, lon)) = q.position else {
        return Vec::new();
    };
    let check = |shop: &IndexedShop| passes(q, stock, shop);
    let filter = SearchFilter {
        // The room order reorders more of the nearest points than it answers.
        limit: match q.rank {
            Rank::Distance => q.limit,
            Rank::Room => availability::room_candidates(q.limit),
        },
        max_distance_m: q.radius_m,
        open_at: q.open_at,
        min_free: index_min_free(q),
        accept: needs_check(q, stock).then_some(&check as &(dyn Fn(&IndexedShop) -> bool + Sync)),
        include_paused: q.include_unavailable,
        service: Some(q.service),
        capabilities: q.capabilities,
    };
    let now = Utc::now();
    let mut ranked: Vec<(RoomKey, RankedPoint<'a>)> = index
        .search(lat, lon, &filter)
        .into_iter()
        .map(|hit| {
            let marked = stock.marked.as_ref().map(|m| m.contains(&hit.shop.id));
            // A staged unit of the item becomes the parcel without taking a free slot.
            let holds_item = stock.stocked.is_some() || marked == Some(true);
            let room = availability::room(hit.shop, q.parcel.as_ref());
            let a = availability::assess_room_at(hit.shop, q.arrive_at, now, holds_item, &room);
            let free_slots = room.free;
            let key = RoomKey {
                selectable: a.selectable,
                score: availability::room_score(
                    hit.distance_m,
                    free_slots,
                    room.slots,
                    a.open_at_arrival,
                ),
                distance_m: hit.distance_m,
                id: hit.shop.id,
            };
            let point = RankedPoint {
                shop: hit.shop,
                distance_m: Some(hit.distance_m),
                availability: a,
                in_stock: marked,
                free_slots,
                size_class: room.class,
                misfit: room.misfit,
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

/// The filter of a text or area search: the query's conditions, at most `limit` shops.
fn filter_of<'f>(
    q: &PointQuery,
    limit: usize,
    in_stock: Option<&'f (dyn Fn(&IndexedShop) -> bool + Sync)>,
) -> SearchFilter<'f> {
    SearchFilter {
        limit,
        max_distance_m: q.radius_m,
        open_at: q.open_at,
        min_free: index_min_free(q),
        accept: in_stock,
        include_paused: q.include_unavailable,
        service: Some(q.service),
        capabilities: q.capabilities,
    }
}

/// A found shop as an answer's point: availability, stock mark, free slots.
fn ranked<'a>(
    shop: &'a IndexedShop,
    distance_m: Option<f64>,
    q: &PointQuery,
    stock: &StockMarks,
) -> RankedPoint<'a> {
    let marked = stock.marked.as_ref().map(|m| m.contains(&shop.id));
    let holds_item = stock.stocked.is_some() || marked == Some(true);
    let room = availability::room(shop, q.parcel.as_ref());
    RankedPoint {
        shop,
        distance_m,
        availability: availability::assess_room(shop, q.arrive_at, holds_item, &room),
        in_stock: marked,
        free_slots: room.free,
        size_class: room.class,
        misfit: room.misfit,
    }
}

/// What a map area holds.
#[derive(Debug, Clone)]
pub enum AreaPoints<'a> {
    /// Every matching point (at most the query's limit): nearest to the position first when
    /// one was given, else by id.
    Points(Vec<RankedPoint<'a>>),
    /// Too many points: their exact counts and centroids per H3 cell.
    Clusters {
        /// The cells' resolution.
        resolution: Resolution,
        /// The cells, in index order.
        clusters: Vec<Cluster>,
    },
}

/// The points of `q.area` matching the query, or their clusters; with the total count.
pub fn in_area<'a>(index: &'a GeoIndex, q: &PointQuery, stock: &StockMarks) -> AreaPoints<'a> {
    let Some(area) = q.area else {
        return AreaPoints::Points(Vec::new());
    };
    let check = |shop: &IndexedShop| passes(q, stock, shop);
    let accept = needs_check(q, stock).then_some(&check as &(dyn Fn(&IndexedShop) -> bool + Sync));
    match index.in_area(&area, &filter_of(q, q.limit, accept)) {
        AreaAnswer::Clusters {
            resolution,
            clusters,
        } => AreaPoints::Clusters {
            resolution,
            clusters,
        },
        AreaAnswer::Points(shops) => {
            let from = q
                .position
                .map(|(lat, lon)| crate::network::geo::Point::from_degrees(lat, lon));
            let mut points: Vec<RankedPoint<'a>> = shops
                .into_iter()
                .map(|shop| {
                    let d = from.map(|p| {
                        crate::network::geo::haversine_m(
                            &p,
                            &crate::network::geo::Point::from_degrees(
                                shop.latitude,
                                shop.longitude,
                            ),
                        )
                    });
                    ranked(shop, d, q, stock)
                })
                .collect();
            points.sort_by(|a, b| {
                a.distance_m
                    .unwrap_or(0.0)
                    .total_cmp(&b.distance_m.unwrap_or(0.0))
                    .then(a.shop.id.cmp(&b.shop.id))
            });
            AreaPoints::Points(points)
        }
    }
}

/// The points whose name or external id match `q.text`, best match first, then nearest to
/// the position (when given), then by id; at most `q.limit`.
pub fn by_text<'a>(
    index: &'a GeoIndex,
    q: &PointQuery,
    stock: &StockMarks,
) -> Vec<RankedPoint<'a>> {
    let Some(text) = &q.text else {
        return Vec::new();
    };
    let check = |shop: &IndexedShop| passes(q, stock, shop);
    let accept = needs_check(q, stock).then_some(&check as &(dyn Fn(&IndexedShop) -> bool + Sync));
    index
        .find_text(text, q.position, &filter_of(q, q.limit, accept))
        .into_iter()
        .map(|hit| ranked(hit.shop, hit.distance_m, q, stock))
        .collect()
}
