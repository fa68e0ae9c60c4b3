//! An event's demand forecast in the database: replaced whole from a file, or derived from
//! past reservations; read back as the allocator's demand rows.

use super::allocator::DemandRow;
use super::events::event;
use super::forecast::{region_of, ForecastRow};
use super::StagingError;
use crate::db::schema::{forecasts, parcels, shops};
use crate::db::DbConn;
use crate::network::geo::cell_to_i64;
use crate::network::sizes::SizeClass;
use crate::pickup::ParcelState;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use h3o::CellIndex;
use std::collections::BTreeMap;

/// Forecast rows per INSERT statement.
const BATCH: usize = 1000;

/// Replaces an event's forecast with `rows` (one transaction); returns the units in all.
pub fn replace_forecast(
    conn: &mut DbConn,
    event_id: i64,
    rows: &[ForecastRow],
) -> Result<u64, StagingError> {
    conn.transaction(|conn| {
        diesel::delete(forecasts::table.filter(forecasts::event_id.eq(event_id))).execute(conn)?;
        event(conn, event_id)?;
        for chunk in rows.chunks(BATCH) {
            let values: Vec<_> = chunk
                .iter()
                .map(|r| {
                    (
                        forecasts::event_id.eq(event_id),
                        forecasts::zone.eq(cell_to_i64(r.zone)),
                        forecasts::region.eq(cell_to_i64(region_of(r.zone))),
                        forecasts::sku.eq(&r.sku),
                        forecasts::units.eq(r.units as i32),
                        forecasts::size_class.eq(r.size.as_str()),
                    )
                })
                .collect();
            match conn {
                DbConn::Sqlite(c) => {
                    for v in values {
                        diesel::insert_into(forecasts::table).values(v).execute(c)?;
                    }
                }
                DbConn::Postgres(c) => {
                    diesel::insert_into(forecasts::table)
                        .values(values)
                        .execute(c)?;
                }
            }
        }
        Ok(rows.iter().map(|r| u64::from(r.units)).sum())
    })
}

/// Derives a forecast from the reservations of the last `days` days: per zone (the shop's
/// cell at `resolution`) and SKU (`ANY` when none was given), units = ⌈count × uplift⌉, all
/// of size class `S` (a file's default: the units may take slots of every class).
pub fn derive_forecast(
    conn: &mut DbConn,
    event_id: i64,
    days: i64,
    uplift: f64,
    resolution: h3o::Resolution,
    now: NaiveDateTime,
) -> Result<Vec<ForecastRow>, StagingError> {
    event(conn, event_id)?;
    let since = now - chrono::Duration::days(days);
    let rows: Vec<(i64, Option<String>)> = parcels::table
        .inner_join(shops::table)
        .filter(
            parcels::created_at
                .ge(since)
                .and(parcels::state.ne(ParcelState::Cancelled.as_str())),
        )
        .select((shops::h3_cell, parcels::sku))
        .load(conn)?;
    let mut counts: BTreeMap<(u64, String), u64> = BTreeMap::new();
    for (cell, sku) in rows {
        let Ok(cell) = CellIndex::try_from(cell as u64) else {
            continue;
        };
        let zone = cell.parent(resolution).unwrap_or(cell);
        *counts
            .entry((u64::from(zone), sku.unwrap_or_else(|| "ANY".into())))
            .or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .filter_map(|((zone, sku), n)| {
            let zone = CellIndex::try_from(zone).ok()?;
            Some(ForecastRow {
                zone,
                sku,
                units: ((n as f64) * uplift).ceil().min(10_000_000.0) as u32,
                size: SizeClass::S,
            })
        })
        .collect())
}

/// The demand rows of an event's forecast.
pub fn forecast_demand(conn: &mut DbConn, event_id: i64) -> Result<Vec<DemandRow>, StagingError> {
    event(conn, event_id)?;
    let rows: Vec<(i64, String, i32, String)> = forecasts::table
        .filter(forecasts::event_id.eq(event_id))
        .select((
            forecasts::zone,
            forecasts::sku,
            forecasts::units,
            forecasts::size_class,
        ))
        .order((forecasts::zone, forecasts::sku))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(zone, sku, units, size)| {
            Some(DemandRow {
                zone: CellIndex::try_from(zone as u64).ok()?,
                sku,
                units: units.max(0) as u32,
                // The column's check allows S, M and L only.
                size: size.parse().unwrap_or(SizeClass::S),
            })
        })
        .collect())
}
