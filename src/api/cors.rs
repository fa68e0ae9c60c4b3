//! Cross-origin reads: the routes a checkout page's browser calls directly (through the
//! embedded widget, on the merchant's own origin) answer `Access-Control-Allow-Origin: *`.
//!
//! Only public, read-only routes are listed, and never with credentials: they need no token
//! and set no cookie, so any origin may read them. The widget sends simple `GET` requests
//! (no custom header), which browsers make without a preflight.

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN};
use actix_web::http::Method;

/// Route patterns readable from any origin.
pub const PUBLIC_ROUTES: &[&str] = &[
    "/v1/pickup-points",
    "/v1/pickup-points/{id}",
    "/v1/h3-cells",
    "/v1/places",
];

/// Middleware: adds `Access-Control-Allow-Origin: *` to every answer (errors included, so a
/// page can read the problem) of a `GET` or `HEAD` on a [`PUBLIC_ROUTES`] route.
pub fn allow_public_reads<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let public = matches!(*req.method(), Method::GET | Method::HEAD)
        && req
            .match_pattern()
            .is_some_and(|p| PUBLIC_ROUTES.contains(&p.as_str()));
    let fut = srv.call(req);
    async move {
        let mut res = fut.await?;
        if public {
            res.headers_mut()
                .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        Ok(res)
    }
}
