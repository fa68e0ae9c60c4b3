//! The `pudo` command line: serve, migrate, seed, import.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pudo::config::Settings;
use pudo::network::import::Format;
use pudo::network::seed::{self, Country};
use pudo::network::service::{ImportError, Network};
use pudo::{server, telemetry};
use std::path::PathBuf;
use std::process::ExitCode;

/// pudo: pickup-point network coordinator. Settings come from the environment (see README).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, seed an empty database (PUDO_SEED), load the geo index and serve HTTP.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load (or write) the seed network built from real place data.
    Seed {
        /// Which country's network.
        #[arg(long, value_enum, default_value = "ES")]
        country: Country,
        /// Write the network as a shop CSV to this file instead of loading it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import data files.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Import shops from CSV or GeoJSON, all or nothing; known external_ids are updated.
    Shops {
        /// The file to import.
        file: PathBuf,
        /// The file's format (default: from the extension, else from the content).
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Csv,
    Geojson,
}

fn main() -> ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_environment()?;
    match command {
        Command::Serve => {
            actix_web::rt::System::new().block_on(server::serve(settings))?;
        }
        Command::Migrate => {
            server::open_database(&settings)?;
            eprintln!(
                "migrations are up to date on {}",
                settings.database.redacted()
            );
        }
        Command::Seed {
            country,
            out: Some(path),
        } => {
            let shops = seed::generate(country);
            write_shop_csv(&path, &shops)?;
            eprintln!(
                "wrote {} {} shops to {}",
                shops.len(),
                country.code(),
                path.display()
            );
        }
        Command::Seed { country, out: None } => {
            let shops = seed::generate(country);
            let network = Network::new(server::open_database(&settings)?);
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
        }
        Command::Import {
            what: ImportWhat::Shops { file, format },
        } => return import_shops(&settings, &file, format),
    }
    Ok(ExitCode::SUCCESS)
}

fn import_shops(
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

fn bar(len: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_message(message);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} shops ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn write_shop_csv(path: &PathBuf, shops: &[pudo::network::ShopInput]) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    w.write_record(pudo::network::import::COLUMNS)?;
    for s in shops {
        w.write_record([
            s.external_id.as_str(),
            &s.name,
            &s.latitude.to_string(),
            &s.longitude.to_string(),
            &s.capacity.to_string(),
            s.timezone.name(),
            &s.hours.to_string(),
            s.status.as_str(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
