//! The exact staging allocator at Singles-Day scale: the CN seed network (~616,000 shops)
//! and a forecast of about 50,000 H3 resolution-8 zones × 20 SKUs drawn where people live
//! (zones are the cells of randomly drawn seed shops, which are placed by population).
//!
//! `cargo bench --bench allocator [-- ZONES...]` prints, per size: zones, rows, units, arcs,
//! solve time (median of `PUDO_BENCH_RUNS`, default 5, with a split by phase) and the process's
//! peak memory. Deterministic (fixed RNG seed).
//!
//! For bench/staging/run.sh: `PUDO_BENCH_EXPORT=DIR` writes each instance for the other
//! solvers; `PUDO_BENCH_LEMON=1` also solves each instance with LEMON's network simplex (the
//! `mcmf` crate) right after each pudo run; `PUDO_BENCH_TIMINGS=FILE` appends every run's
//! timings and objective as JSON lines (`PUDO_BENCH_ROUND` labels them, with rayon's thread
//! count: `RAYON_NUM_THREADS=1` times pudo on one core).

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
    // The same arcs raw (little-endian) for allocator_vs_mcf.py, with pudo's integer cost.
    let raw = |name: &str, bytes: &mut dyn Iterator<Item = Vec<u8>>| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join(name)).expect(name));
        for b in bytes {
            w.write_all(&b).expect("write");
        }
    };
    raw(
        "arc_zone.u32",
        &mut inst.arcs.iter().map(|a| a.0.to_le_bytes().to_vec()),
    );
    raw(
        "arc_shop.u32",
        &mut inst.arcs.iter().map(|a| a.1.to_le_bytes().to_vec()),
    );
    raw(
        "arc_km.f64",
        &mut inst.arcs.iter().map(|a| a.2.to_le_bytes().to_vec()),
    );
    raw(
        "arc_cost.i64",
        &mut inst
            .arcs
            .iter()
            .map(|a| micrometres(a.2).to_le_bytes().to_vec()),
    );
}

/// pudo's integer cost of an arc of `km` (allocator.rs: metres rounded to micrometres).
fn micrometres(km: f64) -> i64 {
    (km * 1000.0 * 1e6).round() as i64
}

/// One LEMON solve: (seconds adding the edges, seconds in `GraphBuilder::mcmf`, objective km
/// recomputed from the flows with the exact distances, units routed, units unmet).
///
/// The `mcmf` crate takes i32 costs and runs LEMON's `NetworkSimplex<SmartDigraph>`, whose
/// flows, costs and node potentials are 32-bit ints (its artificial arcs cost 2^30), so pudo's
/// micrometres (the 50 km penalty is 5e10) cannot be passed: costs are scaled so that the
/// penalty is 2^24 (units of ~3 mm), leaving potentials room below 2^30. The crate therefore
/// solves a coarser rounding of the model; bench/staging/lemon_ns.cpp runs the same LEMON
/// code with 64-bit costs on pudo's exact integers.
fn lemon(inst: &allocator::Instance, penalty_km: f64) -> (f64, f64, f64, u64, u64) {
    use mcmf::{Capacity, Cost, GraphBuilder, Vertex};
    let penalty_um = micrometres(penalty_km);
    let unit_um = (penalty_um + (1 << 24) - 1) / (1 << 24);
    let cost = |um: i64| Cost(((um as f64) / unit_um as f64).round() as i32);
    let nz = inst.zones.len() as u32;
    let started = std::time::Instant::now();
    let mut g = GraphBuilder::<u32>::new();
    let mut reached = vec![false; inst.shops.len()];
    for (zi, &(_, units)) in inst.zones.iter().enumerate() {
        let units = units as i32;
        g.add_edge(Vertex::Source, zi as u32, Capacity(units), Cost(0));
        g.add_edge(zi as u32, Vertex::Sink, Capacity(units), cost(penalty_um));
    }
    for &(z, s, km) in &inst.arcs {
        let units = inst.zones[z as usize].1 as i32;
        g.add_edge(z, nz + s, Capacity(units), cost(micrometres(km)));
        reached[s as usize] = true;
    }
    for (si, &(_, capacity)) in inst.shops.iter().enumerate() {
        if reached[si] {
            g.add_edge(
                nz + si as u32,
                Vertex::Sink,
                Capacity(capacity as i32),
                Cost(0),
            );
        }
    }
    let built = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let (_, paths) = g.mcmf();
    let solved = started.elapsed().as_secs_f64();
    // Not timed: the objective from the flows, with each arc's exact distance.
    let mut first = vec![0usize; inst.zones.len() + 1];
    for &(z, _, _) in &inst.arcs {
        first[z as usize + 1] += 1;
    }
    for i in 0..inst.zones.len() {
        first[i + 1] += first[i];
    }
    let (mut km_total, mut routed, mut unmet) = (0.0, 0u64, 0u64);
    for path in &paths {
        for f in path.edges() {
            match (&f.a, &f.b) {
                (Vertex::Source, _) => routed += u64::from(f.amount),
                (&Vertex::Node(z), Vertex::Sink) if z < nz => {
                    unmet += u64::from(f.amount);
                    km_total += penalty_km * f64::from(f.amount);
                }
                (&Vertex::Node(z), &Vertex::Node(s)) => {
                    let arcs = &inst.arcs[first[z as usize]..first[z as usize + 1]];
                    let km = arcs
                        .iter()
                        .find(|a| a.1 == s - nz)
                        .expect("a flow on a candidate arc")
                        .2;
                    km_total += km * f64::from(f.amount);
                }
                _ => {}
            }
        }
    }
    (built, solved, km_total, routed, unmet)
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
            // The seed declares no sizes: every slot L, which any unit may take.
            room_s: 0,
            room_m: 0,
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
                // A forecast without a `size` column: the single-class model.
                size: pudo::network::sizes::SizeClass::S,
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
        // LEMON on the same instance, each run right after pudo's (interleaved).
        let inst = std::env::var_os("PUDO_BENCH_LEMON")
            .map(|_| allocator::instance(&shops, &demand, &Params::default()));
        let mut lemon_times = Vec::new();
        let mut log = std::env::var_os("PUDO_BENCH_TIMINGS").map(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("timings file")
        });
        let round: u32 = std::env::var("PUDO_BENCH_ROUND")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
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
            let t = timings[timings.len() - 1];
            if let Some(log) = log.as_mut() {
                use std::io::Write;
                writeln!(
                    log,
                    "{{\"solver\": \"pudo\", \"threads\": {}, \"zones\": {zones}, \"round\": {round}, \"total_s\": {}, \"arcs_s\": {}, \"network_s\": {}, \"flow_s\": {}, \"split_s\": {}, \"objective_km\": {:?}, \"arcs\": {}, \"unmet_units\": {}}}",
                    rayon::current_num_threads(), t.0 / 1e3, t.1 / 1e3, t.2 / 1e3, t.3 / 1e3, t.4 / 1e3,
                    p.total_cost_km, p.arcs, p.unmet_units
                )
                .expect("write timings");
            }
            if let Some(inst) = &inst {
                let (built, solved, km, routed, unmet) = lemon(inst, Params::default().penalty_km);
                assert_eq!(routed, units, "LEMON routes every unit (staged or unmet)");
                let rel = (km - p.total_cost_km).abs() / p.total_cost_km.abs().max(1e-9);
                println!(
                    "zones {zones:>6}: LEMON (mcmf crate, 32-bit costs) build {:.0} ms + mcmf() {:.0} ms, objective {km:.6} km (pudo {:.6}, rel. diff {rel:.1e}), unmet {unmet}",
                    built * 1e3,
                    solved * 1e3,
                    p.total_cost_km
                );
                if let Some(log) = log.as_mut() {
                    use std::io::Write;
                    writeln!(
                        log,
                        "{{\"solver\": \"lemon\", \"zones\": {zones}, \"round\": {round}, \"build_s\": {built}, \"solve_s\": {solved}, \"objective_km\": {km:?}, \"unmet_units\": {unmet}}}"
                    )
                    .expect("write timings");
                }
                lemon_times.push(built + solved);
            }
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
        if !lemon_times.is_empty() {
            let all: Vec<String> = lemon_times
                .iter()
                .map(|t| format!("{:.0}", t * 1e3))
                .collect();
            lemon_times.sort_by(f64::total_cmp);
            println!(
                "zones {zones:>6}: LEMON (mcmf) median of {runs}: {:.0} ms (runs {} ms)",
                lemon_times[lemon_times.len() / 2] * 1e3,
                all.join(", ")
            );
        }
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
