//! The scan-in rule over HTTP: the carrier records a hand-in, the operator lists late and
//! missing arrival scans.

use super::auth::Bearer;
use super::body::Body;
use super::params::{instant, integer_in, QueryParams};
use super::{with_conn, AppState};
use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::pickup::scan_in::{self, Handin, ScanQuery, ScanState};
use actix_web::{get, post, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Body of a hand-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandinRequest {
    /// The parcel handed in (its reservation id, as on the label).
    #[schema(example = 10)]
    pub parcel_id: i64,
}

/// The carrier records that it handed a parcel in at its shop; the partner's arrival scan must
/// follow within `PUDO_SCAN_IN_MINUTES`. 201 when recorded, 200 for a repeat (the first
/// hand-in); 409 `wrong_state` when the parcel was collected, returned or cancelled.
#[utoipa::path(tag = "carrier", context_path = "/v1", request_body = HandinRequest, security(("bearer" = [])), responses(
    (status = 201, body = Handin),
    (status = 200, description = "The parcel was handed in before", body = Handin),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/carrier/handins")]
pub async fn hand_in(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<HandinRequest>,
) -> Result<HttpResponse, ApiError> {
    let carrier = auth.require(&[Role::Carrier, Role::Admin])?.sub.clone();
    let (parcel_id, limit) = (body.into_inner().parcel_id, state.scan_in_limit);
    let (handin, created) = with_conn(&state, move |conn| {
        Ok(scan_in::hand_in(
            conn,
            &carrier,
            parcel_id,
            limit,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(if created {
        HttpResponse::Created().json(handin)
    } else {
        HttpResponse::Ok().json(handin)
    })
}

/// Query of the scan-in list; the route accepts exactly these names (`QueryParams::of`), each parsed and checked by name.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the fields document the query for OpenAPI; QueryParams::of accepts exactly their names and parses each"
)]
struct ScanInQuery {
    /// `late` (scanned after the deadline), `missing` (deadline passed, not scanned),
    /// `pending` or `on_time`; default: all.
    #[param(inline)]
    state: Option<ScanStateParam>,
    /// Hand-ins at or after this instant (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Hand-ins before this instant (RFC 3339).
    #[param(format = DateTime)]
    to: Option<String>,
    /// Only this shop.
    #[param(minimum = 1)]
    shop_id: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The values of `state` (documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "describes the query for OpenAPI; parsed as a ScanState"
)]
enum ScanStateParam {
    Late,
    Missing,
    Pending,
    OnTime,
}

/// Hand-ins and their scans.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScanIns {
    /// The scan-in limit in force, minutes (`PUDO_SCAN_IN_MINUTES`).
    pub limit_minutes: i64,
    /// Most recent hand-in first.
    pub items: Vec<Handin>,
}

/// Late and missing arrival scans, for the network operator (admin).
#[utoipa::path(tag = "operations", context_path = "/v1", params(ScanInQuery), security(("bearer" = [])), responses(
    (status = 200, body = ScanIns),
    (status = 400, description = "A parameter is invalid; `parameter` names it", body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/ops/scan-ins")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Bearer,
    query: web::Query<Vec<(String, String)>>,
) -> Result<web::Json<ScanIns>, ApiError> {
    auth.require(&[Role::Admin])?;
    let q = QueryParams::of::<ScanInQuery>(query.into_inner())?;
    let scan = ScanQuery {
        state: q.optional("state", str::parse::<ScanState>)?,
        from: q.optional("from", instant)?.map(|t| t.naive_utc()),
        to: q.optional("to", instant)?.map(|t| t.naive_utc()),
        shop_id: q.optional("shop_id", integer_in(1, i64::MAX))?,
    };
    if let (Some(from), Some(to)) = (scan.from, scan.to) {
        if to <= from {
            return Err(ApiError::bad_parameter("to", "to must be after from"));
        }
    }
    let limit = q.optional("limit", integer_in(1, 1000))?.unwrap_or(100);
    let items = with_conn(&state, move |conn| {
        Ok(scan_in::list(conn, &scan, limit, Utc::now().naive_utc())?)
    })
    .await?;
    Ok(web::Json(ScanIns {
        limit_minutes: state.scan_in_limit.num_minutes(),
        items,
    }))
}
