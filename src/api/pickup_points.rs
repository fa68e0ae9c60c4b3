//! Customers' view of the network: the nearest pickup points, and one point.

use super::params::{instant, integer_in, number_in, QueryParams};
use super::{blocking, AppState};
use crate::error::{ApiError, Problem};
use crate::network::geo::cell_hex;
use crate::network::{SearchFilter, Shop, ShopStatus};
use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// Largest `limit` accepted.
pub const MAX_LIMIT: i64 = 100;

/// Query parameters of the search (documentation only: parsing names each bad parameter).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "describes the query for OpenAPI; parsed by QueryParams"
)]
struct SearchQuery {
    /// Latitude of the customer, degrees (-90 to 90).
    lat: f64,
    /// Longitude of the customer, degrees (-180 to 180).
    lon: f64,
    /// How many points (1 to 100, default 10).
    limit: Option<u32>,
    /// Only points within this many metres.
    radius_m: Option<f64>,
    /// Only points open at this instant (RFC 3339), in each shop's own time zone.
    open_at: Option<String>,
    /// Only points with at least this many free slots.
    min_free: Option<u32>,
    /// Only points holding staged stock of this SKU, for instant pickup.
    sku: Option<String>,
}

/// One pickup point in a search answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPoint {
    /// pudo's shop id.
    pub id: i64,
    /// The partner's reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Haversine distance from the query point, metres.
    pub distance_m: f64,
    /// H3 cell (resolution 9), hexadecimal.
    pub h3_cell: String,
    /// Parcel slots.
    pub capacity: i32,
    /// Slots not held by a reservation or parcel (kept current within about a second; a
    /// reservation is checked against the database itself).
    pub free_slots: i32,
    /// Always `active` in search answers.
    pub status: ShopStatus,
    /// Whether the shop is open at the time of the request.
    pub open_now: bool,
}

/// A search answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPoints {
    /// Nearest first; equal distances by id.
    pub items: Vec<PickupPoint>,
}

/// One pickup point with its full record.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPointDetail {
    /// The stored shop.
    #[serde(flatten)]
    pub shop: Shop,
    /// Whether the shop is open at the time of the request.
    pub open_now: bool,
}

/// The nearest active pickup points to a location, exactly, by great-circle distance.
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
) -> Result<web::Json<PickupPoints>, ApiError> {
    let q = QueryParams::new(
        query.into_inner(),
        &[
            "lat", "lon", "limit", "radius_m", "open_at", "min_free", "sku",
        ],
    )?;
    let lat = q.required("lat", number_in(-90.0, 90.0))?;
    let lon = q.required("lon", number_in(-180.0, 180.0))?;
    let limit = q.optional("limit", integer_in(1, MAX_LIMIT))?.unwrap_or(10) as usize;
    let radius = q.optional("radius_m", number_in(0.0, f64::MAX))?;
    let open_at = q.optional("open_at", instant)?;
    let min_free = q
        .optional("min_free", integer_in(0, 100_000))?
        .map(|m| m as i32);
    let sku = q.optional("sku", |v| {
        if v.chars().count() > 64 {
            Err("is longer than 64 characters".to_owned())
        } else {
            Ok(v.to_owned())
        }
    })?;
    let stocked: Option<std::collections::HashSet<i64>> = match sku {
        None => None,
        Some(sku) => {
            let network = state.network.clone();
            let ids = super::blocking(move || {
                Ok(crate::pickup::store::shops_with_staged(
                    &mut *network.conn()?,
                    &sku,
                )?)
            })
            .await?;
            Some(ids.into_iter().collect())
        }
    };
    let in_stock = |shop: &crate::network::index::IndexedShop| {
        stocked.as_ref().is_none_or(|s| s.contains(&shop.id))
    };
    let filter = SearchFilter {
        limit,
        max_distance_m: radius,
        open_at,
        min_free,
        accept: stocked
            .as_ref()
            .map(|_| &in_stock as &(dyn Fn(&crate::network::index::IndexedShop) -> bool + Sync)),
    };
    let now = Utc::now();
    let index = state.network.index();
    let items = index
        .search(lat, lon, &filter)
        .into_iter()
        .map(|hit| PickupPoint {
            id: hit.shop.id,
            external_id: (*hit.shop.external_id).to_owned(),
            name: (*hit.shop.name).to_owned(),
            lat: hit.shop.latitude,
            lon: hit.shop.longitude,
            distance_m: hit.distance_m,
            h3_cell: cell_hex(hit.shop.h3_cell),
            capacity: hit.shop.capacity,
            free_slots: (hit.shop.capacity - hit.shop.live).max(0),
            status: hit.shop.status,
            open_now: hit.shop.hours.is_open_at(hit.shop.timezone, now),
        })
        .collect();
    drop(index);
    state.metrics.searches.inc();
    Ok(web::Json(PickupPoints { items }))
}

/// One pickup point by id, whatever its status.
#[utoipa::path(
    tag = "customer",
    context_path = "/v1",
    params(("id" = i64, Path, description = "pudo's shop id")),
    responses(
        (status = 200, body = PickupPointDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/pickup-points/{id}")]
pub async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let network = state.network.clone();
    let row = blocking(move || Ok(network.find(id)?)).await?;
    let row = row.ok_or_else(|| ApiError::NotFound(format!("no pickup point with id {id}")))?;
    let open_now = row
        .to_indexed()
        .is_some_and(|s| s.hours.is_open_at(s.timezone, Utc::now()));
    Ok(HttpResponse::Ok().json(PickupPointDetail {
        shop: row.into_shop(),
        open_now,
    }))
}
