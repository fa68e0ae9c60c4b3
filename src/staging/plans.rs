//! Plans: computed for an event's forecast on the current network, stored as drafts with
//! their report, map and manifest lines, and moved draft → approved → dispatched.

use super::allocator::{self, DemandRow, Params, Plan, StagingShop};
use super::demand::forecast_demand;
use super::report::{self, Report};
use super::StagingError;
use crate::db::schema::{events, manifest_lines, plans, shop_load, shops};
use crate::db::DbConn;
use crate::network::load;
use crate::network::sizes::SizeClass;
use crate::network::ShopStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use h3o::CellIndex;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Manifest lines per INSERT statement.
const BATCH: usize = 1000;

/// Active shops offering `staging` with their staging room: their free slots per size class
/// (`network::sizes`; a point declaring no sizes has only L slots: capacity minus every slot
/// held), or `override_units` in every shop, all of them L slots (any unit fits). With an
/// event `window` (UTC), shops closed for a period at any moment of it are left out: stock
/// staged there could not be collected.
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
    type Row = (i64, f64, f64, i64, load::Counts, load::Counts);
    let rows: Vec<Row> = shops::table
        .inner_join(shop_load::table)
        .filter(shops::status.eq(ShopStatus::Active.as_str()))
        // Canonical stored text: the name can only appear as itself.
        .filter(shops::services.like("%staging%"))
        .select((
            shops::id,
            shops::latitude,
            shops::longitude,
            shops::h3_cell,
            (shops::capacity, shops::slots_s, shops::slots_m),
            (shop_load::live, shop_load::live_s, shop_load::live_m),
        ))
        .order(shops::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|row| !closed.contains(&row.0))
        .map(|(id, latitude, longitude, cell, slots, held)| {
            let [s, m, l] = load::free_of(slots, held).map(|f| f as u32);
            let (capacity, room_s, room_m) = match override_units {
                Some(units) => (units, 0, 0),
                None => (s + m + l, s, m),
            };
            StagingShop {
                id,
                latitude,
                longitude,
                capacity,
                room_s,
                room_m,
                cell: CellIndex::try_from(cell as u64).ok(),
            }
        })
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
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Approved => "approved",
            Self::Dispatched => "dispatched",
            Self::Received => "received",
        }
    }

    /// The state a stored text stands for (an unknown text reads as a draft).
    pub fn parse(s: &str) -> Self {
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
                by_size: Vec::new(),
            }),
            created_at: self.created_at,
            approved_at: self.approved_at,
            dispatched_at: self.dispatched_at,
            received_at: self.received_at,
        }
    }
}

/// Largest radius a planner may give, km.
pub const MAX_RADIUS_KM: f64 = 50.0;
/// Largest penalty per unmet unit a planner may give, km.
pub const MAX_PENALTY_KM: f64 = 100_000.0;
/// Largest staging capacity a planner may give for every shop, units: a shop's own capacity
/// is at most this (import and partner alike).
pub const MAX_STAGING_CAPACITY: u32 = 100_000;

/// Checks a plan's parameters as a planner gives them (the API and `pudo plan` alike),
/// naming the one at fault.
pub fn check_params(params: &Params) -> Result<(), StagingError> {
    if !(params.radius_km.is_finite()
        && params.radius_km > 0.0
        && params.radius_km <= MAX_RADIUS_KM)
    {
        return Err(StagingError::Invalid {
            field: "radius_km",
            message: format!("must be above 0 and at most {MAX_RADIUS_KM}"),
        });
    }
    if !(params.penalty_km.is_finite()
        && params.penalty_km >= 0.0
        && params.penalty_km <= MAX_PENALTY_KM)
    {
        return Err(StagingError::Invalid {
            field: "penalty_km",
            message: format!("must be between 0 and {MAX_PENALTY_KM}"),
        });
    }
    Ok(())
}

/// Checks a staging capacity given for every shop (the API and `pudo plan` alike).
pub fn check_capacity_override(capacity: Option<u32>) -> Result<(), StagingError> {
    if capacity.is_some_and(|c| c > MAX_STAGING_CAPACITY) {
        return Err(StagingError::Invalid {
            field: "staging_capacity",
            message: format!("must be between 0 and {MAX_STAGING_CAPACITY}"),
        });
    }
    Ok(())
}

/// The plan pipeline: checks the parameters, reads the shops with room (capacity minus held
/// slots, or `capacity_override`; those closed during `window` left out) and solves exactly.
/// Returns the plan and the shops it was solved on.
pub fn solve(
    conn: &mut DbConn,
    demand: &[DemandRow],
    params: &Params,
    capacity_override: Option<u32>,
    window: Option<(NaiveDateTime, NaiveDateTime)>,
    progress: &mut dyn FnMut(allocator::Stage),
) -> Result<(Plan, Vec<StagingShop>), StagingError> {
    check_params(params)?;
    check_capacity_override(capacity_override)?;
    let shops = staging_shops(conn, capacity_override, window)?;
    let plan = allocator::solve(&shops, demand, params, progress)?;
    Ok((plan, shops))
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
    check_params(params)?;
    check_capacity_override(capacity_override)?;
    let demand = forecast_demand(conn, event_id)?;
    let window: (NaiveDateTime, NaiveDateTime) = events::table
        .find(event_id)
        .select((events::starts_at, events::ends_at))
        .first(conn)?;
    let (plan, shops) = solve(
        conn,
        &demand,
        params,
        capacity_override,
        Some(window),
        &mut |_| {},
    )?;
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
        let plan_id: i64 = diesel::insert_into(plans::table)
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
            .returning(plans::id)
            .get_result(conn)?;
        let regions: BTreeMap<i64, i64> = shops::table
            .filter(shops::id.eq_any(lines.keys().map(|(s, _)| *s).collect::<Vec<_>>()))
            .select((shops::id, shops::region))
            .load::<(i64, i64)>(conn)?
            .into_iter()
            .collect();
        let rows: Vec<_> = lines
            .iter()
            .map(|((shop, sku), (size, units))| {
                (
                    manifest_lines::plan_id.eq(plan_id),
                    manifest_lines::shop_id.eq(*shop),
                    manifest_lines::region.eq(regions.get(shop).copied().unwrap_or(0)),
                    manifest_lines::sku.eq(sku.clone()),
                    manifest_lines::units.eq(*units as i32),
                    manifest_lines::size_class.eq(size.as_str()),
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

/// Size class and units per (shop, SKU) of a plan. A SKU has one size (a forecast file
/// cannot give it two); were it given two, the line takes the larger, whose slots fit both.
pub fn manifest(plan: &Plan) -> BTreeMap<(i64, String), (SizeClass, u64)> {
    let mut lines: BTreeMap<(i64, String), (SizeClass, u64)> = BTreeMap::new();
    for a in &plan.allocations {
        let line = lines
            .entry((a.shop_id, a.sku.clone()))
            .or_insert((a.size, 0));
        line.0 = line.0.max(a.size);
        line.1 += u64::from(a.units);
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
        super::events::event(conn, id)?;
        query = query.filter(plans::event_id.eq(id));
    }
    Ok(query.load(conn)?)
}

/// A stored plan's manifest lines as `(shop external id, sku, units, size class)`, by shop id
/// then SKU (the order `pudo plan` writes them in).
pub fn manifest_rows(
    conn: &mut DbConn,
    plan_id: i64,
) -> QueryResult<Vec<(String, String, i32, String)>> {
    manifest_lines::table
        .inner_join(shops::table.on(shops::id.eq(manifest_lines::shop_id)))
        .filter(manifest_lines::plan_id.eq(plan_id))
        .select((
            shops::external_id,
            manifest_lines::sku,
            manifest_lines::units,
            manifest_lines::size_class,
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
