//! The `pudo` command line (clap): one file per command group, each calling the library's
//! domain functions (no SQL here). Settings come from the environment (docs/operations.md).

mod auth;
mod export;
mod ledger;
mod network;
mod staging;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pudo::auth::Role;
use pudo::config::Settings;
use pudo::network::seed::Country;
use pudo::server;
use pudo::staging::allocator::Params;
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
    /// Apply pending database migrations, seal names stored in clear before, and exit.
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
    /// Move parcels past their holding period to expired and erase the e-mail addresses and
    /// names of customers whose parcels ended over PUDO_CUSTOMER_DATA_DAYS ago (serve does both
    /// every minute).
    Sweep,
    /// Show or change the fee schedule partners are paid by.
    Fees {
        #[command(subcommand)]
        what: ledger::FeesCommand,
    },
    /// Write monthly statements (a calendar month in UTC) of one shop or of every shop paid
    /// that month, with progress.
    Statements {
        /// The month, YYYY-MM.
        #[arg(long)]
        month: pudo::ledger::Month,
        /// json or csv.
        #[arg(long, value_enum, default_value = "json")]
        format: ledger::StatementFormat,
        /// With --shop: the file to write; without: a directory for one file per shop plus
        /// summary-MONTH.csv. Default: standard output.
        #[arg(long)]
        out: Option<ledger::OutPath>,
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
/// Parses the command line and runs the command; errors are printed, never a panic.
pub fn main() -> ExitCode {
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
            let pool = server::open_database(&settings)?;
            // Names stored in clear before they were sealed need the data key (see serve).
            server::seal_clear_names(&pool, &server::load_keys(&pool, &settings)?)?;
            eprintln!(
                "migrations are up to date on {}",
                settings.database.redacted()
            );
        }
        Command::Seed { country, out } => network::seed(&settings, country, out.as_deref())?,
        Command::Import {
            what: ImportWhat::Shops { file, format },
        } => return network::import_shops(&settings, &file, format),
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
        } => auth::token(&settings, role, sub, shop, ttl_hours)?,
        Command::PartnerKey { shop } => auth::partner_key(&settings, &shop)?,
        Command::Plan {
            forecast,
            radius_km,
            penalty_km,
            staging_capacity,
            out,
        } => {
            return staging::plan(
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
            ledger::fees_command(&mut *server::open_database(&settings)?.get()?, what)?;
        }
        Command::Statements {
            month,
            format,
            out,
            shop,
        } => {
            ledger::statements_command(
                &mut *server::open_database(&settings)?.get()?,
                month,
                format,
                out.as_deref(),
                shop.as_deref(),
            )?;
        }
        Command::Sweep => {
            let pool = server::open_database(&settings)?;
            let now = chrono::Utc::now().naive_utc();
            let expired = pudo::pickup::sweep(&mut *pool.get()?, now)?;
            eprintln!("{expired} parcel(s) moved to expired");
            let days = settings.mail.erase_after_days;
            let erased = pudo::pickup::contacts::erase_ended(&mut *pool.get()?, now, days)?;
            eprintln!(
                "{erased} customer e-mail address(es) erased (parcels ended over {days} days ago)"
            );
            let names = pudo::pickup::names::erase_ended(&mut *pool.get()?, now, days)?;
            eprintln!("{names} parcel(s) with names erased (ended over {days} days ago)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar over `len` shops.
fn bar(len: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_message(message);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} shops ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}
