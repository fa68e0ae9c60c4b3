//! The partner web app, served from files compiled into the binary (no build step).
//!
//! Every file of `partner-app/` that the app needs is listed in [`FILES`] and embedded with
//! `include_bytes!`. Answers carry a weak ETag (a hash of the file) and `Cache-Control:
//! no-cache`, so a phone revalidates with one small request and gets `304 Not Modified` until
//! the binary changes; bodies are compressed when the browser accepts it.

use crate::error::ApiError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{get, web, HttpRequest, HttpResponse};
use std::sync::LazyLock;

/// One embedded file: name under `/partner/`, content type, bytes.
struct File {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! embed {
    ($name:literal, $type:expr) => {
        File {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../../partner-app/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The app's files (screenshots and docs under `partner-app/` are not served).
const FILES: &[File] = &[
    embed!("index.html", "text/html; charset=utf-8"),
    embed!("app.css", "text/css; charset=utf-8"),
    embed!("app.js", JS),
    embed!("api.js", JS),
    embed!("queue.js", JS),
    embed!("i18n.js", JS),
    embed!("scan.js", JS),
    embed!("sw.js", JS),
    embed!("manifest.webmanifest", "application/manifest+json"),
    embed!("icon.svg", "image/svg+xml"),
];

/// The content security policy of every app file: scripts, styles and API calls from this
/// origin only; the camera preview and icons may come from blob:/data: URLs.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Weak ETags of the files, in the order of [`FILES`] (FNV-1a 64 of the bytes).
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|f| {
            let hash = f.body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
            format!("W/\"{hash:016x}-{:x}\"", f.body.len())
        })
        .collect()
});

fn serve(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let Some(i) = FILES.iter().position(|f| f.name == name) else {
        return Err(ApiError::NotFound(format!(
            "no file {name:?} in the partner app"
        )));
    };
    let (embedded, etag) = (&FILES[i], &ETAGS[i]);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == &etag[2..])
        });
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP));
    if fresh {
        return Ok(res.finish());
    }
    Ok(res.content_type(embedded.content_type).body(embedded.body))
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
    params(("file" = String, Path, description = "file name, e.g. `app.js`")),
    responses(
        (status = 200, description = "The file", body = String),
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
        let mut names: Vec<&str> = FILES.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FILES.len());
        assert!(FILES[0].body.starts_with(b"<!doctype html>"));
        assert_eq!(ETAGS.len(), FILES.len());
    }

    #[test]
    fn every_file_of_the_app_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/partner-app");
        for entry in std::fs::read_dir(dir).expect("partner-app/") {
            let name = entry
                .expect("entry")
                .file_name()
                .into_string()
                .expect("utf-8");
            let served = [".html", ".js", ".css", ".svg", ".webmanifest"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if served {
                assert!(
                    FILES.iter().any(|f| f.name == name),
                    "partner-app/{name} is not in FILES"
                );
            }
        }
    }
}
