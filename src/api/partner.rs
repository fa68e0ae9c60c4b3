//! The partner API: a shop owner's parcels, handovers, returns and shop settings. A partner
//! token reaches its own shop only; another shop's parcel answers 404, as if it did not exist.

use super::auth::Bearer;
use super::body::Body;
use super::params::QueryParams;
use super::{with_conn, AppState};
use crate::error::{ApiError, Problem};
use crate::network::ShopStatus;
use crate::pickup::partner_shop::{self, PartnerShop};
use crate::pickup::{self, CodeKind, Handover, Parcel, ParcelState};
use actix_web::{get, patch, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The partner's shop.
#[utoipa::path(tag = "partner", context_path = "/v1", security(("bearer" = [])), responses(
    (status = 200, body = PartnerShop),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/partner/shop")]
pub async fn get_shop(
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<web::Json<PartnerShop>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    Ok(web::Json(
        with_conn(&state, move |conn| Ok(partner_shop::view(conn, shop_id)?)).await?,
    ))
}

/// Changes to the partner's shop.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopPatch {
    /// `active` to reopen, `paused` to stop taking parcels (closing a shop is for operators).
    pub status: Option<PartnerStatus>,
    /// New number of parcel slots (not below the parcels held).
    #[schema(minimum = 0, maximum = 100000)]
    pub capacity: Option<i32>,
}

/// The statuses a partner may set.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerStatus {
    /// Taking parcels.
    Active,
    /// Not taking parcels for now.
    Paused,
}

impl From<PartnerStatus> for ShopStatus {
    fn from(s: PartnerStatus) -> Self {
        match s {
            PartnerStatus::Active => ShopStatus::Active,
            PartnerStatus::Paused => ShopStatus::Paused,
        }
    }
}

/// Pauses or reopens the shop, or changes its capacity.
#[utoipa::path(tag = "partner", context_path = "/v1", request_body = Option<ShopPatch>, security(("bearer" = [])), responses(
    (status = 200, body = PartnerShop),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/partner/shop")]
pub async fn patch_shop(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<ShopPatch>,
) -> Result<web::Json<PartnerShop>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let ShopPatch { status, capacity } = body.into_inner();
    let status = status.map(ShopStatus::from);
    let shop = with_conn(&state, move |conn| {
        Ok(partner_shop::patch(
            conn,
            shop_id,
            status,
            capacity,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    let network = state.network.clone();
    // Reflect the change in this instance's search at once; others follow within a second.
    super::blocking(move || Ok(network.refresh()?)).await?;
    Ok(web::Json(shop))
}

/// Which parcels to list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the fields document the query for OpenAPI; QueryParams::of accepts exactly their names and parses each"
)]
struct ParcelQuery {
    /// `arriving` (reserved), `waiting` (at the shop), `to_return` (expired), `done`
    /// (picked up or returned), or a state name; default: arriving, waiting and to_return.
    #[param(inline)]
    state: Option<ParcelFilter>,
}

/// The values of `state` (documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "describes the query for OpenAPI; parsed by states"
)]
enum ParcelFilter {
    Arriving,
    Waiting,
    ToReturn,
    Done,
    Reserved,
    AtPoint,
    PickedUp,
    Expired,
    Returned,
    Cancelled,
}

/// A list of parcels.
#[derive(Debug, Serialize, ToSchema)]
pub struct Parcels {
    /// Newest first, at most 500.
    pub items: Vec<Parcel>,
}

fn states(name: &str) -> Result<Vec<ParcelState>, String> {
    use ParcelState::*;
    Ok(match name {
        "arriving" => vec![Reserved],
        "waiting" => vec![AtPoint],
        "to_return" => vec![Expired],
        "done" => vec![PickedUp, Returned],
        other => vec![other.parse().map_err(|_| {
            format!("unknown state {other:?} (use arriving, waiting, to_return, done or a parcel state)")
        })?],
    })
}

/// The shop's parcels: arriving, waiting for pickup, to return.
#[utoipa::path(tag = "partner", context_path = "/v1", params(ParcelQuery), security(("bearer" = [])), responses(
    (status = 200, body = Parcels),
    (status = 400, body = Problem, content_type = "application/problem+json"),
))]
#[get("/partner/parcels")]
pub async fn parcels(
    state: web::Data<AppState>,
    auth: Bearer,
    query: web::Query<Vec<(String, String)>>,
) -> Result<web::Json<Parcels>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let q = QueryParams::of::<ParcelQuery>(query.into_inner())?;
    let wanted = q.optional("state", states)?.unwrap_or_else(|| {
        vec![
            ParcelState::Reserved,
            ParcelState::AtPoint,
            ParcelState::Expired,
        ]
    });
    let data_key = *state.keys.data_key();
    let items = with_conn(&state, move |conn| {
        Ok(pickup::list_for_shop(
            conn, &data_key, shop_id, &wanted, 500,
        )?)
    })
    .await?;
    Ok(web::Json(Parcels { items }))
}

/// Marks a parcel as arrived at the shop; this issues its pickup code (sent to the merchant,
/// never shown to the partner). Repeating it is harmless.
#[utoipa::path(tag = "partner", context_path = "/v1", params(("id" = i64, Path, description = "parcel id", example = 5)), security(("bearer" = [])), responses(
    (status = 200, body = Parcel),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/partner/parcels/{id}/arrival")]
pub async fn arrival(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<Parcel>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let (id, keys, hold) = (id.into_inner(), state.keys.clone(), state.hold);
    let functions = state.writes.settings().path == pickup::WritePath::Functions;
    let (parcel, late) = with_conn(&state, move |conn| {
        let issuer = pickup::CodeIssuer {
            data_key: keys.data_key(),
            hold,
        };
        let now = Utc::now().naive_utc();
        Ok(pickup::reservations::arrive_scanned(
            conn, &issuer, shop_id, id, now, functions,
        )?)
    })
    .await?;
    if late {
        state.metrics.late_scans.inc();
    }
    Ok(web::Json(parcel))
}

/// Marks an expired parcel as sent back; frees its slot.
#[utoipa::path(tag = "partner", context_path = "/v1", params(("id" = i64, Path, description = "parcel id", example = 9)), security(("bearer" = [])), responses(
    (status = 200, body = Parcel),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/partner/parcels/{id}/return")]
pub async fn return_parcel(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<Parcel>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let id = id.into_inner();
    let parcel = with_conn(&state, move |conn| {
        Ok(pickup::return_parcel(
            conn,
            shop_id,
            id,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(web::Json(parcel))
}

/// A handover confirmation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverRequest {
    /// The pickup code the customer shows (spaces and dashes are ignored).
    #[schema(example = "3917 4402")]
    pub code: String,
    /// The partner collected the parcel's cash on delivery (needed for a parcel with one).
    #[serde(default)]
    pub cash_collected: bool,
    /// The partner made the parcel's ID or age check and it passed (needed for a parcel with
    /// one). Only that it was made is recorded, never anything of the ID.
    #[serde(default)]
    pub id_checked: bool,
}

/// Confirms a handover with the customer's pickup code.
///
/// 200 with the order to hand over (`replay: true` when this code was confirmed before: hand
/// nothing over again); 404 unknown code; 410 expired; 409 returned or cancelled; 429 with
/// `Retry-After` after 5 wrong codes at the shop within 10 minutes. A parcel with cash on
/// delivery needs `cash_collected: true` (else 409 `cash_not_confirmed` with the amount), one
/// with an ID check `id_checked: true` (else 409 `id_check_required` with the check); the
/// answer then names what was confirmed.
#[utoipa::path(tag = "partner", context_path = "/v1", request_body = HandoverRequest, security(("bearer" = [])), responses(
    (status = 200, body = Handover),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 410, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/partner/handovers")]
pub async fn handover(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<HandoverRequest>,
) -> Result<web::Json<Handover>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let actor = auth.0.sub.clone();
    let body = body.into_inner();
    let outcome = state
        .writes
        .handover(pickup::HandoverRequest {
            shop_id,
            actor,
            code: body.code,
            confirmed: pickup::Confirmations {
                cash_collected: body.cash_collected,
                id_checked: body.id_checked,
            },
        })
        .await;
    state
        .metrics
        .code_attempt(CodeKind::Handover, outcome.as_ref().ok());
    Ok(web::Json(outcome?.into_result(CodeKind::Handover)?))
}
