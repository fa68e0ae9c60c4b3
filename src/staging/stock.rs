//! Staged stock (`staged_stock`): units received at a shop ahead of a peak, each holding a
//! slot of the shop's capacity until a customer's reservation turns it into a parcel.
//!
//! A unit holds a slot of its size class or a larger one, as a parcel does
//! (`network::sizes`); the stock of a SKU counts its units in all and those in `S` and `M`
//! slots (the rest are in `L` slots), so that the parcel a unit becomes keeps that slot.

use crate::db::schema::staged_stock;
use crate::db::DbConn;
use crate::network::sizes::SizeClass;
use diesel::prelude::*;

/// Adds received units of `sku` to a shop's staged stock, holding `slots[c]` slots of each
/// class (S, M, L in that order; taken by the caller,
/// [`crate::network::load::take_slots_for_stock`]).
pub fn add(
    conn: &mut DbConn,
    shop_id: i64,
    sku: &str,
    region: i64,
    slots: [i32; 3],
) -> QueryResult<()> {
    let units: i32 = slots.iter().sum();
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
        .set((
            staged_stock::units.eq(staged_stock::units + units),
            staged_stock::units_s.eq(staged_stock::units_s + slots[0]),
            staged_stock::units_m.eq(staged_stock::units_m + slots[1]),
        ))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(staged_stock::table)
            .values((
                staged_stock::shop_id.eq(shop_id),
                staged_stock::sku.eq(sku),
                staged_stock::region.eq(region),
                staged_stock::units.eq(units),
                staged_stock::units_s.eq(slots[0]),
                staged_stock::units_m.eq(slots[1]),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Takes one staged unit of `sku` at a shop (in its region), never below zero, and answers
/// the class of the slot it held (which the parcel it becomes keeps); `None` when none is
/// left. A unit in an `L` slot goes first: one statement for stock of before sizes.
pub fn take_unit(
    conn: &mut DbConn,
    shop_id: i64,
    region: i64,
    sku: &str,
) -> QueryResult<Option<SizeClass>> {
    let of_sku = || {
        staged_stock::table
            .filter(staged_stock::shop_id.eq(shop_id))
            .filter(staged_stock::region.eq(region))
            .filter(staged_stock::sku.eq(sku))
    };
    let l = diesel::update(
        of_sku()
            .filter((staged_stock::units - staged_stock::units_s - staged_stock::units_m).gt(0)),
    )
    .set(staged_stock::units.eq(staged_stock::units - 1))
    .execute(conn)?;
    if l == 1 {
        return Ok(Some(SizeClass::L));
    }
    let m = diesel::update(of_sku().filter(staged_stock::units_m.gt(0)))
        .set((
            staged_stock::units.eq(staged_stock::units - 1),
            staged_stock::units_m.eq(staged_stock::units_m - 1),
        ))
        .execute(conn)?;
    if m == 1 {
        return Ok(Some(SizeClass::M));
    }
    let s = diesel::update(of_sku().filter(staged_stock::units_s.gt(0)))
        .set((
            staged_stock::units.eq(staged_stock::units - 1),
            staged_stock::units_s.eq(staged_stock::units_s - 1),
        ))
        .execute(conn)?;
    Ok((s == 1).then_some(SizeClass::S))
}

/// Units received that do not fit a shop's free slots: those of `size` or larger, and the
/// free slots of `size` or larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// The smallest class of the units that do not fit.
    pub size: SizeClass,
    /// Units of `size` or larger received.
    pub units: i32,
    /// Free slots of `size` or larger.
    pub free: i32,
}

/// Slots for received units: `lines` are (size class, units) and `free` the shop's free
/// slots per class (S, M, L); answers per line the slots its units take per class. A unit
/// takes a slot of its class or larger. The largest units are placed first, each in the
/// smallest class with room: with nested classes this places everything whenever, for every
/// class c, the units of class c or larger are no more than the free slots of class c or
/// larger (and otherwise nothing can); the largest class where that fails is the shortfall.
pub fn slots_for(free: [i32; 3], lines: &[(SizeClass, i32)]) -> Result<Vec<[i32; 3]>, Shortfall> {
    for size in SizeClass::ALL.into_iter().rev() {
        let units: i32 = lines
            .iter()
            .filter(|l| l.0 >= size)
            .map(|l| l.1.max(0))
            .sum();
        let room: i32 = free[size as usize..].iter().map(|f| (*f).max(0)).sum();
        if units > room {
            return Err(Shortfall {
                size,
                units,
                free: room,
            });
        }
    }
    let mut left = free.map(|f| f.max(0));
    let mut out = vec![[0; 3]; lines.len()];
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lines[i].0));
    for i in order {
        let (size, mut units) = lines[i];
        for c in size as usize..3 {
            let take = units.max(0).min(left[c]);
            out[i][c] += take;
            left[c] -= take;
            units -= take;
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use SizeClass::{L, M, S};

    #[test]
    fn larger_units_are_placed_first_and_small_ones_take_what_is_left() {
        // 2 S slots, 1 M, 2 L free; an S line of 3 and an M line of 2: the M units take the M
        // slot and one L, the S units both S slots and the last L.
        let slots = slots_for([2, 1, 2], &[(S, 3), (M, 2)]).expect("fits");
        assert_eq!(slots, [[2, 0, 1], [0, 1, 1]]);
    }

    #[test]
    fn the_shortfall_names_the_largest_class_that_does_not_fit() {
        // Plenty of S room, but 2 L units for 1 L slot.
        assert_eq!(
            slots_for([9, 0, 1], &[(S, 1), (L, 2)]),
            Err(Shortfall {
                size: L,
                units: 2,
                free: 1
            })
        );
        // Units of M or larger: 3 for 2 slots of M or L.
        assert_eq!(
            slots_for([5, 1, 1], &[(M, 2), (L, 1)]),
            Err(Shortfall {
                size: M,
                units: 3,
                free: 2
            })
        );
        // Stock of before sizes: S units in a shop with only L slots.
        assert_eq!(slots_for([0, 0, 4], &[(S, 4)]), Ok(vec![[0, 0, 4]]));
        assert_eq!(
            slots_for([0, 0, 4], &[(S, 5)]),
            Err(Shortfall {
                size: S,
                units: 5,
                free: 4
            })
        );
    }
}
