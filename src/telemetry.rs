//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`); `PUDO_LOG_FORMAT=json`
//! for one JSON object per line. Every request runs in a span carrying its request id.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber; later calls are no-ops (tests start many apps).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let json = std::env::var("PUDO_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
