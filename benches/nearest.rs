//! Nearest-10 search on the CN seed network (~616,000 shops), in process (issue 2).
//!
//! Prints the index build time (median of 5 builds), the index memory per shop (both
//! [`GeoIndex::memory_bytes`] and the growth of the process's resident set), and the
//! distribution of single-query latencies over 10,000 deterministic query points (9,000 near
//! shops, where customers are, and 1,000 uniform in China's bounding box); criterion then
//! measures the same searches. Run with `cargo bench --bench nearest`; see BENCHMARKS.md.

mod common;

use common::{cn_shops, median, query_points, rss_kib, QUERY_POINTS};
use criterion::{criterion_group, criterion_main, Criterion};
use pudo::network::index::GeoIndex;
use pudo::network::{SearchFilter, ShopStatus};
use std::hint::black_box;
use std::time::Instant;

fn nearest(c: &mut Criterion) {
    let shops = cn_shops();
    let n = shops.len();
    let points = query_points(&shops, QUERY_POINTS);

    let rss_before = rss_kib();
    let started = Instant::now();
    let index = GeoIndex::build(shops.clone());
    let mut builds = vec![started.elapsed().as_secs_f64()];
    let rss_after = rss_kib();
    for _ in 0..4 {
        let copy = shops.clone();
        let started = Instant::now();
        let again = GeoIndex::build(copy);
        builds.push(started.elapsed().as_secs_f64());
        drop(black_box(again));
    }
    let build_ms: Vec<String> = builds.iter().map(|b| format!("{:.0}", b * 1e3)).collect();
    println!(
        "CN network: {n} shops ({} active); index build median {:.0} ms (runs: {} ms)",
        index
            .shops()
            .filter(|s| s.status == ShopStatus::Active)
            .count(),
        median(&mut builds) * 1e3,
        build_ms.join(", ")
    );
    println!(
        "index memory: memory_bytes() {:.1} MiB = {:.0} bytes per shop",
        index.memory_bytes() as f64 / 1048576.0,
        index.memory_bytes() as f64 / n as f64
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "process RSS growth over the first build: {:.1} MiB = {:.0} bytes per shop",
            (after as f64 - before as f64) / 1024.0,
            (after as f64 - before as f64) * 1024.0 / n as f64
        );
    }

    let filter = SearchFilter::nearest(10);
    // Single-query latencies (each timed alone, so including ~20 ns of clock reads).
    let mut each: Vec<f64> = Vec::with_capacity(points.len() * 5);
    let (mut near, mut anywhere) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        for (k, &(lat, lon)) in points.iter().enumerate() {
            let t = Instant::now();
            black_box(index.search(lat, lon, &filter).len());
            let ns = t.elapsed().as_nanos() as f64;
            each.push(ns);
            // Every tenth point is the uniform one (see `query_points`).
            if k % 10 == 9 {
                anywhere.push(ns);
            } else {
                near.push(ns);
            }
        }
    }
    let med = median(&mut each);
    let pct = |p: usize| each[(each.len() * p / 100).min(each.len() - 1)];
    println!(
        "nearest-10 single-query latency over {} searches: median {med:.0} ns, p90 {:.0} ns, p99 {:.0} ns, max {:.0} ns",
        each.len(),
        pct(90),
        pct(99),
        each[each.len() - 1]
    );
    println!(
        "  of which near shops: median {:.0} ns; uniform in the bounding box: median {:.0} ns",
        median(&mut near),
        median(&mut anywhere)
    );
    // The tail: the slowest points of one more pass, with how far their 10th shop is.
    let mut timed: Vec<(f64, usize)> = points
        .iter()
        .enumerate()
        .map(|(k, &(lat, lon))| {
            let t = Instant::now();
            black_box(index.search(lat, lon, &filter).len());
            (t.elapsed().as_nanos() as f64, k)
        })
        .collect();
    timed.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let slow = timed.len() / 100;
    let far = timed[..slow].iter().filter(|&&(_, k)| k % 10 == 9).count();
    let tenth_km = |k: usize| {
        let (lat, lon) = points[k];
        index
            .search(lat, lon, &filter)
            .last()
            .map_or(f64::NAN, |h| h.distance_m / 1e3)
    };
    let mut slow_km: Vec<f64> = timed[..slow].iter().map(|&(_, k)| tenth_km(k)).collect();
    let mut all_km: Vec<f64> = (0..points.len()).map(tenth_km).collect();
    println!(
        "  slowest 1% ({slow} points, from {:.0} ns): {far} are uniform points; median distance to \
         the 10th shop {:.1} km (all points: {:.1} km)",
        timed[slow - 1].0,
        median(&mut slow_km),
        median(&mut all_km)
    );

    let mut i = 0;
    c.bench_function("nearest10_cn_616k", |b| {
        b.iter(|| {
            let (lat, lon) = points[i % points.len()];
            i += 1;
            black_box(index.search(lat, lon, &filter).len())
        })
    });
    let open_filter = SearchFilter {
        open_at: chrono::DateTime::parse_from_rfc3339("2026-11-11T09:30:00+08:00")
            .ok()
            .map(|t| t.to_utc()),
        ..SearchFilter::nearest(10)
    };
    c.bench_function("nearest10_open_at_cn_616k", |b| {
        b.iter(|| {
            let (lat, lon) = points[i % points.len()];
            i += 1;
            black_box(index.search(lat, lon, &open_filter).len())
        })
    });
}

#[allow(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]
mod group {
    use super::*;
    criterion_group! {
        name = benches;
        config = Criterion::default()
            .sample_size(50)
            .measurement_time(std::time::Duration::from_secs(5));
        targets = nearest
    }
}
criterion_main!(group::benches);
