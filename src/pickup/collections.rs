//! The carrier's collection of returns dropped off at a shop: all named returns or none.

use super::outbox::{self, Event};
use super::returns::{Return, ReturnRow, ReturnState, MAX_COLLECTION};
use super::PickupError;
use crate::db::schema::returns;
use crate::db::DbConn;
use crate::ledger::book::PaidEvent;
use crate::ledger::FeeKind;
use crate::network::load;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// What a collection did.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Collection {
    /// Every return named, now `collected`, by id.
    pub items: Vec<Return>,
    /// The ids collected by this call.
    pub collected_now: Vec<i64>,
    /// The ids that had been collected before (a repeat changes nothing for them).
    pub already_collected: Vec<i64>,
}

/// Confirms what the carrier's driver took: all named returns or none. Unknown ids and other
/// shops' returns are refused by name (as not found), as are returns not dropped off yet;
/// returns collected before are answered as such, so a repeat is harmless. Frees the slots,
/// pays each return sent back and tells each merchant.
pub fn collect(
    conn: &mut DbConn,
    shop_id: i64,
    actor: &str,
    ids: &[i64],
    now: NaiveDateTime,
) -> Result<Collection, PickupError> {
    if ids.is_empty() || ids.len() > MAX_COLLECTION {
        return Err(PickupError::Invalid {
            field: "return_ids",
            message: format!("give 1 to {MAX_COLLECTION} return ids"),
        });
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    conn.transaction(|conn| {
        let region = load::lock(conn, shop_id)?.ok_or(PickupError::ShopNotFound(shop_id))?;
        let load = |conn: &mut DbConn| -> QueryResult<Vec<ReturnRow>> {
            returns::table
                .filter(returns::shop_id.eq(shop_id))
                .filter(returns::region.eq(region))
                .filter(returns::id.eq_any(&ids))
                .select(ReturnRow::as_select())
                .order(returns::id)
                .load(conn)
        };
        let rows = load(conn)?;
        let missing: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !rows.iter().any(|r| r.id == *id))
            .collect();
        if !missing.is_empty() {
            return Err(PickupError::ReturnsNotHere(missing));
        }
        let early: Vec<i64> = rows
            .iter()
            .filter(|r| r.state() == ReturnState::Registered)
            .map(|r| r.id)
            .collect();
        if !early.is_empty() {
            return Err(PickupError::ReturnsNotDroppedOff(early));
        }
        let (mut collected_now, mut already_collected) = (Vec::new(), Vec::new());
        for row in &rows {
            if row.state() == ReturnState::Collected {
                already_collected.push(row.id);
                continue;
            }
            diesel::update(
                returns::table
                    .filter(returns::id.eq(row.id))
                    .filter(returns::region.eq(region)),
            )
            .set((
                returns::state.eq(ReturnState::Collected.as_str()),
                returns::collected_at.eq(now),
                returns::collected_by.eq(actor),
                returns::updated_at.eq(now),
            ))
            .execute(conn)?;
            load::release_slot(conn, shop_id, region, now)?;
            let mut view = row.view();
            view.state = ReturnState::Collected;
            view.collected_at = Some(now);
            outbox::record_paid(
                conn,
                &PaidEvent::one(
                    FeeKind::ReturnSentBack,
                    "return_collected",
                    shop_id,
                    row.region,
                    row.id,
                    now,
                ),
                &row.merchant,
                Event::ReturnCollected,
                json!({ "return": view }),
            )?;
            collected_now.push(row.id);
        }
        Ok(Collection {
            items: load(conn)?.iter().map(ReturnRow::view).collect(),
            collected_now,
            already_collected,
        })
    })
}
