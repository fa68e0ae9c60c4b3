//! The error policy, and the one place domain errors become HTTP answers.
//!
//! - Pure domain code returns small, precise error types (`import::Rejected`,
//!   `hours::HoursError`); storage functions return `diesel::QueryResult`.
//! - CLI commands and start-up use `anyhow` and print the chain.
//! - HTTP handlers return [`ApiError`], and only this module decides status codes. Every error
//!   answer is `application/problem+json` (RFC 9457) with a `title`, a `detail` in words and,
//!   where it helps, the parameter or rows at fault. Internal details (SQL, paths) are logged,
//!   never sent.

use crate::network::import::{Rejected, RowError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query, path or body parameter is missing or malformed (400).
    #[error("{detail}")]
    BadParameter {
        /// The parameter's name.
        parameter: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The request body cannot be read (400).
    #[error("{0}")]
    BadRequest(String),
    /// The thing addressed does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// No valid token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The token may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (409); `reason` is a stable word.
    #[error("{detail}")]
    Conflict {
        /// Stable machine-readable reason, e.g. `full`.
        reason: &'static str,
        /// In words.
        detail: String,
    },
    /// A parcel that does not fit a point, or finds no slot of its size there (409): reason
    /// `does_not_fit` naming the `limit`, or `full` naming the `size_class` needed.
    #[error("{detail}")]
    SizeConflict {
        /// `does_not_fit` or `full`.
        reason: &'static str,
        /// In words.
        detail: String,
        /// The limit exceeded (`max_weight`, `max_dimensions`, `size_class`), for `does_not_fit`.
        limit: Option<&'static str>,
        /// The size class the parcel needs.
        size_class: Option<&'static str>,
    },
    /// A handover refused until the partner confirms a condition at the counter (409): reason
    /// `cash_not_confirmed` or `id_check_required`, with every condition of the parcel.
    #[error("{0}")]
    ConditionConflict(Box<crate::pickup::conditions::Unmet>),
    /// The path exists but not with this method (405); `allowed` goes into `Allow`.
    #[error("{method} is not allowed here; allowed: {}", allowed.join(", "))]
    MethodNotAllowed {
        /// The method asked.
        method: String,
        /// The methods the path has.
        allowed: Vec<&'static str>,
    },
    /// The thing existed but is no longer valid (410).
    #[error("{0}")]
    Gone(String),
    /// Too many attempts (429).
    #[error("{detail}")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after_secs: i64,
        /// In words.
        detail: String,
    },
    /// An uploaded file was rejected whole (422).
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The body is larger than allowed (413).
    #[error("{0}")]
    TooLarge(String),
    /// The database is unreachable or the service is still starting (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500); the cause is logged, not sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 503 for an unreachable database.
    pub fn unavailable() -> Self {
        Self::Unavailable("the database is unavailable; try again shortly".into())
    }

    /// A 400 naming the parameter at fault.
    pub fn bad_parameter(parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadParameter {
            parameter: parameter.into(),
            detail: detail.into(),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error};
        match e {
            Error::NotFound => Self::NotFound("not found".into()),
            // A Citus worker down, for an answer that needs every region: the detail names
            // the regions (db::citus::regions_unavailable).
            Error::DatabaseError(K::ClosedConnection, info)
                if info
                    .message()
                    .starts_with(crate::db::citus::REGIONS_UNAVAILABLE) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            // The connection went away (the server died, a failover is under way), or the
            // server is no longer the primary (read-only after a demotion), or a concurrent
            // change won: all pass, so the client is asked to retry. A change whose COMMIT
            // failed this way may or may not have been made: every write of pudo is idempotent
            // (order_ref, handover replays), so the retry tells.
            Error::DatabaseError(
                K::ClosedConnection
                | K::UnableToSendCommand
                | K::ReadOnlyTransaction
                | K::SerializationFailure,
                _,
            )
            | Error::BrokenTransactionManager => Self::unavailable(),
            Error::RollbackErrorOnCommit { commit_error, .. } => Self::from(*commit_error),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        crate::db::DbError::from(e).into()
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Pool(_) => Self::unavailable(),
            crate::db::DbError::Query(q) => q.into(),
            other => Self::Internal(other.into()),
        }
    }
}

/// The body of every error answer (RFC 9457 problem details).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, fixed summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong this time, in words.
    pub detail: String,
    /// The query or body parameter at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// Rows of an uploaded file at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<RowError>>,
    /// Stable reason of a 409, e.g. `full`, `paused`, `closed`, `does_not_fit`,
    /// `cash_not_confirmed`, `id_check_required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// With `does_not_fit`: the point's limit the parcel exceeds (`max_weight`,
    /// `max_dimensions`, or `size_class` when the point has no slots of the size needed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// With `full` (for a parcel with measurements) and `does_not_fit` by `size_class`: the
    /// size class (`S`, `M`, `L`) the parcel needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_class: Option<String>,
    /// Whether more rows were at fault than `errors` lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    /// With `cash_not_confirmed` and `id_check_required`, the parcel's conditions at the
    /// counter, all of them, so that the counter confirms them at once: the cash to collect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_on_delivery: Option<crate::pickup::CashOnDelivery>,
    /// The check to make (`age_18`, `named_recipient`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_check: Option<crate::pickup::IdCheck>,
    /// The name the ID must show (`named_recipient`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_name: Option<String>,
    /// The one person besides the customer authorised to collect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector_name: Option<String>,
}

impl ApiError {
    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadParameter { .. } => ("bad-parameter", "Invalid parameter"),
            Self::BadRequest(_) => ("bad-request", "Bad request"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::Conflict { .. } | Self::SizeConflict { .. } | Self::ConditionConflict(_) => {
                ("conflict", "Conflict")
            }
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::Gone(_) => ("gone", "Gone"),
            Self::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            Self::Rejected(_) => ("file-rejected", "File rejected"),
            Self::TooLarge(_) => ("too-large", "Request body too large"),
            Self::Unavailable(_) => ("unavailable", "Service unavailable"),
            Self::Internal(_) => ("internal", "Internal error"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_and_title();
        let conditions = match self {
            Self::ConditionConflict(unmet) => Some(&unmet.conditions),
            _ => None,
        };
        let (parameter, errors, truncated) = match self {
            Self::BadParameter { parameter, .. } => (Some(parameter.clone()), None, None),
            Self::Rejected(r) => (None, Some(r.errors.clone()), Some(r.truncated)),
            _ => (None, None, None),
        };
        Problem {
            kind: format!("https://pudo.dev/problems/{slug}"),
            title: title.into(),
            status: self.status_code().as_u16(),
            detail: self.to_string(),
            parameter,
            errors,
            truncated,
            reason: match self {
                Self::Conflict { reason, .. } | Self::SizeConflict { reason, .. } => {
                    Some((*reason).to_owned())
                }
                Self::ConditionConflict(unmet) => Some(unmet.label().to_owned()),
                _ => None,
            },
            limit: match self {
                Self::SizeConflict { limit, .. } => limit.map(str::to_owned),
                _ => None,
            },
            size_class: match self {
                Self::SizeConflict { size_class, .. } => size_class.map(str::to_owned),
                _ => None,
            },
            cash_on_delivery: conditions.and_then(|c| c.cash_on_delivery.clone()),
            id_check: conditions.and_then(|c| c.id_check),
            recipient_name: conditions.and_then(|c| c.recipient_name.clone()),
            collector_name: conditions.and_then(|c| c.collector_name.clone()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadParameter { .. } | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict { .. } | Self::SizeConflict { .. } | Self::ConditionConflict(_) => {
                StatusCode::CONFLICT
            }
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Gone(_) => StatusCode::GONE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            Self::Unavailable(why) => tracing::warn!(%why, "unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            Self::TooManyRequests {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::MethodNotAllowed { allowed, .. } => {
                response.insert_header((header::ALLOW, allowed.join(", ")));
            }
            _ => {}
        }
        response
            .content_type("application/problem+json")
            .json(self.problem())
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match e {
            AuthError::Missing | AuthError::Invalid(_) | AuthError::BadApiKey => {
                Self::Unauthorized(e.to_string())
            }
            AuthError::Forbidden { .. } => Self::Forbidden(e.to_string()),
            AuthError::Db(db) => db.into(),
            AuthError::Config(_) => Self::Internal(e.into()),
        }
    }
}

impl From<crate::pickup::PickupError> for ApiError {
    fn from(e: crate::pickup::PickupError) -> Self {
        use crate::pickup::PickupError as P;
        let detail = e.to_string();
        match e {
            P::ShopNotFound(_) | P::ParcelNotFound(_) | P::UnknownCode => Self::NotFound(detail),
            P::ShopUnavailable(why) => Self::Conflict {
                reason: why.as_str(),
                detail,
            },
            P::DoesNotFit(why) => Self::SizeConflict {
                reason: "does_not_fit",
                detail,
                limit: Some(why.limit()),
                size_class: match why {
                    crate::network::sizes::DoesNotFit::NoClass(c) => Some(c.as_str()),
                    _ => None,
                },
            },
            P::ConditionUnmet(unmet) => Self::ConditionConflict(unmet),
            P::ClassFull(class) => Self::SizeConflict {
                reason: "full",
                detail,
                limit: None,
                size_class: Some(class.as_str()),
            },
            P::OrderRefConflict(_) => Self::Conflict {
                reason: "order_ref_in_use",
                detail,
            },
            P::WrongState { .. } => Self::Conflict {
                reason: "wrong_state",
                detail,
            },
            P::NotCollectable(_) => Self::Conflict {
                reason: "not_collectable",
                detail,
            },
            P::CapacityBelowLoad { .. } => Self::Conflict {
                reason: "capacity_below_load",
                detail,
            },
            P::AlreadyArrived(_) => Self::Conflict {
                reason: "already_arrived",
                detail,
            },
            P::NoRoomNearby { .. } => Self::Conflict {
                reason: "no_room_nearby",
                detail,
            },
            P::CodeNotTransferable => Self::Conflict {
                reason: "code_not_transferable",
                detail,
            },
            P::Changed => Self::Conflict {
                reason: "changed",
                detail,
            },
            P::AlreadyExtended(_) => Self::Conflict {
                reason: "already_extended",
                detail,
            },
            P::NotWaiting(_) => Self::Conflict {
                reason: "not_waiting",
                detail,
            },
            P::HoldOver => Self::Conflict {
                reason: "hold_over",
                detail,
            },
            P::CodeExpired | P::DropoffCodeExpired => Self::Gone(detail),
            P::ReturnNotFound(_) | P::ReturnsNotHere(_) | P::UnknownDropoffCode => {
                Self::NotFound(detail)
            }
            P::ReturnOrderRefConflict(_) => Self::Conflict {
                reason: "order_ref_in_use",
                detail,
            },
            P::ReturnsNotDroppedOff(_) => Self::Conflict {
                reason: "not_dropped_off",
                detail,
            },
            P::TooManyAttempts { retry_after_secs } => Self::TooManyRequests {
                retry_after_secs,
                detail,
            },
            P::Invalid { field, message } => {
                Self::bad_parameter(field, format!("{field}: {message}"))
            }
            P::Db(db) => db.into(),
            P::CodeClash => Self::Internal(anyhow::anyhow!("pickup code collision not retried")),
        }
    }
}

impl From<crate::ledger::LedgerError> for ApiError {
    fn from(e: crate::ledger::LedgerError) -> Self {
        use crate::ledger::LedgerError as L;
        let detail = e.to_string();
        match e {
            L::Invalid { field, .. } => Self::bad_parameter(field, detail),
            L::ShopNotFound(_) => Self::NotFound(detail),
            L::Db(db) => db.into(),
        }
    }
}

impl From<crate::staging::StagingError> for ApiError {
    fn from(e: crate::staging::StagingError) -> Self {
        use crate::staging::StagingError as S;
        let detail = e.to_string();
        match e {
            S::EventNotFound(_) | S::PlanNotFound(_) | S::ManifestNotFound(_) => {
                Self::NotFound(detail)
            }
            S::AlreadyReceived(_) => Self::Conflict {
                reason: "already_received",
                detail,
            },
            S::NoRoom { size, .. } => Self::SizeConflict {
                reason: "full",
                detail,
                limit: None,
                size_class: Some(size.as_str()),
            },
            S::WrongState { .. } => Self::Conflict {
                reason: "wrong_state",
                detail,
            },
            S::Invalid { field, .. } => Self::bad_parameter(field, detail),
            S::Allocator(_) => Self::bad_parameter("params", detail),
            S::Db(db) => db.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind as K, Error};

    fn db_error(kind: K) -> Error {
        Error::DatabaseError(kind, Box::new("server closed the connection".to_owned()))
    }

    /// However a lost database shows itself to a handler, the answer is a 503 problem with
    /// `Retry-After`, never a 500.
    #[test]
    fn a_lost_database_is_503_with_retry_after() {
        let lost = [
            db_error(K::ClosedConnection),
            db_error(K::UnableToSendCommand),
            db_error(K::ReadOnlyTransaction),
            Error::BrokenTransactionManager,
            Error::RollbackErrorOnCommit {
                rollback_error: Box::new(db_error(K::UnableToSendCommand)),
                commit_error: Box::new(db_error(K::ClosedConnection)),
            },
        ];
        for e in lost {
            let shown = format!("{e:?}");
            let answer = ApiError::from(e).error_response();
            assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE, "{shown}");
            assert!(
                answer.headers().contains_key(header::RETRY_AFTER),
                "{shown}"
            );
            assert_eq!(
                answer
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
                Some(&b"application/problem+json"[..]),
                "{shown}"
            );
        }
        assert_eq!(
            ApiError::from(db_error(K::UniqueViolation)).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
