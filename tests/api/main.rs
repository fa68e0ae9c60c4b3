//! Integration tests: HTTP, storage on both backends, the CLI. One binary, compiled once.

mod cli;
mod customer;
mod export;
mod follow;
mod import;
mod instances;
mod keys;
mod load;
mod metrics;
mod ops;
mod pickup;
mod processes;
mod search;
mod staging;
mod support;
mod webhook_sink;
mod widget;
