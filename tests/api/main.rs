//! Integration tests: HTTP, storage on both backends, the CLI. One binary, compiled once.

mod cli;
mod closures;
mod customer;
mod follow;
mod health;
mod import;
mod keys;
mod ledger;
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
