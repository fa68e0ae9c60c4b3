//! Returns at the counter: the merchant registers a return and reads its drop-off code once;
//! the partner accepts it with the code and confirms what the carrier collected.

use super::auth::Bearer;
use super::body::Body;
use super::{with_conn, AppState};
use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::pickup::collections::{self, Collection};
use crate::pickup::dropoffs::{self, Dropoff};
use crate::pickup::returns::{self, Return, DROPOFF_CODE_DAYS};
use crate::pickup::{codes, CodeIssuer, CodeKind};
use actix_web::{get, post, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A return to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// The drop-off point the customer chose; the code works there only.
    #[schema(example = 1)]
    pub pickup_point_id: i64,
    /// The merchant's order reference; repeating it answers the same return.
    #[schema(
        example = "return-1001",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub order_ref: String,
    /// Optional SKU of the item sent back.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub sku: Option<String>,
}

/// A return as its merchant sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnView {
    /// The return.
    #[serde(flatten)]
    pub r#return: Return,
    /// The drop-off code for the customer, in clear exactly once: the first read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropoff_code: Option<String>,
    /// The drop-off code as an SVG QR code, alongside `dropoff_code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropoff_code_qr_svg: Option<String>,
}

/// Registers a return at a drop-off point (idempotent on `order_ref`).
///
/// 201 when created, 200 when `order_ref` already had this return; read the drop-off code
/// once with `GET /v1/returns/{id}`. 409 with `reason` `paused` or `closed` when the point
/// takes no parcels, `no_returns_service` when it does not offer the `returns` service,
/// `order_ref_in_use` when the order has a return at another point.
#[utoipa::path(tag = "merchant", context_path = "/v1", request_body = ReturnRequest,
    security(("bearer" = [])), responses(
    (status = 201, body = Return),
    (status = 200, description = "The same order_ref was registered before", body = Return),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/returns")]
pub async fn register(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<ReturnRequest>,
) -> Result<HttpResponse, ApiError> {
    let merchant = auth.require(&[Role::Merchant, Role::Admin])?.sub.clone();
    let body = body.into_inner();
    let keys = state.keys.clone();
    let (ret, created) = with_conn(&state, move |conn| {
        let r = returns::NewReturn {
            merchant: &merchant,
            shop_id: body.pickup_point_id,
            order_ref: &body.order_ref,
            sku: body.sku.as_deref(),
        };
        let issuer = CodeIssuer {
            data_key: keys.data_key(),
            hold: chrono::Duration::days(DROPOFF_CODE_DAYS),
        };
        Ok(returns::register(
            conn,
            &r,
            &issuer,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(if created {
        HttpResponse::Created().json(ret)
    } else {
        HttpResponse::Ok().json(ret)
    })
}

/// A return; the first read carries the drop-off code and its QR code.
#[utoipa::path(tag = "merchant", context_path = "/v1",
    params(("id" = i64, Path, description = "return id", example = 1)),
    security(("bearer" = [])), responses(
    (status = 200, body = ReturnView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/returns/{id}")]
pub async fn read(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<ReturnView>, ApiError> {
    let merchant = auth.require(&[Role::Merchant, Role::Admin])?.sub.clone();
    let (id, keys) = (id.into_inner(), state.keys.clone());
    let (ret, code) = with_conn(&state, move |conn| {
        Ok(returns::read(conn, keys.data_key(), &merchant, id)?)
    })
    .await?;
    let qr = code.as_deref().map(codes::qr_svg);
    Ok(web::Json(ReturnView {
        r#return: ret,
        dropoff_code: code,
        dropoff_code_qr_svg: qr,
    }))
}

/// A drop-off at the counter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DropoffRequest {
    /// The drop-off code the customer shows (spaces and dashes are ignored).
    #[schema(example = "5081 2296")]
    pub code: String,
}

/// Accepts a return at the shop with the customer's drop-off code; it takes a slot.
///
/// 200 with the order to label the parcel with (`replay: true` when this code was accepted
/// before: take nothing in twice); 404 unknown code (also a code of another shop); 410
/// expired; 409 `full` or `paused`; 429 with `Retry-After` after 5 wrong codes (pickup or
/// drop-off) at the shop within 10 minutes.
#[utoipa::path(tag = "partner", context_path = "/v1", request_body = DropoffRequest,
    security(("bearer" = [])), responses(
    (status = 200, body = Dropoff),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 410, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/partner/dropoffs")]
pub async fn dropoff(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<DropoffRequest>,
) -> Result<web::Json<Dropoff>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let actor = auth.0.sub.clone();
    let (code, keys) = (body.into_inner().code, state.keys.clone());
    let functions = state.writes.settings().path == crate::pickup::WritePath::Functions;
    let outcome = with_conn(&state, move |conn| {
        Ok(dropoffs::dropoff_on(
            conn,
            keys.data_key(),
            shop_id,
            &actor,
            &code,
            Utc::now().naive_utc(),
            functions,
        )?)
    })
    .await;
    state
        .metrics
        .code_attempt(CodeKind::Dropoff, outcome.as_ref().ok());
    Ok(web::Json(outcome?.into_result(CodeKind::Dropoff)?))
}

/// Returns waiting at the shop.
#[derive(Debug, Serialize, ToSchema)]
pub struct Returns {
    /// Oldest drop-off first, at most 1,000.
    pub items: Vec<Return>,
}

/// The returns waiting at the shop for the carrier.
#[utoipa::path(tag = "partner", context_path = "/v1", security(("bearer" = [])), responses(
    (status = 200, body = Returns),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/partner/collections")]
pub async fn waiting(
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<web::Json<Returns>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let items = with_conn(&state, move |conn| Ok(returns::waiting(conn, shop_id)?)).await?;
    Ok(web::Json(Returns { items }))
}

/// What the carrier's driver took.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionRequest {
    /// Ids of the returns handed to the driver (1 to 500).
    #[schema(min_items = 1, max_items = 500, example = json!([3]))]
    pub return_ids: Vec<i64>,
}

/// Confirms a carrier collection: all named returns or none; frees their slots.
///
/// A repeat is harmless (`already_collected`). 404 naming the ids that are not returns of
/// this shop, 409 `not_dropped_off` naming those not accepted yet; nothing is collected then.
#[utoipa::path(tag = "partner", context_path = "/v1", request_body = CollectionRequest,
    security(("bearer" = [])), responses(
    (status = 200, body = Collection),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/partner/collections")]
pub async fn collect(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<CollectionRequest>,
) -> Result<web::Json<Collection>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let actor = auth.0.sub.clone();
    let ids = body.into_inner().return_ids;
    let done = with_conn(&state, move |conn| {
        Ok(collections::collect(
            conn,
            shop_id,
            &actor,
            &ids,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    state
        .metrics
        .returns
        .with_label_values(&["collected"])
        .inc_by(done.collected_now.len() as u64);
    Ok(web::Json(done))
}
