//! Operations: liveness, readiness, metrics and the OpenAPI document.

use super::{blocking, ApiDoc, AppState};
use crate::error::{ApiError, Problem};
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// Health answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
}

/// Readiness answer.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`
    pub status: &'static str,
    /// Shops in the geo index.
    pub shops: usize,
    /// Network revision the index reflects.
    pub revision: i64,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Readiness: the database answers and the geo index is loaded.
#[utoipa::path(tag = "operations", responses(
    (status = 200, body = Readiness),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Readiness>, ApiError> {
    let pool = state.pool.clone();
    blocking(move || Ok(crate::db::ping(&mut *crate::db::checkout(&pool)?)?)).await?;
    if !state.network.is_loaded() {
        return Err(ApiError::Unavailable(
            "the geo index is still loading".into(),
        ));
    }
    let shops = state.network.index().len();
    Ok(web::Json(Readiness {
        status: "ready",
        shops,
        revision: state.network.revision(),
    }))
}

/// Prometheus metrics, text exposition format.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state
        .metrics
        .index_shops
        .set(state.network.index().len() as i64);
    state.metrics.index_revision.set(state.network.revision());
    if state.metrics.db_figures_due() {
        let now = chrono::Utc::now();
        let pool = state.pool.clone();
        // A scrape never queues behind a saturated pool: it answers the figures read before.
        let read = blocking(move || {
            let mut conn = pool.get_timeout(std::time::Duration::from_millis(500))?;
            // The workers first: the figures below read every region, so they fail while a
            // worker is down, and the gauge saying which one matters most then.
            let workers = crate::db::citus::workers(&mut conn);
            Ok((
                workers,
                crate::pickup::gauges::read(&mut conn, now.naive_utc()),
            ))
        })
        .await;
        let read = read.and_then(|(workers, gauges)| {
            match workers {
                Ok(workers) => {
                    for w in workers.iter().filter(|w| !w.reachable) {
                        tracing::warn!(worker = %w.name, "a Citus worker is unreachable: the regions on it answer 503");
                    }
                    state.metrics.set_citus_workers(&workers);
                }
                Err(e) => tracing::warn!(error = %e, "reading the Citus workers' state"),
            }
            Ok(gauges?)
        });
        match read {
            Ok(gauges) => state.metrics.set_db_figures(&gauges, now),
            // The scrape still answers: the figures keep their last values, and
            // `pudo_db_figures_timestamp_seconds` shows how old they are.
            Err(e) => tracing::warn!(error = %e, "reading the metrics figures from the database"),
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// This document: OpenAPI 3 for every route.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "application/json", body = Object)))]
#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
