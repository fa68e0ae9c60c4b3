//! Planners' staging for peak events, and the partners' side of it (manifests, receipts).

use super::auth::Bearer;
use super::body::{Body, Upload};
use super::{with_conn, AppState};
use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::staging::allocator::Params;
use crate::staging::demand;
use crate::staging::events::{self, Event};
use crate::staging::forecast;
use crate::staging::plans::{self, PlanState, PlanView};
use crate::staging::receipts::{self, Receipt, ShopManifest};
use actix_web::{get, post, web, HttpResponse};
use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const PLANNERS: &[Role] = &[Role::Planner, Role::Admin];

/// A new peak event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// Name, e.g. "Singles Day 2026".
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Singles Day 2026"
    )]
    pub name: String,
    /// Start, RFC 3339 (e.g. `2026-11-11T00:00:00+08:00`).
    #[schema(format = DateTime, example = "2026-11-11T00:00:00+08:00")]
    pub starts_at: String,
    /// End, RFC 3339; after `starts_at`.
    #[schema(format = DateTime, example = "2026-11-12T00:00:00+08:00")]
    pub ends_at: String,
    /// IANA time zone the window is meant in (default UTC).
    #[schema(example = "Asia/Shanghai")]
    pub timezone: Option<String>,
}

fn instant(field: &'static str, value: &str) -> Result<NaiveDateTime, ApiError> {
    super::params::instant(value)
        .map(|t| t.naive_utc())
        .map_err(|m| ApiError::bad_parameter(field, format!("{field}: {m}")))
}

/// Creates a peak event.
#[utoipa::path(tag = "planner", context_path = "/v1", request_body = NewEvent, security(("bearer" = [])), responses(
    (status = 201, body = Event),
    (status = 400, body = Problem, content_type = "application/problem+json"),
))]
#[post("/events")]
pub async fn create_event(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<NewEvent>,
) -> Result<HttpResponse, ApiError> {
    let sub = auth.require(PLANNERS)?.sub.clone();
    let body = body.into_inner();
    let (starts, ends) = (
        instant("starts_at", &body.starts_at)?,
        instant("ends_at", &body.ends_at)?,
    );
    let tz = body.timezone.unwrap_or_else(|| "UTC".into());
    if tz.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::bad_parameter(
            "timezone",
            format!("timezone: unknown time zone {tz:?}"),
        ));
    }
    let event = with_conn(&state, move |conn| {
        Ok(events::create_event(
            conn,
            &body.name,
            starts,
            ends,
            &tz,
            &sub,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(event))
}

/// Events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Events {
    /// The events.
    pub items: Vec<Event>,
}

/// Lists the peak events.
#[utoipa::path(tag = "planner", context_path = "/v1", security(("bearer" = [])), responses((status = 200, body = Events)))]
#[get("/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<web::Json<Events>, ApiError> {
    auth.require(PLANNERS)?;
    Ok(web::Json(Events {
        items: with_conn(&state, |conn| Ok(events::list_events(conn)?)).await?,
    }))
}

/// What a forecast upload stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastSummary {
    /// Rows stored.
    pub rows: usize,
    /// Units in all.
    pub units: u64,
}

/// Uploads an event's forecast (CSV `zone,sku,units[,size]`), replacing any earlier one; all or
/// nothing.
#[utoipa::path(tag = "planner", context_path = "/v1", params(("id" = i64, Path, description = "event id", example = 1)),
    request_body(content = String, content_type = "text/csv", description = "zone,sku,units or zone,sku,units,size; zone an H3 cell in hex, resolution 5 to 10; size the size class of the SKU's units, S, M or L (empty or no column: S, the smallest; one size per SKU)",
        example = json!("zone,sku,units,size\n89390cb1b0bffff,TEA,2,S\n89390cb1b0bffff,KETTLE,1,M\n")),
    security(("bearer" = [])), responses(
    (status = 200, body = ForecastSummary),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/events/{id}/forecast")]
pub async fn upload_forecast(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    Upload(body): Upload,
) -> Result<web::Json<ForecastSummary>, ApiError> {
    auth.require(PLANNERS)?;
    let id = id.into_inner();
    let summary = with_conn(&state, move |conn| {
        let rows = forecast::parse(&body)?;
        let units = demand::replace_forecast(conn, id, &rows)?;
        Ok(ForecastSummary {
            rows: rows.len(),
            units,
        })
    })
    .await?;
    Ok(web::Json(summary))
}

/// How to derive a forecast from past reservations.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeriveRequest {
    /// Reservations of the last this many days (default 28).
    #[schema(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
    /// Peak uplift factor applied to the counts (default 3.0).
    #[schema(minimum = 0.0, maximum = 1000.0)]
    pub uplift: Option<f64>,
    /// Zone resolution, 5 to 10 (default 8).
    #[schema(minimum = 5, maximum = 10)]
    pub resolution: Option<u8>,
}

/// Derives the event's forecast from past reservations per zone and SKU, times an uplift.
#[utoipa::path(tag = "planner", context_path = "/v1", params(("id" = i64, Path, description = "event id", example = 1)), request_body = Option<DeriveRequest>,
    security(("bearer" = [])), responses(
    (status = 200, body = ForecastSummary),
    (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
))]
#[post("/events/{id}/forecast/derive")]
pub async fn derive_forecast(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    body: Body<DeriveRequest>,
) -> Result<web::Json<ForecastSummary>, ApiError> {
    auth.require(PLANNERS)?;
    let (id, body) = (id.into_inner(), body.into_inner());
    let days = body.days.unwrap_or(28);
    let uplift = body.uplift.unwrap_or(3.0);
    if !(1..=366).contains(&days) {
        return Err(ApiError::bad_parameter(
            "days",
            "days must be between 1 and 366",
        ));
    }
    if !(uplift.is_finite() && (0.0..=1000.0).contains(&uplift)) {
        return Err(ApiError::bad_parameter(
            "uplift",
            "uplift must be between 0 and 1000",
        ));
    }
    let resolution = body
        .resolution
        .unwrap_or(8)
        .try_into()
        .ok()
        .filter(|r: &h3o::Resolution| forecast::ZONE_RESOLUTIONS.contains(&u8::from(*r)))
        .ok_or_else(|| {
            ApiError::bad_parameter("resolution", "resolution must be between 5 and 10")
        })?;
    let summary = with_conn(&state, move |conn| {
        let rows =
            demand::derive_forecast(conn, id, days, uplift, resolution, Utc::now().naive_utc())?;
        let units = demand::replace_forecast(conn, id, &rows)?;
        Ok(ForecastSummary {
            rows: rows.len(),
            units,
        })
    })
    .await?;
    Ok(web::Json(summary))
}

/// Parameters of a plan.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Farthest a unit is staged from its zone, km (default 3).
    #[schema(exclusive_minimum = 0.0, maximum = 50.0)]
    pub radius_km: Option<f64>,
    /// Cost of one unit not staged, km (default 50).
    #[schema(minimum = 0.0, maximum = 100000.0)]
    pub penalty_km: Option<f64>,
    /// Staging capacity of every shop, units (default: its capacity minus its live parcels).
    #[schema(minimum = 0, maximum = 100000)]
    pub staging_capacity: Option<u32>,
}

/// Computes a staging plan for the event's forecast on the current network (a draft).
#[utoipa::path(tag = "planner", context_path = "/v1", params(("id" = i64, Path, description = "event id", example = 1)), request_body = Option<PlanRequest>,
    security(("bearer" = [])), responses(
    (status = 201, body = PlanView),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/events/{id}/plans")]
pub async fn create_plan(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    body: Body<PlanRequest>,
) -> Result<HttpResponse, ApiError> {
    let sub = auth.require(PLANNERS)?.sub.clone();
    let (id, body) = (id.into_inner(), body.into_inner());
    let defaults = Params::default();
    let params = Params {
        radius_km: body.radius_km.unwrap_or(defaults.radius_km),
        penalty_km: body.penalty_km.unwrap_or(defaults.penalty_km),
    };
    let plan = with_conn(&state, move |conn| {
        Ok(plans::compute_plan(
            conn,
            id,
            &params,
            body.staging_capacity,
            &sub,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(plan))
}

/// A plan with its report: coverage within 1, 2, 3 km, utilisation, unmet demand by zone.
#[utoipa::path(tag = "planner", context_path = "/v1", params(("id" = i64, Path, description = "plan id", example = 1)), security(("bearer" = [])), responses(
    (status = 200, body = PlanView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/plans/{id}")]
pub async fn get_plan(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<PlanView>, ApiError> {
    auth.require(PLANNERS)?;
    let id = id.into_inner();
    Ok(web::Json(
        with_conn(&state, move |conn| Ok(plans::plan_view(conn, id)?)).await?,
    ))
}

/// The plan's map (SVG: zones coloured by unmet demand, shops by utilisation).
#[utoipa::path(tag = "planner", context_path = "/v1", params(("id" = i64, Path, description = "plan id", example = 1)), security(("bearer" = [])), responses(
    (status = 200, content_type = "image/svg+xml", body = String),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/plans/{id}/map.svg")]
pub async fn plan_map(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    auth.require(PLANNERS)?;
    let id = id.into_inner();
    let svg = with_conn(&state, move |conn| Ok(plans::plan_map(conn, id)?)).await?;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").body(svg))
}

/// Approves a draft plan.
#[utoipa::path(tag = "planner", context_path = "/v1", params(("id" = i64, Path, description = "plan id", example = 2)), security(("bearer" = [])), responses(
    (status = 200, body = PlanView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/plans/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<PlanView>, ApiError> {
    step(state, auth, id.into_inner(), PlanState::Approved).await
}

/// Dispatches an approved plan: each partner now sees its manifest.
#[utoipa::path(tag = "planner", context_path = "/v1", params(("id" = i64, Path, description = "plan id", example = 3)), security(("bearer" = [])), responses(
    (status = 200, body = PlanView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/plans/{id}/dispatch")]
pub async fn dispatch(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<PlanView>, ApiError> {
    step(state, auth, id.into_inner(), PlanState::Dispatched).await
}

async fn step(
    state: web::Data<AppState>,
    auth: Bearer,
    id: i64,
    to: PlanState,
) -> Result<web::Json<PlanView>, ApiError> {
    auth.require(PLANNERS)?;
    Ok(web::Json(
        with_conn(&state, move |conn| {
            Ok(plans::advance(conn, id, to, Utc::now().naive_utc())?)
        })
        .await?,
    ))
}

/// The partner's manifests.
#[derive(Debug, Serialize, ToSchema)]
pub struct Manifests {
    /// Newest first.
    pub items: Vec<ShopManifest>,
}

/// Staged stock sent to the partner's shop (dispatched plans), with receipt status.
#[utoipa::path(tag = "partner", context_path = "/v1", security(("bearer" = [])), responses((status = 200, body = Manifests)))]
#[get("/partner/staging")]
pub async fn partner_staging(
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<web::Json<Manifests>, ApiError> {
    let shop = auth.0.partner_shop()?;
    Ok(web::Json(Manifests {
        items: with_conn(&state, move |conn| {
            Ok(receipts::shop_manifests(conn, shop)?)
        })
        .await?,
    }))
}

/// Confirms receipt of a plan's staged stock at the partner's shop, in full or with
/// shortfalls (`lines` lists the SKUs that did not arrive in full).
#[utoipa::path(tag = "partner", context_path = "/v1", params(("id" = i64, Path, description = "plan id", example = 1)), request_body = Option<Receipt>,
    security(("bearer" = [])), responses(
    (status = 200, body = ShopManifest),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/partner/staging/{id}/receipt")]
pub async fn receipt(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    body: Body<Receipt>,
) -> Result<web::Json<ShopManifest>, ApiError> {
    let shop = auth.0.partner_shop()?;
    let (id, body) = (id.into_inner(), body.into_inner());
    let (manifest, live) = with_conn(&state, move |conn| {
        let manifest = receipts::receive(conn, shop, id, &body, Utc::now().naive_utc())?;
        let live = match crate::network::load::region_of(conn, shop)? {
            Some(region) => crate::network::load::live(conn, shop, region)?,
            None => 0,
        };
        Ok((manifest, live))
    })
    .await?;
    // The units now hold slots: this instance's search shows it at once.
    state.network.set_live(shop, live);
    Ok(web::Json(manifest))
}
