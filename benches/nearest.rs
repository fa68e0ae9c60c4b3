//! Nearest-10 search on the CN seed network (~616,000 shops), in process.
//!
//! Also prints the index build time and the index memory per shop. Query points are
//! deterministic: 9,000 near seed places (where customers are) and 1,000 uniform in China's
//! bounding box. Run with `cargo bench --bench nearest`.

use criterion::{criterion_group, criterion_main, Criterion};
use pudo::network::geo::cell_and_region;
use pudo::network::index::{GeoIndex, IndexedShop};
use pudo::network::seed::{self, Country};
use pudo::network::SearchFilter;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Instant;

/// The CN seed network as the index holds it.
pub fn cn_shops() -> Vec<IndexedShop> {
    seed::generate(Country::Cn)
        .into_iter()
        .enumerate()
        .map(|(i, s)| IndexedShop {
            id: i as i64 + 1,
            h3_cell: cell_and_region(s.latitude, s.longitude).map_or(0, |c| c.0),
            external_id: s.external_id.into(),
            name: s.name.into(),
            latitude: s.latitude,
            longitude: s.longitude,
            capacity: s.capacity,
            live: 0,
            status: s.status,
            timezone: s.timezone,
            hours: std::sync::Arc::new(s.hours),
        })
        .collect()
}

/// Deterministic query points: mostly near shops, some anywhere in China's bounding box.
pub fn query_points(shops: &[IndexedShop], n: usize) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(11_11);
    (0..n)
        .map(|i| {
            if i % 10 == 9 {
                (rng.random_range(18.0..53.0), rng.random_range(73.0..135.0))
            } else {
                let s = &shops[rng.random_range(0..shops.len())];
                (
                    s.latitude + rng.random_range(-0.02..0.02),
                    s.longitude + rng.random_range(-0.02..0.02),
                )
            }
        })
        .collect()
}

fn nearest(c: &mut Criterion) {
    let shops = cn_shops();
    let n = shops.len();
    let started = Instant::now();
    let index = GeoIndex::build(shops.clone());
    let build = started.elapsed();
    println!(
        "CN network: {n} shops; index build {:.0} ms; index memory {:.1} MiB ({:.0} bytes per shop)",
        build.as_secs_f64() * 1e3,
        index.memory_bytes() as f64 / 1048576.0,
        index.memory_bytes() as f64 / n as f64
    );
    let points = query_points(&shops, 10_000);
    let filter = SearchFilter::nearest(10);
    // Per-query latency distribution (criterion below reports the mean of batches).
    let mut each: Vec<u128> = Vec::with_capacity(points.len() * 5);
    for _ in 0..5 {
        for &(lat, lon) in &points {
            let t = Instant::now();
            black_box(index.search(lat, lon, &filter).len());
            each.push(t.elapsed().as_nanos());
        }
    }
    each.sort_unstable();
    let pct = |p: usize| each[(each.len() * p / 100).min(each.len() - 1)];
    println!(
        "nearest-10 per query over {} queries: median {} ns, p90 {} ns, p99 {} ns",
        each.len(),
        pct(50),
        pct(90),
        pct(99)
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
        open_at: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-11T09:30:00+08:00")
                .map_or_else(|_| chrono::Utc::now(), |t| t.to_utc()),
        ),
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
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(5));
    targets = nearest
    }
}
criterion_main!(group::benches);
