//! pudo: a pickup-point network coordinator.
//!
//! See `ARCHITECTURE.md` for the code map. Domain modules ([`network`]) never see HTTP types;
//! [`api`] holds the thin actix-web handlers; [`db`] the two storage backends.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod ledger;
pub mod network;
pub mod output;
pub mod pickup;
pub mod server;
pub mod staging;
pub mod telemetry;
pub mod timestamps;
