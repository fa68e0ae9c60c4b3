//! `pudo seed` and `pudo import shops`: shops into the database (or a seed file), validated
//! whole first, with progress.

use super::{bar, FileFormat};
use anyhow::Context;
use indicatif::ProgressBar;
use pudo::config::Settings;
use pudo::network::import::Format;
use pudo::network::seed::{self, Country};
use pudo::network::service::{ImportError, Network};
use pudo::server;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `pudo seed`: the seed network of `country` into the database, or into a CSV file at `out`.
pub fn seed(settings: &Settings, country: Country, out: Option<&Path>) -> anyhow::Result<()> {
    let shops = seed::generate(country);
    if let Some(path) = out {
        pudo::output::write_whole(path, |out| {
            pudo::network::export::write_inputs(&shops, Format::Csv, out)
        })?;
        eprintln!(
            "wrote {} {} shops to {}",
            shops.len(),
            country.code(),
            path.display()
        );
        return Ok(());
    }
    let network = Network::new(server::open_database(settings)?);
    let bar = bar(shops.len() as u64, "storing");
    let summary = network.import(&shops, &mut |n| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    eprintln!(
        "{} seed network: {} shops inserted, {} updated (revision {})",
        country.code(),
        summary.inserted,
        summary.updated,
        summary.revision
    );
    Ok(())
}

/// `pudo import shops`: exit code 2 with every bad row listed when the file is rejected.
pub fn import_shops(
    settings: &Settings,
    file: &PathBuf,
    format: Option<FileFormat>,
) -> anyhow::Result<ExitCode> {
    let content = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let format = match format {
        Some(FileFormat::Csv) => Format::Csv,
        Some(FileFormat::Geojson) => Format::GeoJson,
        None => Format::detect(file.to_str(), &content),
    };
    let spinner = ProgressBar::new_spinner().with_message(format!("validating {}", file.display()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let parsed = pudo::network::import::parse(&content, format);
    spinner.finish_and_clear();
    let shops = match parsed {
        Ok(shops) => shops,
        Err(rejected) => {
            eprintln!("{}: rejected, nothing was imported", file.display());
            for e in &rejected.errors {
                eprintln!("  row {}, {}: {}", e.row, e.field, e.message);
            }
            if rejected.truncated {
                eprintln!(
                    "  … and more (only the first {} are listed)",
                    rejected.errors.len()
                );
            }
            return Ok(ExitCode::from(2));
        }
    };
    let network = Network::new(server::open_database(settings)?);
    let bar = bar(shops.len() as u64, "storing");
    let result = network.import(&shops, &mut |n| bar.set_position(n as u64));
    bar.finish_and_clear();
    match result {
        Ok(s) => {
            eprintln!(
                "{}: {} shops inserted, {} updated (revision {})",
                file.display(),
                s.inserted,
                s.updated,
                s.revision
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(ImportError::Rejected(_)) => unreachable_rejection(),
        Err(ImportError::Db(e)) => Err(e).context("storing the shops; nothing was imported"),
    }
}

/// `Network::import` takes validated shops, so it never rejects rows.
fn unreachable_rejection() -> anyhow::Result<ExitCode> {
    anyhow::bail!("internal error: validated shops were rejected")
}
