//! Conditions at the counter (issue 19, section 2): what a merchant may ask of a handover
//! besides the code, and what the partner confirms before pudo lets it happen.
//!
//! - **Cash on delivery**: an amount to collect (integer minor units of an ISO 4217 currency).
//!   The handover needs `cash_collected`; the cash is recorded in the shop's cash ledger
//!   ([`crate::ledger::cash`]), never mixed with its fees.
//! - **ID and age checks**: `age_18`, or `named_recipient` with the name the ID must show. The
//!   handover needs `id_checked`; the audit records that it was confirmed, never any ID data.
//! - **A named collector**: one person besides the customer who may collect; the partner sees
//!   the name at the counter. The code alone still works only as the rules above allow.
//!
//! A reservation's conditions are stored with its parcel and never change after; a parcel
//! without any behaves exactly as before.

use super::PickupError;
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// The largest cash amount a reservation may ask for, in minor units: far above any parcel
/// paid at a counter, far below where sums of a month's cash could overflow.
pub const MAX_COD_MINOR: i64 = 100_000_000;

/// Longest name (recipient or collector), in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Cash to collect from the customer at the handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashOnDelivery {
    /// The amount, in minor units of `currency` (e.g. cents): a whole number above 0.
    #[schema(example = 2550, minimum = 1, maximum = 100_000_000)]
    pub amount_minor: i64,
    /// ISO 4217 code: three capital letters.
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

impl fmt::Display for CashOnDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (minor units)", self.amount_minor, self.currency)
    }
}

/// The check a partner makes before handing a parcel over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdCheck {
    /// The collector shows an ID proving they are 18 or older.
    #[serde(rename = "age_18")]
    Age18,
    /// The collector's ID shows the name in `recipient_name`.
    NamedRecipient,
}

impl IdCheck {
    /// The text stored in `parcels.id_check` and answered in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Age18 => "age_18",
            Self::NamedRecipient => "named_recipient",
        }
    }
}

impl std::str::FromStr for IdCheck {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "age_18" => Ok(Self::Age18),
            "named_recipient" => Ok(Self::NamedRecipient),
            other => Err(format!(
                "unknown id check {other:?} (use age_18 or named_recipient)"
            )),
        }
    }
}

/// A reservation's conditions at the counter (every field optional). Its `Debug` leaves the
/// names out: a refused handover's error is logged with it, and people's names stay out of
/// the logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Cash to collect.
    pub cash_on_delivery: Option<CashOnDelivery>,
    /// The check to make.
    pub id_check: Option<IdCheck>,
    /// The name a `named_recipient` check compares the ID with.
    pub recipient_name: Option<String>,
    /// One person besides the customer who may collect.
    pub collector_name: Option<String>,
}

impl fmt::Debug for Conditions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |n: &Option<String>| n.as_ref().map(|_| "<name>");
        f.debug_struct("Conditions")
            .field("cash_on_delivery", &self.cash_on_delivery)
            .field("id_check", &self.id_check)
            .field("recipient_name", &name(&self.recipient_name))
            .field("collector_name", &name(&self.collector_name))
            .finish()
    }
}

impl Conditions {
    /// Whether there is no condition at all (the parcel behaves as before conditions).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks the conditions, naming the field at fault: an amount above 0 and at most
    /// [`MAX_COD_MINOR`], a currency of three capital letters, a recipient name exactly when
    /// the check is `named_recipient`, names of 1 to [`MAX_NAME_CHARS`] characters.
    pub fn check(&self) -> Result<(), PickupError> {
        if let Some(cod) = &self.cash_on_delivery {
            if cod.amount_minor <= 0 || cod.amount_minor > MAX_COD_MINOR {
                return Err(PickupError::Invalid {
                    field: "cash_on_delivery.amount_minor",
                    message: format!(
                        "{} is not an amount to collect (a whole number of minor units from 1 to {MAX_COD_MINOR})",
                        cod.amount_minor
                    ),
                });
            }
            if !(cod.currency.len() == 3 && cod.currency.bytes().all(|b| b.is_ascii_uppercase())) {
                return Err(PickupError::Invalid {
                    field: "cash_on_delivery.currency",
                    message: format!(
                        "{:?} is not an ISO 4217 currency code (three capital letters, e.g. EUR)",
                        cod.currency
                    ),
                });
            }
        }
        match (self.id_check, &self.recipient_name) {
            (Some(IdCheck::NamedRecipient), None) => {
                return Err(PickupError::Invalid {
                    field: "recipient_name",
                    message:
                        "is required with id_check named_recipient (the name the ID must show)"
                            .into(),
                })
            }
            (Some(IdCheck::NamedRecipient), Some(name)) => {
                super::parcels::check_text("recipient_name", name, MAX_NAME_CHARS)?
            }
            (_, Some(_)) => {
                return Err(PickupError::Invalid {
                    field: "recipient_name",
                    message: "is only for id_check named_recipient".into(),
                })
            }
            (_, None) => {}
        }
        if let Some(name) = &self.collector_name {
            super::parcels::check_text("collector_name", name, MAX_NAME_CHARS)?;
        }
        Ok(())
    }

    /// What the partner must still confirm for a handover, given what they confirmed: the
    /// cash first (it is what the counter is accountable for), then the check.
    pub fn unmet(&self, confirmed: Confirmations) -> Option<Missing> {
        if self.cash_on_delivery.is_some() && !confirmed.cash_collected {
            Some(Missing::CashCollected)
        } else if self.id_check.is_some() && !confirmed.id_checked {
            Some(Missing::IdChecked)
        } else {
            None
        }
    }

    /// What a handover of a parcel with these conditions confirmed, as the audit records it
    /// (`cash_collected`, `id_checked`, comma-separated; `None` without conditions to confirm).
    /// `pudo_handover_one` writes the same text.
    pub fn audit_text(&self) -> Option<String> {
        let parts: Vec<&str> = [
            self.cash_on_delivery.as_ref().map(|_| "cash_collected"),
            self.id_check.map(|_| "id_checked"),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(","))
    }
}

/// What the partner confirms with a handover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confirmations {
    /// The cash on delivery was collected.
    pub cash_collected: bool,
    /// The ID (or age) check was made and passed.
    pub id_checked: bool,
}

/// The confirmation a handover lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The cash was not confirmed as collected.
    CashCollected,
    /// The ID or age check was not confirmed.
    IdChecked,
}

/// A handover refused for a confirmation it lacks (409; nothing changes): what is missing and
/// every condition of the parcel, so that the counter can show them all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// The first confirmation missing.
    pub missing: Missing,
    /// The parcel's conditions.
    pub conditions: Conditions,
}

impl Unmet {
    /// The stable word: the audit's `result`, the 409's `reason`.
    pub fn label(&self) -> &'static str {
        match self.missing {
            Missing::CashCollected => "cash_not_confirmed",
            Missing::IdChecked => "id_check_required",
        }
    }
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.missing, &self.conditions) {
            (
                Missing::CashCollected,
                Conditions {
                    cash_on_delivery: Some(cod),
                    ..
                },
            ) => write!(
                f,
                "collect {cod} and confirm with cash_collected: true before handing the parcel over"
            ),
            (
                Missing::IdChecked,
                Conditions {
                    id_check: Some(check),
                    ..
                },
            ) => write!(
                f,
                "the parcel needs the {} check; confirm with id_checked: true once it is made",
                check.as_str()
            ),
            _ => f.write_str("a condition of the handover is not confirmed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cod(amount_minor: i64, currency: &str) -> Conditions {
        Conditions {
            cash_on_delivery: Some(CashOnDelivery {
                amount_minor,
                currency: currency.into(),
            }),
            ..Conditions::default()
        }
    }

    fn field_of(c: &Conditions) -> Option<&'static str> {
        match c.check() {
            Err(PickupError::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn bad_amounts_and_currencies_are_named() {
        assert_eq!(field_of(&cod(2550, "EUR")), None);
        for bad in [0, -1, MAX_COD_MINOR + 1] {
            assert_eq!(
                field_of(&cod(bad, "EUR")),
                Some("cash_on_delivery.amount_minor")
            );
        }
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert_eq!(field_of(&cod(100, bad)), Some("cash_on_delivery.currency"));
        }
    }

    #[test]
    fn a_named_recipient_needs_a_name_and_only_it_takes_one() {
        let named = |name: Option<&str>, check| Conditions {
            id_check: check,
            recipient_name: name.map(str::to_owned),
            ..Conditions::default()
        };
        assert_eq!(
            field_of(&named(None, Some(IdCheck::NamedRecipient))),
            Some("recipient_name")
        );
        assert_eq!(
            field_of(&named(Some("  "), Some(IdCheck::NamedRecipient))),
            Some("recipient_name")
        );
        assert_eq!(
            field_of(&named(Some("Ana"), Some(IdCheck::Age18))),
            Some("recipient_name")
        );
        assert_eq!(
            field_of(&named(Some("Ana"), Some(IdCheck::NamedRecipient))),
            None
        );
        assert_eq!(field_of(&named(None, Some(IdCheck::Age18))), None);
    }

    #[test]
    fn cash_is_asked_for_before_the_check() {
        let c = Conditions {
            id_check: Some(IdCheck::Age18),
            ..cod(500, "EUR")
        };
        let none = Confirmations::default();
        assert_eq!(c.unmet(none), Some(Missing::CashCollected));
        let cash = Confirmations {
            cash_collected: true,
            ..none
        };
        assert_eq!(c.unmet(cash), Some(Missing::IdChecked));
        let unmet = Unmet {
            missing: Missing::CashCollected,
            conditions: c.clone(),
        };
        assert_eq!(unmet.label(), "cash_not_confirmed");
        assert!(unmet.to_string().contains("500 EUR"));
        let both = Confirmations {
            cash_collected: true,
            id_checked: true,
        };
        assert_eq!(c.unmet(both), None);
        assert_eq!(c.audit_text().as_deref(), Some("cash_collected,id_checked"));
        assert_eq!(Conditions::default().audit_text(), None);
        assert_eq!(Conditions::default().unmet(none), None);
    }

    #[test]
    fn names_stay_out_of_debug_output() {
        let c = Conditions {
            id_check: Some(IdCheck::NamedRecipient),
            recipient_name: Some("Ana García".into()),
            collector_name: Some("Luis García".into()),
            ..Conditions::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("García"), "{shown}");
        assert!(shown.contains("NamedRecipient"));
    }
}
