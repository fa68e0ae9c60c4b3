//! Staged stock (`staged_stock`): units received at a shop ahead of a peak, each holding a
//! slot of the shop's capacity until a customer's reservation turns it into a parcel.

use crate::db::schema::staged_stock;
use crate::db::DbConn;
use diesel::prelude::*;

/// Adds received units of `sku` to a shop's staged stock (their slots are taken by the
/// caller, [`crate::network::load::take_slots_for_stock`]).
pub fn add(conn: &mut DbConn, shop_id: i64, sku: &str, region: i64, units: i32) -> QueryResult<()> {
    if units == 0 {
        return Ok(());
    }
    let target = staged_stock::table.filter(
        staged_stock::shop_id
            .eq(shop_id)
            .and(staged_stock::region.eq(region))
            .and(staged_stock::sku.eq(sku)),
    );
    let n = diesel::update(target)
        .set(staged_stock::units.eq(staged_stock::units + units))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(staged_stock::table)
            .values((
                staged_stock::shop_id.eq(shop_id),
                staged_stock::sku.eq(sku),
                staged_stock::region.eq(region),
                staged_stock::units.eq(units),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Takes one staged unit of `sku` at a shop (in its region), never below zero; `false` when
/// none is left.
pub fn take_unit(conn: &mut DbConn, shop_id: i64, region: i64, sku: &str) -> QueryResult<bool> {
    let n = diesel::update(
        staged_stock::table
            .filter(
                staged_stock::shop_id
                    .eq(shop_id)
                    .and(staged_stock::region.eq(region))
                    .and(staged_stock::sku.eq(sku)),
            )
            .filter(staged_stock::units.gt(0)),
    )
    .set(staged_stock::units.eq(staged_stock::units - 1))
    .execute(conn)?;
    Ok(n == 1)
}

/// Shops holding at least one staged unit of `sku`, in `regions` if given (else in all).
pub fn shops_with_stock(
    conn: &mut DbConn,
    sku: &str,
    regions: Option<&[i64]>,
) -> QueryResult<Vec<i64>> {
    let mut query = staged_stock::table
        .filter(staged_stock::sku.eq(sku).and(staged_stock::units.gt(0)))
        .select(staged_stock::shop_id)
        .into_boxed();
    if let Some(regions) = regions {
        query = query.filter(staged_stock::region.eq_any(regions));
    }
    query.load(conn)
}

/// Staged units of `sku` at a shop.
pub fn stock(conn: &mut DbConn, shop_id: i64, sku: &str) -> QueryResult<i32> {
    Ok(staged_stock::table
        .filter(
            staged_stock::shop_id
                .eq(shop_id)
                .and(staged_stock::sku.eq(sku)),
        )
        .select(staged_stock::units)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}
