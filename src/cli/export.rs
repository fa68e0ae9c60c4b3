//! `pudo export network` and `pudo export plans`: files from the database, each written whole
//! or not at all.

use super::{bar, FileFormat};
use anyhow::Context;
use pudo::config::Settings;
use pudo::network::import::Format;
use pudo::output::{write_whole, OutputError};
use pudo::server;
use std::path::Path;
use std::process::ExitCode;

/// The format asked for, or the one the output's extension names (CSV otherwise). A format
/// that contradicts the extension is refused rather than writing a file its name misdescribes.
fn format_for(format: Option<FileFormat>, out: Option<&Path>) -> anyhow::Result<Format> {
    let extension = out
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let named = match extension.as_deref() {
        Some("geojson" | "json") => Some(FileFormat::Geojson),
        Some("csv") => Some(FileFormat::Csv),
        _ => None,
    };
    let chosen = match (format, named) {
        (Some(f), Some(n)) if f != n => anyhow::bail!(
            "--format {} does not match the extension of --out {}; use a .{} file name or \
             leave --format out",
            if f == FileFormat::Csv {
                "csv"
            } else {
                "geojson"
            },
            out.map(|p| p.display().to_string()).unwrap_or_default(),
            if f == FileFormat::Csv {
                "csv"
            } else {
                "geojson"
            },
        ),
        (Some(f), _) | (None, Some(f)) => f,
        (None, None) => FileFormat::Csv,
    };
    Ok(match chosen {
        FileFormat::Csv => Format::Csv,
        FileFormat::Geojson => Format::GeoJson,
    })
}

/// Writes every shop to `out` (or standard output) in a format `pudo import shops` reads.
pub fn network(
    settings: &Settings,
    format: Option<FileFormat>,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let format = format_for(format, out)?;
    if let Some(path) = out {
        // Refuse before touching the database: a missing directory is the usual mistake.
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|d| !d.is_dir()) {
            anyhow::bail!(
                "cannot write {}: the directory {} does not exist",
                path.display(),
                dir.display()
            );
        }
    }
    let pool = server::open_database(settings)?;
    let mut conn = pool.get()?;
    let progress = bar(0, "exporting");
    let mut tick = |done: u64, total: u64| {
        progress.set_length(total);
        progress.set_position(done);
    };
    let written = match out {
        Some(path) => write_whole(path, |w| {
            pudo::network::export::export(&mut conn, format, w, &mut tick)
        })
        .map_err(|e| match e {
            OutputError::Io { .. } => anyhow::anyhow!("{e}"),
            OutputError::Content(e) => anyhow::anyhow!("{e}; {} was not written", path.display()),
        })?,
        None => {
            let stdout = std::io::stdout().lock();
            pudo::network::export::export(
                &mut conn,
                format,
                std::io::BufWriter::new(stdout),
                &mut tick,
            )?
        }
    };
    progress.finish_and_clear();
    eprintln!(
        "exported {written} shops{}",
        out.map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the stored plans (of one event, or all) into `out/plan-<id>/`.
pub fn plans(settings: &Settings, event: Option<i64>, out: &Path) -> anyhow::Result<ExitCode> {
    use pudo::staging::export::{stored_plan_files, write_plan_dir};
    if out.exists() && !out.is_dir() {
        anyhow::bail!("--out {} exists and is not a directory", out.display());
    }
    let pool = server::open_database(settings)?;
    let mut conn = pool.get()?;
    let ids = pudo::staging::plans::plan_ids(&mut conn, event)?;
    if ids.is_empty() {
        eprintln!(
            "no stored plans{}; nothing written",
            event.map(|e| format!(" for event {e}")).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for id in &ids {
        let files = stored_plan_files(&mut conn, *id)?;
        let dir = out.join(format!("plan-{id}"));
        write_plan_dir(&dir, &files)
            .with_context(|| format!("writing plan {id} to {}", dir.display()))?;
    }
    eprintln!(
        "exported {} plan(s) to {}/plan-<id>/{{plan.json,manifests.csv,map.svg}}",
        ids.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
