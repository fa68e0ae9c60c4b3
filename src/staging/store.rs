//! Events, forecasts, plans and staged stock in the database.

use super::allocator::{self, DemandRow, Params, Plan, StagingShop};
use super::forecast::{region_of, ForecastRow};
use super::report::{self, Report};
use super::StagingError;
use crate::db::schema::{
    events, forecasts, manifest_lines, parcels, plans, shop_load, shops, staged_stock,
};
use crate::db::DbConn;
use crate::network::geo::cell_to_i64;
use crate::network::ShopStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use h3o::CellIndex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Forecast rows per INSERT statement.
const BATCH: usize = 1000;

/// A peak event.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = events)]
pub struct Event {
    /// Id.
    pub id: i64,
    /// Name, e.g. "Singles Day 2026".
    pub name: String,
    /// Window start (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub starts_at: NaiveDateTime,
    /// Window end (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub ends_at: NaiveDateTime,
    /// IANA zone the window was given in.
    pub timezone: String,
    /// Who created it.
    pub created_by: String,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub created_at: NaiveDateTime,
}

/// Creates an event.
pub fn create_event(
    conn: &mut DbConn,
    name: &str,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    timezone: &str,
    created_by: &str,
    now: NaiveDateTime,
) -> Result<Event, StagingError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StagingError::Invalid {
            field: "name",
            message: "must be 1 to 200 characters".into(),
        });
    }
    if ends_at <= starts_at {
        return Err(StagingError::Invalid {
            field: "ends_at",
            message: "must be after starts_at".into(),
        });
    }
    conn.transaction(|conn| {
        diesel::insert_into(events::table)
            .values((
                events::name.eq(name),
                events::starts_at.eq(starts_at),
                events::ends_at.eq(ends_at),
                events::timezone.eq(timezone),
                events::created_by.eq(created_by),
                events::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(events::table
            .select(Event::as_select())
            .order(events::id.desc())
            .first(conn)?)
    })
}

/// Every event, newest first.
pub fn list_events(conn: &mut DbConn) -> QueryResult<Vec<Event>> {
    events::table
        .select(Event::as_select())
        .order(events::id.desc())
        .load(conn)
}

fn event(conn: &mut DbConn, id: i64) -> Result<Event, StagingError> {
    events::table
        .find(id)
        .select(Event::as_select())
        .first(conn)
        .optional()?
        .ok_or(StagingError::EventNotFound(id))
}

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
/// cell at `resolution`) and SKU (`ANY` when none was given), units = ⌈count × uplift⌉.
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
                .and(parcels::state.ne("cancelled")),
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
            })
        })
        .collect())
}

/// The demand rows of an event's forecast.
pub fn forecast_demand(conn: &mut DbConn, event_id: i64) -> Result<Vec<DemandRow>, StagingError> {
    event(conn, event_id)?;
    let rows: Vec<(i64, String, i32)> = forecasts::table
        .filter(forecasts::event_id.eq(event_id))
        .select((forecasts::zone, forecasts::sku, forecasts::units))
        .order((forecasts::zone, forecasts::sku))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(zone, sku, units)| {
            Some(DemandRow {
                zone: CellIndex::try_from(zone as u64).ok()?,
                sku,
                units: units.max(0) as u32,
            })
        })
        .collect())
}

/// Active shops offering `staging` with their staging capacity: capacity minus live parcels,
/// or `override_units`. With an event `window` (UTC), shops closed for a period at any
/// moment of it are left out: stock staged there could not be collected.
pub fn staging_shops(
    conn: &mut DbConn,
    override_units: Option<u32>,
    window: Option<(NaiveDateTime, NaiveDateTime)>,
) -> QueryResult<Vec<StagingShop>> {
    let closed = match window {
        Some((from, to)) => {
            crate::network::closure_store::closed_during(conn, from.and_utc(), to.and_utc())?
        }
        None => Default::default(),
    };
    let rows: Vec<(i64, f64, f64, i32, i32, i64)> = shops::table
        .inner_join(shop_load::table)
        .filter(shops::status.eq(ShopStatus::Active.as_str()))
        // Canonical stored text: the name can only appear as itself.
        .filter(shops::services.like("%staging%"))
        .select((
            shops::id,
            shops::latitude,
            shops::longitude,
            shops::capacity,
            shop_load::live,
            shops::h3_cell,
        ))
        .order(shops::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|row| !closed.contains(&row.0))
        .map(
            |(id, latitude, longitude, capacity, live, cell)| StagingShop {
                id,
                latitude,
                longitude,
                capacity: override_units.unwrap_or_else(|| (capacity - live).max(0) as u32),
                cell: CellIndex::try_from(cell as u64).ok(),
            },
        )
        .collect())
}

/// A plan's life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// Computed, not yet approved.
    Draft,
    /// Approved by a planner.
    Approved,
    /// Manifests sent to the partners.
    Dispatched,
    /// Every partner confirmed receipt.
    Received,
}

impl PlanState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Approved => "approved",
            Self::Dispatched => "dispatched",
            Self::Received => "received",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "approved" => Self::Approved,
            "dispatched" => Self::Dispatched,
            "received" => Self::Received,
            _ => Self::Draft,
        }
    }
}

/// A stored plan with its report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    /// Id.
    pub id: i64,
    /// Event.
    pub event_id: i64,
    /// Life-cycle state.
    pub state: PlanState,
    /// Radius, km.
    pub radius_km: f64,
    /// Penalty per unmet unit, km.
    pub penalty_km: f64,
    /// The objective: Σ units × distance + penalty × unmet units, km.
    pub total_cost_km: f64,
    /// Units staged.
    pub served_units: i64,
    /// Units not staged.
    pub unmet_units: i64,
    /// Shops with a manifest.
    pub shops_used: i32,
    /// Candidate zone–shop arcs.
    pub arcs: i64,
    /// Solver time, ms.
    pub solve_ms: i64,
    /// Coverage, utilisation and unmet demand.
    pub report: Report,
    /// URL of the map picture.
    pub map_url: String,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub created_at: NaiveDateTime,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub approved_at: Option<NaiveDateTime>,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub dispatched_at: Option<NaiveDateTime>,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub received_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = plans)]
struct PlanRow {
    id: i64,
    event_id: i64,
    state: String,
    radius_km: f64,
    penalty_km: f64,
    total_cost_km: f64,
    served_units: i64,
    unmet_units: i64,
    shops_used: i32,
    arcs: i64,
    solve_ms: i64,
    report: String,
    created_at: NaiveDateTime,
    approved_at: Option<NaiveDateTime>,
    dispatched_at: Option<NaiveDateTime>,
    received_at: Option<NaiveDateTime>,
}

impl PlanRow {
    fn view(self) -> PlanView {
        PlanView {
            map_url: format!("/v1/plans/{}/map.svg", self.id),
            id: self.id,
            event_id: self.event_id,
            state: PlanState::parse(&self.state),
            radius_km: self.radius_km,
            penalty_km: self.penalty_km,
            total_cost_km: self.total_cost_km,
            served_units: self.served_units,
            unmet_units: self.unmet_units,
            shops_used: self.shops_used,
            arcs: self.arcs,
            solve_ms: self.solve_ms,
            report: serde_json::from_str(&self.report).unwrap_or(Report {
                forecast_units: 0,
                coverage: Vec::new(),
                utilisation: Vec::new(),
                unmet_by_zone: Vec::new(),
            }),
            created_at: self.created_at,
            approved_at: self.approved_at,
            dispatched_at: self.dispatched_at,
            received_at: self.received_at,
        }
    }
}

/// Computes a plan for an event's forecast on the current network and stores it as a draft.
pub fn compute_plan(
    conn: &mut DbConn,
    event_id: i64,
    params: &Params,
    capacity_override: Option<u32>,
    created_by: &str,
    now: NaiveDateTime,
) -> Result<PlanView, StagingError> {
    let demand = forecast_demand(conn, event_id)?;
    let window: (NaiveDateTime, NaiveDateTime) = events::table
        .find(event_id)
        .select((events::starts_at, events::ends_at))
        .first(conn)?;
    let shops = staging_shops(conn, capacity_override, Some(window))?;
    let plan = allocator::solve(&shops, &demand, params, &mut |_| {})?;
    store_plan(conn, event_id, params, &plan, &shops, created_by, now)
}

fn store_plan(
    conn: &mut DbConn,
    event_id: i64,
    params: &Params,
    plan: &Plan,
    shops: &[StagingShop],
    created_by: &str,
    now: NaiveDateTime,
) -> Result<PlanView, StagingError> {
    let report = report::report(plan, shops);
    let map = report::map_svg(plan, shops);
    let lines = manifest(plan);
    conn.transaction(|conn| {
        diesel::insert_into(plans::table)
            .values((
                plans::event_id.eq(event_id),
                plans::state.eq(PlanState::Draft.as_str()),
                plans::radius_km.eq(params.radius_km),
                plans::penalty_km.eq(params.penalty_km),
                plans::total_cost_km.eq(plan.total_cost_km),
                plans::served_units.eq(plan.served_units as i64),
                plans::unmet_units.eq(plan.unmet_units as i64),
                plans::shops_used.eq(plan.shops_used as i32),
                plans::arcs.eq(plan.arcs as i64),
                plans::solve_ms.eq(plan.solve_ms as i64),
                plans::report.eq(serde_json::to_string(&report).unwrap_or_default()),
                plans::map_svg.eq(&map),
                plans::created_by.eq(created_by),
                plans::created_at.eq(now),
            ))
            .execute(conn)?;
        let plan_id: i64 = plans::table
            .select(plans::id)
            .order(plans::id.desc())
            .first(conn)?;
        let regions: BTreeMap<i64, i64> = shops::table
            .filter(shops::id.eq_any(lines.keys().map(|(s, _)| *s).collect::<Vec<_>>()))
            .select((shops::id, shops::region))
            .load::<(i64, i64)>(conn)?
            .into_iter()
            .collect();
        let rows: Vec<_> = lines
            .iter()
            .map(|((shop, sku), units)| {
                (
                    manifest_lines::plan_id.eq(plan_id),
                    manifest_lines::shop_id.eq(*shop),
                    manifest_lines::region.eq(regions.get(shop).copied().unwrap_or(0)),
                    manifest_lines::sku.eq(sku.clone()),
                    manifest_lines::units.eq(*units as i32),
                )
            })
            .collect();
        for chunk in rows.chunks(BATCH) {
            match conn {
                DbConn::Sqlite(c) => {
                    for r in chunk {
                        diesel::insert_into(manifest_lines::table)
                            .values(r.clone())
                            .execute(c)?;
                    }
                }
                DbConn::Postgres(c) => {
                    diesel::insert_into(manifest_lines::table)
                        .values(chunk.to_vec())
                        .execute(c)?;
                }
            }
        }
        plan_view(conn, plan_id)
    })
}

/// Units per (shop, SKU) of a plan.
pub fn manifest(plan: &Plan) -> BTreeMap<(i64, String), u64> {
    let mut lines: BTreeMap<(i64, String), u64> = BTreeMap::new();
    for a in &plan.allocations {
        *lines.entry((a.shop_id, a.sku.clone())).or_default() += u64::from(a.units);
    }
    lines
}

/// One plan with its report.
pub fn plan_view(conn: &mut DbConn, id: i64) -> Result<PlanView, StagingError> {
    let row: PlanRow = plans::table
        .find(id)
        .select(PlanRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StagingError::PlanNotFound(id))?;
    Ok(row.view())
}

/// The ids of the stored plans, of one event or of all, oldest first; an unknown event is
/// an error, not an empty list.
pub fn plan_ids(conn: &mut DbConn, event_id: Option<i64>) -> Result<Vec<i64>, StagingError> {
    let mut query = plans::table.select(plans::id).order(plans::id).into_boxed();
    if let Some(id) = event_id {
        event(conn, id)?;
        query = query.filter(plans::event_id.eq(id));
    }
    Ok(query.load(conn)?)
}

/// A stored plan's manifest lines as `(shop external id, sku, units)`, by shop id then SKU
/// (the order `pudo plan` writes them in).
pub fn manifest_rows(conn: &mut DbConn, plan_id: i64) -> QueryResult<Vec<(String, String, i32)>> {
    manifest_lines::table
        .inner_join(shops::table.on(shops::id.eq(manifest_lines::shop_id)))
        .filter(manifest_lines::plan_id.eq(plan_id))
        .select((
            shops::external_id,
            manifest_lines::sku,
            manifest_lines::units,
        ))
        .order((manifest_lines::shop_id, manifest_lines::sku))
        .load(conn)
}

/// The plan's map picture.
pub fn plan_map(conn: &mut DbConn, id: i64) -> Result<String, StagingError> {
    plans::table
        .find(id)
        .select(plans::map_svg)
        .first(conn)
        .optional()?
        .ok_or(StagingError::PlanNotFound(id))
}

/// Moves a plan one step: draft → approved, approved → dispatched.
pub fn advance(
    conn: &mut DbConn,
    id: i64,
    to: PlanState,
    now: NaiveDateTime,
) -> Result<PlanView, StagingError> {
    let from = match to {
        PlanState::Approved => PlanState::Draft,
        PlanState::Dispatched => PlanState::Approved,
        PlanState::Draft | PlanState::Received => {
            return Err(StagingError::Invalid {
                field: "state",
                message: "only approve and dispatch are steps".into(),
            })
        }
    };
    conn.transaction(|conn| {
        let target = plans::table.filter(plans::id.eq(id).and(plans::state.eq(from.as_str())));
        let changed = match to {
            PlanState::Approved => diesel::update(target)
                .set((plans::state.eq(to.as_str()), plans::approved_at.eq(now)))
                .execute(conn)?,
            _ => diesel::update(target)
                .set((plans::state.eq(to.as_str()), plans::dispatched_at.eq(now)))
                .execute(conn)?,
        };
        let plan = plan_view(conn, id)?;
        if changed == 0 {
            return Err(StagingError::WrongState {
                state: plan.state,
                wanted: from,
            });
        }
        Ok(plan)
    })
}

/// One manifest line as a partner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ManifestLine {
    /// SKU.
    pub sku: String,
    /// Units sent.
    pub units: i32,
    /// Units the partner confirmed (null until receipt).
    pub received: Option<i32>,
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
    let rows: Vec<(i64, String, String, i32, Option<i32>)> = manifest_lines::table
        .inner_join(plans::table.inner_join(events::table))
        .filter(manifest_lines::shop_id.eq(shop_id))
        .filter(plans::state.eq_any([PlanState::Dispatched.as_str(), PlanState::Received.as_str()]))
        .select((
            plans::id,
            events::name,
            manifest_lines::sku,
            manifest_lines::units,
            manifest_lines::received,
        ))
        .order((plans::id.desc(), manifest_lines::sku))
        .load(conn)?;
    let mut out: Vec<ShopManifest> = Vec::new();
    for (plan_id, event, sku, units, received) in rows {
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

/// Confirms receipt of a shop's manifest; received units become staged stock for instant
/// pickup. When every shop of the plan has confirmed, the plan is `received`.
pub fn receive(
    conn: &mut DbConn,
    shop_id: i64,
    plan_id: i64,
    receipt: &Receipt,
    now: NaiveDateTime,
) -> Result<ShopManifest, StagingError> {
    conn.transaction(|conn| {
        // Writing first takes the lines' locks: a repeated receipt waits and then finds them done.
        let touched = diesel::update(
            manifest_lines::table.filter(
                manifest_lines::plan_id
                    .eq(plan_id)
                    .and(manifest_lines::shop_id.eq(shop_id)),
            ),
        )
        .set(manifest_lines::received_at.eq(manifest_lines::received_at))
        .execute(conn)?;
        let state: Option<String> = plans::table
            .find(plan_id)
            .select(plans::state)
            .first(conn)
            .optional()?;
        let dispatched = matches!(state.as_deref(), Some("dispatched") | Some("received"));
        if touched == 0 || !dispatched {
            return Err(StagingError::ManifestNotFound(plan_id));
        }
        let lines: Vec<(i64, String, i32, Option<i32>, i64)> = manifest_lines::table
            .filter(
                manifest_lines::plan_id
                    .eq(plan_id)
                    .and(manifest_lines::shop_id.eq(shop_id)),
            )
            .select((
                manifest_lines::id,
                manifest_lines::sku,
                manifest_lines::units,
                manifest_lines::received,
                manifest_lines::region,
            ))
            .load(conn)?;
        if lines.iter().all(|l| l.3.is_some()) {
            return Err(StagingError::AlreadyReceived(plan_id));
        }
        for given in &receipt.lines {
            match lines.iter().find(|l| l.1 == given.sku) {
                None => {
                    return Err(StagingError::Invalid {
                        field: "lines",
                        message: format!("sku {:?} is not in this manifest", given.sku),
                    })
                }
                Some(l) if !(0..=l.2).contains(&given.received) => {
                    return Err(StagingError::Invalid {
                        field: "lines",
                        message: format!(
                            "received for {:?} must be between 0 and {}",
                            given.sku, l.2
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        for (id, sku, units, _, region) in &lines {
            let received = receipt
                .lines
                .iter()
                .find(|g| &g.sku == sku)
                .map_or(*units, |g| g.received);
            diesel::update(manifest_lines::table.find(id))
                .set((
                    manifest_lines::received.eq(received),
                    manifest_lines::received_at.eq(now),
                ))
                .execute(conn)?;
            add_stock(conn, shop_id, sku, *region, received)?;
            // Paid per unit received, in this transaction (nothing for a line of 0 units).
            crate::ledger::book::record(
                conn,
                &crate::ledger::book::PaidEvent {
                    kind: crate::ledger::FeeKind::StagedUnitReceived,
                    shop_id,
                    region: *region,
                    event_key: format!("staged:{id}"),
                    subject_id: *id,
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
                plans::table.filter(plans::id.eq(plan_id).and(plans::state.eq("dispatched"))),
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

fn add_stock(
    conn: &mut DbConn,
    shop_id: i64,
    sku: &str,
    region: i64,
    units: i32,
) -> QueryResult<()> {
    if units == 0 {
        return Ok(());
    }
    let target = staged_stock::table.filter(
        staged_stock::shop_id
            .eq(shop_id)
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

/// Takes one staged unit of `sku` at a shop, never below zero; `false` when none is left.
pub fn take_staged_unit(conn: &mut DbConn, shop_id: i64, sku: &str) -> QueryResult<bool> {
    let n = diesel::update(
        staged_stock::table
            .filter(
                staged_stock::shop_id
                    .eq(shop_id)
                    .and(staged_stock::sku.eq(sku)),
            )
            .filter(staged_stock::units.gt(0)),
    )
    .set(staged_stock::units.eq(staged_stock::units - 1))
    .execute(conn)?;
    Ok(n == 1)
}

/// Shops holding at least one staged unit of `sku`.
pub fn shops_with_stock(conn: &mut DbConn, sku: &str) -> QueryResult<Vec<i64>> {
    staged_stock::table
        .filter(staged_stock::sku.eq(sku).and(staged_stock::units.gt(0)))
        .select(staged_stock::shop_id)
        .load(conn)
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
