//! The partner's closure periods (holidays, one-off closures): read and replace the list.

use super::auth::Bearer;
use super::body::Body;
use super::{with_conn, AppState};
use crate::error::{ApiError, Problem};
use crate::network::closure_store;
use crate::network::closures::{self, Closure};
use actix_web::{get, put, web};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A shop's closure periods: whole local days in the shop's time zone, end inclusive.
#[derive(Debug, Serialize, ToSchema)]
pub struct Closures {
    /// IANA time zone the dates are read in.
    pub timezone: String,
    /// Earliest first.
    pub closures: Vec<Closure>,
}

/// Body of a replacement: the whole new list (`[]` clears it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosuresRequest {
    /// At most 100 closures; each at most 366 days, `end` not before `start`.
    #[schema(max_items = 100)]
    pub closures: Vec<ClosureInput>,
}

/// One closure of a replacement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureInput {
    /// First closed day (local date, `YYYY-MM-DD`).
    #[schema(value_type = String, format = Date, example = "2026-12-24")]
    pub start: NaiveDate,
    /// Last closed day, inclusive; default `start` (one day).
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-26")]
    pub end: Option<NaiveDate>,
    /// Why the shop is closed (may be empty).
    pub reason: Option<String>,
}

/// The partner's closure periods.
#[utoipa::path(tag = "partner", context_path = "/v1", security(("bearer" = [])), responses(
    (status = 200, body = Closures),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/partner/shop/closures")]
pub async fn get_closures(
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<web::Json<Closures>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    Ok(web::Json(read(&state, shop_id).await?))
}

async fn read(state: &AppState, shop_id: i64) -> Result<Closures, ApiError> {
    with_conn(state, move |conn| {
        let shop = crate::network::store::find(conn, shop_id)?
            .ok_or_else(|| ApiError::NotFound(format!("no shop with id {shop_id}")))?;
        Ok(Closures {
            timezone: shop.timezone,
            closures: closure_store::list(conn, shop_id)?,
        })
    })
    .await
}

/// Replaces the partner's closure periods; the shop is then not offered (search, new
/// reservations, staging) while closed. Takes effect on every instance within
/// `PUDO_INDEX_REFRESH_MS`, at once on this one.
#[utoipa::path(tag = "partner", context_path = "/v1", request_body = ClosuresRequest, security(("bearer" = [])), responses(
    (status = 200, body = Closures),
    (status = 400, description = "A closure is invalid; `parameter` names it, e.g. `closures[0].end`", body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[put("/partner/shop/closures")]
pub async fn put_closures(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<ClosuresRequest>,
) -> Result<web::Json<Closures>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let list = checked(body.into_inner().closures)?;
    with_conn(&state, move |conn| {
        closure_store::replace(conn, shop_id, &list, Utc::now().naive_utc())?
            .ok_or_else(|| ApiError::NotFound(format!("no shop with id {shop_id}")))
    })
    .await?;
    let network = state.network.clone();
    super::blocking(move || Ok(network.refresh()?)).await?;
    Ok(web::Json(read(&state, shop_id).await?))
}

/// The closures of a replacement, each checked, naming the field at fault.
fn checked(items: Vec<ClosureInput>) -> Result<Vec<Closure>, ApiError> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let name = |f: &str| format!("closures[{i}].{f}");
        let (start, reason) = (item.start, item.reason.unwrap_or_default());
        let (end, reason) = (item.end.unwrap_or(start), reason.trim().to_owned());
        let closure = Closure { start, end, reason };
        closure.validate_field().map_err(|(field, m)| {
            ApiError::bad_parameter(name(field), format!("{}: {m}", name(field)))
        })?;
        out.push(closure);
    }
    closures::check_list(&out).map_err(|m| ApiError::bad_parameter("closures", m))?;
    Ok(out)
}
