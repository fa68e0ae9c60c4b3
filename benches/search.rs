//! Map areas (`bbox`, points or exact clusters) and text search (`q=`) on the CN seed network
//! (~616,000 shops), in process (issue 20).
//!
//! Prints the index build time and memory with the area and text structures, then the
//! distribution of single-query latencies for families of boxes (the whole country, provinces,
//! cities, streets; random but deterministic; then each with `open_at` at three instants) and
//! of text queries (town names, town prefixes, external ids in full and in part, shop kinds),
//! each with and without a position; criterion then measures some of them. Run with `cargo bench --bench search`; see BENCHMARKS.md § Search.

mod common;

use common::{cn_shops, median, rss_kib};
use criterion::{criterion_group, criterion_main, Criterion};
use pudo::network::index::text::Query;
use pudo::network::index::GeoIndex;
use pudo::network::services::Service;
use pudo::network::{AreaAnswer, BoundingBox, SearchFilter};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Instant;

/// Boxes of one family: centred on random shops (so where the points are), `size` degrees
/// high and wide (longitude scaled by latitude).
fn boxes(
    index_shops: &[(f64, f64)],
    n: usize,
    size: std::ops::Range<f64>,
    seed: u64,
) -> Vec<BoundingBox> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (lat, lon) = index_shops[rng.random_range(0..index_shops.len())];
            let h = rng.random_range(size.clone());
            let w = h / lat.to_radians().cos().max(0.2);
            BoundingBox {
                west: (lon - w / 2.0).max(-180.0),
                south: (lat - h / 2.0).max(-90.0),
                east: (lon + w / 2.0).min(180.0),
                north: (lat + h / 2.0).min(90.0),
            }
        })
        .collect()
}

/// The mean: under load it is the mean cost of a query that bounds the throughput.
fn mean(samples: &[f64]) -> f64 {
    samples.iter().sum::<f64>() / samples.len().max(1) as f64
}

fn report(label: &str, samples: &mut [f64]) {
    let med = median(samples);
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "{label}: {} queries, mean {:.1} µs, median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, \
         max {:.1} µs",
        samples.len(),
        mean(samples) / 1e3,
        med / 1e3,
        pct(90) / 1e3,
        pct(99) / 1e3,
        samples[samples.len() - 1] / 1e3
    );
}

fn time_areas(index: &GeoIndex, label: &str, boxes: &[BoundingBox], filter: &SearchFilter<'_>) {
    let mut each = Vec::with_capacity(boxes.len() * 3);
    let (mut clustered, mut points) = (0usize, 0usize);
    for _ in 0..3 {
        for b in boxes {
            let t = Instant::now();
            let answer = index.in_area(b, filter);
            each.push(t.elapsed().as_nanos() as f64);
            match black_box(answer) {
                AreaAnswer::Clusters { .. } => clustered += 1,
                AreaAnswer::Points(_) => points += 1,
            }
        }
    }
    report(
        &format!(
            "bbox {label} ({}% answered as clusters)",
            clustered * 100 / (clustered + points).max(1)
        ),
        &mut each,
    );
}

fn search(c: &mut Criterion) {
    let shops = cn_shops();
    let n = shops.len();
    let coords: Vec<(f64, f64)> = shops.iter().map(|s| (s.latitude, s.longitude)).collect();
    let names: Vec<(String, String)> = shops
        .iter()
        .map(|s| (s.name.to_string(), s.external_id.to_string()))
        .collect();
    let rss_before = rss_kib();
    let started = Instant::now();
    let index = GeoIndex::build(shops);
    let build = started.elapsed();
    let rss_after = rss_kib();
    println!(
        "CN network: {n} shops; index build (k-d tree, area runs and text words) {:.0} ms; \
         memory_bytes() {:.1} MiB = {:.0} bytes per shop",
        build.as_secs_f64() * 1e3,
        index.memory_bytes() as f64 / 1048576.0,
        index.memory_bytes() as f64 / n as f64
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "process RSS growth over the build: {:.1} MiB",
            (after as f64 - before as f64) / 1024.0
        );
    }

    let filter = SearchFilter {
        service: Some(Service::Pickup),
        ..SearchFilter::nearest(100)
    };
    let country = [BoundingBox {
        west: 73.0,
        south: 18.0,
        east: 135.0,
        north: 53.6,
    }];
    let provinces = boxes(&coords, 1000, 2.0..8.0, 1);
    let cities = boxes(&coords, 2000, 0.1..0.6, 2);
    let streets = boxes(&coords, 2000, 0.002..0.02, 3);
    time_areas(&index, "whole country", &country.repeat(200), &filter);
    time_areas(&index, "provinces (2-8°)", &provinces, &filter);
    time_areas(&index, "cities (0.1-0.6°)", &cities, &filter);
    time_areas(&index, "streets (0.002-0.02°)", &streets, &filter);
    // Opening at an instant: a weekday night (most shops closed), a weekday morning and a
    // Sunday afternoon, each with every family of boxes.
    for at in [
        "2026-11-11T22:30:00+08:00",
        "2026-11-12T10:00:00+08:00",
        "2026-11-15T15:00:00+08:00",
    ] {
        let open = SearchFilter {
            open_at: chrono::DateTime::parse_from_rfc3339(at)
                .ok()
                .map(|t| t.to_utc()),
            service: Some(Service::Pickup),
            ..SearchFilter::nearest(100)
        };
        time_areas(
            &index,
            &format!("whole country, open_at {at}"),
            &country.repeat(200),
            &open,
        );
        time_areas(
            &index,
            &format!("provinces, open_at {at}"),
            &provinces,
            &open,
        );
        time_areas(&index, &format!("cities, open_at {at}"), &cities, &open);
        time_areas(&index, &format!("streets, open_at {at}"), &streets, &open);
    }

    // Text: what a customer or support agent types.
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let mut queries: Vec<String> = Vec::new();
    for k in 0..2000 {
        let (name, id) = &names[rng.random_range(0..names.len())];
        // "Convenience store Shanghai #12": the town is the words before '#', after the kind.
        let words: Vec<&str> = name.split_whitespace().collect();
        let town = words
            .get(words.len().saturating_sub(2))
            .copied()
            .unwrap_or("");
        queries.push(match k % 5 {
            0 => town.to_owned(),
            1 => town.chars().take(4).collect(),
            2 => id.clone(),
            3 => id.chars().take(id.len().saturating_sub(1)).collect(),
            _ => format!("{} {}", words.first().copied().unwrap_or(""), town),
        });
    }
    let parsed: Vec<Query> = queries.iter().filter_map(|q| Query::new(q)).collect();
    let text_filter = SearchFilter {
        service: Some(Service::Pickup),
        ..SearchFilter::nearest(10)
    };
    for (label, near) in [
        ("without a position", None),
        ("near a position", Some((31.2, 121.5))),
    ] {
        let mut each = Vec::new();
        let mut kinds: Vec<Vec<f64>> = vec![Vec::new(); 5];
        for _ in 0..3 {
            for (k, q) in parsed.iter().enumerate() {
                let t = Instant::now();
                black_box(index.find_text(q, near, &text_filter).len());
                let ns = t.elapsed().as_nanos() as f64;
                each.push(ns);
                kinds[k % 5].push(ns);
            }
        }
        report(&format!("q= {label}"), &mut each);
        for (kind, samples) in [
            "town",
            "town prefix (4 letters)",
            "external id",
            "external id prefix",
            "kind and town",
        ]
        .iter()
        .zip(kinds.iter_mut())
        {
            println!(
                "  {kind}: mean {:.1} µs, median {:.1} µs",
                mean(samples) / 1e3,
                median(samples) / 1e3
            );
        }
    }

    let mut i = 0;
    c.bench_function("bbox_country_cn_616k", |b| {
        b.iter(|| black_box(index.in_area(&country[0], &filter)))
    });
    c.bench_function("bbox_city_cn_616k", |b| {
        b.iter(|| {
            i += 1;
            black_box(index.in_area(&cities[i % cities.len()], &filter))
        })
    });
    let open = SearchFilter {
        open_at: chrono::DateTime::parse_from_rfc3339("2026-11-11T22:30:00+08:00")
            .ok()
            .map(|t| t.to_utc()),
        service: Some(Service::Pickup),
        ..SearchFilter::nearest(100)
    };
    c.bench_function("bbox_country_open_at_cn_616k", |b| {
        b.iter(|| black_box(index.in_area(&country[0], &open)))
    });
    c.bench_function("q_text_cn_616k", |b| {
        b.iter(|| {
            i += 1;
            black_box(
                index
                    .find_text(&parsed[i % parsed.len()], None, &text_filter)
                    .len(),
            )
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
        targets = search
    }
}
criterion_main!(group::benches);
