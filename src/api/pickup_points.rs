//! Customers' view of the network: the nearest pickup points, and one point.

use super::params::{instant, integer_in, number_in, QueryParams};
use super::{blocking, AppState};
use crate::error::{ApiError, Problem};
use crate::network::address::{Address, Localized};
use crate::network::availability::{self, UnavailableReason};
use crate::network::geo::CellHex;
use crate::network::services::{Service, Services};
use crate::network::{Shop, ShopStatus};
use crate::pickup::points::{self, PointQuery, Rank, RankedPoint, StockMarks};
use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// Largest `limit` accepted.
pub const MAX_LIMIT: i64 = 100;

/// Query parameters of the search; the route accepts exactly these names (`QueryParams::of`), each parsed and checked by name.
/// Points closed for a period at `open_at` are not open then; at `arrive_at` they are not
/// selectable (`closed_for_period`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the fields document the query for OpenAPI; QueryParams::of accepts exactly their names and parses each"
)]
struct SearchQuery {
    /// Latitude of the customer, degrees (-90 to 90).
    #[param(minimum = -90.0, maximum = 90.0)]
    lat: f64,
    /// Longitude of the customer, degrees (-180 to 180).
    #[param(minimum = -180.0, maximum = 180.0)]
    lon: f64,
    /// How many points (1 to 100, default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Only points within this many metres.
    #[param(minimum = 0.0)]
    radius_m: Option<f64>,
    /// Only points open at this instant (RFC 3339), in each shop's own time zone.
    #[param(format = DateTime)]
    open_at: Option<String>,
    /// Only points with at least this many free slots.
    #[param(minimum = 0, maximum = 100000)]
    min_free: Option<u32>,
    /// Only points holding staged stock of this SKU, for instant pickup.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    sku: Option<String>,
    /// Expected arrival of the parcel (RFC 3339): sets `open_at_arrival`, and a point closed
    /// then is not selectable (`closed_at_arrival`). Filters nothing.
    #[param(format = DateTime)]
    arrive_at: Option<String>,
    /// `true` to list paused points too (never closed ones), marked not selectable, so a
    /// customer sees them greyed out; default `false`: only active points, as always.
    include_unavailable: Option<bool>,
    /// `distance` (default): nearest first. `room`: the nearest candidates ordered by a score
    /// of distance, free share of capacity and being open at `arrive_at`, selectable first
    /// (see the README).
    #[param(inline)]
    rank: Option<RankParam>,
    /// Marks (`in_stock`), without filtering, the points holding received staged units of
    /// this SKU (at most 64 characters).
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    stock_sku: Option<String>,
    /// Only points offering this service: `pickup` (default), `dropoff`, `returns` or
    /// `staging`.
    #[param(inline)]
    service: Option<ServiceParam>,
}

/// The values of `service` (documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "describes the query for OpenAPI; parsed as a Service"
)]
enum ServiceParam {
    Pickup,
    Dropoff,
    Returns,
    Staging,
}

/// The values of `rank` (documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "describes the query for OpenAPI; parsed by parse_rank"
)]
enum RankParam {
    Distance,
    Room,
}

fn parse_rank(v: &str) -> Result<Rank, String> {
    match v {
        "distance" => Ok(Rank::Distance),
        "room" => Ok(Rank::Room),
        other => Err(format!("unknown order {other:?} (use distance or room)")),
    }
}

fn boolean(v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

fn sku_text(v: &str) -> Result<String, String> {
    if v.chars().count() > 64 {
        Err("is longer than 64 characters".to_owned())
    } else if v.chars().any(char::is_control) {
        Err("contains control characters".to_owned())
    } else {
        Ok(v.to_owned())
    }
}

/// One pickup point in a search answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPoint<'a> {
    /// pudo's shop id.
    pub id: i64,
    /// The partner's reference.
    pub external_id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Haversine distance from the query point, metres.
    pub distance_m: f64,
    /// H3 cell (resolution 9), hexadecimal.
    #[schema(value_type = String)]
    pub h3_cell: CellHex,
    /// Parcel slots.
    pub capacity: i32,
    /// Slots not held by a reservation or parcel (kept current within about a second; a
    /// reservation is checked against the database itself).
    pub free_slots: i32,
    /// `active`, or `paused` when `include_unavailable=true` (never `closed`).
    pub status: ShopStatus,
    /// Whether the shop is open at the time of the request (hours and closures).
    pub open_now: bool,
    /// Whether a reservation here would succeed at the expected arrival.
    pub selectable: bool,
    /// Why the point is not selectable: `paused`, `closed_for_period`, `full` or
    /// `closed_at_arrival` (the first that applies); null when it is.
    pub unavailable_reason: Option<UnavailableReason>,
    /// Whether the shop is open at `arrive_at` (hours and closures); null when no
    /// `arrive_at` was given.
    pub open_at_arrival: Option<bool>,
    /// Weekly opening hours in the shop's time zone (OpenStreetMap syntax); null means open
    /// around the clock.
    pub opening_hours: Option<&'a str>,
    /// IANA time zone of `opening_hours`; null when the shop is open around the clock.
    pub timezone: Option<&'static str>,
    /// Whether the point holds received staged units of `stock_sku` (instant pickup); null
    /// when no `stock_sku` was given.
    pub in_stock: Option<bool>,
    /// What the point offers (`pickup`, `dropoff`, `returns`, `staging`).
    #[schema(value_type = Vec<Service>)]
    pub services: Services,
    /// Postal address; null when the partner gave none.
    pub address: Option<&'a Address>,
    /// Phone customers may call; null when the partner gave none.
    pub phone: Option<&'a str>,
    /// Names and addresses in Chinese and Spanish; null when none were given.
    pub localized: Option<&'a Localized>,
}

/// A search answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPoints<'a> {
    /// Nearest first, equal distances by id; with `rank=room`, selectable first, then by room
    /// score, distance and id.
    pub items: Vec<PickupPoint<'a>>,
}

/// One pickup point with its full record.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPointDetail {
    /// The stored shop.
    #[serde(flatten)]
    pub shop: Shop,
    /// Whether the shop is open at the time of the request (hours and closures).
    pub open_now: bool,
    /// Closure periods (holidays) not yet over: whole local days in `timezone`, end inclusive.
    pub closures: Vec<crate::network::closures::Closure>,
}

/// The nearest active pickup points to a location, exactly, by great-circle distance; each
/// says whether it can be chosen and why not.
#[utoipa::path(
    tag = "customer",
    context_path = "/v1",
    params(SearchQuery),
    responses(
        (status = 200, body = PickupPoints),
        (status = 400, description = "A parameter is missing or invalid; `parameter` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/pickup-points")]
pub async fn search(
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::of::<SearchQuery>(query.into_inner())?;
    let query = PointQuery {
        lat: q.required("lat", number_in(-90.0, 90.0))?,
        lon: q.required("lon", number_in(-180.0, 180.0))?,
        limit: q.optional("limit", integer_in(1, MAX_LIMIT))?.unwrap_or(10) as usize,
        radius_m: q.optional("radius_m", number_in(0.0, f64::MAX))?,
        open_at: q.optional("open_at", instant)?,
        min_free: q
            .optional("min_free", integer_in(0, 100_000))?
            .map(|m| m as i32),
        sku: q.optional("sku", sku_text)?,
        arrive_at: q.optional("arrive_at", instant)?,
        include_unavailable: q.optional("include_unavailable", boolean)?.unwrap_or(false),
        rank: q.optional("rank", parse_rank)?.unwrap_or_default(),
        stock_sku: q.optional("stock_sku", sku_text)?,
        service: q
            .optional("service", str::parse::<Service>)?
            .unwrap_or(Service::Pickup),
    };
    let stock = if query.needs_stock() {
        let (pool, query) = (state.pool.clone(), query.clone());
        blocking(move || Ok(StockMarks::load(&mut *crate::db::checkout(&pool)?, &query)?)).await?
    } else {
        StockMarks::default()
    };
    let now = Utc::now();
    let index = state.network.index();
    let answer: Vec<PickupPoint> = points::nearest(&index, &query, &stock)
        .iter()
        .map(|p| describe(p, now))
        .collect();
    // Written while the index is held: the answer borrows names and hours from it instead
    // of copying every string of every point.
    let mut body = Vec::with_capacity(super::search_json::capacity_for(answer.len()));
    super::search_json::write_answer(&answer, &mut body);
    drop(index);
    state.metrics.searches.inc();
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// A ranked point as the customer sees it.
fn describe<'a>(p: &RankedPoint<'a>, now: chrono::DateTime<Utc>) -> PickupPoint<'a> {
    let shop = p.shop;
    let opening_hours = availability::hours_text(shop);
    PickupPoint {
        id: shop.id,
        external_id: &shop.external_id,
        name: &shop.name,
        lat: shop.latitude,
        lon: shop.longitude,
        distance_m: p.distance_m,
        h3_cell: CellHex(shop.h3_cell),
        capacity: shop.capacity,
        free_slots: p.free_slots,
        status: shop.status,
        open_now: shop.is_open_at(now),
        selectable: p.availability.selectable,
        unavailable_reason: p.availability.reason,
        open_at_arrival: p.availability.open_at_arrival,
        timezone: opening_hours.as_ref().map(|_| shop.timezone.name()),
        opening_hours,
        in_stock: p.in_stock,
        services: shop.services,
        address: shop.details.as_ref().and_then(|d| d.address.as_ref()),
        phone: shop.details.as_ref().and_then(|d| d.phone.as_deref()),
        localized: shop.details.as_ref().and_then(|d| d.localized.as_deref()),
    }
}

/// One pickup point by id, whatever its status.
#[utoipa::path(
    tag = "customer",
    context_path = "/v1",
    params(("id" = i64, Path, description = "pudo's shop id", example = 1)),
    responses(
        (status = 200, body = PickupPointDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/pickup-points/{id}")]
pub async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let pool = state.pool.clone();
    let (row, closures) = blocking(move || {
        let mut conn = crate::db::checkout(&pool)?;
        let closures = crate::network::closure_store::list(&mut conn, id)?;
        Ok((crate::network::store::find(&mut conn, id)?, closures))
    })
    .await?;
    let row = row.ok_or_else(|| ApiError::NotFound(format!("no pickup point with id {id}")))?;
    // Days already over anywhere on Earth (a local date is at most a day behind UTC's).
    let yesterday = (Utc::now() - chrono::Duration::days(1)).date_naive();
    let closures = closures
        .into_iter()
        .filter(|c| c.end >= yesterday)
        .collect();
    let open_now = state.network.index().get(id).map_or_else(
        || {
            row.to_indexed(&[])
                .is_some_and(|s| s.is_open_at(Utc::now()))
        },
        |s| s.is_open_at(Utc::now()),
    );
    Ok(HttpResponse::Ok().json(PickupPointDetail {
        shop: row.into_shop(),
        open_now,
        closures,
    }))
}
