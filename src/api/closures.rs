//! The partner's closure periods (holidays, one-off closures): read and replace the list.

use super::auth::Bearer;
use super::{with_conn, AppState};
use crate::error::{ApiError, Problem};
use crate::network::closure_store;
use crate::network::closures::{self, Closure, MAX_CLOSURES};
use actix_web::{get, put, web};
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
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
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes the body for OpenAPI; parsed field by field to name the one at fault"
)]
pub struct ClosuresRequest {
    /// At most 100 closures; each at most 366 days, `end` not before `start`.
    closures: Vec<Closure>,
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
    body: web::Bytes,
) -> Result<web::Json<Closures>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let list = parse_body(&body)?;
    with_conn(&state, move |conn| {
        closure_store::replace(conn, shop_id, &list, Utc::now().naive_utc())?
            .ok_or_else(|| ApiError::NotFound(format!("no shop with id {shop_id}")))
    })
    .await?;
    let network = state.network.clone();
    super::blocking(move || Ok(network.refresh()?)).await?;
    Ok(web::Json(read(&state, shop_id).await?))
}

/// Reads `{"closures": [{"start", "end", "reason"}]}`, naming the field at fault.
fn parse_body(body: &[u8]) -> Result<Vec<Closure>, ApiError> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the JSON body is invalid: {e}")))?;
    let Some(obj) = doc.as_object() else {
        return Err(ApiError::BadRequest(
            "the body must be an object {\"closures\": [...]}".into(),
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| *k != "closures") {
        return Err(ApiError::bad_parameter(
            unknown,
            format!("unknown field {unknown:?} (expected closures)"),
        ));
    }
    let items = obj
        .get("closures")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_parameter("closures", "closures must be an array"))?;
    if items.len() > MAX_CLOSURES {
        return Err(ApiError::bad_parameter(
            "closures",
            format!(
                "{} closures; a shop may have at most {MAX_CLOSURES}",
                items.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = |f: &str| format!("closures[{i}].{f}");
        let Some(fields) = item.as_object() else {
            return Err(ApiError::bad_parameter(
                format!("closures[{i}]"),
                format!("closures[{i}] must be an object {{start, end, reason}}"),
            ));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !["start", "end", "reason"].contains(&k.as_str()))
        {
            return Err(ApiError::bad_parameter(
                name(unknown),
                format!("unknown field {unknown:?} (expected start, end, reason)"),
            ));
        }
        let date = |f: &str| -> Result<NaiveDate, ApiError> {
            fields
                .get(f)
                .and_then(Value::as_str)
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .ok_or_else(|| {
                    ApiError::bad_parameter(
                        name(f),
                        format!("{} must be a date YYYY-MM-DD", name(f)),
                    )
                })
        };
        let start = date("start")?;
        let end = match fields.get("end") {
            None | Some(Value::Null) => start,
            Some(_) => date("end")?,
        };
        let reason = match fields.get("reason") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(_) => {
                return Err(ApiError::bad_parameter(
                    name("reason"),
                    format!("{} must be a string", name("reason")),
                ))
            }
        };
        let closure = Closure { start, end, reason };
        closure.validate().map_err(|m| {
            let field = if m.contains("reason") {
                "reason"
            } else {
                "end"
            };
            ApiError::bad_parameter(name(field), format!("{}: {m}", name(field)))
        })?;
        out.push(closure);
    }
    closures::check_list(&out).map_err(|m| ApiError::bad_parameter("closures", m))?;
    Ok(out)
}
