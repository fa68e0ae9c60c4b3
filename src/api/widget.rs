//! The checkout widget (`widget/`): the `<pudo-picker>` custom element that merchants embed
//! in their checkout page with one script tag, and a demo page, served from files compiled into
//! the binary.
//!
//! The script is loaded by pages on any origin, so its answers allow cross-origin use
//! (`Access-Control-Allow-Origin: *` for `<script crossorigin>` with subresource integrity,
//! `Cross-Origin-Resource-Policy: cross-origin` for pages that require it); like the partner
//! app, each file carries a weak ETag and `Cache-Control: no-cache`, and is compressed when the
//! browser accepts it.

use super::embedded::{self, embed, Embedded, JS};
use crate::error::ApiError;
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::Compress;
use actix_web::{get, web, HttpRequest, HttpResponse};
use std::sync::LazyLock;

/// The served files (screenshots and docs under `widget/` are not).
const FILES: &[Embedded] = &[
    embed!("widget", "index.html", "text/html; charset=utf-8"),
    embed!("widget", "pudo-widget.js", JS),
    embed!("widget", "demo.js", JS),
    embed!("widget", "favicon.ico", "image/x-icon"),
];

/// The demo page's policy: everything from this origin only (the widget itself needs nothing
/// else: its map is drawn in SVG, not from a tile service).
const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

/// Weak ETags of the files, in the order of [`FILES`].
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| embedded::etags(FILES));

fn serve(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let Some(i) = FILES.iter().position(|f| f.name == name) else {
        return Err(ApiError::NotFound(format!(
            "no file {name:?} in the widget"
        )));
    };
    let headers: [(HeaderName, &'static str); 3] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::CROSS_ORIGIN_RESOURCE_POLICY, "cross-origin"),
    ];
    Ok(embedded::answer(req, &FILES[i], &ETAGS[i], &headers))
}

/// The widget's demo page: a checkout form with a `<pudo-picker>`.
#[utoipa::path(tag = "customer", responses(
    (status = 200, content_type = "text/html", body = String),
    (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
))]
#[get("/widget/", wrap = "Compress::default()")]
pub async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "index.html")
}

/// One file of the widget: `pudo-widget.js` (the script merchants embed) or the demo's files,
/// with a weak ETag, `Cache-Control: no-cache` and `Access-Control-Allow-Origin: *`.
#[utoipa::path(tag = "customer",
    params(("file" = String, Path, description = "file name, e.g. `pudo-widget.js`", example = "pudo-widget.js")),
    responses(
        (status = 200, description = "The file", content((String = "text/javascript"), (String = "text/html"))),
        (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/widget/{file}", wrap = "Compress::default()")]
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&req, &name.into_inner())
}

/// The site's icon (a pickup-point pin, 188 bytes), which browsers ask for at the root of any
/// page of this origin, the demo page included.
#[utoipa::path(tag = "customer", responses(
    (status = 200, description = "The icon", content_type = "image/x-icon", body = Vec<u8>),
    (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
))]
#[get("/favicon.ico")]
pub async fn favicon(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "favicon.ico")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_listed_once_and_the_index_is_html() {
        embedded::assert_well_listed(FILES, &ETAGS);
    }

    #[test]
    fn every_file_of_the_widget_is_embedded() {
        let missing = embedded::unlisted("widget", FILES, &[".html", ".js", ".css", ".svg"]);
        assert!(missing.is_empty(), "not in FILES: {missing:?}");
    }
}
