//! What a midnight run ([`super::midnight`]) measured: per phase, the requests answered and
//! the work done per second; per request kind, the latencies; refusals and errors.

use super::workload::Tally;
use std::collections::BTreeMap;
use std::time::Duration;

/// Request kinds, each with its own latencies.
pub const KINDS: [&str; 6] = ["reserve", "retry", "arrival", "read", "handover", "replay"];

/// One phase's figures.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Requests answered (any HTTP status) per whole second since the start.
    pub per_second: Vec<u64>,
    /// Of those, the work done (reservations created, parcels arrived, first handovers).
    pub done_per_second: Vec<u64>,
}

impl Phase {
    /// Work done per second over the whole phase.
    pub fn done_rate(&self) -> f64 {
        self.done_per_second.iter().sum::<u64>() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Requests answered per second over the whole phase.
    pub fn rate(&self) -> f64 {
        self.per_second.iter().sum::<u64>() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The median of the per-second counts over the whole seconds (the last, partial second
    /// left out): what the phase sustained.
    pub fn sustained(per_second: &[u64], elapsed: Duration) -> f64 {
        let whole = (elapsed.as_secs() as usize).min(per_second.len());
        let mut xs: Vec<u64> = per_second[..whole].to_vec();
        if xs.is_empty() {
            return per_second.iter().sum::<u64>() as f64 / elapsed.as_secs_f64().max(1e-9);
        }
        xs.sort_unstable();
        let n = xs.len();
        if n % 2 == 1 {
            xs[n / 2] as f64
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) as f64 / 2.0
        }
    }
}

/// What a midnight run sent, was answered and measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Every request and answer, for the invariant check.
    pub tally: Tally,
    /// Reservations, arrivals (with code reads) and handovers.
    pub phases: [Phase; 3],
    /// Latencies in microseconds per kind of [`KINDS`], sorted.
    pub latencies: BTreeMap<&'static str, Vec<u32>>,
    /// 409 answers to first reservation requests, by `reason`.
    pub refusals: BTreeMap<String, usize>,
    /// 5xx answers and transport failures.
    pub errors: usize,
    /// Other answers the API does not promise.
    pub unexpected: usize,
    /// Reservation requests (first sends) to the top tenth of the ranked shops.
    pub to_top_tenth: usize,
}

impl Report {
    /// The `q` quantile (0..=1) of a kind's latencies, in milliseconds.
    pub fn latency_ms(&self, kind: &str, q: f64) -> Option<f64> {
        let xs = self.latencies.get(kind).filter(|xs| !xs.is_empty())?;
        let i = ((xs.len() - 1) as f64 * q).round() as usize;
        Some(f64::from(xs[i]) / 1000.0)
    }
}
