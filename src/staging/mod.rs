//! Peak-day staging: events, demand forecasts, the exact allocator, plans with their
//! life-cycle, per-shop manifests, receipts and the staged stock they create.
//!
//! Pure domain code: no HTTP types. SQL by what it holds: [`events`], [`demand`] (forecasts
//! in the database), [`plans`], [`receipts`] (manifests as partners see them) and [`stock`].

pub mod allocator;
pub mod demand;
mod error;
pub mod events;
pub mod export;
pub mod forecast;
mod mcf;
pub mod plans;
pub mod receipts;
pub mod report;
pub mod stock;

pub use error::StagingError;
