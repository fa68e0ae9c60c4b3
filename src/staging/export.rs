//! A plan's files, as `pudo plan` writes them and `pudo export plans` writes stored plans:
//! `plan.json` (figures, parameters, report), `manifests.csv`
//! (`shop_external_id,sku,units,size`: `size` the units' size class) and `map.svg`. Each file
//! is written whole or not at all ([`crate::output`]).

use super::plans::{self, PlanView};
use super::StagingError;
use crate::db::DbConn;
use crate::output::{write_whole, OutputError};
use std::io::Write;
use std::path::Path;

/// The three files of one plan, ready to write.
pub struct PlanFiles {
    /// Content of `plan.json`.
    pub summary: serde_json::Value,
    /// Lines of `manifests.csv`: shop external id, SKU, units, size class.
    pub manifests: Vec<(String, String, u64, String)>,
    /// Content of `map.svg`.
    pub map_svg: String,
}

/// Why plan files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlanFilesError {
    /// A file could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The CSV writer failed.
    #[error("{0}")]
    Csv(#[from] csv::Error),
    /// The JSON could not be written.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl From<OutputError<PlanFilesError>> for PlanFilesError {
    fn from(e: OutputError<PlanFilesError>) -> Self {
        match e {
            OutputError::Io { path, source } => Self::Io(std::io::Error::new(
                source.kind(),
                format!("{path}: {source}"),
            )),
            OutputError::Content(e) => e,
        }
    }
}

/// Writes `plan.json`, `manifests.csv` and `map.svg` into `dir` (created if missing).
pub fn write_plan_dir(dir: &Path, files: &PlanFiles) -> Result<(), PlanFilesError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("creating {}: {e}", dir.display())))?;
    write_whole(
        &dir.join("manifests.csv"),
        |out| -> Result<(), PlanFilesError> {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(["shop_external_id", "sku", "units", "size"])?;
            for (shop, sku, units, size) in &files.manifests {
                csv.write_record([shop.as_str(), sku.as_str(), &units.to_string(), size])?;
            }
            csv.flush()?;
            Ok(())
        },
    )?;
    write_whole(
        &dir.join("plan.json"),
        |out| -> Result<(), PlanFilesError> {
            serde_json::to_writer_pretty(&mut *out, &files.summary)?;
            out.write_all(b"\n")?;
            Ok(())
        },
    )?;
    write_whole(&dir.join("map.svg"), |out| -> Result<(), PlanFilesError> {
        out.write_all(files.map_svg.as_bytes())?;
        Ok(())
    })?;
    Ok(())
}

/// The files of a stored plan: `plan.json` holds the plan as `GET /v1/plans/{id}` shows it
/// plus the `parameters` object `pudo plan` writes.
pub fn stored_plan_files(conn: &mut DbConn, plan_id: i64) -> Result<PlanFiles, StagingError> {
    let view: PlanView = plans::plan_view(conn, plan_id)?;
    let mut summary = serde_json::to_value(&view).unwrap_or_default();
    summary["parameters"] = serde_json::json!({
        "radius_km": view.radius_km,
        "penalty_km": view.penalty_km,
    });
    let manifests = plans::manifest_rows(conn, plan_id)?
        .into_iter()
        .map(|(shop, sku, units, size)| (shop, sku, u64::try_from(units).unwrap_or(0), size))
        .collect();
    Ok(PlanFiles {
        summary,
        manifests,
        map_svg: plans::plan_map(conn, plan_id)?,
    })
}
