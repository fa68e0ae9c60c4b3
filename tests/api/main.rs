//! Integration tests: HTTP, storage on both backends, the CLI. One binary, compiled once.

mod backup;
mod citus;
mod cli;
mod closures;
mod contract;
mod customer;
mod export;
mod follow;
mod health;
mod import;
mod instances;
mod keys;
mod ledger;
mod load;
mod metrics;
mod ops;
mod pickup;
mod processes;
mod returns;
mod scan_in;
mod search;
mod security;
mod staging;
mod support;
mod webhook_sink;
mod widget;
