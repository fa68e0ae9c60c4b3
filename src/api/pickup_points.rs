//! Customers' view of the network: the nearest pickup points, and one point.

use super::params::QueryParams;
use super::{blocking, AppState};
use crate::error::{ApiError, Problem};
use crate::network::address::{Address, Localized};
use crate::network::availability::{self, UnavailableReason};
use crate::network::capabilities::{Capabilities, Capability};
use crate::network::geo::CellHex;
use crate::network::services::{Service, Services};
use crate::network::sizes::SizeClass;
use crate::network::{Shop, ShopStatus};
use crate::pickup::points::{self, Rank, RankedPoint, StockMarks};
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
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
pub(super) struct SearchQuery {
    /// Latitude of the customer, degrees (-90 to 90). Required (with `lon`) unless `bbox` or
    /// `q` is given; with them it orders points by distance (and sets `distance_m`).
    #[param(minimum = -90.0, maximum = 90.0)]
    lat: Option<f64>,
    /// Longitude of the customer, degrees (-180 to 180); given together with `lat`.
    #[param(minimum = -180.0, maximum = 180.0)]
    lon: Option<f64>,
    /// A map area `min_lon,min_lat,max_lon,max_lat` (degrees, edges included): the points
    /// inside it when at most `limit` match, else `clusters`, the exact count and centroid of
    /// the matching points per H3 cell at a resolution fitting the box (about a dozen cells
    /// across). `min_lon > max_lon` is a box crossing the antimeridian (as GeoJSON's bbox).
    /// Not with `q`, `radius_m` or `rank=room`.
    #[param(example = "-3.8,40.3,-3.6,40.5")]
    bbox: Option<String>,
    /// Text to find: points whose name or external id has words beginning with each word of
    /// it (case and accents ignored; Chinese, Japanese and Korean text matches anywhere in a
    /// name). Best match first (the whole id or name, its beginning, whole words, then
    /// prefixes), then nearest to `lat`/`lon` when given, then by id. 1 to 100 characters.
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[0-9A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u4E00-\u9FA5][^\x00-\x1f\x7f-\x9f]*$",
        example = "papeleria"
    )]
    q: Option<String>,
    /// How many points (1 to 100; default 10, with `bbox` 100: more matching points than
    /// this in the box are answered as clusters).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Only points within this many metres of `lat`/`lon` (not with `bbox`).
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
    /// Only points with every one of these capabilities: `step_free`, `parking`,
    /// `cash_on_delivery`, `id_check` (declared by the point) or `open_24_7` (open every
    /// minute of the week, from its hours). Repeat the parameter or separate names with
    /// commas (`capability=parking,step_free`); an unknown name is refused.
    #[param(inline, explode = true, style = Form)]
    capability: Option<Vec<CapabilityParam>>,
    /// The parcel's dimensions, `LxWxH` in centimetres (at most one decimal, any order): only
    /// points that take it (with `include_unavailable=true` the others too, not selectable,
    /// `does_not_fit`); `free_slots`, `min_free` and `rank=room` then count the slots of the
    /// size classes it may take, and `size_class` names the class it needs.
    #[param(
        example = "30x20x5",
        // The text of `network::sizes::DIMS_PATTERN` (an attribute takes a literal; a test
        // compares them).
        pattern = r"^\s*(?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])[xX](?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])[xX](?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])\s*$"
    )]
    parcel: Option<String>,
    /// The parcel's weight in kilograms (at most three decimals): only points that take it,
    /// as with `parcel`.
    #[param(
        example = "2.5",
        pattern = r"^\s*(?:[1-9][0-9]{0,2}(?:\.[0-9]{1,3})?|1000(?:\.0{1,3})?|0\.(?:[1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9]))\s*$"
    )]
    weight_kg: Option<String>,
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

/// The values of `capability` (documentation only).
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes the query for OpenAPI; parsed as Capabilities"
)]
enum CapabilityParam {
    #[schema(rename = "step_free")]
    StepFree,
    #[schema(rename = "parking")]
    Parking,
    #[schema(rename = "cash_on_delivery")]
    CashOnDelivery,
    #[schema(rename = "id_check")]
    IdCheck,
    #[schema(rename = "open_24_7")]
    Open24x7,
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

pub(super) fn parse_rank(v: &str) -> Result<Rank, String> {
    match v {
        "distance" => Ok(Rank::Distance),
        "room" => Ok(Rank::Room),
        other => Err(format!("unknown order {other:?} (use distance or room)")),
    }
}

pub(super) fn boolean(v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

pub(super) fn sku_text(v: &str) -> Result<String, String> {
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
    /// Haversine distance from `lat`/`lon`, metres; null when the search gave no position
    /// (`bbox` or `q` alone).
    pub distance_m: Option<f64>,
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
    /// What the point declares (`step_free`, `parking`, `cash_on_delivery`, `id_check`) and
    /// `open_24_7` when its hours say it never closes; in that order.
    #[schema(value_type = Vec<Capability>)]
    pub capabilities: Capabilities,
    /// An https URL of a photo of the shop; null when the partner gave none.
    pub photo_url: Option<&'a str>,
    /// Postal address; null when the partner gave none.
    pub address: Option<&'a Address>,
    /// Phone customers may call; null when the partner gave none.
    pub phone: Option<&'a str>,
    /// Names and addresses in Chinese and Spanish; null when none were given.
    pub localized: Option<&'a Localized>,
    /// The next instant the point opens (weekly hours in its time zone, closures skipped),
    /// RFC 3339 in UTC; null when it is open now or never opens again.
    #[serde(serialize_with = "minute_utc")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_open_at: Option<DateTime<Utc>>,
    /// With `parcel` or `weight_kg`: the size class (`S`, `M`, `L`) the parcel needs here
    /// (`free_slots` counts that class and the larger ones); absent otherwise or when it does
    /// not fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_class: Option<SizeClass>,
    /// With `unavailable_reason` `does_not_fit`: the point's limit the parcel exceeds
    /// (`max_weight`, `max_dimensions`, or `size_class`: no slots of its size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<&'static str>,
}

/// Serialises an optional instant as RFC 3339 in UTC, in whole seconds (as search_json does).
fn minute_utc<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        None => s.serialize_none(),
    }
}

/// A search answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPoints<'a> {
    /// Nearest first, equal distances by id; with `rank=room`, selectable first, then by room
    /// score, distance and id. With `q`: best match first, then nearest, then by id. With
    /// `bbox`: every matching point of the box (nearest to `lat`/`lon` first, else by id), or
    /// none when the answer is `clusters`.
    pub items: Vec<PickupPoint<'a>>,
    /// With `bbox` only: how many points of the box match, exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// With `bbox` only: empty when `items` holds every matching point; else the matching
    /// points counted per H3 cell, in cell order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<PointCluster>>,
}

/// The matching points of one H3 cell inside a `bbox`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PointCluster {
    /// The H3 cell, hexadecimal (its resolution fits the box; outline: `/v1/h3-cells`).
    #[schema(value_type = String)]
    pub cell: CellHex,
    /// How many matching points of the cell lie inside the box (exact).
    pub count: u32,
    /// Their mean latitude, degrees.
    pub lat: f64,
    /// Their mean longitude, degrees.
    pub lon: f64,
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
    /// What parcels the point takes: its slots by size class and the heaviest and largest
    /// parcel (docs/merchants.md, "Parcel sizes").
    pub sizes: crate::network::sizes::SizesView,
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
    let query = super::search_modes::point_query(&q)?;
    let stock = if query.needs_stock() {
        let (pool, query) = (state.pool.clone(), query.clone());
        blocking(move || Ok(StockMarks::load(&mut *crate::db::checkout(&pool)?, &query)?)).await?
    } else {
        StockMarks::default()
    };
    let now = Utc::now();
    let index = state.network.index();
    let (found, area) = if query.area.is_some() {
        match points::in_area(&index, &query, &stock) {
            points::AreaPoints::Points(found) => {
                let total = found.len();
                (found, Some((total, Vec::new())))
            }
            points::AreaPoints::Clusters { clusters, .. } => {
                let total = clusters.iter().map(|c| c.count as usize).sum();
                let clusters = clusters
                    .iter()
                    .map(|c| PointCluster {
                        cell: CellHex(c.cell as i64),
                        count: c.count,
                        lat: c.lat,
                        lon: c.lon,
                    })
                    .collect();
                (Vec::new(), Some((total, clusters)))
            }
        }
    } else if query.text.is_some() {
        (points::by_text(&index, &query, &stock), None)
    } else {
        (points::nearest(&index, &query, &stock), None)
    };
    let answer: Vec<PickupPoint> = found.iter().map(|p| describe(p, now)).collect();
    // Written while the index is held: the answer borrows names and hours from it instead
    // of copying every string of every point.
    let mut body = Vec::with_capacity(super::search_json::capacity_for(answer.len()));
    let area = area
        .as_ref()
        .map(|(total, clusters)| (*total, clusters.as_slice()));
    super::search_json::write_answer(&answer, area, &mut body);
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
    let open_now = shop.is_open_at(now);
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
        open_now,
        selectable: p.availability.selectable,
        unavailable_reason: p.availability.reason,
        open_at_arrival: p.availability.open_at_arrival,
        timezone: opening_hours.as_ref().map(|_| shop.timezone.name()),
        opening_hours,
        in_stock: p.in_stock,
        services: shop.services,
        capabilities: shop.capabilities(),
        photo_url: shop.profile.photo_url.as_deref(),
        address: shop.details.as_ref().and_then(|d| d.address.as_ref()),
        phone: shop.details.as_ref().and_then(|d| d.phone.as_deref()),
        localized: shop.details.as_ref().and_then(|d| d.localized.as_deref()),
        next_open_at: if open_now {
            None
        } else {
            shop.next_open_at(now)
        },
        size_class: p.size_class,
        limit: p.misfit.map(|m| m.limit()),
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
    let sizes = crate::network::sizes::SizesView::of(&row.sizes(), row.capacity);
    Ok(HttpResponse::Ok().json(PickupPointDetail {
        sizes,
        shop: row.into_shop(),
        open_now,
        closures,
    }))
}
