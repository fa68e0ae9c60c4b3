//! Shared by the benches: the CN seed network as the index holds it, and the query points.

use pudo::network::geo::cell_and_region;
use pudo::network::index::IndexedShop;
use pudo::network::seed::{self, Country};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Number of query points every bench uses.
#[allow(dead_code, reason = "not every bench uses query points")]
pub const QUERY_POINTS: usize = 10_000;

/// The CN seed network as the index holds it; ids are 1.. in seed order, which is also the
/// order (and so the ids) a fresh database assigns when the same network is imported.
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
            hours: Arc::new(s.hours),
            services: s.services,
            closures: Default::default(),
            details: s.details.map(Arc::new),
            sizes: Default::default(),
            profile: Default::default(),
        })
        .collect()
}

/// Deterministic query points (fixed ChaCha8 seed): nine in ten within about 2 km of a
/// random shop of the network (so where customers are), one in ten uniform in China's
/// bounding box (which includes empty land, sea and neighbouring countries).
#[allow(dead_code, reason = "not every bench uses query points")]
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

/// Median of a set of samples (sorted in place); the upper median for an even count.
#[allow(dead_code, reason = "not every bench reports medians this way")]
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_unstable_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Resident set size of this process in KiB (Linux), for memory figures.
#[allow(dead_code, reason = "not every bench reports memory")]
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
