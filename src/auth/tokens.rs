//! Bearer tokens: claims, roles, issuing and verifying.
//!
//! Verification is strict because pudo is the only issuer: the algorithm is pinned to the
//! service's own (HS256 or EdDSA, never taken from the token), the header may carry only `alg`
//! and `typ: JWT` (so `kid`, `jku`, `x5u`, `jwk`, `crit` … are refused rather than ignored:
//! no key is ever looked up from a token), the token is at most [`MAX_TOKEN_BYTES`] long, and
//! `exp`, `nbf` and `iat` are checked with [`CLOCK_LEEWAY_SECS`] of clock skew.

use super::{AuthError, Keys};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Clock skew tolerated between the issuer and this instance, in seconds: a token is accepted
/// up to this long after `exp`, and with `nbf` or `iat` up to this far in the future.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

/// Longest token accepted, in bytes; pudo's own are about 300. Anything longer is refused
/// before it is decoded.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// What a token's holder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A shop owner; bound to one shop.
    Partner,
    /// A merchant (shop checkout) reserving pickup slots for its orders.
    Merchant,
    /// A logistics planner: imports the network, stages stock.
    Planner,
    /// An operator: everything.
    Admin,
    /// A carrier delivering parcels: may redirect a parcel on the day when its point has no
    /// room (not bound to a shop).
    Carrier,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Partner => "partner",
            Self::Merchant => "merchant",
            Self::Planner => "planner",
            Self::Admin => "admin",
            Self::Carrier => "carrier",
        })
    }
}

/// The claims pudo issues and checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer (`PUDO_JWT_ISSUER`).
    pub iss: String,
    /// Audience (`PUDO_JWT_AUDIENCE`).
    pub aud: String,
    /// Subject: the merchant id, the operator's name, or `shop:<external_id>` for partners.
    pub sub: String,
    /// The holder's role.
    pub role: Role,
    /// For partners, the shop id the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<i64>,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

impl Claims {
    /// Refuses the token unless its role is one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AuthError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let required = roles
            .iter()
            .map(Role::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        Err(AuthError::Forbidden {
            required,
            actual: self.role,
        })
    }

    /// The shop a partner token is bound to.
    pub fn partner_shop(&self) -> Result<i64, AuthError> {
        self.require(&[Role::Partner])?;
        self.shop
            .ok_or_else(|| AuthError::Invalid("a partner token must name its shop".into()))
    }
}

impl Keys {
    /// Signs a token for `sub` with `role`, valid for `ttl`.
    pub fn issue(
        &self,
        sub: &str,
        role: Role,
        shop: Option<i64>,
        ttl: chrono::Duration,
    ) -> Result<String, AuthError> {
        if (role == Role::Partner) != shop.is_some() {
            return Err(AuthError::Config(
                "a partner token needs a shop, and only a partner token has one".into(),
            ));
        }
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: sub.to_owned(),
            role,
            shop,
            iat: now,
            exp: now + ttl.num_seconds(),
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(self.algorithm()),
            &claims,
            self.encoding_key(),
        )
        .map_err(|e| AuthError::Config(format!("cannot sign a token: {e}")))
    }

    /// Checks size, header, signature, algorithm, issuer, audience and times; returns the
    /// claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid(format!(
                "the token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        self.check_header(token)?;
        let mut validation = jsonwebtoken::Validation::new(self.algorithm());
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS;
        let data = jsonwebtoken::decode::<Claims>(token, self.decoding_key(), &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let now = chrono::Utc::now().timestamp();
        if claims.iat > now + CLOCK_LEEWAY_SECS as i64 {
            return Err(AuthError::Invalid(
                "the token is issued in the future (iat)".into(),
            ));
        }
        if (claims.role == Role::Partner) != claims.shop.is_some() {
            return Err(AuthError::Invalid(
                "the shop claim does not fit the role".into(),
            ));
        }
        Ok(claims)
    }

    /// Refuses any header but `{"alg": <the service's algorithm>, "typ": "JWT"}`.
    fn check_header(&self, token: &str) -> Result<(), AuthError> {
        let malformed = || AuthError::Invalid("the token is malformed".into());
        let encoded = token.split('.').next().ok_or_else(malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded.as_bytes())
            .map_err(|_| malformed())?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if let Some(field) = header.keys().find(|k| !matches!(k.as_str(), "alg" | "typ")) {
            return Err(AuthError::Invalid(format!(
                "the token header field {field:?} is not accepted"
            )));
        }
        let expected = serde_json::to_value(self.algorithm()).map_err(|_| malformed())?;
        if header.get("alg") != Some(&expected) {
            return Err(AuthError::Invalid(format!(
                "the token algorithm must be {expected}"
            )));
        }
        if header.get("typ").and_then(|t| t.as_str()) != Some("JWT") {
            return Err(AuthError::Invalid(
                "the token type (typ) must be JWT".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
