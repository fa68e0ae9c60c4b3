//! HTTP: the route table, shared state, and the OpenAPI document.
//!
//! Handlers are thin: parse and check parameters, call the domain (inside `web::block` when it
//! touches the database), map the result. Every error leaves as `application/problem+json`.

pub mod auth;
pub mod body;
pub mod cells;
pub mod closures;
pub mod cors;
pub mod embedded;
pub mod health;
pub mod ledger;
pub mod merchant;
pub mod metrics;
pub mod moves;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod partner;
pub mod partner_app;
pub mod partner_capabilities;
pub mod pickup_points;
pub mod places;
pub mod rate_limit;
pub mod request_span;
pub mod returns;
pub mod scan_ins;
pub mod search_json;
pub mod search_modes;
pub mod shops;
pub mod staging;
pub mod strict;
pub mod widget;

use crate::error::ApiError;
use crate::network::service::Network;
use actix_web::{body::MessageBody, dev::ServiceResponse, middleware::ErrorHandlerResponse, web};
use merchant::ReservationConditionsSchema;
use openapi::{BearerAuth, CommonProblems};
use std::sync::Arc;
use utoipa::OpenApi;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database pool: every handler's connections come from here.
    pub pool: crate::db::Pool,
    /// The shop network's geo index and what keeps it fresh.
    pub network: Arc<Network>,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Largest import body accepted.
    pub max_upload_bytes: usize,
    /// Token keys and the data key.
    pub keys: Arc<crate::auth::Keys>,
    /// Lifetime of partner tokens exchanged for an API key.
    pub partner_token_ttl: chrono::Duration,
    /// How long a parcel waits at the shop.
    pub hold: chrono::Duration,
    /// Most days (and the default) a merchant may extend a waiting parcel's hold by, once.
    pub hold_extension_max_days: i64,
    /// Per-IP limit of `POST /v1/auth/token`.
    pub token_rate_limit: Arc<rate_limit::RateLimit>,
    /// How soon after a carrier's hand-in the partner must scan the parcel's arrival.
    pub scan_in_limit: chrono::Duration,
    /// The reservation and handover writers (server-side functions, group commit).
    pub writes: Arc<crate::pickup::Writes>,
}

/// The OpenAPI 3 document of every route.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "pudo",
        description = "Pickup-point network coordinator.",
        license(name = "Apache-2.0")
    ),
    paths(
        pickup_points::search,
        pickup_points::get,
        places::search,
        shops::import,
        auth::token,
        merchant::reserve,
        merchant::read,
        merchant::cancel,
        merchant::set_webhook,
        merchant::notifications,
        merchant::set_notifications,
        moves::move_reservation,
        moves::extend,
        moves::partner_redirect_options,
        moves::partner_redirect,
        moves::carrier_redirect_options,
        moves::carrier_redirect,
        partner::get_shop,
        partner::patch_shop,
        partner_capabilities::put_capabilities,
        partner::parcels,
        partner::arrival,
        partner::return_parcel,
        partner::handover,
        returns::register,
        returns::read,
        returns::dropoff,
        returns::waiting,
        returns::collect,
        ledger::list_fees,
        ledger::set_fees,
        ledger::partner_statement,
        ledger::merchant_cash,
        staging::create_event,
        staging::list_events,
        staging::upload_forecast,
        staging::derive_forecast,
        staging::create_plan,
        staging::get_plan,
        staging::plan_map,
        staging::approve,
        staging::dispatch,
        staging::partner_staging,
        staging::receipt,
        closures::get_closures,
        closures::put_closures,
        scan_ins::hand_in,
        scan_ins::list,
        health::shop_health,
        health::network_health,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
        partner_app::index,
        partner_app::asset,
        cells::outlines,
        widget::index,
        widget::asset,
        widget::favicon,
    ),
    components(schemas(crate::error::Problem, crate::network::import::RowError)),
    modifiers(
        &BearerAuth,
        &CommonProblems,
        &ReservationConditionsSchema
    )
)]
pub struct ApiDoc;

/// Registers every route; used by `serve` and by the tests.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(state))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::BadRequest(format!("the query string cannot be read: {e}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                ApiError::bad_parameter("id", format!("the path is invalid: {e}")).into()
            }))
            // Raw bodies default to the JSON limit; file uploads read theirs with body::Upload.
            .app_data(web::PayloadConfig::new(body::JSON_LIMIT))
            .app_data(
                web::JsonConfig::default()
                    .limit(body::JSON_LIMIT)
                    .error_handler(|e, _| body::json_error(e).into()),
            )
            .service(
                web::scope("/v1")
                    .service(pickup_points::search)
                    .service(pickup_points::get)
                    .service(places::search)
                    .service(shops::import)
                    .service(auth::token)
                    .service(merchant::reserve)
                    .service(merchant::read)
                    .service(merchant::cancel)
                    .service(merchant::set_webhook)
                    .service(merchant::notifications)
                    .service(merchant::set_notifications)
                    .service(moves::move_reservation)
                    .service(moves::extend)
                    .service(moves::partner_redirect_options)
                    .service(moves::partner_redirect)
                    .service(moves::carrier_redirect_options)
                    .service(moves::carrier_redirect)
                    .service(partner::get_shop)
                    .service(partner::patch_shop)
                    .service(partner_capabilities::put_capabilities)
                    .service(partner::parcels)
                    .service(partner::arrival)
                    .service(partner::return_parcel)
                    .service(partner::handover)
                    .service(returns::register)
                    .service(returns::read)
                    .service(returns::dropoff)
                    .service(returns::waiting)
                    .service(returns::collect)
                    .service(ledger::list_fees)
                    .service(ledger::set_fees)
                    .service(ledger::partner_statement)
                    .service(ledger::merchant_cash)
                    .service(staging::create_event)
                    .service(staging::list_events)
                    .service(staging::upload_forecast)
                    .service(staging::derive_forecast)
                    .service(staging::create_plan)
                    .service(staging::get_plan)
                    .service(staging::plan_map)
                    .service(staging::approve)
                    .service(staging::dispatch)
                    .service(staging::partner_staging)
                    .service(staging::receipt)
                    .service(closures::get_closures)
                    .service(closures::put_closures)
                    .service(scan_ins::hand_in)
                    .service(scan_ins::list)
                    .service(health::shop_health)
                    .service(health::network_health)
                    .service(cells::outlines),
            )
            .service(ops::healthz)
            .service(ops::readyz)
            .service(ops::metrics)
            .service(ops::openapi)
            .service(partner_app::index)
            .service(partner_app::asset)
            .service(widget::index)
            .service(widget::asset)
            .service(widget::favicon)
            .default_service(web::to(no_such_route));
    }
}

/// 405 (with `Allow`) for a documented path asked with another method, 404 otherwise.
async fn no_such_route(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(match openapi::allowed_methods(req.path()) {
        Some(allowed) => ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allowed,
        },
        None => ApiError::NotFound("no such route".into()),
    })
}

/// The whole application: routes plus the middleware every request passes through.
pub fn app(
    state: AppState,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .wrap(actix_web::middleware::ErrorHandlers::new().default_handler(problem_for_bare_errors))
        .wrap_fn(cors::allow_public_reads)
        .wrap_fn(metrics::track)
        .wrap(tracing_actix_web::TracingLogger::<request_span::RequestSpan>::new())
        .configure(configure(state))
}

/// Turns any error answer that is not yet problem+json (actix's own 405, 413, …) into one.
pub fn problem_for_bare_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .response()
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = match status.as_u16() {
        405 => "this method is not allowed on this route".to_owned(),
        413 => body::too_large(body::JSON_LIMIT, None).to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let problem = crate::error::Problem {
        kind: format!("https://pudo.dev/problems/http-{}", status.as_u16()),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        parameter: None,
        errors: None,
        truncated: None,
        reason: None,
        limit: None,
        size_class: None,
        cash_on_delivery: None,
        id_check: None,
        recipient_name: None,
        collector_name: None,
    };
    let (req, _) = res.into_parts();
    let response = actix_web::HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(problem);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

/// Runs `f` with a pooled connection, off the async workers.
pub async fn with_conn<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = state.pool.clone();
    blocking(move || f(&mut *crate::db::checkout(&pool)?)).await
}

/// Runs blocking work (database, large parsing) off the async workers.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
}
