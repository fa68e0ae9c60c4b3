//! The load tool of `bench/midnight/run.sh`: a Singles-Day midnight (issue 18) on the seed
//! network of the database given — reservations on a Zipf law over the shops ranked by their
//! city's population, retries, then arrivals and handovers of a share of them
//! (`tests/api/load/midnight.rs`, included by path) — and afterwards every invariant of the
//! mixed-load test on the database. Prints a summary to stderr and one JSON line to stdout;
//! exits 1 if an invariant broke or any request failed (5xx or transport).
//!
//! ```text
//! cargo bench --bench midnight -- --bases http://127.0.0.1:18480 --database postgres://… \
//!     --secret JWT_SECRET [--clients 64] [--seconds 60] [--zipf 0.9] [--repeat 10]
//!     [--handover-share 0.25] [--replay 4] [--phase-limit SECONDS] [--prefix m]
//! ```

#[path = "../tests/api/load/mod.rs"]
mod load;

use diesel::prelude::*;
use load::figures::{Phase, Report, KINDS};
use load::midnight::{self, Network, Plan};
use load::skew::{rank_by_city, Zipf};
use load::workload::Until;
use pudo::auth::keys::JwtSource;
use pudo::auth::{Keys, Role};
use pudo::db::schema::{shop_load, shops};
use pudo::db::DatabaseUrl;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("midnight: {e}");
            ExitCode::from(2)
        }
    }
}

struct Args(HashMap<String, String>);

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = HashMap::new();
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
        Ok(Self(args))
    }

    fn text(&self, name: &str) -> Result<String, String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required"))
    }

    fn number<T: std::str::FromStr>(
        &self,
        name: &str,
        default: T,
        what: &str,
    ) -> Result<T, String> {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name} must be {what}, not {v:?}")),
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let args = Args::parse()?;
    let bases: Vec<String> = args.text("bases")?.split(',').map(str::to_owned).collect();
    let clients: usize = args.number("clients", 64, "a whole number")?;
    let seconds: u64 = args.number("seconds", 60, "a whole number of seconds")?;
    let exponent: f64 = args.number("zipf", 0.9, "a number ≥ 0")?;
    let plan = Plan {
        clients,
        reserve: Until::Elapsed(Duration::from_secs(seconds)),
        phase_limit: Duration::from_secs(args.number("phase-limit", seconds, "a whole number")?),
        repeat_one_in: args.number("repeat", 10, "a whole number (0: no retries)")?,
        handover_share: args.number("handover-share", 0.25, "a number from 0 to 1")?,
        replay_one_in: args.number("replay", 4, "a whole number (0: no replays)")?,
        prefix: args.0.get("prefix").cloned().unwrap_or_else(|| "m".into()),
    };
    if clients == 0 || !(0.0..=1.0).contains(&plan.handover_share) {
        return Err("--clients must be at least 1 and --handover-share from 0 to 1".into());
    }
    let url = DatabaseUrl::parse(&args.text("database")?).map_err(|e| e.to_string())?;
    let mut conn = url.connect().map_err(|e| e.to_string())?;

    let loading = Instant::now();
    let active: Vec<(i64, String)> = shops::table
        .inner_join(shop_load::table)
        .filter(shops::status.eq("active"))
        .filter(shops::capacity.gt(shop_load::live))
        .select((shops::id, shops::external_id))
        .order(shops::id)
        .load(&mut conn)
        .map_err(|e| e.to_string())?;
    let ranked = rank_by_city(&active, pudo::network::seed::PLACES_CSV);
    let skew = Zipf::new(ranked.len(), exponent)
        .ok_or("the database has no active shop with a free slot, or --zipf is below 0")?;
    let external: HashMap<i64, String> = active.into_iter().collect();
    let keys = Keys::load(
        &mut conn,
        &JwtSource::Secret(args.text("secret")?),
        "pudo",
        "pudo-api",
    )
    .map_err(|e| e.to_string())?;
    let hours = chrono::Duration::hours(3);
    let partner = |id: i64| {
        keys.issue(
            &format!("shop:{}", external[&id]),
            Role::Partner,
            Some(id),
            hours,
        )
        .unwrap_or_default()
    };
    let network = Network {
        merchant: keys
            .issue("midnight-merchant", Role::Merchant, None, hours)
            .map_err(|e| e.to_string())?,
        skew,
        ranked,
        partner: &partner,
    };
    eprintln!(
        "midnight: {} shops ranked by city in {:.1} s; Zipf {exponent}: the top tenth draw {:.1} %, the first shop {:.2} %",
        network.ranked.len(),
        loading.elapsed().as_secs_f64(),
        100.0 * network.skew.share_of_top(network.ranked.len().div_ceil(10)),
        100.0 * network.skew.share_of_top(1),
    );
    eprintln!(
        "midnight: {clients} clients, reservations for {seconds} s, then arrivals and handovers of {} % of them (each phase ≤ {} s)",
        plan.handover_share * 100.0,
        plan.phase_limit.as_secs()
    );

    let report = midnight::run(&bases, &network, &plan)?;

    let checking = Instant::now();
    let checked = load::invariants::check(&mut conn, &report.tally);
    let full: i64 = shop_load::table
        .inner_join(shops::table)
        .filter(shop_load::live.ge(shops::capacity))
        .count()
        .get_result(&mut conn)
        .map_err(|e| e.to_string())?;
    let line = summary(&report, &plan, bases.len(), full, &checked, exponent);
    eprintln!(
        "midnight: invariants checked in {:.1} s: {}",
        checking.elapsed().as_secs_f64(),
        match &checked {
            Ok(c) => format!(
                "all hold ({} parcels, {} events, {} audited attempts)",
                c.parcels, c.events, c.attempts
            ),
            Err(bad) => format!("{} BROKEN", bad.len()),
        }
    );
    print_human(&line);
    println!("{line}");
    let mut ok = report.errors == 0;
    if let Err(bad) = &checked {
        for b in bad {
            eprintln!("  invariant broken: {b}");
        }
        ok = false;
    }
    for u in report.tally.unexpected.iter().take(20) {
        eprintln!("  error or unexpected answer: {u}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The run as one JSON object.
fn summary(
    report: &Report,
    plan: &Plan,
    instances: usize,
    full_shops: i64,
    checked: &Result<load::invariants::Checked, Vec<String>>,
    exponent: f64,
) -> Value {
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let ms = |x: f64| (x * 100.0).round() / 100.0;
    let mut latency = Map::new();
    for kind in KINDS {
        if let (Some(p50), Some(p99)) =
            (report.latency_ms(kind, 0.5), report.latency_ms(kind, 0.99))
        {
            latency.insert(
                kind.into(),
                json!({"n": report.latencies[kind].len(), "p50_ms": ms(p50), "p99_ms": ms(p99)}),
            );
        }
    }
    let [reserve, arrive, hand] = &report.phases;
    let refusing: std::collections::HashSet<i64> = report
        .tally
        .reservations
        .iter()
        .filter(|r| r.status == 409)
        .map(|r| r.shop)
        .collect();
    let first_sends = report
        .tally
        .reservations
        .iter()
        .filter(|r| !r.repeat)
        .count();
    json!({
        "instances": instances,
        "clients": plan.clients,
        "zipf": exponent,
        "reserve": {
            "seconds": round(reserve.elapsed.as_secs_f64()),
            "requests_per_s": round(reserve.rate()),
            "requests_per_s_sustained": round(Phase::sustained(&reserve.per_second, reserve.elapsed)),
            "created_per_s": round(reserve.done_rate()),
            "created_per_s_sustained": round(Phase::sustained(&reserve.done_per_second, reserve.elapsed)),
            "per_second": reserve.per_second,
            "created_per_second": reserve.done_per_second,
            "orders": first_sends,
            "to_top_tenth": report.to_top_tenth,
        },
        "arrive": {
            "seconds": round(arrive.elapsed.as_secs_f64()),
            "arrivals_per_s": round(arrive.done_rate()),
            "requests_per_s": round(arrive.rate()),
        },
        "handover": {
            "seconds": round(hand.elapsed.as_secs_f64()),
            "handovers_per_s": round(hand.done_rate()),
            "handovers_per_s_sustained": round(Phase::sustained(&hand.done_per_second, hand.elapsed)),
            "requests_per_s": round(hand.rate()),
            "per_second": hand.done_per_second,
        },
        "latency": latency,
        "refusals": report.refusals,
        "refusing_shops": refusing.len(),
        "full_shops_at_end": full_shops,
        "errors": report.errors,
        "unexpected": report.unexpected,
        "requests": report.tally.requests,
        "invariants": match checked {
            Ok(c) => json!({"ok": true, "parcels": c.parcels, "events": c.events, "attempts": c.attempts}),
            Err(bad) => json!({"ok": false, "broken": bad.len()}),
        },
    })
}

fn print_human(line: &Value) {
    let r = &line["reserve"];
    eprintln!(
        "reservations: {} requests/s ({} sustained: median of per-second counts), {} created/s; {} orders, {:.1} % to the top tenth of the shops",
        r["requests_per_s"], r["requests_per_s_sustained"], r["created_per_s"], r["orders"],
        100.0 * r["to_top_tenth"].as_f64().unwrap_or(0.0) / r["orders"].as_f64().unwrap_or(1.0).max(1.0)
    );
    eprintln!("  per second: {}", r["per_second"]);
    eprintln!(
        "arrivals: {}/s; handovers: {}/s ({} sustained)",
        line["arrive"]["arrivals_per_s"],
        line["handover"]["handovers_per_s"],
        line["handover"]["handovers_per_s_sustained"]
    );
    eprintln!("latency (ms): {}", line["latency"]);
    eprintln!(
        "refusals: {} from {} shops; shops full at the end: {}; errors (5xx, transport): {}; unexpected answers: {}",
        line["refusals"], line["refusing_shops"], line["full_shops_at_end"], line["errors"], line["unexpected"]
    );
}
