//! The service's secrets: the JWT signing key and the data key.
//!
//! The JWT key comes from `PUDO_JWT_SECRET` (HS256, at least 32 bytes), or from a PEM key pair
//! (`PUDO_JWT_PRIVATE_KEY_FILE` and `PUDO_JWT_PUBLIC_KEY_FILE`, Ed25519, EdDSA). With neither
//! set, a random HS256 secret is generated once and kept in the database (`service_keys`) so
//! restarts, and every instance sharing the database, accept the same tokens. The data key
//! (HMAC of pickup codes, sealing of codes and webhook secrets) is always generated and kept
//! there. Secrets are never logged.

use super::AuthError;
use crate::db::schema::service_keys;
use crate::db::DbConn;
use base64::{engine::general_purpose::STANDARD, Engine};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;

/// Where the JWT key comes from.
#[derive(Clone, Default)]
pub enum JwtSource {
    /// Generated once and kept in the database.
    #[default]
    Generated,
    /// `PUDO_JWT_SECRET`.
    Secret(String),
    /// PEM files of an Ed25519 key pair.
    Ed25519 {
        /// Private key (PKCS#8 PEM).
        private_pem: Vec<u8>,
        /// Public key (SPKI PEM).
        public_pem: Vec<u8>,
    },
}

impl std::fmt::Debug for JwtSource {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Generated => "Generated",
            Self::Secret(_) => "Secret(***)",
            Self::Ed25519 { .. } => "Ed25519(***)",
        })
    }
}

/// Loaded keys plus the issuer and audience every token carries.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    algorithm: Algorithm,
    data_key: [u8; 32],
    pub(crate) issuer: String,
    pub(crate) audience: String,
}

impl Keys {
    /// Loads (or, the first time, generates) the keys.
    pub fn load(
        conn: &mut DbConn,
        source: &JwtSource,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthError> {
        super::jwt_crypto::install();
        let data_key = stored_secret(conn, "data_key")?;
        let (encoding, decoding, algorithm) = match source {
            JwtSource::Generated => {
                let secret = stored_secret(conn, "jwt_hs256")?;
                (
                    EncodingKey::from_secret(&secret),
                    DecodingKey::from_secret(&secret),
                    Algorithm::HS256,
                )
            }
            JwtSource::Secret(secret) => {
                if secret.len() < 32 {
                    return Err(AuthError::Config(
                        "PUDO_JWT_SECRET must be at least 32 bytes".into(),
                    ));
                }
                (
                    EncodingKey::from_secret(secret.as_bytes()),
                    DecodingKey::from_secret(secret.as_bytes()),
                    Algorithm::HS256,
                )
            }
            JwtSource::Ed25519 {
                private_pem,
                public_pem,
            } => (
                EncodingKey::from_ed_pem(private_pem).map_err(|e| {
                    AuthError::Config(format!(
                        "PUDO_JWT_PRIVATE_KEY_FILE is not an Ed25519 PEM key: {e}"
                    ))
                })?,
                DecodingKey::from_ed_pem(public_pem).map_err(|e| {
                    AuthError::Config(format!(
                        "PUDO_JWT_PUBLIC_KEY_FILE is not an Ed25519 PEM key: {e}"
                    ))
                })?,
                Algorithm::EdDSA,
            ),
        };
        Ok(Self {
            encoding,
            decoding,
            algorithm,
            data_key,
            issuer: issuer.into(),
            audience: audience.into(),
        })
    }

    /// Keys for unit tests: a fixed HS256 secret and data key.
    pub fn for_tests() -> Self {
        super::jwt_crypto::install();
        let secret = [7u8; 32];
        Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            algorithm: Algorithm::HS256,
            data_key: [9u8; 32],
            issuer: "pudo".into(),
            audience: "pudo-api".into(),
        }
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The 32-byte data key (HMAC and sealing).
    pub fn data_key(&self) -> &[u8; 32] {
        &self.data_key
    }
}

/// A 32-byte secret from `service_keys`, created on first use. Concurrent first starts agree:
/// the loser of the insert race reads the winner's value.
fn stored_secret(conn: &mut DbConn, name: &str) -> Result<[u8; 32], AuthError> {
    let existing: Option<String> = service_keys::table
        .find(name)
        .select(service_keys::value)
        .first(conn)
        .optional()?;
    let value = match existing {
        Some(v) => v,
        None => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let inserted = diesel::insert_into(service_keys::table)
                .values((
                    service_keys::name.eq(name),
                    service_keys::value.eq(STANDARD.encode(bytes)),
                    service_keys::created_at.eq(chrono::Utc::now().naive_utc()),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => {}
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {}
                Err(e) => return Err(e.into()),
            }
            service_keys::table
                .find(name)
                .select(service_keys::value)
                .first(conn)?
        }
    };
    let bytes = STANDARD
        .decode(value.as_bytes())
        .map_err(|_| AuthError::Config(format!("service key {name} is corrupt")))?;
    bytes
        .try_into()
        .map_err(|_| AuthError::Config(format!("service key {name} has the wrong length")))
}
