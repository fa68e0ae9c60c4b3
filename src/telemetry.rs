//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`); `PUDO_LOG_FORMAT=json`
//! for one JSON object per line. Every request runs in a span carrying its request id, which
//! every line logged within the request shows.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber; later calls are no-ops (tests start many apps).
pub fn init() {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Each request's span (with its request_id) is an INFO span: kept whatever the level
    // asked for, so that `RUST_LOG=warn` still ties every warning to its request.
    let target = crate::api::request_span::TARGET;
    let custom = std::env::var("RUST_LOG").is_ok_and(|v| v.contains(target));
    if !custom {
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    // Colours only for a person at a terminal: a log file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let json = std::env::var("PUDO_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
