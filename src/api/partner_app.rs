//! The partner web app, served from files compiled into the binary (no build step).

use actix_web::{get, HttpResponse};

const INDEX_HTML: &str = include_str!("../../partner-app/index.html");

/// The partner app's entry page.
#[utoipa::path(tag = "partner", responses((status = 200, content_type = "text/html", body = String)))]
#[get("/partner/")]
pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(INDEX_HTML)
}
