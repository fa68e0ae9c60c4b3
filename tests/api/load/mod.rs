//! A mixed order load over HTTP across several `pudo serve` instances, the Singles-Day
//! midnight load (issue 18), and the check of every invariant of issue 3 on the database they
//! leave. Shared by the multi-instance and midnight tests (`tests/api/instances.rs`,
//! `tests/api/midnight.rs`) and the benchmarks (`benches/scale.rs`, `benches/midnight.rs`,
//! which include this directory by path), so a benchmark checks exactly what a test checks.

#![allow(
    dead_code,
    reason = "the test and the benchmark each use part of it (timed runs and searches: the benchmark)"
)]

pub mod figures;
pub mod http;
pub mod invariants;
pub mod midnight;
pub mod paid;
pub mod skew;
pub mod wire;
pub mod workload;
