//! The slot counter of every shop (`shop_load`): how many slots its live items hold.
//!
//! Every item physically at a shop, or on its way there, holds one slot: reserved and waiting
//! parcels, expired parcels not yet sent back, dropped-off returns and received staged units.
//! A slot is taken by one conditional `UPDATE … SET live = live + n WHERE live + n <= capacity`
//! (and the shop active, for customers' items), so however many requests and instances race,
//! a shop never holds more than its capacity. The row is also the shop's lock: attempts with
//! codes, collections and capacity changes at one shop go one at a time by locking it.

use super::sizes::{Held, ShopSizes, SizeClass};
use super::ShopStatus;
use crate::db::schema::{shop_load, shops};
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Why a shop did not give a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSlot {
    /// No shop has this id.
    UnknownShop(i64),
    /// Paused by its partner.
    Paused,
    /// Closed for good.
    Closed,
    /// Every slot is held.
    Full,
}

/// The shop's region (`shops` is a reference table on Citus, so this reads locally); `None`
/// for an unknown shop. Every statement on `shop_load` names the region it gets from here, from
/// [`lock`] or from a row of the shop, so that on Citus it runs on one shard.
pub fn region_of(conn: &mut DbConn, shop_id: i64) -> QueryResult<Option<i64>> {
    shops::table
        .find(shop_id)
        .select(shops::region)
        .first(conn)
        .optional()
}

/// The shop's region, as the first statement of a write transaction; `None` for an unknown
/// shop. On SQLite a transaction must write before it reads (a deferred transaction that read
/// first cannot take the write lock once another one committed: "database is locked" at
/// once), so there it is a no-op write of the shop's load row that returns its region; on
/// PostgreSQL (and Citus) [`region_of`].
pub fn region_for_write(conn: &mut DbConn, shop_id: i64) -> QueryResult<Option<i64>> {
    if matches!(conn, DbConn::Sqlite(_)) {
        return diesel::update(shop_load::table.filter(shop_load::shop_id.eq(shop_id)))
            .set(shop_load::live.eq(shop_load::live))
            .returning(shop_load::region)
            .get_result(conn)
            .optional();
    }
    region_of(conn, shop_id)
}

/// How many shops written at `revision` have a load row in another region than their own
/// (shops just re-imported at a position in another region).
pub(crate) fn moved_regions(conn: &mut DbConn, revision: i64) -> QueryResult<i64> {
    shop_load::table
        .inner_join(shops::table)
        .filter(shops::revision.eq(revision))
        .filter(shop_load::region.ne(shops::region))
        .count()
        .get_result(conn)
}

/// Slots held at a shop now.
pub fn live(conn: &mut DbConn, shop_id: i64, region: i64) -> QueryResult<i32> {
    shop_load::table
        .filter(shop_load::shop_id.eq(shop_id))
        .filter(shop_load::region.eq(region))
        .select(shop_load::live)
        .first(conn)
}

/// Takes one slot at an active shop with room; `false` when the shop is full, paused, closed
/// or unknown (see [`why_no_slot`]).
pub fn take_slot(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    // NULL unless the shop is active, so `live < NULL` refuses paused, closed and unknown shops.
    let active_capacity = shops::table
        .filter(
            shops::id
                .eq(shop_id)
                .and(shops::status.eq(ShopStatus::Active.as_str())),
        )
        .select(shops::capacity)
        .single_value();
    Ok(
        diesel::update(shop_load::table.filter(shop_load::shop_id.eq(shop_id)))
            .filter(shop_load::region.eq(region))
            .filter(shop_load::live.nullable().lt(active_capacity))
            .set((
                shop_load::live.eq(shop_load::live + 1),
                shop_load::changed_at.eq(now),
            ))
            .execute(conn)?
            == 1,
    )
}

/// Takes one slot of `class` at an active shop with room in that class and in all; `false`
/// when there is none (or the shop is paused, closed or unknown). One conditional `UPDATE` of
/// the shop's load row, like [`take_slot`]: each class is never held beyond its slots, however
/// many requests race.
pub fn take_slot_of(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    class: SizeClass,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let active_capacity = shops::table
        .filter(
            shops::id
                .eq(shop_id)
                .and(shops::status.eq(ShopStatus::Active.as_str())),
        )
        .select(shops::capacity)
        .single_value();
    let row = shop_load::table
        .filter(shop_load::shop_id.eq(shop_id))
        .filter(shop_load::region.eq(region))
        .filter(shop_load::live.nullable().lt(active_capacity));
    let of_shop = shops::table.filter(shops::id.eq(shop_id));
    let taken = match class {
        SizeClass::S => diesel::update(row)
            .filter(
                shop_load::live_s
                    .nullable()
                    .lt(of_shop.select(shops::slots_s).single_value()),
            )
            .set((
                shop_load::live.eq(shop_load::live + 1),
                shop_load::live_s.eq(shop_load::live_s + 1),
                shop_load::changed_at.eq(now),
            ))
            .execute(conn)?,
        SizeClass::M => diesel::update(row)
            .filter(
                shop_load::live_m
                    .nullable()
                    .lt(of_shop.select(shops::slots_m).single_value()),
            )
            .set((
                shop_load::live.eq(shop_load::live + 1),
                shop_load::live_m.eq(shop_load::live_m + 1),
                shop_load::changed_at.eq(now),
            ))
            .execute(conn)?,
        SizeClass::L => diesel::update(row)
            .filter(
                (shop_load::live - shop_load::live_s - shop_load::live_m)
                    .nullable()
                    .lt(of_shop
                        .select(shops::capacity - shops::slots_s - shops::slots_m)
                        .single_value()),
            )
            .set((
                shop_load::live.eq(shop_load::live + 1),
                shop_load::changed_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(taken == 1)
}

/// What a shop declares about sizes, and its capacity; `None` for an unknown shop.
pub fn sizes_of(conn: &mut DbConn, shop_id: i64) -> QueryResult<Option<(ShopSizes, i32)>> {
    let row: Option<SizesRow> = shops::table
        .find(shop_id)
        .select((
            shops::slots_s,
            shops::slots_m,
            shops::max_weight_g,
            shops::max_length_mm,
            shops::max_width_mm,
            shops::max_height_mm,
            shops::capacity,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|r| (sizes_from(r.0, r.1, r.2, [r.3, r.4, r.5]), r.6)))
}

type SizesRow = (
    i32,
    i32,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    i32,
);

/// A shop's size declaration from its columns (the maximum dimensions count only when all
/// three are stored).
pub fn sizes_from(
    slots_s: i32,
    slots_m: i32,
    max_weight_g: Option<i32>,
    max_dims: [Option<i32>; 3],
) -> ShopSizes {
    let max_dims_mm = match max_dims {
        [Some(a), Some(b), Some(c)] => Some(super::sizes::sorted([a, b, c])),
        _ => None,
    };
    ShopSizes {
        slots_s,
        slots_m,
        max_weight_g,
        max_dims_mm,
    }
}

/// Frees one slot of `class` at a shop.
pub fn release_slot_of(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    class: SizeClass,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let (s, m) = match class {
        SizeClass::S => (1, 0),
        SizeClass::M => (0, 1),
        SizeClass::L => (0, 0),
    };
    diesel::update(
        shop_load::table
            .filter(shop_load::shop_id.eq(shop_id))
            .filter(shop_load::region.eq(region)),
    )
    .set((
        shop_load::live.eq(shop_load::live - 1),
        shop_load::live_s.eq(shop_load::live_s - s),
        shop_load::live_m.eq(shop_load::live_m - m),
        shop_load::changed_at.eq(now),
    ))
    .execute(conn)
}

/// Takes slots for received stock at a shop whatever its status (stock the shop has
/// physically received): `slots[c]` of each class (S, M, L in that order), provided they fit
/// its capacity and each class's slots; `false` when they do not (nothing is taken).
pub fn take_slots_for_stock(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    slots: [i32; 3],
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let [s, m, l] = slots;
    let units = s + m + l;
    if units <= 0 {
        return Ok(true);
    }
    let of_shop = shops::table.filter(shops::id.eq(shop_id));
    Ok(
        diesel::update(shop_load::table.filter(shop_load::shop_id.eq(shop_id)))
            .filter(shop_load::region.eq(region))
            .filter(
                (shop_load::live + units)
                    .nullable()
                    .le(of_shop.select(shops::capacity).single_value()),
            )
            .filter(
                (shop_load::live_s + s)
                    .nullable()
                    .le(of_shop.select(shops::slots_s).single_value()),
            )
            .filter(
                (shop_load::live_m + m)
                    .nullable()
                    .le(of_shop.select(shops::slots_m).single_value()),
            )
            .filter(
                (shop_load::live - shop_load::live_s - shop_load::live_m + l)
                    .nullable()
                    .le(of_shop
                        .select(shops::capacity - shops::slots_s - shops::slots_m)
                        .single_value()),
            )
            .set((
                shop_load::live.eq(shop_load::live + units),
                shop_load::live_s.eq(shop_load::live_s + s),
                shop_load::live_m.eq(shop_load::live_m + m),
                shop_load::changed_at.eq(now),
            ))
            .execute(conn)?
            == 1,
    )
}

/// Whether the shop is active: a staged unit turned into a customer's parcel keeps its slot,
/// but only an active shop takes new customers.
pub fn is_active(conn: &mut DbConn, shop_id: i64) -> QueryResult<bool> {
    let status: Option<String> = shops::table
        .find(shop_id)
        .select(shops::status)
        .first(conn)
        .optional()?;
    Ok(status.as_deref() == Some(ShopStatus::Active.as_str()))
}

/// Free slots per class at a shop (S, M, L in that order; [`super::sizes::free_by_class`];
/// 0 for an unknown shop), where received staged units go.
pub fn free_by_class(conn: &mut DbConn, shop_id: i64, region: i64) -> QueryResult<[i32; 3]> {
    let row: Option<(Counts, Counts)> = shop_load::table
        .inner_join(shops::table)
        .filter(shop_load::shop_id.eq(shop_id))
        .filter(shop_load::region.eq(region))
        .select((
            (shops::capacity, shops::slots_s, shops::slots_m),
            (shop_load::live, shop_load::live_s, shop_load::live_m),
        ))
        .first(conn)
        .optional()?;
    Ok(row.map_or([0; 3], |(slots, held)| free_of(slots, held)))
}

/// Slot counts as selected: (capacity, slots_s, slots_m) or (live, live_s, live_m).
pub type Counts = (i32, i32, i32);

/// [`super::sizes::free_by_class`] of a shop's selected slot counts.
pub fn free_of((capacity, slots_s, slots_m): Counts, (live, live_s, live_m): Counts) -> [i32; 3] {
    let sizes = ShopSizes {
        slots_s,
        slots_m,
        ..ShopSizes::default()
    };
    let held = Held {
        live,
        live_s,
        live_m,
    };
    super::sizes::free_by_class(&sizes, capacity, &held)
}

/// Frees one slot at a shop.
pub fn release_slot(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        shop_load::table
            .filter(shop_load::shop_id.eq(shop_id))
            .filter(shop_load::region.eq(region)),
    )
    .set((
        shop_load::live.eq(shop_load::live - 1),
        shop_load::changed_at.eq(now),
    ))
    .execute(conn)
}

/// Why a shop did not give a slot: unknown, paused, closed, or else full.
pub fn why_no_slot(conn: &mut DbConn, shop_id: i64) -> QueryResult<NoSlot> {
    let status: Option<String> = shops::table
        .find(shop_id)
        .select(shops::status)
        .first(conn)
        .optional()?;
    Ok(match status.as_deref().map(str::parse::<ShopStatus>) {
        None => NoSlot::UnknownShop(shop_id),
        Some(Ok(ShopStatus::Paused)) => NoSlot::Paused,
        Some(Ok(ShopStatus::Closed)) | Some(Err(_)) => NoSlot::Closed,
        Some(Ok(ShopStatus::Active)) => NoSlot::Full,
    })
}

/// Locks the shop's load row (a no-op write) and returns the shop's region; `None` for an
/// unknown shop. What runs after it in the transaction runs one shop at a time.
pub fn lock(conn: &mut DbConn, shop_id: i64) -> QueryResult<Option<i64>> {
    if matches!(conn, DbConn::Sqlite(_)) {
        // The lock itself (SQLite has one writer; the region needs naming on Citus only).
        return region_for_write(conn, shop_id);
    }
    let Some(region) = region_of(conn, shop_id)? else {
        return Ok(None);
    };
    lock_in(conn, shop_id, region)
}

/// [`lock`] when the region is known already.
pub fn lock_in(conn: &mut DbConn, shop_id: i64, region: i64) -> QueryResult<Option<i64>> {
    diesel::update(
        shop_load::table
            .filter(shop_load::shop_id.eq(shop_id))
            .filter(shop_load::region.eq(region)),
    )
    .set(shop_load::live.eq(shop_load::live))
    .returning(shop_load::region)
    .get_result(conn)
    .optional()
}

/// Keeps the copy of the shop's capacity (NULL unless active) that makes counting full shops
/// an indexed query (metrics).
pub fn set_active_capacity(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    active_capacity: Option<i32>,
) -> QueryResult<usize> {
    diesel::update(
        shop_load::table
            .filter(shop_load::shop_id.eq(shop_id))
            .filter(shop_load::region.eq(region)),
    )
    .set(shop_load::active_capacity.eq(active_capacity))
    .execute(conn)
}

/// Slots held at every shop changed at or after `since` (for the geo index's free slots).
pub fn changed_since(
    conn: &mut DbConn,
    since: NaiveDateTime,
    regions: Option<&[i64]>,
) -> QueryResult<Vec<(i64, Held)>> {
    let mut query = shop_load::table
        .filter(shop_load::changed_at.ge(since))
        .select((
            shop_load::shop_id,
            shop_load::live,
            shop_load::live_s,
            shop_load::live_m,
        ))
        .into_boxed();
    if let Some(regions) = regions {
        query = query.filter(shop_load::region.eq_any(regions));
    }
    Ok(query
        .load::<(i64, i32, i32, i32)>(conn)?
        .into_iter()
        .map(held)
        .collect())
}

/// Slots held at every shop that holds any, in `regions` (all regions: `None`).
pub fn all_in(conn: &mut DbConn, regions: Option<&[i64]>) -> QueryResult<Vec<(i64, Held)>> {
    let mut query = shop_load::table
        .filter(shop_load::live.gt(0))
        .select((
            shop_load::shop_id,
            shop_load::live,
            shop_load::live_s,
            shop_load::live_m,
        ))
        .into_boxed();
    if let Some(regions) = regions {
        query = query.filter(shop_load::region.eq_any(regions));
    }
    Ok(query
        .load::<(i64, i32, i32, i32)>(conn)?
        .into_iter()
        .map(held)
        .collect())
}

/// Slots held at every shop of `regions`, none held included (to overwrite what the index
/// had for them).
pub fn in_regions(conn: &mut DbConn, regions: &[i64]) -> QueryResult<Vec<(i64, Held)>> {
    Ok(shop_load::table
        .filter(shop_load::region.eq_any(regions))
        .select((
            shop_load::shop_id,
            shop_load::live,
            shop_load::live_s,
            shop_load::live_m,
        ))
        .load::<(i64, i32, i32, i32)>(conn)?
        .into_iter()
        .map(held)
        .collect())
}

/// Slots held at a shop now, per class.
pub fn held_at(conn: &mut DbConn, shop_id: i64, region: i64) -> QueryResult<Held> {
    let (_, h) = held(
        shop_load::table
            .filter(shop_load::shop_id.eq(shop_id))
            .filter(shop_load::region.eq(region))
            .select((
                shop_load::shop_id,
                shop_load::live,
                shop_load::live_s,
                shop_load::live_m,
            ))
            .first(conn)?,
    );
    Ok(h)
}

fn held((shop, live, live_s, live_m): (i64, i32, i32, i32)) -> (i64, Held) {
    (
        shop,
        Held {
            live,
            live_s,
            live_m,
        },
    )
}
