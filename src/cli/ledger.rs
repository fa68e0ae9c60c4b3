//! The `pudo fees` and `pudo statements` commands.

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pudo::db::DbConn;
use pudo::ledger::{book, fees, statement, FeeKind, Month};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What to do with the fee schedule.
#[derive(Subcommand)]
pub enum FeesCommand {
    /// Print the whole fee schedule as CSV.
    List,
    /// Set one fee from a future day (UTC) on; the fees in force never change.
    Set {
        /// handover, dropoff, staged_unit_received or return_sent_back.
        #[arg(long)]
        kind: FeeKind,
        /// Whole minor units (e.g. cents), 0 to 1,000,000,000.
        #[arg(long)]
        amount_minor: i64,
        /// ISO 4217 code, e.g. EUR.
        #[arg(long)]
        currency: String,
        /// H3 resolution-3 region (hex) for a regional fee; none for the whole network.
        #[arg(long)]
        region: Option<String>,
        /// First day it applies, YYYY-MM-DD (after today).
        #[arg(long)]
        from: chrono::NaiveDate,
    },
}

/// Statement file format.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatementFormat {
    /// One JSON document per statement (an array of them on standard output).
    Json,
    /// CSV records (`line`, `total`, `grand_total`).
    Csv,
}

impl StatementFormat {
    fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }
}

/// `pudo fees …`
pub fn fees_command(conn: &mut DbConn, command: FeesCommand) -> anyhow::Result<()> {
    match command {
        FeesCommand::List => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            w.write_record([
                "id",
                "kind",
                "region",
                "amount_minor",
                "currency",
                "effective_from",
                "created_by",
            ])?;
            for f in fees::list(conn)? {
                w.write_record([
                    f.id.to_string(),
                    f.kind.to_string(),
                    f.region.unwrap_or_default(),
                    f.amount_minor.to_string(),
                    f.currency,
                    f.effective_from.to_string(),
                    f.created_by,
                ])?;
            }
            w.flush()?;
        }
        FeesCommand::Set {
            kind,
            amount_minor,
            currency,
            region,
            from,
        } => {
            let now = chrono::Utc::now().naive_utc();
            let fee = fees::NewFee {
                kind,
                region,
                amount_minor,
                currency,
            };
            fees::set(conn, from, &[fee], "cli", now.date(), now)?;
            eprintln!("fee set: {kind} from {from}");
        }
    }
    Ok(())
}

/// `pudo statements …`: one shop's statement, or every shop's with ledger rows in the month.
pub fn statements_command(
    conn: &mut DbConn,
    month: Month,
    format: StatementFormat,
    out: Option<&Path>,
    shop: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(external_id) = shop {
        let id = pudo::network::store::id_of(conn, external_id)?
            .with_context(|| format!("no shop with external_id {external_id:?}"))?;
        let s = book::statement(conn, id, month)?;
        let text = match format {
            StatementFormat::Json => serde_json::to_string_pretty(&s)?,
            StatementFormat::Csv => statement::to_csv(&s),
        };
        match out {
            Some(path) => {
                std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
            }
            None => println!("{}", text.trim_end()),
        }
        return Ok(());
    }
    let shops = book::shops_with_entries(conn, month)?;
    let bar = ProgressBar::new(shops.len() as u64).with_message(format!("statements {month}"));
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} shops ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    match out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut summary = csv::Writer::from_path(dir.join(format!("summary-{month}.csv")))?;
            // Fees (`events`, `amount_minor`) and, apart, the cash collected on delivery and
            // the net the shop owes (`ledger::statement::Settlement`), per currency.
            summary.write_record([
                "shop_external_id",
                "currency",
                "events",
                "amount_minor",
                "cash_collected_minor",
                "net_owed_minor",
            ])?;
            for id in &shops {
                let s = book::statement(conn, *id, month)?;
                let path = dir.join(format!(
                    "{}_{}-{month}.{}",
                    s.shop.id,
                    file_safe(&s.shop.external_id),
                    format.extension()
                ));
                let text = match format {
                    StatementFormat::Json => serde_json::to_string_pretty(&s)?,
                    StatementFormat::Csv => statement::to_csv(&s),
                };
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                for t in &s.settlement {
                    let events = s
                        .grand_totals
                        .iter()
                        .find(|g| g.currency == t.currency)
                        .map_or(0, |g| g.events);
                    summary.write_record([
                        s.shop.external_id.as_str(),
                        &t.currency,
                        &events.to_string(),
                        &t.fees_earned_minor.to_string(),
                        &t.cash_collected_minor.to_string(),
                        &t.net_owed_minor.to_string(),
                    ])?;
                }
                bar.inc(1);
            }
            summary.flush()?;
            bar.finish_and_clear();
            eprintln!(
                "{} statement(s) for {month} written to {} (with summary-{month}.csv)",
                shops.len(),
                dir.display()
            );
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            match format {
                StatementFormat::Csv => {
                    let mut w = csv::Writer::from_writer(&mut lock);
                    w.write_record(statement::CSV_COLUMNS)?;
                    for id in &shops {
                        statement::write_csv(&mut w, &book::statement(conn, *id, month)?)?;
                        bar.inc(1);
                    }
                    w.flush()?;
                }
                StatementFormat::Json => {
                    let mut all = Vec::with_capacity(shops.len());
                    for id in &shops {
                        all.push(book::statement(conn, *id, month)?);
                        bar.inc(1);
                    }
                    writeln!(lock, "{}", serde_json::to_string_pretty(&all)?)?;
                }
            }
            bar.finish_and_clear();
        }
    }
    Ok(())
}

/// A file-name-safe form of an external id (anything but letters, digits, `.`, `-` and `_`
/// becomes `_`; the shop id in front keeps names unique).
fn file_safe(external_id: &str) -> String {
    external_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Keeps `PathBuf` in the signature users see in `--help` (a file or a directory).
pub type OutPath = PathBuf;
