//! A mixed order load over HTTP across several `pudo serve` instances, and the check of every
//! invariant of issue 3 on the database it leaves. Shared by the multi-instance test
//! (`tests/api/instances.rs`) and the scaling benchmark (`benches/scale.rs`, which includes
//! this directory by path), so the benchmark checks exactly what the test checks.

#![allow(
    dead_code,
    reason = "the test and the benchmark each use part of it (timed runs and searches: the benchmark)"
)]

pub mod http;
pub mod invariants;
pub mod workload;
