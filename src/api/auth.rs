//! The bearer-token extractor and the API-key exchange.

use super::body::Body;
use super::{with_conn, AppState};
use crate::auth::{api_keys, AuthError, Claims, Role};
use crate::error::{ApiError, Problem};
use actix_web::{dev::Payload, http::header, post, web, FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};
use std::future::{ready, Ready};
use utoipa::ToSchema;

/// The verified claims of the request's bearer token; a handler taking it is authenticated.
pub struct Bearer(pub Claims);

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(verify(req))
    }
}

fn verify(req: &HttpRequest) -> Result<Bearer, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let value = value
        .to_str()
        .map_err(|_| AuthError::Invalid("the Authorization header is not text".into()))?;
    let jwt = match value.split_once(' ') {
        Some((scheme, jwt)) if scheme.eq_ignore_ascii_case("bearer") && !jwt.trim().is_empty() => {
            jwt.trim()
        }
        _ => {
            return Err(AuthError::Invalid(
                "the Authorization header must be \"Bearer <token>\"".into(),
            )
            .into())
        }
    };
    Ok(Bearer(state.keys.verify(jwt)?))
}

impl Bearer {
    /// Refuses the request unless the token has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Claims, ApiError> {
        self.0.require(roles)?;
        Ok(&self.0)
    }
}

/// An API key exchange request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The shop's external id.
    #[schema(example = "ES-CT-SOL")]
    pub shop: String,
    /// The shop's API key (from `pudo partner-key`).
    #[schema(example = "pk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")]
    pub api_key: String,
}

/// A freshly issued token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// The shop the token is bound to (pudo id).
    pub shop_id: i64,
}

/// Exchanges a shop's API key for a short-lived partner token.
#[utoipa::path(
    tag = "partner",
    context_path = "/v1",
    request_body = TokenRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "The body is not a token request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown shop or wrong key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address (`PUDO_TOKEN_RATE_PER_MIN`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/token")]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Body<TokenRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    state.token_rate_limit.check(&req)?;
    let TokenRequest { shop, api_key } = body.into_inner();
    let sub = format!("shop:{shop}");
    let shop_id = with_conn(&state, move |conn| {
        Ok(api_keys::verify(conn, &shop, &api_key)?)
    })
    .await?;
    let ttl = state.partner_token_ttl;
    let access_token = state.keys.issue(&sub, Role::Partner, Some(shop_id), ttl)?;
    Ok(web::Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl.num_seconds(),
        shop_id,
    }))
}
