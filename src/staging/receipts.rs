//! What partners see of dispatched plans (their manifests) and their receipt of the stock,
//! which becomes staged stock at the shop.

use super::plans::PlanState;
use super::stock;
use super::StagingError;
use crate::db::schema::{events, manifest_lines, plans};
use crate::db::DbConn;
use crate::network::sizes::SizeClass;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One manifest line as a partner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ManifestLine {
    /// SKU.
    pub sku: String,
    /// Units sent.
    pub units: i32,
    /// Units the partner confirmed (null until receipt).
    pub received: Option<i32>,
    /// Size class of the units: each takes a slot of this class or a larger one.
    pub size: SizeClass,
}

/// A shop's part of a dispatched plan.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ShopManifest {
    /// The plan (use it in the receipt URL).
    pub plan_id: i64,
    /// The event's name.
    pub event: String,
    /// Whether the receipt has been confirmed.
    pub received: bool,
    /// Lines, by SKU.
    pub lines: Vec<ManifestLine>,
}

/// The manifests of dispatched (and received) plans for a shop, newest first.
pub fn shop_manifests(conn: &mut DbConn, shop_id: i64) -> QueryResult<Vec<ShopManifest>> {
    // The shop's region first (a reference table), so the lines are read on one shard.
    let Some(region) = crate::network::load::region_of(conn, shop_id)? else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i64, String, String, i32, Option<i32>, String)> = manifest_lines::table
        .inner_join(plans::table.inner_join(events::table))
        .filter(manifest_lines::shop_id.eq(shop_id))
        .filter(manifest_lines::region.eq(region))
        .filter(plans::state.eq_any([PlanState::Dispatched.as_str(), PlanState::Received.as_str()]))
        .select((
            plans::id,
            events::name,
            manifest_lines::sku,
            manifest_lines::units,
            manifest_lines::received,
            manifest_lines::size_class,
        ))
        .order((plans::id.desc(), manifest_lines::sku))
        .load(conn)?;
    let mut out: Vec<ShopManifest> = Vec::new();
    for (plan_id, event, sku, units, received, size) in rows {
        if out.last().map(|m| m.plan_id) != Some(plan_id) {
            out.push(ShopManifest {
                plan_id,
                event,
                received: true,
                lines: Vec::new(),
            });
        }
        if let Some(m) = out.last_mut() {
            m.received &= received.is_some();
            m.lines.push(ManifestLine {
                sku,
                units,
                received,
                size: class_of(&size),
            });
        }
    }
    Ok(out)
}

/// A partner's receipt: units received per SKU; SKUs not listed arrived in full.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Shortfalls (or exact counts) per SKU.
    #[serde(default)]
    pub lines: Vec<ReceivedLine>,
}

/// Units of one SKU received.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLine {
    /// SKU.
    pub sku: String,
    /// Units received (0 to the units sent).
    #[schema(minimum = 0)]
    pub received: i32,
}

/// A manifest line as the receipt reads it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = manifest_lines)]
struct LineRow {
    id: i64,
    sku: String,
    units: i32,
    received: Option<i32>,
    region: i64,
    size_class: String,
}

/// A stored size class (the column's check allows S, M and L only).
fn class_of(text: &str) -> SizeClass {
    text.parse().unwrap_or(SizeClass::S)
}

/// Confirms receipt of a shop's manifest; received units become staged stock for instant
/// pickup, each holding a slot of its size class or a larger one ([`stock::slots_for`];
/// refused with [`StagingError::NoRoom`] when they do not fit the shop's free slots: the
/// partner then confirms fewer and sends the rest back). When every shop of the plan has
/// confirmed, the plan is `received`.
pub fn receive(
    conn: &mut DbConn,
    shop_id: i64,
    plan_id: i64,
    receipt: &Receipt,
    now: NaiveDateTime,
) -> Result<ShopManifest, StagingError> {
    conn.transaction(|conn| {
        // The count of the plan's open lines below reads every shard on Citus, and `plans`
        // (reference) is written after it.
        crate::db::citus_sequential(conn)?;
        // Every statement on the shop's rows names its region (one shard on Citus).
        let Some(region) = crate::network::load::region_for_write(conn, shop_id)? else {
            return Err(StagingError::ManifestNotFound(plan_id));
        };
        // Writing first takes the lines' locks: a repeated receipt waits and then finds them done.
        let touched = diesel::update(
            manifest_lines::table.filter(
                manifest_lines::plan_id
                    .eq(plan_id)
                    .and(manifest_lines::shop_id.eq(shop_id))
                    .and(manifest_lines::region.eq(region)),
            ),
        )
        .set(manifest_lines::received_at.eq(manifest_lines::received_at))
        .execute(conn)?;
        let state: Option<PlanState> = plans::table
            .find(plan_id)
            .select(plans::state)
            .first::<String>(conn)
            .optional()?
            .map(|s| PlanState::parse(&s));
        let dispatched = matches!(state, Some(PlanState::Dispatched | PlanState::Received));
        if touched == 0 || !dispatched {
            return Err(StagingError::ManifestNotFound(plan_id));
        }
        let lines: Vec<LineRow> = manifest_lines::table
            .filter(
                manifest_lines::plan_id
                    .eq(plan_id)
                    .and(manifest_lines::shop_id.eq(shop_id))
                    .and(manifest_lines::region.eq(region)),
            )
            .select(LineRow::as_select())
            .load(conn)?;
        if lines.iter().all(|l| l.received.is_some()) {
            return Err(StagingError::AlreadyReceived(plan_id));
        }
        for given in &receipt.lines {
            match lines.iter().find(|l| l.sku == given.sku) {
                None => {
                    return Err(StagingError::Invalid {
                        field: "lines",
                        message: format!("sku {:?} is not in this manifest", given.sku),
                    })
                }
                Some(l) if !(0..=l.units).contains(&given.received) => {
                    return Err(StagingError::Invalid {
                        field: "lines",
                        message: format!(
                            "received for {:?} must be between 0 and {}",
                            given.sku, l.units
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        let received: Vec<i32> = lines
            .iter()
            .map(|l| {
                receipt
                    .lines
                    .iter()
                    .find(|g| g.sku == l.sku)
                    .map_or(l.units, |g| g.received)
            })
            .collect();
        // Every unit in the shop holds a slot of its class or larger, like a parcel: the units
        // received must fit. The shop's load row is locked while its free slots are read and
        // taken, so the slots chosen are still free when taken.
        crate::network::load::lock_in(conn, shop_id, region)?;
        let free = crate::network::load::free_by_class(conn, shop_id, region)?;
        let wanted: Vec<(SizeClass, i32)> = lines
            .iter()
            .zip(&received)
            .map(|(l, &n)| (class_of(&l.size_class), n))
            .collect();
        let slots = stock::slots_for(free, &wanted).map_err(|short| StagingError::NoRoom {
            received: short.units,
            free: short.free,
            size: short.size,
        })?;
        let mut taken = [0; 3];
        for line in &slots {
            for (t, n) in taken.iter_mut().zip(line) {
                *t += n;
            }
        }
        if !crate::network::load::take_slots_for_stock(conn, shop_id, region, taken, now)? {
            // Only when a class holds more than its slots (slots lowered below those held):
            // refused like any shortfall.
            return Err(StagingError::NoRoom {
                received: received.iter().sum(),
                free: free.iter().sum(),
                size: SizeClass::S,
            });
        }
        for ((line, &received), slots) in lines.iter().zip(&received).zip(&slots) {
            diesel::update(
                manifest_lines::table
                    .filter(manifest_lines::id.eq(line.id))
                    .filter(manifest_lines::region.eq(line.region)),
            )
            .set((
                manifest_lines::received.eq(received),
                manifest_lines::received_at.eq(now),
            ))
            .execute(conn)?;
            stock::add(conn, shop_id, &line.sku, line.region, *slots)?;
            // Paid per unit received, in this transaction (nothing for a line of 0 units).
            crate::ledger::book::record(
                conn,
                &crate::ledger::book::PaidEvent {
                    kind: crate::ledger::FeeKind::StagedUnitReceived,
                    shop_id,
                    region: line.region,
                    event_key: format!("staged:{}", line.id),
                    subject_id: line.id,
                    quantity: received,
                    occurred_at: now,
                },
            )?;
        }
        let open: i64 = manifest_lines::table
            .filter(
                manifest_lines::plan_id
                    .eq(plan_id)
                    .and(manifest_lines::received.is_null()),
            )
            .count()
            .get_result(conn)?;
        if open == 0 {
            diesel::update(
                plans::table.filter(
                    plans::id
                        .eq(plan_id)
                        .and(plans::state.eq(PlanState::Dispatched.as_str())),
                ),
            )
            .set((
                plans::state.eq(PlanState::Received.as_str()),
                plans::received_at.eq(now),
            ))
            .execute(conn)?;
        }
        shop_manifests(conn, shop_id)?
            .into_iter()
            .find(|m| m.plan_id == plan_id)
            .ok_or(StagingError::ManifestNotFound(plan_id))
    })
}
