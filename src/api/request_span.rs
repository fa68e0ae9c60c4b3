//! The span every request runs in: what each log line of the request carries.
//!
//! `tracing-actix-web`'s default span records sixteen fields (scheme, host, user agent,
//! OpenTelemetry names, …), and the log formatter renders every recorded field of every span
//! when the span opens, whether or not a line is ever logged in it: under search load that
//! rendering cost more CPU than parsing the request. This span keeps the fields an operator
//! reads — the request id, method, route, target, client address and, at the end, the status
//! (and the error, if any).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// The target of the request span: `telemetry` keeps it at INFO whatever `RUST_LOG` asks, so
/// that a warning still carries its request's id.
pub const TARGET: &str = "pudo::request";

/// Builds the request span (see the module documentation).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().copied();
        let route = request.match_pattern();
        let connection = request.connection_info();
        tracing::info_span!(
            target: TARGET,
            "HTTP request",
            request_id = request_id.map(tracing::field::display),
            http.method = %request.method(),
            http.route = route.as_deref().unwrap_or("unmatched"),
            http.target = request.uri().path_and_query().map_or("", |p| p.as_str()),
            http.client_ip = connection.realip_remote_addr().unwrap_or(""),
            http.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        // Records the status and any error into the fields declared above.
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
