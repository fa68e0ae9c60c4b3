//! The partner web app, served from files compiled into the binary (no build step).
//!
//! Every file of `partner-app/` that the app needs is listed in [`FILES`] and embedded (see
//! [`embedded`]): a phone revalidates with one small request and gets `304 Not Modified` until
//! the binary changes; bodies are compressed when the browser accepts it.

use super::embedded::{self, embed, Embedded, JS};
use crate::error::ApiError;
use actix_web::http::header;
use actix_web::middleware::Compress;
use actix_web::{get, web, HttpRequest, HttpResponse};
use std::sync::LazyLock;

/// The app's files (screenshots and docs under `partner-app/` are not served).
const FILES: &[Embedded] = &[
    embed!("partner-app", "index.html", "text/html; charset=utf-8"),
    embed!("partner-app", "app.css", "text/css; charset=utf-8"),
    embed!("partner-app", "app.js", JS),
    embed!("partner-app", "api.js", JS),
    embed!("partner-app", "queue.js", JS),
    embed!("partner-app", "i18n.js", JS),
    embed!("partner-app", "scan.js", JS),
    embed!("partner-app", "sw.js", JS),
    embed!(
        "partner-app",
        "manifest.webmanifest",
        "application/manifest+json"
    ),
    embed!("partner-app", "icon.svg", "image/svg+xml"),
];

/// The content security policy of every app file: scripts, styles and API calls from this
/// origin only; the camera preview and icons may come from blob:/data: URLs, and the shop's
/// photo (the one customers see, shown on the Shop screen) from its https URL, wherever the
/// network hosts it (the image is loaded without a referrer).
const CSP: &str = "default-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Weak ETags of the files, in the order of [`FILES`].
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| embedded::etags(FILES));

fn serve(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let Some(i) = FILES.iter().position(|f| f.name == name) else {
        return Err(ApiError::NotFound(format!(
            "no file {name:?} in the partner app"
        )));
    };
    Ok(embedded::answer(
        req,
        &FILES[i],
        &ETAGS[i],
        &[(header::CONTENT_SECURITY_POLICY, CSP)],
    ))
}

/// The partner app's entry page.
#[utoipa::path(tag = "partner", responses(
    (status = 200, content_type = "text/html", body = String),
    (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
))]
#[get("/partner/", wrap = "Compress::default()")]
pub async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "index.html")
}

/// One file of the partner app (scripts, style sheet, service worker, manifest, icon), with
/// its content type, a weak ETag and `Cache-Control: no-cache`.
#[utoipa::path(tag = "partner",
    params(("file" = String, Path, description = "file name, e.g. `app.js`", example = "app.js")),
    responses(
        (status = 200, description = "The file", content((String = "text/javascript"), (String = "text/css"), (String = "application/manifest+json"), (String = "image/svg+xml"), (String = "text/html"))),
        (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/partner/{file}", wrap = "Compress::default()")]
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&req, &name.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_listed_once_and_the_index_is_html() {
        embedded::assert_well_listed(FILES, &ETAGS);
    }

    #[test]
    fn every_file_of_the_app_is_embedded() {
        let exts = [".html", ".js", ".css", ".svg", ".webmanifest"];
        let missing = embedded::unlisted("partner-app", FILES, &exts);
        assert!(missing.is_empty(), "not in FILES: {missing:?}");
    }
}
