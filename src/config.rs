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
    /// `PUDO_DB_POOL`: pooled database connections (default 8 on PostgreSQL, 2 on SQLite).
    pub pool_size: u32,
    /// `PUDO_SEED`: network loaded into an empty database at start: `ES` (default), `CN` or `none`.
    pub seed: Option<crate::network::seed::Country>,
    /// `PUDO_INDEX_REFRESH_MS`: how often the geo index polls for shop changes made by other
    /// instances (default 1000).
    pub index_refresh: Duration,
    /// `PUDO_MAX_UPLOAD_MB`: largest import body accepted over HTTP (default 128).
    pub max_upload_bytes: usize,
    /// `PUDO_METRICS_DB_CACHE_MS`: how long `/metrics` serves the figures it reads from the
    /// database (webhook backlog, full shops) before reading them again (default 5000).
    pub metrics_db_cache: Duration,
    /// Token settings.
    pub auth: AuthSettings,
    /// `PUDO_HOLD_DAYS`: how long a parcel waits at the shop (default 7).
    pub hold: chrono::Duration,
    /// `PUDO_HOLD_EXTENSION_MAX_DAYS`: the most days a merchant may extend a waiting parcel's
    /// hold by, once; also the extension when none is asked for (default 7).
    pub hold_extension_max_days: i64,
    /// `PUDO_SCAN_IN_MINUTES`: how soon after a carrier's hand-in the partner must scan the
    /// parcel's arrival (default 30).
    pub scan_in_limit: chrono::Duration,
    /// `PUDO_SWEEP_SECS`: how often expired parcels are swept (default 60).
    pub sweep_every: Duration,
    /// `PUDO_WEBHOOK_POLL_MS`: how often the outbox is checked for events to deliver (default 1000).
    pub webhook_poll: Duration,
    /// The per-IP limit of `POST /v1/auth/token`.
    pub token_rate: TokenRateSettings,
    /// How reservations and handovers are written (path, group commit).
    pub writes: WriteOverrides,
    /// Customer e-mails.
    pub mail: MailSettings,
}

/// Customer e-mails (docs/operations.md, "Customer e-mails").
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `PUDO_SMTP_URL` with `PUDO_SMTP_FROM` (default `pudo <pudo@localhost>`): the SMTP server
    /// mails leave by; `None` (unset) sends nothing. Its `Debug` shows no credentials.
    pub mailer: Option<crate::pickup::smtp::Mailer>,
    /// `PUDO_MAIL_POLL_MS`: how often customers with a mail due are looked for (default 1000).
    pub poll: Duration,
    /// `PUDO_CUSTOMER_DATA_DAYS`: days after a parcel is picked up, returned or cancelled
    /// before its customer's address is erased (default 14, 0 to 365).
    pub erase_after_days: i64,
}

impl MailSettings {
    /// Reads the mail settings from the environment.
    pub fn from_environment() -> Result<Self, ConfigError> {
        let from = var("PUDO_SMTP_FROM").unwrap_or_else(|| "pudo <pudo@localhost>".into());
        let mailer = match var("PUDO_SMTP_URL") {
            None => None,
            // The value is never echoed: it may hold a password.
            Some(url) => Some(
                crate::pickup::smtp::Mailer::new(url.trim(), from.trim()).map_err(|reason| {
                    ConfigError::Invalid {
                        name: "PUDO_SMTP_URL",
                        value: "(not shown)".into(),
                        reason,
                    }
                })?,
            ),
        };
        let poll_ms: u64 = var_parsed("PUDO_MAIL_POLL_MS", 1000)?;
        let erase_after_days: i64 = var_parsed("PUDO_CUSTOMER_DATA_DAYS", 14)?;
        if !(0..=365).contains(&erase_after_days) {
            return Err(ConfigError::Invalid {
                name: "PUDO_CUSTOMER_DATA_DAYS",
                value: erase_after_days.to_string(),
                reason: "must be between 0 and 365".into(),
            });
        }
        Ok(Self {
            mailer,
            poll: Duration::from_millis(poll_ms.max(50)),
            erase_after_days,
        })
    }
}

/// What the environment changes in the write path's defaults
/// ([`crate::pickup::WriteSettings::defaults`]); each `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOverrides {
    /// `PUDO_WRITE_PATH`: `functions` (PostgreSQL only) or `statements`.
    pub path: Option<crate::pickup::WritePath>,
    /// `PUDO_GROUP_COMMIT_WINDOW_US`: how long a batch waits for more requests (0 to 100000).
    pub window_us: Option<u64>,
    /// `PUDO_GROUP_COMMIT_MAX`: most requests per batch (1 to 1000; 1 turns group commit off).
    pub max_batch: Option<usize>,
    /// `PUDO_GROUP_COMMIT_WRITERS`: batches written at once per kind (1 to 256).
    pub writers: Option<usize>,
}

impl WriteOverrides {
    /// Reads the overrides from the environment.
    pub fn from_environment() -> Result<Self, ConfigError> {
        let path = match var("PUDO_WRITE_PATH").as_deref().map(str::trim) {
            None | Some("") | Some("auto") => None,
            Some("functions") => Some(crate::pickup::WritePath::Functions),
            Some("statements") => Some(crate::pickup::WritePath::Statements),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "PUDO_WRITE_PATH",
                    value: other.to_owned(),
                    reason: "must be auto, functions or statements".into(),
                })
            }
        };
        let ranged =
            |name: &'static str, low: u64, high: u64| -> Result<Option<u64>, ConfigError> {
                match var(name) {
                    None => Ok(None),
                    Some(_) => {
                        let v: u64 = var_parsed(name, 0)?;
                        if (low..=high).contains(&v) {
                            Ok(Some(v))
                        } else {
                            Err(ConfigError::Invalid {
                                name,
                                value: v.to_string(),
                                reason: format!("must be between {low} and {high}"),
                            })
                        }
                    }
                }
            };
        Ok(Self {
            path,
            window_us: ranged("PUDO_GROUP_COMMIT_WINDOW_US", 0, 100_000)?,
            max_batch: ranged("PUDO_GROUP_COMMIT_MAX", 1, 1000)?.map(|v| v as usize),
            writers: ranged("PUDO_GROUP_COMMIT_WRITERS", 1, 256)?.map(|v| v as usize),
        })
    }

    /// The settings for a database whose default path is `path`: the defaults with these
    /// overrides applied. Functions on a database other than plain PostgreSQL fall back to
    /// statements (they exist only there).
    pub fn apply(
        self,
        path: crate::pickup::WritePath,
        is_sqlite: bool,
        pool_size: u32,
    ) -> crate::pickup::WriteSettings {
        use crate::pickup::{WritePath, WriteSettings};
        let chosen = match (self.path, path) {
            (Some(WritePath::Functions), WritePath::Statements) => WritePath::Statements,
            (Some(p), _) => p,
            (None, p) => p,
        };
        let mut s = WriteSettings::defaults(chosen, is_sqlite, pool_size);
        if let Some(us) = self.window_us {
            s.group_commit.window = Duration::from_micros(us);
        }
        if let Some(n) = self.max_batch {
            s.group_commit.max_batch = n;
        }
        if let Some(n) = self.writers {
            s.group_commit.writers = n;
        }
        s
    }
}

/// The per-IP rate limit of the token endpoint.
#[derive(Debug, Clone)]
pub struct TokenRateSettings {
    /// `PUDO_TOKEN_RATE_PER_MIN`: requests a minute per client IP (default 30).
    pub per_minute: u32,
    /// `PUDO_TOKEN_BURST`: requests a client IP may make at once (default 10).
    pub burst: u32,
    /// `PUDO_TRUSTED_PROXIES`: proxies (addresses or CIDR ranges, comma-separated) whose
    /// `X-Forwarded-For` names the client; default none, so the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl TokenRateSettings {
    /// Reads the token rate limit settings from the environment.
    pub fn from_environment() -> Result<Self, ConfigError> {
        let per_minute: u32 = var_parsed("PUDO_TOKEN_RATE_PER_MIN", 30)?;
        let burst: u32 = var_parsed("PUDO_TOKEN_BURST", 10)?;
        for (name, value) in [
            ("PUDO_TOKEN_RATE_PER_MIN", per_minute),
            ("PUDO_TOKEN_BURST", burst),
        ] {
            if !(1..=100_000).contains(&value) {
                return Err(ConfigError::Invalid {
                    name,
                    value: value.to_string(),
                    reason: "must be between 1 and 100000".into(),
                });
            }
        }
        let proxies = var("PUDO_TRUSTED_PROXIES").unwrap_or_default();
        let trusted_proxies =
            crate::api::rate_limit::parse_trusted_proxies(&proxies).map_err(|reason| {
                ConfigError::Invalid {
                    name: "PUDO_TRUSTED_PROXIES",
                    value: proxies.clone(),
                    reason,
                }
            })?;
        Ok(Self {
            per_minute,
            burst,
            trusted_proxies,
        })
    }
}

/// Where tokens come from and what they say.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `PUDO_JWT_SECRET`, or `PUDO_JWT_PRIVATE_KEY_FILE` + `PUDO_JWT_PUBLIC_KEY_FILE`, or neither.
    pub source: crate::auth::keys::JwtSource,
    /// `PUDO_JWT_ISSUER` (default `pudo`).
    pub issuer: String,
    /// `PUDO_JWT_AUDIENCE` (default `pudo-api`).
    pub audience: String,
    /// `PUDO_PARTNER_TOKEN_MINUTES`: lifetime of tokens exchanged for an API key (default 720).
    pub partner_token_ttl: chrono::Duration,
}

impl AuthSettings {
    /// Reads the token settings from the environment.
    pub fn from_environment() -> Result<Self, ConfigError> {
        use crate::auth::keys::JwtSource;
        let read = |name: &'static str, path: String| {
            std::fs::read(&path).map_err(|e| ConfigError::Invalid {
                name,
                value: path,
                reason: e.to_string(),
            })
        };
        let source = match (var("PUDO_JWT_SECRET"), var("PUDO_JWT_PRIVATE_KEY_FILE"), var("PUDO_JWT_PUBLIC_KEY_FILE")) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "PUDO_JWT_SECRET",
                    value: "***".into(),
                    reason: "set either PUDO_JWT_SECRET or the PEM key files, not both".into(),
                })
            }
            (Some(secret), None, None) => JwtSource::Secret(secret),
            (None, Some(private), Some(public)) => JwtSource::Ed25519 {
                private_pem: read("PUDO_JWT_PRIVATE_KEY_FILE", private)?,
                public_pem: read("PUDO_JWT_PUBLIC_KEY_FILE", public)?,
            },
            (None, Some(p), None) | (None, None, Some(p)) => {
                return Err(ConfigError::Invalid {
                    name: "PUDO_JWT_PRIVATE_KEY_FILE",
                    value: p,
                    reason: "an EdDSA key pair needs both PUDO_JWT_PRIVATE_KEY_FILE and PUDO_JWT_PUBLIC_KEY_FILE".into(),
                })
            }
            (None, None, None) => JwtSource::Generated,
        };
        let minutes: i64 = var_parsed("PUDO_PARTNER_TOKEN_MINUTES", 720)?;
        if !(1..=60 * 24 * 30).contains(&minutes) {
            return Err(ConfigError::Invalid {
                name: "PUDO_PARTNER_TOKEN_MINUTES",
                value: minutes.to_string(),
                reason: "must be between 1 and 43200 (30 days)".into(),
            });
        }
        Ok(Self {
            source,
            issuer: var("PUDO_JWT_ISSUER").unwrap_or_else(|| "pudo".into()),
            audience: var("PUDO_JWT_AUDIENCE").unwrap_or_else(|| "pudo-api".into()),
            partner_token_ttl: chrono::Duration::minutes(minutes),
        })
    }
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
        let hold_days: i64 = var_parsed("PUDO_HOLD_DAYS", 7)?;
        if !(1..=90).contains(&hold_days) {
            return Err(ConfigError::Invalid {
                name: "PUDO_HOLD_DAYS",
                value: hold_days.to_string(),
                reason: "must be between 1 and 90".into(),
            });
        }
        let extension_days: i64 = var_parsed("PUDO_HOLD_EXTENSION_MAX_DAYS", 7)?;
        if !(1..=90).contains(&extension_days) {
            return Err(ConfigError::Invalid {
                name: "PUDO_HOLD_EXTENSION_MAX_DAYS",
                value: extension_days.to_string(),
                reason: "must be between 1 and 90".into(),
            });
        }
        let scan_in_minutes: i64 = var_parsed("PUDO_SCAN_IN_MINUTES", 30)?;
        if !(1..=1440).contains(&scan_in_minutes) {
            return Err(ConfigError::Invalid {
                name: "PUDO_SCAN_IN_MINUTES",
                value: scan_in_minutes.to_string(),
                reason: "must be between 1 and 1440".into(),
            });
        }
        let sweep_secs: u64 = var_parsed("PUDO_SWEEP_SECS", 60)?;
        let pool_size = var_parsed("PUDO_DB_POOL", default_pool_size(database.backend()))?;
        let webhook_ms: u64 = var_parsed("PUDO_WEBHOOK_POLL_MS", 1000)?;
        let metrics_cache_ms: u64 = var_parsed("PUDO_METRICS_DB_CACHE_MS", 5000)?;
        let settings = Self {
            auth: AuthSettings::from_environment()?,
            token_rate: TokenRateSettings::from_environment()?,
            hold: chrono::Duration::days(hold_days),
            hold_extension_max_days: extension_days,
            scan_in_limit: chrono::Duration::minutes(scan_in_minutes),
            sweep_every: Duration::from_secs(sweep_secs.max(1)),
            webhook_poll: Duration::from_millis(webhook_ms.max(50)),
            database,
            bind: var_parsed("PUDO_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            workers,
            pool_size,
            seed,
            index_refresh: Duration::from_millis(refresh_ms.max(50)),
            max_upload_bytes: upload_mb.saturating_mul(1024 * 1024),
            metrics_db_cache: Duration::from_millis(metrics_cache_ms),
            writes: WriteOverrides::from_environment()?,
            mail: MailSettings::from_environment()?,
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

/// Pooled connections when `PUDO_DB_POOL` is unset. SQLite has one writer at a time: more
/// connections only wait for its lock in the busy handler's sleeps, which measured slower and
/// with second-long tails (BENCHMARKS.md, "Handovers and reservations"); two keep a reader free
/// beside a writer.
fn default_pool_size(backend: crate::db::Backend) -> u32 {
    match backend {
        crate::db::Backend::Sqlite => 2,
        crate::db::Backend::Postgres => 8,
    }
}
