//! A partner's own shop: what it holds, and pausing, reopening or resizing it.

use super::PickupError;
use crate::db::schema::{shop_load, shops};
use crate::db::DbConn;
use crate::network::address::{Address, Localized};
use crate::network::capabilities::Capabilities;
use crate::network::load;
use crate::network::services::Services;
use crate::network::ShopStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// The partner's view of its shop.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PartnerShop {
    /// pudo's id.
    pub id: i64,
    /// The partner's reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// active, paused or closed.
    pub status: ShopStatus,
    /// Parcel slots.
    pub capacity: i32,
    /// Parcels reserved or waiting.
    pub live_parcels: i32,
    /// Slots still free.
    pub free_slots: i32,
    /// IANA time zone.
    pub timezone: String,
    /// Weekly opening hours.
    pub opening_hours: String,
    /// What the shop offers (set by the network's planners on import).
    #[schema(value_type = Vec<crate::network::services::Service>)]
    pub services: Services,
    /// Postal address customers are given (set by the network's planners on import); null
    /// when none was given.
    pub address: Option<Address>,
    /// Phone customers are given; null when none was given.
    pub phone: Option<String>,
    /// Names and addresses in Chinese and Spanish; null when none were given.
    pub localized: Option<Localized>,
    /// What the shop declares to customers (set by the network's planners on import) and
    /// `open_24_7` when its hours never close.
    #[schema(value_type = Vec<crate::network::capabilities::Capability>)]
    pub capabilities: Capabilities,
    /// The photo customers see (set on import); null when none was given.
    pub photo_url: Option<String>,
}

/// The shop as its partner sees it.
pub fn view(conn: &mut DbConn, shop_id: i64) -> Result<PartnerShop, PickupError> {
    // The region first (`shops` is a reference table), so the join reads one shard on Citus.
    let region = load::region_of(conn, shop_id)?.ok_or(PickupError::ShopNotFound(shop_id))?;
    let (id, external_id, name, status, capacity, timezone, opening_hours, live, services): (
        i64,
        String,
        String,
        String,
        i32,
        String,
        String,
        i32,
        String,
    ) = shops::table
        .inner_join(shop_load::table)
        .filter(shops::id.eq(shop_id))
        .filter(shop_load::region.eq(region))
        .select((
            shops::id,
            shops::external_id,
            shops::name,
            shops::status,
            shops::capacity,
            shops::timezone,
            shops::opening_hours,
            shop_load::live,
            shops::services,
        ))
        .first(conn)
        .optional()?
        .ok_or(PickupError::ShopNotFound(shop_id))?;
    let row = crate::network::store::find(conn, shop_id)?;
    let details = row.as_ref().map(|r| r.details()).unwrap_or_default();
    let profile = row.as_ref().map(|r| r.profile()).unwrap_or_default();
    let capabilities = profile.capabilities.with_stored_hours(&opening_hours);
    Ok(PartnerShop {
        id,
        external_id,
        name,
        status: status.parse().unwrap_or(ShopStatus::Closed),
        capacity,
        live_parcels: live,
        free_slots: (capacity - live).max(0),
        timezone,
        opening_hours,
        services: Services::from_stored(&services),
        address: details.address,
        phone: details.phone.map(String::from),
        localized: details.localized.map(|l| *l),
        capabilities,
        photo_url: profile.photo_url.map(String::from),
    })
}

/// Pauses or reopens the shop and/or changes its capacity. A partner cannot close its shop
/// for good (an operator does), nor reopen a closed one, nor shrink below what it holds.
pub fn patch(
    conn: &mut DbConn,
    shop_id: i64,
    status: Option<ShopStatus>,
    capacity: Option<i32>,
    now: NaiveDateTime,
) -> Result<PartnerShop, PickupError> {
    if status == Some(ShopStatus::Closed) {
        return Err(PickupError::Invalid {
            field: "status",
            message: "a partner can set active or paused; closing a shop is for operators".into(),
        });
    }
    if capacity.is_some_and(|c| !(0..=100_000).contains(&c)) {
        return Err(PickupError::Invalid {
            field: "capacity",
            message: "must be between 0 and 100000".into(),
        });
    }
    conn.transaction(|conn| {
        let revision = crate::network::store::bump_revision(conn)?;
        let current = view(conn, shop_id)?;
        // Every statement on the shop's distributed rows names its region: on Citus a statement
        // on all shards would forbid the update of `shops` (a reference table) after it.
        let region = load::region_of(conn, shop_id)?.ok_or(PickupError::ShopNotFound(shop_id))?;
        if current.status == ShopStatus::Closed && status.is_some() {
            return Err(PickupError::ShopUnavailable(super::Unavailable::Closed));
        }
        if let Some(requested) = capacity {
            // Lock the load row so no reservation slips in between the check and the update.
            load::lock_in(conn, shop_id, region)?;
            let held = load::held_at(conn, shop_id, region)?;
            // With S or M slots declared, the capacity sets the L slots: it cannot go below
            // the S and M slots plus the L slots held (`network::sizes`).
            let live = match load::sizes_of(conn, shop_id)? {
                Some((sizes, _)) if sizes.slots_s + sizes.slots_m > 0 => held.live.max(
                    sizes.slots_s + sizes.slots_m + held.of(crate::network::sizes::SizeClass::L),
                ),
                _ => held.live,
            };
            if requested < live {
                return Err(PickupError::CapacityBelowLoad { requested, live });
            }
        }
        let (status, capacity) = (
            status.unwrap_or(current.status),
            capacity.unwrap_or(current.capacity),
        );
        diesel::update(shops::table.find(shop_id))
            .set((
                shops::status.eq(status.as_str()),
                shops::capacity.eq(capacity),
                shops::revision.eq(revision),
                shops::updated_at.eq(now),
            ))
            .execute(conn)?;
        // The copy that makes counting full shops an indexed query (metrics).
        load::set_active_capacity(
            conn,
            shop_id,
            region,
            (status == ShopStatus::Active).then_some(capacity),
        )?;
        view(conn, shop_id)
    })
}
