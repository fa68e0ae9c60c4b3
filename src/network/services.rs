//! What a shop offers: picking parcels up, dropping parcels off, taking returns, holding
//! staged stock. A shop that does not offer a service is never offered or planned for it.

use serde::{Serialize, Serializer};
use std::{fmt, str::FromStr};
use utoipa::ToSchema;

/// One service a shop may offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Customers collect parcels (reservations, handovers).
    Pickup,
    /// Customers drop parcels off for a carrier.
    Dropoff,
    /// Customers hand in returns.
    Returns,
    /// The shop holds peak-day staged stock.
    Staging,
}

impl Service {
    /// Every service, in the canonical order.
    pub const ALL: [Service; 4] = [Self::Pickup, Self::Dropoff, Self::Returns, Self::Staging];

    /// The service's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pickup => "pickup",
            Self::Dropoff => "dropoff",
            Self::Returns => "returns",
            Self::Staging => "staging",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pickup" => Ok(Self::Pickup),
            "dropoff" => Ok(Self::Dropoff),
            "returns" => Ok(Self::Returns),
            "staging" => Ok(Self::Staging),
            other => Err(format!(
                "unknown service {other:?} (use pickup, dropoff, returns or staging)"
            )),
        }
    }
}

/// A set of services, kept as bits so the geo index can filter on it in its compact entries.
/// Serialised as the list of names; in OpenAPI schemas fields of this type are declared
/// `value_type = Vec<Service>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Services(u8);

impl Default for Services {
    /// Every service: what a shop offers when nothing says otherwise.
    fn default() -> Self {
        Self::all()
    }
}

impl Services {
    /// Every service.
    pub fn all() -> Self {
        Self(0b1111)
    }

    /// No service.
    pub fn none() -> Self {
        Self(0)
    }

    /// The bits, for the index's compact entries.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether `service` is offered.
    pub fn has(self, service: Service) -> bool {
        self.0 & service.bit() != 0
    }

    /// Adds a service.
    pub fn insert(&mut self, service: Service) {
        self.0 |= service.bit();
    }

    /// The offered services in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Service> {
        Service::ALL.into_iter().filter(move |s| self.has(*s))
    }

    /// The names of the offered services, in canonical order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Service::as_str).collect()
    }

    /// Parses a list of names separated by `|` or `,` (e.g. `pickup|dropoff`); at least one,
    /// none repeated.
    ///
    /// ```
    /// use pudo::network::services::{Service, Services};
    /// let s = Services::parse("dropoff|pickup").unwrap();
    /// assert!(s.has(Service::Pickup) && !s.has(Service::Staging));
    /// assert_eq!(s.to_string(), "pickup,dropoff");
    /// assert!(Services::parse("pickup|pickup").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut set = Self::none();
        for name in text.split(['|', ',']).map(str::trim) {
            if name.is_empty() {
                return Err(format!(
                    "{text:?} has an empty service name (separate names with |, e.g. pickup|dropoff)"
                ));
            }
            let service: Service = name.parse()?;
            if set.has(service) {
                return Err(format!("{} is listed twice", service.as_str()));
            }
            set.insert(service);
        }
        Ok(set)
    }

    /// Reads the stored text; an unreadable value (edited by hand) offers everything, as
    /// before services existed.
    pub fn from_stored(text: &str) -> Self {
        Self::parse(text).unwrap_or_default()
    }
}

impl FromIterator<Service> for Services {
    fn from_iter<I: IntoIterator<Item = Service>>(iter: I) -> Self {
        let mut set = Self::none();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl fmt::Display for Services {
    /// The stored form: canonical order, comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl Serialize for Services {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}
