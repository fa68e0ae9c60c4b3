//! Reservations, parcels, pickup codes, handover and returns: the flow pudo exists for.
//!
//! ```text
//! reserved ──arrival──▶ at_point ──handover──▶ picked_up
//!    │                     │
//!  cancel               sweep (holding period over)
//!    ▼                     ▼
//! cancelled             expired ──return──▶ returned
//! ```
//!
//! A reservation holds one slot of the shop's capacity from `reserved` until `picked_up`,
//! `cancelled` or `returned`; the database enforces the capacity (see [`reserve`] and
//! [`crate::network::load`]).
//!
//! One module per use case: [`reservations`] (reserve, arrive), [`handover`], [`lifecycle`]
//! (cancel, sweep, return), [`moves`] and [`holds`], [`returns`] at the counter; [`parcels`]
//! holds the table's row and lookups, [`attempts`] the guard around typed codes; customer
//! e-mails: [`contacts`] (the sealed address and what the customer was told), [`mails`]
//! (sending what is due), [`mail_text`] (the words, en/zh/es) and [`smtp`].

pub mod attempts;
pub mod codes;
pub mod collections;
pub mod conditions;
pub mod contacts;
pub mod dropoffs;
pub mod gauges;
pub mod group_commit;
pub mod handover;
pub mod holds;
pub mod lifecycle;
pub mod mail_text;
pub mod mails;
pub mod moves;
pub mod names;
pub mod outbox;
pub mod parcels;
pub mod partner_shop;
pub mod points;
pub mod reservations;
pub mod returns;
pub mod scan_in;
pub mod smtp;
pub mod webhooks;
pub mod write_functions;
pub mod writes;

pub use attempts::{CodeKind, Outcome};
pub use conditions::{CashOnDelivery, Conditions, Confirmations, IdCheck};
pub use contacts::{Customer, Language};
pub use handover::handover;
pub use handover::HandoverRequest;
pub use lifecycle::{cancel, return_parcel, sweep};
pub use parcels::{find_for_merchant, find_for_shop, list_for_shop, read_reservation, ParcelRow};
pub use reservations::{
    arrive, reserve, reserve_for, reserve_with, CodeIssuer, Extra, NewReservation,
    ReservationRequest,
};
pub use writes::{WritePath, WriteSettings, Writes};

use chrono::NaiveDateTime;
use serde::Serialize;
use std::{fmt, str::FromStr};
use utoipa::ToSchema;

/// Where a parcel is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParcelState {
    /// A slot is held; the parcel is on its way.
    Reserved,
    /// At the shop, waiting for the customer; a pickup code is live.
    AtPoint,
    /// Handed over.
    PickedUp,
    /// Not collected within the holding period; to be returned.
    Expired,
    /// Sent back; the slot is free.
    Returned,
    /// Cancelled before arrival; the slot is free.
    Cancelled,
}

impl ParcelState {
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::AtPoint => "at_point",
            Self::PickedUp => "picked_up",
            Self::Expired => "expired",
            Self::Returned => "returned",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ParcelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ParcelState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "reserved" => Self::Reserved,
            "at_point" => Self::AtPoint,
            "picked_up" => Self::PickedUp,
            "expired" => Self::Expired,
            "returned" => Self::Returned,
            "cancelled" => Self::Cancelled,
            other => return Err(format!("unknown parcel state {other:?}")),
        })
    }
}

/// Why a shop cannot take a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    /// Every slot is held.
    Full,
    /// The shop has paused.
    Paused,
    /// The shop is closed for good.
    Closed,
    /// The shop does not offer pickup.
    NoPickupService,
    /// The shop is closed for a period (holiday) at the expected arrival.
    ClosedForPeriod,
    /// The shop does not take returns at its counter.
    NoReturnsService,
}

impl Unavailable {
    /// The stable word for it (the `reason` of a 409).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Paused => "paused",
            Self::Closed => "closed",
            Self::NoPickupService => "no_pickup_service",
            Self::ClosedForPeriod => "closed_for_period",
            Self::NoReturnsService => "no_returns_service",
        }
    }
}

impl From<crate::network::load::NoSlot> for PickupError {
    fn from(why: crate::network::load::NoSlot) -> Self {
        use crate::network::load::NoSlot;
        match why {
            NoSlot::UnknownShop(id) => Self::ShopNotFound(id),
            NoSlot::Paused => Self::ShopUnavailable(Unavailable::Paused),
            NoSlot::Closed => Self::ShopUnavailable(Unavailable::Closed),
            NoSlot::Full => Self::ShopUnavailable(Unavailable::Full),
        }
    }
}

impl From<crate::network::closure_store::Refusal> for PickupError {
    fn from(r: crate::network::closure_store::Refusal) -> Self {
        use crate::network::closure_store::Refusal;
        Self::ShopUnavailable(match r {
            Refusal::NoPickup => Unavailable::NoPickupService,
            Refusal::ClosedForPeriod => Unavailable::ClosedForPeriod,
        })
    }
}

/// A parcel as the domain returns it (never with a code in clear).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Parcel {
    /// pudo's id (also the reservation id).
    pub id: i64,
    /// The pickup point.
    pub pickup_point_id: i64,
    /// The merchant's order reference.
    pub order_ref: String,
    /// Optional SKU.
    pub sku: Option<String>,
    /// Life-cycle state.
    pub state: ParcelState,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub created_at: NaiveDateTime,
    /// When it reached the shop (UTC).
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub arrived_at: Option<NaiveDateTime>,
    /// End of the holding period (UTC).
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub expires_at: Option<NaiveDateTime>,
    /// When it was handed over (UTC).
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub picked_up_at: Option<NaiveDateTime>,
    /// Days the merchant extended the holding period by (at most once); null if not.
    pub hold_extended_days: Option<i32>,
    /// The size class of the slot the parcel holds (`S`, `M` or `L`); absent for a parcel
    /// reserved without measurements in an `L` slot (every parcel at a point that declares no
    /// sizes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_class: Option<crate::network::sizes::SizeClass>,
    /// Cash the partner collects at the handover; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_on_delivery: Option<CashOnDelivery>,
    /// The ID or age check the partner makes before the handover; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_check: Option<IdCheck>,
    /// The name the ID must show (with `id_check: named_recipient`). Personal data: shown in
    /// the reservation's own answers and to the partner at the counter, never in webhook
    /// events or other answers, and absent once erased (`PUDO_CUSTOMER_DATA_DAYS` after the
    /// parcel's life ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_name: Option<String>,
    /// The one person besides the customer the merchant authorised to collect. Shown and
    /// erased as `recipient_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector_name: Option<String>,
}

/// The answer to a handover.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Handover {
    /// The parcel handed over.
    pub parcel_id: i64,
    /// The order to hand over.
    pub order_ref: String,
    /// `true` when this code was already confirmed before (a retry): hand nothing over twice.
    pub replay: bool,
    /// When it was handed over (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub picked_up_at: NaiveDateTime,
    /// The cash on delivery the partner confirmed collecting; absent when the parcel had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_collected: Option<CashOnDelivery>,
    /// The check the partner confirmed making; absent when the parcel asked for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_checked: Option<IdCheck>,
    /// The one person besides the customer the merchant authorised to collect; absent when
    /// none was named, or once the name was erased (a replay long after the handover).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector_name: Option<String>,
}

/// Everything that can go wrong in the pickup flow.
#[derive(Debug, thiserror::Error)]
pub enum PickupError {
    /// No such pickup point.
    #[error("no pickup point with id {0}")]
    ShopNotFound(i64),
    /// The parcel is heavier or larger than the point takes.
    #[error("the parcel does not fit this pickup point: {0}")]
    DoesNotFit(crate::network::sizes::DoesNotFit),
    /// No slot of the class the parcel needs (nor of a larger one) is free.
    #[error("the pickup point has no free slot of size {0} or larger for this parcel")]
    ClassFull(crate::network::sizes::SizeClass),
    /// The shop cannot take a reservation.
    #[error("the pickup point cannot take a parcel: {}", match .0 {
        Unavailable::Full => "it is full",
        Unavailable::Paused => "it is paused",
        Unavailable::Closed => "it is closed",
        Unavailable::NoPickupService => "it does not offer pickup",
        Unavailable::ClosedForPeriod => "it is closed for a period (holiday) at the expected arrival",
        Unavailable::NoReturnsService => "it does not take returns",
    })]
    ShopUnavailable(Unavailable),
    /// The order reference is already used for another pickup point.
    #[error("order_ref {0:?} already has a reservation at another pickup point")]
    OrderRefConflict(String),
    /// No such parcel for this caller.
    #[error("no parcel with id {0}")]
    ParcelNotFound(i64),
    /// The parcel's state does not allow this.
    #[error("the parcel is {state}; it cannot be {action}")]
    WrongState {
        /// Its state.
        state: ParcelState,
        /// What was asked.
        action: &'static str,
    },
    /// No live parcel at this shop has this code.
    #[error("no parcel at this shop has this pickup code")]
    UnknownCode,
    /// The code's holding period is over.
    #[error("this pickup code has expired; the parcel is to be returned")]
    CodeExpired,
    /// The parcel was returned or cancelled.
    #[error("this parcel was {0}; it cannot be handed over")]
    NotCollectable(ParcelState),
    /// The parcel has cash on delivery or an ID check the partner did not confirm.
    #[error("{0}")]
    ConditionUnmet(Box<conditions::Unmet>),
    /// Too many wrong codes at this shop recently.
    #[error("too many wrong pickup codes at this shop; try again in {retry_after_secs} s")]
    TooManyAttempts {
        /// Seconds until an attempt is allowed again.
        retry_after_secs: i64,
    },
    /// A capacity below the parcels the shop holds.
    #[error("capacity {requested} is below the {live} parcels the shop holds")]
    CapacityBelowLoad {
        /// Asked for.
        requested: i32,
        /// Held now.
        live: i32,
    },
    /// Bad input, with the field at fault.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A fresh code collided with one in use at the shop; the caller draws another.
    #[error("pickup code collision")]
    CodeClash,
    /// The parcel reached its point: only a redirect on the day can change the point now.
    #[error("parcel {0} has already arrived at its pickup point; it can no longer be moved (its partner or the carrier can redirect it if the point has no room)")]
    AlreadyArrived(i64),
    /// No active point with a free slot near enough to redirect to.
    #[error("no active pickup point with a free slot within {radius_m} m of the parcel's point")]
    NoRoomNearby {
        /// The search radius.
        radius_m: f64,
    },
    /// The parcel's pickup code cannot be kept at the new point.
    #[error("the parcel's pickup code cannot be kept at that point (it was issued before redirects kept codes, or the same code is in use there); choose another point")]
    CodeNotTransferable,
    /// The parcel changed while it was being changed; nothing was done.
    #[error("the parcel changed meanwhile; nothing was done, read it and try again")]
    Changed,
    /// The holding period was extended once already.
    #[error("the holding period of parcel {0} was already extended; it can be extended once")]
    AlreadyExtended(i64),
    /// Only a parcel waiting at its point has a holding period to extend.
    #[error(
        "the parcel is {0}, not waiting at its point; only a waiting parcel's hold can be extended"
    )]
    NotWaiting(ParcelState),
    /// The holding period is over already.
    #[error("the holding period is over; the parcel is to be returned")]
    HoldOver,
    /// No such return for this caller.
    #[error("no return with id {0}")]
    ReturnNotFound(i64),
    /// The order reference already has a return registered at another drop-off point.
    #[error("order_ref {0:?} already has a return registered at another drop-off point")]
    ReturnOrderRefConflict(String),
    /// No return registered at this shop has this drop-off code.
    #[error("no return registered at this shop has this drop-off code")]
    UnknownDropoffCode,
    /// The drop-off code's validity is over.
    #[error("this drop-off code has expired; the merchant can register the return again under a new order_ref")]
    DropoffCodeExpired,
    /// Returns named in a collection that this shop does not hold or know.
    #[error("no return {} at this shop; nothing was collected", join_ids(.0))]
    ReturnsNotHere(Vec<i64>),
    /// Returns named in a collection that were not dropped off yet.
    #[error("return {} not dropped off at this shop yet; nothing was collected", join_ids(.0))]
    ReturnsNotDroppedOff(Vec<i64>),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
