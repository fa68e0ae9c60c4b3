//! What a partner shop is: the validated input a planner imports and the stored row.

use super::address::{Address, Localized, ShopDetails};
use super::closures::Closure;
use super::hours::WeeklyHours;
use super::services::Services;
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};
use utoipa::ToSchema;

/// Whether a shop takes parcels: only `active` shops are offered to customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShopStatus {
    /// Open for business and offered in searches.
    Active,
    /// Temporarily not taking parcels (holiday, full counter); kept out of searches.
    Paused,
    /// No longer a partner; kept for history.
    Closed,
}

impl ShopStatus {
    /// The text stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for ShopStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ShopStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Self::Active),
            "paused" => Ok(Self::Paused),
            "closed" => Ok(Self::Closed),
            other => Err(format!(
                "unknown status {other:?} (use active, paused or closed)"
            )),
        }
    }
}

/// One validated shop from an import file or a seed, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopInput {
    /// The partner's own unique reference for the shop.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Latitude in degrees, -90..=90.
    pub latitude: f64,
    /// Longitude in degrees, -180..=180.
    pub longitude: f64,
    /// Parcel slots.
    pub capacity: i32,
    /// IANA time zone the opening hours are read in.
    pub timezone: Tz,
    /// Weekly opening hours in local time.
    pub hours: WeeklyHours,
    /// Whether the shop takes parcels.
    pub status: ShopStatus,
    /// What the shop offers (every service unless the file says otherwise).
    pub services: Services,
    /// Its closure periods when the file gives them; `None` leaves stored closures as they are.
    pub closures: Option<Vec<Closure>>,
    /// Its address, phone and localised texts when the file has those columns; `None` leaves
    /// the stored ones as they are.
    pub details: Option<ShopDetails>,
    /// Its slots by size class and the largest parcel it takes (the default: every slot `L`,
    /// up to the documented limits).
    pub sizes: super::sizes::ShopSizes,
    /// Its declared capabilities and photo (none unless the file gives them).
    pub profile: super::capabilities::Profile,
}

/// A shop as stored, with the derived geo keys and bookkeeping times (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Shop {
    /// pudo's id for the shop.
    pub id: i64,
    /// The partner's own unique reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// H3 cell at resolution 9, as a hexadecimal string.
    pub h3_cell: String,
    /// Region key: the resolution-3 parent cell, hexadecimal.
    pub region: String,
    /// Parcel slots.
    pub capacity: i32,
    /// IANA time zone of the opening hours.
    pub timezone: String,
    /// Weekly opening hours, canonical text form.
    pub opening_hours: String,
    /// active, paused or closed.
    pub status: ShopStatus,
    /// What the shop offers.
    #[schema(value_type = Vec<super::services::Service>)]
    pub services: Services,
    /// Postal address; null when the partner gave none.
    pub address: Option<Address>,
    /// Phone customers may call; null when the partner gave none.
    pub phone: Option<String>,
    /// Names and addresses in Chinese and Spanish; null when none were given.
    pub localized: Option<Localized>,
    /// What the point offers its customers beyond services: declared (`step_free`,
    /// `parking`, `cash_on_delivery`, `id_check`) and `open_24_7`, derived from the hours.
    #[schema(value_type = Vec<super::capabilities::Capability>)]
    pub capabilities: super::capabilities::Capabilities,
    /// An https URL of a photo of the shop; null when the partner gave none.
    pub photo_url: Option<String>,
    /// When the shop was first stored.
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub created_at: NaiveDateTime,
    /// When the shop last changed.
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub updated_at: NaiveDateTime,
}
