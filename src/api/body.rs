//! Request bodies and their size limits.
//!
//! Every body is bounded before it is buffered: JSON bodies by [`JSON_LIMIT`] (the app-wide
//! `JsonConfig` and `PayloadConfig`, so a route added with `web::Json` or `web::Bytes` is
//! bounded too), file uploads by `PUDO_MAX_UPLOAD_MB` through [`Upload`]. A body over its limit
//! is a 413 problem naming the limit. The limit applies to the decoded body, so a compressed
//! body cannot expand past it.

use super::AppState;
use crate::error::ApiError;
use actix_web::body::{self, BodyStream};
use actix_web::{dev, http::header, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// Largest JSON (or other small) request body, in bytes: 64 KiB.
pub const JSON_LIMIT: usize = 64 * 1024;

/// The 413 for a body over `limit` bytes; `setting` names what sets the limit, if anything.
pub fn too_large(limit: usize, setting: Option<&str>) -> ApiError {
    let size = if limit.is_multiple_of(1024 * 1024) {
        format!("{} MiB", limit / (1024 * 1024))
    } else if limit.is_multiple_of(1024) {
        format!("{} KiB", limit / 1024)
    } else {
        format!("{limit} bytes")
    };
    ApiError::TooLarge(match setting {
        Some(s) => format!("the request body is larger than the limit of {size} ({s})"),
        None => format!("the request body is larger than the limit of {size} for this route"),
    })
}

type BodyFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Reads the whole (decoded) body, refusing it once it passes `limit` bytes; a declared
/// `Content-Length` over the limit is refused before anything is read.
fn read_limited(
    req: &HttpRequest,
    payload: &mut dev::Payload,
    limit: usize,
    setting: Option<&'static str>,
) -> BodyFuture<web::Bytes> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Box::pin(std::future::ready(Err(too_large(limit, setting))));
    }
    let stream = dev::Decompress::from_headers(payload.take(), req.headers());
    Box::pin(async move {
        match body::to_bytes_limited(BodyStream::new(stream), limit).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => Err(ApiError::BadRequest(format!(
                "the request body cannot be read: {e}"
            ))),
            Err(_limit_exceeded) => Err(too_large(limit, setting)),
        }
    })
}

/// An uploaded file (shop or forecast import), at most `PUDO_MAX_UPLOAD_MB`.
pub struct Upload(pub web::Bytes);

impl FromRequest for Upload {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return Box::pin(std::future::ready(Err(ApiError::Internal(
                anyhow::anyhow!("application state missing"),
            ))));
        };
        let read = read_limited(
            req,
            payload,
            state.max_upload_bytes,
            Some("PUDO_MAX_UPLOAD_MB"),
        );
        Box::pin(async move { read.await.map(Upload) })
    }
}

/// A small raw body (at most [`JSON_LIMIT`]) for handlers that parse JSON themselves.
pub struct SmallBody(pub web::Bytes);

impl FromRequest for SmallBody {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let read = read_limited(req, payload, JSON_LIMIT, None);
        Box::pin(async move { read.await.map(SmallBody) })
    }
}

/// A JSON body that may be left out: an empty (or blank) body is `None`; anything else must
/// parse as `T` (400 naming the error otherwise) and fit in [`JSON_LIMIT`] (413). Unlike
/// `Option<web::Json<T>>`, a malformed or oversized body is never silently taken as absent.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let read = read_limited(req, payload, JSON_LIMIT, None);
        Box::pin(async move {
            let bytes = read.await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            serde_json::from_slice(&bytes)
                .map(|v| OptionalJson(Some(v)))
                .map_err(|e| ApiError::BadRequest(format!("the JSON body is invalid: {e}")))
        })
    }
}

/// The error answer of the app-wide `JsonConfig`: 413 naming the limit for an oversized body,
/// 400 naming the fault otherwise.
pub fn json_error(e: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match e {
        E::Overflow { limit } | E::OverflowKnownLength { limit, .. } => too_large(limit, None),
        other => ApiError::BadRequest(format!("the JSON body is invalid: {other}")),
    }
}
