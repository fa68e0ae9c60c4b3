//! What partner shops are paid: the fee schedule, the append-only ledger and monthly
//! statements.
//!
//! Every paid event (a handover, a drop-off, staged units received, a return sent back) writes
//! one ledger row in the same transaction as the event itself, at the fee in force that day
//! (UTC) for the shop's region, under a unique event key: an event that did not commit is not
//! paid, and no event is paid twice. Amounts are integer minor units of a currency, never
//! floats. Statements are read from the ledger alone, so they never change once a month is
//! over, whatever happens to the schedule later.

pub mod book;
pub mod cash;
pub mod fees;
pub mod month;
pub mod statement;

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};
use utoipa::ToSchema;

pub use month::Month;

/// Kinds of paid event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FeeKind {
    /// A parcel handed over to its customer.
    Handover,
    /// A return accepted at the counter.
    Dropoff,
    /// Staged units received (paid per unit).
    StagedUnitReceived,
    /// A return or an uncollected parcel handed back to the carrier.
    ReturnSentBack,
}

impl FeeKind {
    /// Every kind, in statement order.
    pub const ALL: [FeeKind; 4] = [
        Self::Handover,
        Self::Dropoff,
        Self::StagedUnitReceived,
        Self::ReturnSentBack,
    ];

    /// The text stored in `kind` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handover => "handover",
            Self::Dropoff => "dropoff",
            Self::StagedUnitReceived => "staged_unit_received",
            Self::ReturnSentBack => "return_sent_back",
        }
    }
}

impl fmt::Display for FeeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FeeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown fee kind {s:?} (use handover, dropoff, staged_unit_received or return_sent_back)")
            })
    }
}

/// What can go wrong with fees and statements.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Bad input, with the field at fault.
    #[error("{field}: {message}")]
    Invalid {
        /// The field (e.g. `fees[2].currency`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No such shop.
    #[error("no shop {0}")]
    ShopNotFound(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl LedgerError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
