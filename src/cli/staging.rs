//! `pudo plan`: a staging plan for a forecast file on the current network, written as files
//! (the same pipeline as `POST /v1/events/{id}/plans`, without storing it).

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pudo::config::Settings;
use pudo::server;
use pudo::staging::allocator::Params;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Solves and writes `plan.json`, `manifests.csv` and `map.svg` into `out`; exit code 2 when
/// the forecast or a parameter is rejected.
pub fn plan(
    settings: &Settings,
    forecast: &PathBuf,
    params: Params,
    capacity: Option<u32>,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    use pudo::staging::{allocator, plans, report};
    let content =
        std::fs::read(forecast).with_context(|| format!("reading {}", forecast.display()))?;
    let rows = match pudo::staging::forecast::parse(&content) {
        Ok(rows) => rows,
        Err(rejected) => {
            eprintln!("{}: rejected", forecast.display());
            for e in &rejected.errors {
                eprintln!("  row {}, {}: {}", e.row, e.field, e.message);
            }
            return Ok(ExitCode::from(2));
        }
    };
    let demand: Vec<allocator::DemandRow> = rows
        .into_iter()
        .map(|r| allocator::DemandRow {
            zone: r.zone,
            sku: r.sku,
            units: r.units,
            size: r.size,
        })
        .collect();
    let pool = server::open_database(settings)?;
    let mut conn = pool.get()?;
    let units: u64 = demand.iter().map(|r| u64::from(r.units)).sum();
    eprintln!("{} forecast rows ({units} units)", demand.len());
    let bar = ProgressBar::new(1).with_message("finding candidate shops");
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let solved = plans::solve(
        &mut conn,
        &demand,
        &params,
        capacity,
        None,
        &mut |stage| match stage {
            allocator::Stage::BuildingArcs { done, total } => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
            allocator::Stage::Solving { left } => {
                bar.set_message("routing units");
                bar.set_length(units);
                bar.set_position(units - left.min(units));
            }
            allocator::Stage::Splitting => bar.set_message("splitting over SKUs"),
        },
    );
    bar.finish_and_clear();
    let (plan, shops) = match solved {
        Ok(solved) => solved,
        Err(pudo::staging::StagingError::Invalid { field, message }) => {
            eprintln!("--{}: {message}", field.replace('_', "-"));
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let external = pudo::network::store::external_ids(&mut conn)?;
    let manifests = plans::manifest(&plan)
        .into_iter()
        .map(|((shop, sku), (size, units))| {
            (
                external.get(&shop).cloned().unwrap_or_default(),
                sku,
                units,
                size.as_str().to_owned(),
            )
        })
        .collect();
    let summary = serde_json::json!({
        "total_cost_km": plan.total_cost_km,
        "served_units": plan.served_units,
        "unmet_units": plan.unmet_units,
        "shops_used": plan.shops_used,
        "arcs": plan.arcs,
        "solve_ms": plan.solve_ms,
        "parameters": {"radius_km": params.radius_km, "penalty_km": params.penalty_km, "staging_capacity": capacity},
        "report": report::report(&plan, &shops),
    });
    let files = pudo::staging::export::PlanFiles {
        summary,
        manifests,
        map_svg: report::map_svg(&plan, &shops),
    };
    pudo::staging::export::write_plan_dir(out, &files)?;
    eprintln!(
        "plan: {} units staged at {} shops, {} unmet, cost {:.3} km, solved in {} ms; wrote {}/{{plan.json,manifests.csv,map.svg}}",
        plan.served_units,
        plan.shops_used,
        plan.unmet_units,
        plan.total_cost_km,
        plan.solve_ms,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
