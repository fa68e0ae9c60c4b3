//! Fees and statements: the operator's fee schedule and the partner's monthly statement.

use super::auth::Bearer;
use super::body::Body;
use super::params::QueryParams;
use super::{with_conn, AppState};
use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::ledger::cash::{self, MerchantCash};
use crate::ledger::fees::{self, Fee, NewFee};
use crate::ledger::statement::{self, Statement};
use crate::ledger::{book, Month};
use actix_web::{get, http::header, put, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The fee schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fees {
    /// Every fee ever set, by kind, region (network-wide first) and date.
    pub items: Vec<Fee>,
}

/// The whole fee schedule (admin).
#[utoipa::path(tag = "operations", context_path = "/v1", security(("bearer" = [])), responses(
    (status = 200, body = Fees),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/ops/fees")]
pub async fn list_fees(
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<web::Json<Fees>, ApiError> {
    auth.require(&[Role::Admin])?;
    let items = with_conn(&state, |conn| Ok(fees::list(conn)?)).await?;
    Ok(web::Json(Fees { items }))
}

/// A change to the fee schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "effective_from": "2099-01-01",
    "fees": [{"kind": "handover", "amount_minor": 35, "currency": "EUR"}]
}))]
pub struct FeeChange {
    /// First day (UTC, `YYYY-MM-DD`) the fees apply; after today.
    #[schema(format = Date)]
    pub effective_from: String,
    /// The fees from that day on (1 to 10,000); kinds and regions not named keep theirs.
    pub fees: Vec<NewFee>,
}

/// Sets fees from a future day on, all or none (admin); answers the whole schedule.
///
/// 400 naming the field at fault (`effective_from`, `fees[2].currency`, …). Events are paid at
/// the fee in force on their day; the ledger keeps what it paid.
#[utoipa::path(tag = "operations", context_path = "/v1", request_body = FeeChange,
    security(("bearer" = [])), responses(
    (status = 200, body = Fees),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[put("/ops/fees")]
pub async fn set_fees(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<FeeChange>,
) -> Result<web::Json<Fees>, ApiError> {
    let actor = auth.require(&[Role::Admin])?.sub.clone();
    let FeeChange {
        effective_from,
        fees: new,
    } = body.into_inner();
    let from =
        chrono::NaiveDate::parse_from_str(effective_from.trim(), "%Y-%m-%d").map_err(|_| {
            ApiError::bad_parameter(
                "effective_from",
                format!("effective_from: {effective_from:?} is not a date written YYYY-MM-DD"),
            )
        })?;
    let items = with_conn(&state, move |conn| {
        let now = Utc::now().naive_utc();
        Ok(fees::set(conn, from, &new, &actor, now.date(), now)?)
    })
    .await?;
    Ok(web::Json(Fees { items }))
}

/// Which statement.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the fields document the query for OpenAPI; QueryParams::of accepts exactly their names and parses each"
)]
struct StatementQuery {
    /// The month, `YYYY-MM` (a calendar month in UTC, from 2000).
    #[param(pattern = "^[2-9][0-9]{3}-(0[1-9]|1[0-2])$")]
    month: String,
    /// `json` (default) or `csv`; without it, `Accept: text/csv` asks for CSV.
    #[param(inline)]
    format: Option<StatementFormat>,
}

/// The values of `format` (documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "describes the query for OpenAPI; parsed by the handler"
)]
enum StatementFormat {
    Json,
    Csv,
}

/// The month of a statement query and whether CSV is asked for: `format=csv`, or without
/// `format`, `Accept: text/csv`.
fn month_and_format(
    req: &HttpRequest,
    query: Vec<(String, String)>,
) -> Result<(Month, bool), ApiError> {
    let q = QueryParams::of::<StatementQuery>(query)?;
    let month: Month = q.required("month", str::parse)?;
    let csv = match q.optional("format", |f| match f {
        "json" => Ok(false),
        "csv" => Ok(true),
        other => Err(format!("unknown format {other:?} (use json or csv)")),
    })? {
        Some(csv) => csv,
        None => req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv")),
    };
    Ok((month, csv))
}

/// The partner's statement of a month: every paid event, totals per kind and a grand total,
/// in integer minor units. JSON, or CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(tag = "partner", context_path = "/v1", params(StatementQuery),
    security(("bearer" = [])), responses(
    (status = 200, content(
        (Statement = "application/json"),
        (String = "text/csv"),
    )),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/partner/statement")]
pub async fn partner_statement(
    state: web::Data<AppState>,
    auth: Bearer,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let (month, csv) = month_and_format(&req, query.into_inner())?;
    let statement = with_conn(&state, move |conn| {
        Ok(book::statement(conn, shop_id, month)?)
    })
    .await?;
    Ok(if csv {
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"statement-{month}.csv\""),
            ))
            .body(statement::to_csv(&statement))
    } else {
        HttpResponse::Ok().json(statement)
    })
}

/// The cash collected on delivery for the merchant in a month (merchant): per currency, the
/// sum and every collection (parcel, order reference, the shop that holds the cash, amount,
/// when), oldest first. The same rows as the cash lines of the shops' statements
/// (`GET /v1/partner/statement`). JSON, or CSV with `format=csv` or `Accept: text/csv`
/// (columns: docs/merchants.md).
#[utoipa::path(tag = "merchant", context_path = "/v1", params(StatementQuery),
    security(("bearer" = [])), responses(
    (status = 200, content(
        (MerchantCash = "application/json"),
        (String = "text/csv"),
    )),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchant/cash")]
pub async fn merchant_cash(
    state: web::Data<AppState>,
    auth: Bearer,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let merchant = auth.require(&[Role::Merchant])?.sub.clone();
    let (month, csv) = month_and_format(&req, query.into_inner())?;
    let cash = with_conn(&state, move |conn| {
        Ok(cash::merchant_month(conn, &merchant, month)?)
    })
    .await?;
    Ok(if csv {
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"cash-{month}.csv\""),
            ))
            .body(cash::merchant_csv(&cash))
    } else {
        HttpResponse::Ok().json(cash)
    })
}
