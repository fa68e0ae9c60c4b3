//! The `pudo` command line: serve, migrate, seed, import.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pudo::auth::Role;
use pudo::config::Settings;
use pudo::network::import::Format;
use pudo::network::seed::{self, Country};
use pudo::network::service::{ImportError, Network};
use pudo::staging::allocator::Params;
use pudo::{server, telemetry};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod cli_ledger;
mod cli {
    pub mod export;
}
use cli::export;

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
    /// Export the network or the stored staging plans to files (not a backup: see
    /// docs/operations.md).
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Mint a bearer token for an operator, planner, merchant, carrier or (for tests) a partner.
    Token {
        /// The holder's role.
        #[arg(long, value_enum)]
        role: Role,
        /// Subject: the merchant id, the carrier's name or the operator's name.
        #[arg(long, default_value = "operator")]
        sub: String,
        /// For a partner token: the shop's external id.
        #[arg(long)]
        shop: Option<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..=8760))]
        ttl_hours: i64,
    },
    /// Create or rotate a shop's partner API key; the key is printed once and stored hashed.
    PartnerKey {
        /// The shop's external id.
        #[arg(long)]
        shop: String,
    },
    /// Move parcels past their holding period to expired (serve does this every minute).
    Sweep,
    /// Show or change the fee schedule partners are paid by.
    Fees {
        #[command(subcommand)]
        what: cli_ledger::FeesCommand,
    },
    /// Write monthly statements (a calendar month in UTC) of one shop or of every shop paid
    /// that month, with progress.
    Statements {
        /// The month, YYYY-MM.
        #[arg(long)]
        month: pudo::ledger::Month,
        /// json or csv.
        #[arg(long, value_enum, default_value = "json")]
        format: cli_ledger::StatementFormat,
        /// With --shop: the file to write; without: a directory for one file per shop plus
        /// summary-MONTH.csv. Default: standard output.
        #[arg(long)]
        out: Option<cli_ledger::OutPath>,
        /// Only this shop (its external id).
        #[arg(long)]
        shop: Option<String>,
    },
    /// Compute an exact staging plan for a forecast on the network in the database and write
    /// plan.json, manifests.csv and map.svg to a directory.
    Plan {
        /// Forecast CSV `zone,sku,units` (zone: H3 cell in hex, resolution 5 to 10).
        #[arg(long)]
        forecast: PathBuf,
        /// Farthest a unit may be staged from its zone, km.
        #[arg(long, default_value_t = 3.0)]
        radius_km: f64,
        /// Cost of one unit not staged, km.
        #[arg(long, default_value_t = 50.0)]
        penalty_km: f64,
        /// Staging capacity of every shop (default: its capacity minus its live parcels).
        #[arg(long)]
        staging_capacity: Option<u32>,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
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

#[derive(Subcommand)]
enum ExportWhat {
    /// Every shop (any status) as a file `pudo import shops` reads back to the same shops.
    Network {
        /// The file's format (default: from the --out extension, else CSV).
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
        /// The file to write (replaced whole once complete); default: standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Stored staging plans: plan.json, manifests.csv and map.svg in DIR/plan-<id>/.
    Plans {
        /// Only the plans of this peak event.
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        event: Option<i64>,
        /// The directory to write into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FileFormat {
    Csv,
    Geojson,
}

/// The allocator: mimalloc's per-thread heaps serve the short-lived allocations of each request
/// (query pairs, headers, the answer) without glibc's arena locking.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            pudo::output::write_whole(&path, |out| {
                pudo::network::export::write_inputs(&shops, Format::Csv, out)
            })?;
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
        Command::Export {
            what: ExportWhat::Network { format, out },
        } => return export::network(&settings, format, out.as_deref()),
        Command::Export {
            what: ExportWhat::Plans { event, out },
        } => return export::plans(&settings, event, &out),
        Command::Token {
            role,
            sub,
            shop,
            ttl_hours,
        } => {
            let network = Network::new(server::open_database(&settings)?);
            let keys = server::load_keys(&network, &settings)?;
            let shop_id = match (&shop, role) {
                (Some(external_id), Role::Partner) => Some(
                    shop_id(&network, external_id)?
                        .with_context(|| format!("no shop with external_id {external_id:?}"))?,
                ),
                (None, Role::Partner) => anyhow::bail!("a partner token needs --shop EXTERNAL_ID"),
                (Some(_), _) => anyhow::bail!("--shop is only for partner tokens"),
                (None, _) => None,
            };
            let sub = shop.map_or(sub, |s| format!("shop:{s}"));
            println!(
                "{}",
                keys.issue(&sub, role, shop_id, chrono::Duration::hours(ttl_hours))?
            );
        }
        Command::PartnerKey { shop } => {
            let network = Network::new(server::open_database(&settings)?);
            let Some((_, key)) = pudo::auth::api_keys::rotate(&mut *network.conn()?, &shop)? else {
                anyhow::bail!("no shop with external_id {shop:?}");
            };
            eprintln!("API key for shop {shop} (shown once; any previous key no longer works):");
            println!("{key}");
        }
        Command::Plan {
            forecast,
            radius_km,
            penalty_km,
            staging_capacity,
            out,
        } => {
            return plan(
                &settings,
                &forecast,
                Params {
                    radius_km,
                    penalty_km,
                },
                staging_capacity,
                &out,
            );
        }
        Command::Fees { what } => {
            let network = Network::new(server::open_database(&settings)?);
            cli_ledger::fees_command(&mut *network.conn()?, what)?;
        }
        Command::Statements {
            month,
            format,
            out,
            shop,
        } => {
            let network = Network::new(server::open_database(&settings)?);
            cli_ledger::statements_command(
                &mut *network.conn()?,
                month,
                format,
                out.as_deref(),
                shop.as_deref(),
            )?;
        }
        Command::Sweep => {
            let network = Network::new(server::open_database(&settings)?);
            let expired =
                pudo::pickup::store::sweep(&mut *network.conn()?, chrono::Utc::now().naive_utc())?;
            eprintln!("{expired} parcel(s) moved to expired");
        }
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

fn plan(
    settings: &Settings,
    forecast: &PathBuf,
    params: Params,
    capacity: Option<u32>,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    use pudo::staging::{allocator, report, store};
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
        })
        .collect();
    let network = Network::new(server::open_database(settings)?);
    let shops = store::staging_shops(&mut *network.conn()?, capacity, None)?;
    let units: u64 = demand.iter().map(|r| u64::from(r.units)).sum();
    eprintln!(
        "{} forecast rows ({units} units), {} active shops",
        demand.len(),
        shops.len()
    );
    let bar = ProgressBar::new(1).with_message("finding candidate shops");
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let plan = allocator::solve(&shops, &demand, &params, &mut |stage| match stage {
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
    })?;
    bar.finish_and_clear();
    let external: std::collections::HashMap<i64, String> = {
        use diesel::prelude::*;
        use pudo::db::schema::shops;
        shops::table
            .select((shops::id, shops::external_id))
            .load::<(i64, String)>(&mut *network.conn()?)?
            .into_iter()
            .collect()
    };
    let manifests = store::manifest(&plan)
        .into_iter()
        .map(|((shop, sku), units)| (external.get(&shop).cloned().unwrap_or_default(), sku, units))
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

fn shop_id(network: &Network, external_id: &str) -> anyhow::Result<Option<i64>> {
    use diesel::prelude::*;
    use pudo::db::schema::shops;
    Ok(shops::table
        .filter(shops::external_id.eq(external_id))
        .select(shops::id)
        .first(&mut *network.conn()?)
        .optional()?)
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
