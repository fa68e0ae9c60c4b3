//! Peak-day staging: events, demand forecasts, the exact allocator, plans with their
//! life-cycle, per-shop manifests, receipts and the staged stock they create.
//!
//! Pure domain code: no HTTP types; SQL only in [`store`].

pub mod allocator;
mod error;
pub mod export;
pub mod forecast;
mod mcf;
pub mod report;
pub mod store;

pub use error::StagingError;
