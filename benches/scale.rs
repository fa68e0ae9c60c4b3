//! The load tool of `bench/scale/run.sh`: the mixed order load of the multi-instance test
//! (`tests/api/load`, included by path) or searches, spread round robin over the instances
//! given, for a fixed time; then, for orders, every invariant of issue 3 on the database.
//! Prints one JSON line with the throughput; exits 1 if an invariant broke.
//!
//! ```text
//! cargo bench --bench scale -- --mode orders|search --bases http://127.0.0.1:18300,… \
//!     --database postgres://… --secret JWT_SECRET --clients 32 --seconds 20 --prefix r1
//! ```

#[path = "../tests/api/load/mod.rs"]
mod load;

use diesel::prelude::*;
use load::workload::{self, Fixture, Shop, Until};
use pudo::auth::keys::JwtSource;
use pudo::auth::{Keys, Role};
use pudo::db::schema::shops;
use pudo::db::DatabaseUrl;
use serde_json::json;
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scale: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let mut args: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` adds `--bench`.
        if flag == "--bench" {
            continue;
        }
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag:?}"))?;
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        args.insert(name.to_owned(), value);
    }
    let arg = |name: &str| {
        args.get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required"))
    };
    let number = |name: &str| -> Result<u64, String> {
        arg(name)?
            .parse()
            .map_err(|_| format!("--{name} must be a whole number"))
    };
    let mode = arg("mode")?;
    let bases: Vec<String> = arg("bases")?.split(',').map(str::to_owned).collect();
    let clients = number("clients")? as usize;
    let seconds = Duration::from_secs(number("seconds")?);
    let url = DatabaseUrl::parse(&arg("database")?).map_err(|e| e.to_string())?;
    let mut conn = url.connect().map_err(|e| e.to_string())?;
    let active: Vec<(i64, String, f64, f64)> = shops::table
        .filter(shops::status.eq("active").and(shops::capacity.gt(0)))
        .select((
            shops::id,
            shops::external_id,
            shops::latitude,
            shops::longitude,
        ))
        .order(shops::id)
        .load(&mut conn)
        .map_err(|e| e.to_string())?;
    if active.is_empty() {
        return Err("the database has no active shop with capacity".into());
    }
    match mode.as_str() {
        "search" => {
            let points: Vec<(f64, f64)> = active.iter().map(|s| (s.2, s.3)).collect();
            let (ok, bad, elapsed) = workload::search(&bases, &points, clients, seconds);
            println!(
                "{}",
                json!({
                    "mode": "search", "instances": bases.len(), "clients": clients,
                    "seconds": elapsed.as_secs_f64(), "searches": ok,
                    "searches_per_s": ok as f64 / elapsed.as_secs_f64(),
                    "failed": bad.len(),
                })
            );
            for b in bad.iter().take(10) {
                eprintln!("  {b}");
            }
            Ok(if bad.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "orders" => {
            let keys = Keys::load(
                &mut conn,
                &JwtSource::Secret(arg("secret")?),
                "pudo",
                "pudo-api",
            )
            .map_err(|e| e.to_string())?;
            let hours = chrono::Duration::hours(2);
            let token = |sub: &str, role, shop| keys.issue(sub, role, shop, hours);
            let fixture = Fixture {
                merchant: token("bench-merchant", Role::Merchant, None)
                    .map_err(|e| e.to_string())?,
                shops: active
                    .iter()
                    .map(|(id, external_id, _, _)| {
                        Ok(Shop {
                            id: *id,
                            partner: token(
                                &format!("shop:{external_id}"),
                                Role::Partner,
                                Some(*id),
                            )
                            .map_err(|e| e.to_string())?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
                decoy: None,
            };
            let prefix = args.get("prefix").cloned().unwrap_or_else(|| "run".into());
            let tally = workload::run(&bases, &fixture, clients, Until::Elapsed(seconds), &prefix);
            let secs = tally.elapsed.as_secs_f64();
            let checked = load::invariants::check(&mut conn, &tally);
            let reservations = tally
                .reservations
                .iter()
                .filter(|r| !r.repeat && r.status == 201)
                .count();
            println!(
                "{}",
                json!({
                    "mode": "orders", "instances": bases.len(), "clients": clients,
                    "seconds": secs, "requests": tally.requests,
                    "requests_per_s": tally.requests as f64 / secs,
                    "reservations": reservations,
                    "handovers": tally.orders_done() - reservations,
                    "orders_per_s": tally.orders_done() as f64 / secs,
                    "invariants": if checked.is_ok() { "ok" } else { "BROKEN" },
                })
            );
            match checked {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(bad) => {
                    for b in &bad {
                        eprintln!("  invariant broken: {b}");
                    }
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        other => Err(format!("--mode must be orders or search, not {other:?}")),
    }
}
