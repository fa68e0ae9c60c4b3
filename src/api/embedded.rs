//! Static files compiled into the binary (the partner app, the checkout widget): no build step
//! and nothing to deploy beside `pudo`.
//!
//! Answers carry a weak ETag (a hash of the file) and `Cache-Control: no-cache`, so a browser
//! revalidates with one small request and gets `304 Not Modified` until the binary changes.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

/// One embedded file: name under its route, content type, bytes.
pub struct Embedded {
    /// File name as it appears in the URL.
    pub name: &'static str,
    /// `Content-Type` of the answer.
    pub content_type: &'static str,
    /// The file's bytes.
    pub body: &'static [u8],
}

/// Embeds `$dir/$name` (relative to the crate root) as an [`Embedded`] file.
macro_rules! embed {
    ($dir:literal, $name:literal, $type:expr) => {
        $crate::api::embedded::Embedded {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name)),
        }
    };
}
pub(crate) use embed;

/// `Content-Type` of JavaScript files.
pub const JS: &str = "text/javascript; charset=utf-8";

/// Weak ETags of `files`, in order (FNV-1a 64 of the bytes, and the length).
pub fn etags(files: &[Embedded]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            let hash = f.body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
            format!("W/\"{hash:016x}-{:x}\"", f.body.len())
        })
        .collect()
}

/// The answer for `file` (its weak ETag is `etag`): `304` when the request's `If-None-Match`
/// names it, the file otherwise; with `extra` headers on both.
pub fn answer(
    req: &HttpRequest,
    file: &Embedded,
    etag: &str,
    extra: &[(HeaderName, &'static str)],
) -> HttpResponse {
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
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    for (name, value) in extra {
        res.insert_header((name.clone(), HeaderValue::from_static(value)));
    }
    if fresh {
        return res.finish();
    }
    res.content_type(file.content_type).body(file.body)
}

/// Files of `dir` (under the crate root) with one of `extensions` that are not in `files`:
/// the unit tests of each embedding module assert there are none.
#[cfg(test)]
pub fn unlisted(dir: &str, files: &[Embedded], extensions: &[&str]) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .into_string()
                .expect("utf-8")
        })
        .filter(|name| extensions.iter().any(|ext| name.ends_with(ext)))
        .filter(|name| !files.iter().any(|f| f.name == name))
        .collect()
}

/// Asserts what every embedding module promises of its list: each name once, the entry page
/// first and HTML, and one ETag per file.
#[cfg(test)]
pub fn assert_well_listed(files: &[Embedded], etags: &[String]) {
    let mut names: Vec<&str> = files.iter().map(|f| f.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), files.len());
    assert!(files[0].body.starts_with(b"<!doctype html>"));
    assert_eq!(etags.len(), files.len());
}
