//! Settings, all from environment variables with working defaults (see `.env.example`).

use crate::db::{DatabaseUrl, DbError};
use std::net::SocketAddr;
use std::time::Duration;

/// Everything `pudo serve` needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://PATH` (default `sqlite://pudo.db`) or `postgres://…`.
    pub database: DatabaseUrl,
    /// `PUDO_BIND`: address to listen on (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// `PUDO_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: usize,
    /// `PUDO_DB_POOL`: pooled database connections (default 8).
    pub pool_size: u32,
    /// `PUDO_SEED`: network loaded into an empty database at start: `ES` (default), `CN` or `none`.
    pub seed: Option<crate::network::seed::Country>,
    /// `PUDO_INDEX_REFRESH_MS`: how often the geo index polls for shop changes made by other
    /// instances (default 1000).
    pub index_refresh: Duration,
    /// `PUDO_MAX_UPLOAD_MB`: largest import body accepted over HTTP (default 128).
    pub max_upload_bytes: usize,
}

/// A setting that is present but unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value does not parse.
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// `DATABASE_URL` is unusable.
    #[error(transparent)]
    Database(#[from] DbError),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn var_parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
                value,
            }),
    }
}

impl Settings {
    /// Reads the settings from the environment.
    pub fn from_environment() -> Result<Self, ConfigError> {
        let database =
            DatabaseUrl::parse(&var("DATABASE_URL").unwrap_or_else(|| "sqlite://pudo.db".into()))?;
        let workers = var_parsed(
            "PUDO_WORKERS",
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        )?;
        let seed = match var("PUDO_SEED") {
            None => Some(crate::network::seed::Country::Es),
            Some(v) if v.eq_ignore_ascii_case("none") => None,
            Some(v) => Some(v.parse().map_err(|reason| ConfigError::Invalid {
                name: "PUDO_SEED",
                value: v,
                reason,
            })?),
        };
        let refresh_ms: u64 = var_parsed("PUDO_INDEX_REFRESH_MS", 1000)?;
        let upload_mb: usize = var_parsed("PUDO_MAX_UPLOAD_MB", 128)?;
        let settings = Self {
            database,
            bind: var_parsed("PUDO_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            workers,
            pool_size: var_parsed("PUDO_DB_POOL", 8)?,
            seed,
            index_refresh: Duration::from_millis(refresh_ms.max(50)),
            max_upload_bytes: upload_mb.saturating_mul(1024 * 1024),
        };
        if settings.workers == 0 || settings.pool_size == 0 {
            return Err(ConfigError::Invalid {
                name: if settings.workers == 0 {
                    "PUDO_WORKERS"
                } else {
                    "PUDO_DB_POOL"
                },
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(settings)
    }
}
