//! Request bodies, their size limits, and JSON bodies that name the field at fault.
//!
//! Every JSON body goes through [`Body`]: a body that does not fit its struct answers a 400
//! problem whose `parameter` is the path of the field (`pickup_point_id`, `lines[0].sku`), as a
//! bad query parameter does. Structs that refuse unknown fields say so with
//! `#[serde(deny_unknown_fields)]`; the unknown name is then the `parameter`.
//!
//! Every body is bounded before it is buffered: JSON bodies by [`JSON_LIMIT`] (the app-wide
//! `JsonConfig` and `PayloadConfig`, so a route added with `web::Json` or `web::Bytes` is
//! bounded too), file uploads by `PUDO_MAX_UPLOAD_MB` through [`Upload`]. A body over its limit
//! is a 413 problem naming the limit. The limit applies to the decoded body, so a compressed
//! body cannot expand past it.

use super::AppState;
use crate::error::ApiError;
use actix_web::body::{self, BodyStream};
use actix_web::{dev, http::header, web, FromRequest, HttpMessage, HttpRequest};
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

/// The error answer of the app-wide `JsonConfig`: 413 naming the limit for an oversized body,
/// 400 naming the fault otherwise.
pub fn json_error(e: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match e {
        E::Overflow { limit } | E::OverflowKnownLength { limit, .. } => too_large(limit, None),
        other => ApiError::BadRequest(format!("the JSON body is invalid: {other}")),
    }
}

/// A JSON body deserialised into `T`. An empty body (or `null`) reads as `{}`, so a struct whose fields
/// are all optional needs no body at all, and one with a required field names it as missing.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> Body<T> {
    /// The deserialised value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        if let Err(e) = check_content_type(req) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let read = read_limited(req, payload, JSON_LIMIT, None);
        Box::pin(async move { parse(&read.await?).map(Body) })
    }
}

/// Accepts no `Content-Type` (an empty body), `application/json` and any `…+json` type.
fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let not_json = |what: &str| {
        ApiError::BadRequest(format!(
            "the body must be JSON (Content-Type: application/json), not {what}"
        ))
    };
    match req.mime_type() {
        Ok(None) => Ok(()),
        Ok(Some(mime))
            if mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json") =>
        {
            Ok(())
        }
        Ok(Some(mime)) => Err(not_json(mime.essence_str())),
        Err(_) => Err(not_json("an unreadable Content-Type")),
    }
}

/// Deserialises `bytes` (empty: `{}`) into `T`, naming the field at fault.
///
/// A number with a zero fraction (`7.0`) is read as the whole number it is: JSON Schema, and
/// so the OpenAPI document, counts it as an `integer`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    if value.is_null() {
        // `null` is how a client writes "no body" for an optional one.
        value = serde_json::Value::Object(serde_json::Map::new());
    }
    // serde would read a struct from an array too (`[1, "x"]`): every body is an object.
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    whole_numbers(&mut value);
    if let Some(path) = nul_in(&value, String::new()) {
        let name = if path.is_empty() {
            "body".to_owned()
        } else {
            path
        };
        return Err(ApiError::bad_parameter(
            name.clone(),
            format!("{name} contains a NUL character (U+0000)"),
        ));
    }
    // A struct only from an object, at every depth (the check above, carried inward).
    serde_path_to_error::deserialize(super::strict::Strict(value)).map_err(|e| {
        let path = e.path().to_string();
        body_error(&path, e.into_inner())
    })
}

/// The path of the first string holding U+0000, which no field accepts (PostgreSQL cannot
/// store it in text).
fn nul_in(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            nul_in(v, at)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// Turns every float with a zero fraction within the `i64` range into an integer.
fn whole_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                // i64::MAX as f64 rounds up to 2^63, which is out of range: hence `<`.
                if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                    *n = (f as i64).into();
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// The problem for a serde_json error at `path` (`.` for the whole body).
fn body_error(path: &str, e: serde_json::Error) -> ApiError {
    let message = e.to_string();
    // A missing field is named in the message only: the path is the object that lacks it (an
    // unknown field's path already ends with its name).
    let named = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    let parent = if path == "." { "" } else { path };
    let parameter = match (named, parent) {
        (Some(name), "") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "") => {
            return ApiError::BadRequest(format!("the body does not fit: {message}"));
        }
        (None, parent) => parent.to_owned(),
    };
    ApiError::bad_parameter(parameter.clone(), format!("{parameter}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Line {
        sku: String,
        units: i32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Order {
        id: i64,
        note: Option<String>,
        #[serde(default)]
        lines: Vec<Line>,
    }

    fn parameter(body: &str) -> Option<String> {
        match parse::<Order>(body.as_bytes()) {
            Err(ApiError::BadParameter { parameter, .. }) => Some(parameter),
            Err(_) => None,
            Ok(o) => panic!("{body} was accepted as {o:?}"),
        }
    }

    #[test]
    fn a_fitting_body_is_read() {
        let order: Order =
            parse(br#"{"id": 7, "lines": [{"sku": "A", "units": 2}]}"#).expect("parsed");
        assert_eq!(order.id, 7);
        assert_eq!(order.lines[0].units, 2);
        assert_eq!(order.note, None);
    }

    #[test]
    fn missing_wrong_and_unknown_fields_are_named() {
        assert_eq!(parameter("{}").as_deref(), Some("id"));
        assert_eq!(parameter("").as_deref(), Some("id"));
        assert_eq!(parameter("null").as_deref(), Some("id"));
        assert_eq!(parameter(r#"{"id": "7"}"#).as_deref(), Some("id"));
        assert_eq!(parameter(r#"{"id": 1.5}"#).as_deref(), Some("id"));
        assert_eq!(parameter(r#"{"id": 1e300}"#).as_deref(), Some("id"));
        assert_eq!(
            parameter(r#"{"id": 1, "note": 3}"#).as_deref(),
            Some("note")
        );
        assert_eq!(
            parameter(r#"{"id": 1, "colour": 3}"#).as_deref(),
            Some("colour")
        );
    }

    #[test]
    fn a_nul_character_is_refused_where_it_is() {
        assert_eq!(
            parameter("{\"id\": 1, \"note\": \"a\\u0000\"}").as_deref(),
            Some("note")
        );
        assert_eq!(
            parameter(r#"{"id": 1, "lines": [{"sku": "\u0000", "units": 1}]}"#).as_deref(),
            Some("lines[0].sku")
        );
    }

    #[test]
    fn whole_floats_are_whole_numbers() {
        let order: Order =
            parse(br#"{"id": 7.0, "lines": [{"sku": "A", "units": -2.0}]}"#).expect("parsed");
        assert_eq!((order.id, order.lines[0].units), (7, -2));
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let at = |lines: &str| parameter(&format!(r#"{{"id": 1, "lines": {lines}}}"#));
        assert_eq!(at(r#"[{"sku": "A"}]"#).as_deref(), Some("lines[0].units"));
        assert_eq!(
            at(r#"[{"sku": "A", "units": 1}, {"sku": 2, "units": 1}]"#).as_deref(),
            Some("lines[1].sku")
        );
        assert_eq!(
            at(r#"[{"sku": "A", "units": 1, "x": 0}]"#).as_deref(),
            Some("lines[0].x")
        );
        assert_eq!(at(r#"{"sku": "A"}"#).as_deref(), Some("lines"));
        // A struct is read from an object only, at any depth.
        assert_eq!(at(r#"[["A", 1]]"#).as_deref(), Some("lines[0]"));
        assert_eq!(
            at(r#"[{"sku": "A", "units": 1}, [null, null]]"#).as_deref(),
            Some("lines[1]")
        );
    }

    #[test]
    fn what_is_not_a_json_object_is_a_bad_request() {
        for body in ["{", "not json", r#"{"id": 1} trailing"#, "[1]", "5"] {
            let e = parse::<Order>(body.as_bytes()).expect_err(body);
            assert!(matches!(e, ApiError::BadRequest(_)), "{body}: {e:?}");
        }
    }
}
