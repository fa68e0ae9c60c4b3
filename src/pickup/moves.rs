//! Changing a parcel's pickup point: the merchant's move before the parcel arrives, and the
//! redirect on the day when the point cannot take it (by its partner or by the carrier).
//!
//! Both run in one transaction that takes a slot at the new point with the same conditional
//! capacity update as a reservation (`live < capacity` of an active shop) and frees the old
//! one, so an order never holds two slots nor none, and no point is ever overbooked.
//!
//! Lock order, so that no two transactions wait on each other in a cycle: for a `reserved`
//! parcel the parcel row first, then the two `shop_load` rows in id order (as a cancellation
//! locks parcel then load); for an `at_point` parcel the load rows first, then the parcel (as a
//! handover locks load then parcel).
//!
//! A redirected parcel that already has a pickup code keeps it: the code, sealed in
//! `code_escrow` while the parcel waits, is hashed again with the new shop's id, so only the
//! new shop's partner can hand the parcel over with the code the customer already has.
//!
//! Kept in one file (just over 500 lines): the move and the two redirects share the slot
//! transfer and the code re-keying, and their lock order is documented once, above.

use super::outbox::{self, Event};
use super::parcels::{find_by_id, find_for_merchant, find_in, ParcelRow};
use super::{codes, Parcel, ParcelState, PickupError};
use crate::db::schema::{parcels, shops};
use crate::db::DbConn;
use crate::network::geo::{haversine_m, Point};
use crate::network::load;
use crate::network::sizes::{ParcelSize, SizeClass};
use crate::network::{GeoIndex, SearchFilter};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// How far from its point a parcel may be redirected, in metres.
pub const REDIRECT_RADIUS_M: f64 = 2000.0;
/// Most redirect options proposed (and tried, in order, by a redirect without a choice).
pub const MAX_REDIRECT_OPTIONS: usize = 10;

/// A pickup point as a move or a redirect names it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PointRef {
    /// pudo's shop id.
    pub id: i64,
    /// The partner's reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// What a move or a redirect did.
#[derive(Debug, Clone)]
pub struct Moved {
    /// The parcel after the change.
    pub parcel: Parcel,
    /// The point it left (the same as `to` when nothing changed).
    pub from: PointRef,
    /// The point it is at now.
    pub to: PointRef,
    /// Great-circle distance between the two points, metres.
    pub distance_m: f64,
    /// Live parcel counts of the shops touched, for this instance's geo index.
    pub loads: Vec<(i64, i32)>,
}

/// Which parcels a redirect may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirector {
    /// A shop's partner: parcels at that shop only.
    Partner(i64),
    /// A carrier: any parcel on its way or waiting.
    Carrier,
}

impl Redirector {
    /// `partner` or `carrier`, as events and metrics name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Partner(_) => "partner",
            Self::Carrier => "carrier",
        }
    }
}

/// Where a redirect should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The point the caller chose.
    Chosen(i64),
    /// The first of these (nearest first) that has room.
    Nearest(&'a [i64]),
}

/// A point a parcel can be redirected to.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RedirectOption {
    /// The point.
    #[serde(flatten)]
    pub point: PointRef,
    /// Distance from the parcel's current point, metres.
    pub distance_m: f64,
    /// Free slots (as this instance's index knows them; the redirect asks the database).
    pub free_slots: i32,
    /// Whether it is open now.
    pub open_now: bool,
}

/// The nearest active points with a free slot for a parcel of `size` within
/// [`REDIRECT_RADIUS_M`] of shop `from` (the parcel fits them, with a free slot of a class it
/// may take), nearest first (ties by id), at most [`MAX_REDIRECT_OPTIONS`].
pub fn redirect_options(
    index: &GeoIndex,
    from: i64,
    size: &ParcelSize,
    now: DateTime<Utc>,
) -> Vec<RedirectOption> {
    let Some(origin) = index.get(from) else {
        return Vec::new();
    };
    // A point closed for a period (holiday) cannot take a parcel on the day.
    let not_origin = |shop: &crate::network::index::IndexedShop| {
        shop.id != from
            && !shop.closures.contains(now)
            && shop.room_for(size).is_ok_and(|free| free > 0)
    };
    let filter = SearchFilter {
        limit: MAX_REDIRECT_OPTIONS,
        max_distance_m: Some(REDIRECT_RADIUS_M),
        open_at: None,
        min_free: Some(1),
        accept: Some(&not_origin),
        include_paused: false,
        service: Some(crate::network::services::Service::Pickup),
        capabilities: Default::default(),
    };
    index
        .search(origin.latitude, origin.longitude, &filter)
        .into_iter()
        .map(|hit| RedirectOption {
            point: PointRef {
                id: hit.shop.id,
                external_id: hit.shop.external_id.to_string(),
                name: hit.shop.name.to_string(),
                lat: hit.shop.latitude,
                lon: hit.shop.longitude,
            },
            distance_m: hit.distance_m,
            free_slots: hit.shop.room_for(size).unwrap_or(0),
            open_now: hit.shop.is_open_at(now),
        })
        .collect()
}

/// The point a parcel the redirector may redirect is at now, and the parcel's measurements
/// (as its reservation gave them).
pub fn redirect_origin(
    conn: &mut DbConn,
    by: Redirector,
    id: i64,
) -> Result<(PointRef, ParcelSize), PickupError> {
    let row = find_redirectable(conn, by, id)?;
    Ok((point(conn, row.shop_id)?, row.size()))
}

/// Moves a merchant's reservation whose parcel has not arrived to another point; moving to
/// the point it already has changes nothing.
pub fn move_reservation(
    conn: &mut DbConn,
    merchant: &str,
    id: i64,
    to: i64,
    now: NaiveDateTime,
) -> Result<Moved, PickupError> {
    // Read first, outside the transaction: the region (a lookup over every region, which
    // copes with an unreachable Citus worker only outside a transaction); every statement of
    // the transaction then names it, so a move within a region runs on one shard.
    let region = find_for_merchant(conn, merchant, id)?.region;
    conn.transaction(|conn| {
        let mine = parcels::id
            .eq(id)
            .and(parcels::merchant.eq(merchant))
            .and(parcels::region.eq(region));
        // The parcel row first (see the module documentation); only while it is reserved.
        let locked = diesel::update(
            parcels::table.filter(mine.and(parcels::state.eq(ParcelState::Reserved.as_str()))),
        )
        .set(parcels::updated_at.eq(parcels::updated_at))
        .execute(conn)?;
        // Gone from the region since the read: moved across a border meanwhile.
        let row = parcels::table
            .filter(mine)
            .select(ParcelRow::as_select())
            .first(conn)
            .optional()?
            .ok_or(PickupError::Changed)?;
        let live_there = matches!(row.state(), ParcelState::Reserved | ParcelState::AtPoint);
        if locked == 0 && !(live_there && row.shop_id == to) {
            return Err(not_movable(&row, "moved"));
        }
        let from = point(conn, row.shop_id)?;
        if row.shop_id == to {
            return Ok(Moved {
                parcel: row.view(),
                to: from.clone(),
                from,
                distance_m: 0.0,
                loads: Vec::new(),
            });
        }
        let (loads, class) = take_and_release(conn, &row, to, now, None)?;
        let target = point(conn, to)?;
        relocate_row(conn, &row, to, None, now)?;
        set_class(conn, &row, to, class)?;
        let moved = find_moved(conn, row.id, to)?;
        let parcel = moved.view();
        let distance_m = distance(&from, &target);
        outbox::enqueue(
            conn,
            moved.region,
            merchant,
            Event::ParcelMoved,
            json!({ "reservation": parcel, "from": from, "to": target, "distance_m": distance_m }),
            now,
        )?;
        Ok(Moved {
            parcel,
            from,
            to: target,
            distance_m,
            loads,
        })
    })
}

/// Redirects a parcel on its way or waiting to another point within [`REDIRECT_RADIUS_M`] of
/// its current one, keeping its pickup code if it has one.
///
/// With [`Target::Nearest`] each candidate is tried in order until one has room; with
/// [`Target::Chosen`] only that point is tried. The parcel is read again and the redirect
/// retried (twice) if it changed meanwhile, e.g. arrived.
pub fn redirect(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    by: Redirector,
    id: i64,
    target: Target<'_>,
    now: NaiveDateTime,
) -> Result<Moved, PickupError> {
    for _ in 0..3 {
        let row = find_redirectable(conn, by, id)?;
        let from = point(conn, row.shop_id)?;
        let candidates = match target {
            Target::Chosen(to) => {
                let to_point = check_chosen(conn, &from, to)?;
                vec![(to, distance(&from, &to_point))]
            }
            Target::Nearest(ids) => nearby(conn, &from, ids)?,
        };
        let mut changed = false;
        for &(to, distance_m) in &candidates {
            let attempt = conn.transaction(|conn| {
                redirect_once(conn, data_key, by, &row, &from, to, distance_m, now)
            });
            match attempt {
                Ok(moved) => return Ok(moved),
                Err(PickupError::Changed) => {
                    changed = true;
                    break;
                }
                Err(
                    PickupError::ShopUnavailable(_)
                    | PickupError::CodeClash
                    | PickupError::DoesNotFit(_)
                    | PickupError::ClassFull(_),
                ) if matches!(target, Target::Nearest(_)) => continue,
                Err(PickupError::CodeClash) => return Err(PickupError::CodeNotTransferable),
                Err(e) => return Err(e),
            }
        }
        if !changed {
            return Err(PickupError::NoRoomNearby {
                radius_m: REDIRECT_RADIUS_M,
            });
        }
    }
    Err(PickupError::Changed)
}

/// One attempt at redirecting `row` to `to`, as read before the transaction; fails with
/// [`PickupError::Changed`] (rolling everything back) when the parcel changed since.
#[allow(
    clippy::too_many_arguments,
    reason = "one transaction's inputs, passed straight through"
)]
fn redirect_once(
    conn: &mut DbConn,
    data_key: &[u8; 32],
    by: Redirector,
    row: &ParcelRow,
    from: &PointRef,
    to: i64,
    distance_m: f64,
    now: NaiveDateTime,
) -> Result<Moved, PickupError> {
    let state = row.state();
    let still = parcels::id
        .eq(row.id)
        .and(parcels::region.eq(row.region))
        .and(parcels::shop_id.eq(row.shop_id))
        .and(parcels::state.eq(state.as_str()));
    let new_hash = match state {
        ParcelState::Reserved => {
            let locked = diesel::update(parcels::table.filter(still))
                .set(parcels::updated_at.eq(parcels::updated_at))
                .execute(conn)?;
            if locked == 0 {
                return Err(PickupError::Changed);
            }
            None
        }
        _ => {
            let sealed = row
                .code_escrow
                .as_deref()
                .ok_or(PickupError::CodeNotTransferable)?;
            let code = codes::unseal(data_key, sealed).ok_or(PickupError::CodeNotTransferable)?;
            Some(codes::hash(data_key, to, &code))
        }
    };
    // On the day: a point closed for a holiday now cannot take the parcel.
    let (loads, class) = take_and_release(conn, row, to, now, Some(now.and_utc()))?;
    if let Some(hash) = &new_hash {
        // The customer's code must not already name another parcel at the new shop.
        let to_region = load::region_of(conn, to)?.ok_or(PickupError::ShopNotFound(to))?;
        let clash = parcels::table
            .filter(parcels::shop_id.eq(to).and(parcels::code_hash.eq(hash)))
            .filter(parcels::region.eq(to_region))
            .filter(parcels::state.ne(ParcelState::Returned.as_str()))
            .count()
            .get_result::<i64>(conn)?;
        if clash > 0 {
            return Err(PickupError::CodeClash);
        }
    }
    let target = point(conn, to)?;
    if relocate_row(conn, row, to, new_hash.as_deref(), now)? == 0 {
        return Err(PickupError::Changed);
    }
    set_class(conn, row, to, class)?;
    let moved = find_moved(conn, row.id, to)?;
    let parcel = moved.view();
    outbox::enqueue(
        conn,
        moved.region,
        &row.merchant,
        Event::ParcelRedirected,
        json!({
            "reservation": parcel,
            "from": from,
            "to": target,
            "distance_m": distance_m,
            "by": by.label(),
            "pickup_code_unchanged": new_hash.is_some(),
        }),
        now,
    )?;
    Ok(Moved {
        parcel,
        from: from.clone(),
        to: target,
        distance_m,
        loads,
    })
}

/// The parcel as the redirector may see it, if it can be redirected at all. Read outside any
/// transaction: the partner's by its shop's region (one shard on Citus), the carrier's by id
/// over every region (on Citus with a worker down, over the regions of the workers that
/// answer; not found there: the worker's error, 503).
fn find_redirectable(conn: &mut DbConn, by: Redirector, id: i64) -> Result<ParcelRow, PickupError> {
    let row = match by {
        Redirector::Partner(shop) => {
            let region = load::region_of(conn, shop)?.ok_or(PickupError::ParcelNotFound(id))?;
            find_in(conn, shop, region, id)?
        }
        Redirector::Carrier => find_by_id(conn, id, None)?,
    };
    match row.state() {
        ParcelState::Reserved | ParcelState::AtPoint => Ok(row),
        state => Err(PickupError::WrongState {
            state,
            action: "redirected",
        }),
    }
}

/// A chosen redirect target: an existing other point within the radius.
fn check_chosen(conn: &mut DbConn, from: &PointRef, to: i64) -> Result<PointRef, PickupError> {
    if to == from.id {
        return Err(PickupError::Invalid {
            field: "pickup_point_id",
            message: "the parcel is already at this point".into(),
        });
    }
    let Some(target) = find_point(conn, to)? else {
        return Err(PickupError::ShopNotFound(to));
    };
    let d = distance(from, &target);
    if d > REDIRECT_RADIUS_M {
        return Err(PickupError::Invalid {
            field: "pickup_point_id",
            message: format!(
                "point {to} is {d:.0} m from the parcel's point; a redirect goes at most {REDIRECT_RADIUS_M:.0} m"
            ),
        });
    }
    Ok(target)
}

/// The candidates (other than `from`) within the radius, as the database places them.
fn nearby(conn: &mut DbConn, from: &PointRef, ids: &[i64]) -> Result<Vec<(i64, f64)>, PickupError> {
    let mut out = Vec::new();
    for &id in ids {
        if id == from.id {
            continue;
        }
        if let Some(p) = find_point(conn, id)? {
            let d = distance(from, &p);
            if d <= REDIRECT_RADIUS_M {
                out.push((id, d));
            }
        }
    }
    Ok(out)
}

/// The slots held at each shop a move touched, after it.
type Loads = Vec<(i64, i32)>;

/// Locks both load rows in id order, takes a slot at `to` (active, below capacity, offering
/// pickup and, given `arrive_at`, not closed for a period then) of a class the parcel fits,
/// as a reservation would ([`crate::network::sizes`]), and frees the parcel's slot at its
/// point; returns both live counts after, and the class to store with the parcel.
fn take_and_release(
    conn: &mut DbConn,
    row: &ParcelRow,
    to: i64,
    now: NaiveDateTime,
    arrive_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(Loads, Option<SizeClass>), PickupError> {
    let from = row.shop_id;
    // Both regions first (a reference table): every load statement names its shop's region.
    let from_region = load::region_of(conn, from)?.ok_or(PickupError::ShopNotFound(from))?;
    let Some(to_region) = load::region_of(conn, to)? else {
        return Err(load::why_no_slot(conn, to)?.into());
    };
    let mut shops = [(from, from_region), (to, to_region)];
    shops.sort_unstable();
    for (shop, region) in shops {
        load::lock_in(conn, shop, region)?;
    }
    let size = row.size();
    let (sizes, capacity) = load::sizes_of(conn, to)?.ok_or(PickupError::ShopNotFound(to))?;
    let placement = sizes
        .place(capacity, &size)
        .map_err(PickupError::DoesNotFit)?;
    let mut class = None;
    for c in placement.classes() {
        if load::take_slot_of(conn, to, to_region, c, now)? {
            class = Some(c);
            break;
        }
    }
    let Some(class) = class else {
        let why = load::why_no_slot(conn, to)?;
        return Err(super::reservations::no_slot(
            why,
            &size,
            Some(placement.needed),
        ));
    };
    if let Some(refusal) = crate::network::closure_store::pickup_refusal(conn, to, arrive_at)? {
        return Err(refusal.into());
    }
    load::release_slot_of(conn, from, from_region, row.slot_class(), now)?;
    Ok((
        vec![
            (from, load::live(conn, from, from_region)?),
            (to, load::live(conn, to, to_region)?),
        ],
        super::reservations::stored_class(class, &size),
    ))
}

/// Stores the class of the slot a moved parcel now holds at `to`, when it changed.
fn set_class(
    conn: &mut DbConn,
    row: &ParcelRow,
    to: i64,
    class: Option<SizeClass>,
) -> Result<(), PickupError> {
    let class = class.map(SizeClass::as_str);
    if class == row.size_class.as_deref() {
        return Ok(());
    }
    let region: i64 = shops::table.find(to).select(shops::region).first(conn)?;
    diesel::update(
        parcels::table.filter(
            parcels::id
                .eq(row.id)
                .and(parcels::region.eq(region))
                .and(parcels::shop_id.eq(to)),
        ),
    )
    .set(parcels::size_class.eq(class))
    .execute(conn)?;
    Ok(())
}

/// Points the parcel row at `to` (with a re-keyed code hash, if given), provided it is still
/// where and as it was read; returns the rows changed (0 or 1).
fn relocate_row(
    conn: &mut DbConn,
    row: &ParcelRow,
    to: i64,
    code_hash: Option<&str>,
    now: NaiveDateTime,
) -> Result<usize, PickupError> {
    let region: i64 = shops::table.find(to).select(shops::region).first(conn)?;
    // The region is written only when it changes. On Citus it is the distribution key, which
    // no UPDATE may set: a move across a region border first moves the parcel row (same id)
    // and its hand-in and customer to the new region's shard (copy, then delete; a distributed
    // transaction), and the update below then finds it there.
    let mut at = row.region;
    if region != row.region && crate::db::is_citus(conn)? {
        let mut copies = Vec::new();
        let mut deletes = Vec::new();
        for (table, key) in [
            ("parcels", "id"),
            ("handins", "parcel_id"),
            ("customer_contacts", "parcel_id"),
        ] {
            let (copy, delete) = crate::db::citus_move_sql(
                conn,
                table,
                "",
                &format!("t.{key} = {} AND t.region = {}", row.id, row.region),
                &region.to_string(),
            )?;
            copies.push(copy);
            deletes.push(delete);
        }
        deletes.reverse();
        for sql in copies.iter().chain(&deletes) {
            diesel::connection::SimpleConnection::batch_execute(conn, sql)?;
        }
        at = region;
    } else if region != row.region {
        super::contacts::follow_region(conn, row.id, row.region, region)?;
    }
    let target = parcels::table.filter(
        parcels::id
            .eq(row.id)
            .and(parcels::region.eq(at))
            .and(parcels::shop_id.eq(row.shop_id))
            .and(parcels::state.eq(&row.state)),
    );
    let changed = match (code_hash, region == at) {
        (Some(hash), true) => diesel::update(target)
            .set((
                parcels::shop_id.eq(to),
                parcels::code_hash.eq(hash),
                parcels::updated_at.eq(now),
            ))
            .execute(conn)?,
        (None, true) => diesel::update(target)
            .set((parcels::shop_id.eq(to), parcels::updated_at.eq(now)))
            .execute(conn)?,
        (Some(hash), false) => diesel::update(target)
            .set((
                parcels::shop_id.eq(to),
                parcels::region.eq(region),
                parcels::code_hash.eq(hash),
                parcels::updated_at.eq(now),
            ))
            .execute(conn)?,
        (None, false) => diesel::update(target)
            .set((
                parcels::shop_id.eq(to),
                parcels::region.eq(region),
                parcels::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(changed)
}

/// The parcel just moved to `to`, read in that shop's region (one shard on Citus).
fn find_moved(conn: &mut DbConn, id: i64, to: i64) -> Result<ParcelRow, PickupError> {
    let region = load::region_of(conn, to)?.ok_or(PickupError::ShopNotFound(to))?;
    find_in(conn, to, region, id)
}

/// Why a parcel cannot be moved: it arrived already, or it is past moving.
fn not_movable(row: &ParcelRow, action: &'static str) -> PickupError {
    match row.state() {
        ParcelState::AtPoint => PickupError::AlreadyArrived(row.id),
        state => PickupError::WrongState { state, action },
    }
}

fn find_point(conn: &mut DbConn, id: i64) -> QueryResult<Option<PointRef>> {
    shops::table
        .find(id)
        .select((
            shops::id,
            shops::external_id,
            shops::name,
            shops::latitude,
            shops::longitude,
        ))
        .first::<(i64, String, String, f64, f64)>(conn)
        .optional()
        .map(|row| {
            row.map(|(id, external_id, name, lat, lon)| PointRef {
                id,
                external_id,
                name,
                lat,
                lon,
            })
        })
}

fn point(conn: &mut DbConn, id: i64) -> Result<PointRef, PickupError> {
    find_point(conn, id)?.ok_or(PickupError::ShopNotFound(id))
}

fn distance(a: &PointRef, b: &PointRef) -> f64 {
    haversine_m(
        &Point::from_degrees(a.lat, a.lon),
        &Point::from_degrees(b.lat, b.lon),
    )
}
