//! The exact staging allocator at Singles-Day scale: the CN seed network (~616,000 shops)
//! and a forecast of about 50,000 H3 resolution-8 zones × 20 SKUs drawn where people live
//! (zones are the cells of randomly drawn seed shops, which are placed by population).
//!
//! `cargo bench --bench allocator [-- ZONES...]` prints, per size: zones, rows, units, arcs,
//! solve time (median of `PUDO_BENCH_RUNS`, default 5, with a split by phase) and the process's
//! peak memory. Deterministic (fixed RNG seed).

use h3o::{LatLng, Resolution};
use pudo::network::seed::{self, Country};
use pudo::staging::allocator::{self, DemandRow, Params, Stage, StagingShop};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Writes the single-commodity instance as CSV for `bench/allocator_vs_highs.py`.
fn export(dir: &std::path::Path, shops: &[StagingShop], demand: &[DemandRow]) {
    use std::io::Write;
    std::fs::create_dir_all(dir).expect("export dir");
    let inst = allocator::instance(shops, demand, &Params::default());
    let mut w =
        std::io::BufWriter::new(std::fs::File::create(dir.join("zones.csv")).expect("zones.csv"));
    for (_, units) in &inst.zones {
        writeln!(w, "{units}").expect("write");
    }
    let mut w =
        std::io::BufWriter::new(std::fs::File::create(dir.join("shops.csv")).expect("shops.csv"));
    for (_, capacity) in &inst.shops {
        writeln!(w, "{capacity}").expect("write");
    }
    let mut w =
        std::io::BufWriter::new(std::fs::File::create(dir.join("arcs.csv")).expect("arcs.csv"));
    for (z, s, d) in &inst.arcs {
        writeln!(w, "{z},{s},{d:?}").expect("write");
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![2_000, 5_000, 10_000, 50_000]
    } else {
        sizes
    };
    let network = seed::generate(Country::Cn);
    let shops: Vec<StagingShop> = network
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == pudo::network::ShopStatus::Active)
        .map(|(i, s)| StagingShop {
            id: i as i64 + 1,
            latitude: s.latitude,
            longitude: s.longitude,
            capacity: s.capacity as u32,
            // As stored in the database at import (resolution 9).
            cell: LatLng::new(s.latitude, s.longitude)
                .ok()
                .map(|ll| ll.to_cell(Resolution::Nine)),
        })
        .collect();
    println!(
        "CN network: {} active shops, {} staging units",
        shops.len(),
        shops.iter().map(|s| u64::from(s.capacity)).sum::<u64>()
    );
    for zones in sizes {
        let mut rng = ChaCha8Rng::seed_from_u64(1111);
        let mut cells = BTreeSet::new();
        while cells.len() < zones {
            let s = &network[rng.random_range(0..network.len())];
            if let Ok(ll) = LatLng::new(s.latitude, s.longitude) {
                cells.insert(ll.to_cell(Resolution::Eight));
            }
        }
        let demand: Vec<DemandRow> = cells
            .iter()
            .flat_map(|&zone| (0..20).map(move |k| (zone, k)))
            .map(|(zone, k)| DemandRow {
                zone,
                sku: format!("SKU-{k:02}"),
                units: rng.random_range(0..=8),
            })
            .collect();
        let units: u64 = demand.iter().map(|r| u64::from(r.units)).sum();
        if let Ok(dir) = std::env::var("PUDO_BENCH_EXPORT") {
            export(
                &std::path::Path::new(&dir).join(format!("instance_{zones}")),
                &shops,
                &demand,
            );
        }
        // Several runs per size; the median is reported, with where the time went in the
        // median run (from the solver's own progress callbacks).
        let runs: usize = std::env::var("PUDO_BENCH_RUNS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(5)
            .max(1);
        let mut timings = Vec::with_capacity(runs);
        let mut plan = None;
        for _ in 0..runs {
            let started = std::time::Instant::now();
            let mut marks = [None; 3];
            let p = allocator::solve(&shops, &demand, &Params::default(), &mut |stage| {
                let k = match stage {
                    Stage::BuildingArcs { .. } => 0,
                    Stage::Solving { .. } => 1,
                    Stage::Splitting => 2,
                };
                marks[k].get_or_insert_with(|| started.elapsed());
            })
            .expect("solves");
            let total = started.elapsed();
            let ms = |d: Option<std::time::Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e3);
            timings.push((
                total.as_secs_f64() * 1e3,
                ms(marks[0]),
                ms(marks[1]) - ms(marks[0]),
                ms(marks[2]) - ms(marks[1]),
                total.as_secs_f64() * 1e3 - ms(marks[2]),
            ));
            plan = Some(p);
        }
        let plan = plan.expect("at least one run");
        let all: Vec<String> = timings.iter().map(|t| format!("{:.0}", t.0)).collect();
        timings.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median = timings[timings.len() / 2];
        println!(
            "zones {zones:>6}: median of {runs}: {:.0} ms (runs {} ms) = candidate arcs {:.0} + network {:.0} + flow {:.0} + SKU split {:.0}",
            median.0,
            all.join(", "),
            median.1,
            median.2,
            median.3,
            median.4
        );
        if let Ok(dir) = std::env::var("PUDO_BENCH_EXPORT") {
            let result = format!(
                "{{\"zones\": {zones}, \"arcs\": {}, \"total_cost_km\": {}, \"solve_ms\": {}}}\n",
                plan.arcs,
                plan.total_cost_km,
                median.0.round()
            );
            std::fs::write(
                std::path::Path::new(&dir).join(format!("instance_{zones}/pudo.json")),
                result,
            )
            .expect("write result");
        }
        println!(
            "zones {zones:>6}: rows {:>8}, units {units:>8}, arcs {:>9}, solve {:>7} ms (last run), served {:>8}, unmet {:>7}, cost {:.3} km, peak RSS {:.0} MiB",
            demand.len(),
            plan.arcs,
            plan.solve_ms,
            plan.served_units,
            plan.unmet_units,
            plan.total_cost_km,
            peak_rss_mib()
        );
    }
}
