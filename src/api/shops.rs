//! Planners' bulk import of the shop network.

use super::auth::Bearer;
use super::body::Upload;
use super::{blocking, AppState};
use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::network::import::Format;
use crate::network::service::ImportError;
use crate::network::store::UpsertSummary;
use actix_web::{http::header, post, web, HttpRequest};

/// Imports shops from a CSV or GeoJSON body, all or nothing.
///
/// The format comes from `Content-Type` (`text/csv`, `application/geo+json`,
/// `application/json`), or is recognised from the body. A known `external_id` updates that
/// shop. One bad row rejects the whole file with 422 and every bad row listed.
#[utoipa::path(
    tag = "planner",
    context_path = "/v1",
    security(("bearer" = [])),
    request_body(
        description = "CSV `external_id,name,latitude,longitude,capacity[,timezone,opening_hours,status]`, or a GeoJSON FeatureCollection of Points with those properties",
        content(
            (String = "text/csv", example = json!("external_id,name,latitude,longitude,capacity\nES-CT-NUEVO,Kiosko Nuevo,40.4165,-3.7020,8\n")),
            (Object = "application/geo+json"),
            (Object = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "Every row stored", body = UpsertSummary),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a planner or admin token", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rejected; nothing stored. `errors` lists `{row, field, message}`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/shops/import")]
pub async fn import(
    state: web::Data<AppState>,
    auth: Bearer,
    req: HttpRequest,
    Upload(body): Upload,
) -> Result<web::Json<UpsertSummary>, ApiError> {
    auth.require(&[Role::Planner, Role::Admin])?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = if content_type.starts_with("text/csv") {
        Format::Csv
    } else if content_type.starts_with("application/geo+json")
        || content_type.starts_with("application/json")
    {
        Format::GeoJson
    } else {
        Format::detect(None, &body)
    };
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "the body is empty: send a CSV or GeoJSON file".into(),
        ));
    }
    let network = state.network.clone();
    let metrics = state.metrics.clone();
    let summary = blocking(move || {
        network
            .import_file(&body, format, &mut |_| {})
            .map_err(|e| match e {
                ImportError::Rejected(r) => ApiError::Rejected(r),
                ImportError::Db(db) => db.into(),
            })
    })
    .await?;
    metrics
        .imported_rows
        .inc_by((summary.inserted + summary.updated) as u64);
    Ok(web::Json(summary))
}
