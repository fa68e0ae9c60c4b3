//! Who may do what: JWT bearer tokens with a role, partner API keys, and the service's own
//! secrets (the JWT key and the data key that hashes and seals pickup codes).
//!
//! Pure domain code: HTTP extraction of the bearer token lives in `api::auth`.

pub mod api_keys;
pub mod jwt_crypto;
pub mod keys;
pub mod tokens;

pub use keys::Keys;
pub use tokens::{Claims, Role};

/// Why a token or key was refused, or the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No bearer token was given.
    #[error("a bearer token is required (Authorization: Bearer …)")]
    Missing,
    /// The token is malformed, forged, expired, or for another issuer or audience.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// The token is valid but its role may not do this.
    #[error("a {required} token is required for this; this token's role is {actual}")]
    Forbidden {
        /// Roles that may.
        required: String,
        /// The token's role.
        actual: Role,
    },
    /// Shop and API key do not match.
    #[error("unknown shop or wrong API key")]
    BadApiKey,
    /// A key setting is unusable.
    #[error("{0}")]
    Config(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}
