//! Integration tests: HTTP, storage on both backends, the CLI. One binary, compiled once.

mod cli;
mod customer;
mod follow;
mod import;
mod keys;
mod ledger;
mod ops;
mod pickup;
mod processes;
mod returns;
mod search;
mod security;
mod staging;
mod support;
mod webhook_sink;
mod widget;
