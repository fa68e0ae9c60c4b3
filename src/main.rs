//! The `pudo` binary: the command line of [`cli`] over the library.

use std::process::ExitCode;

mod cli;

// The global allocator: per-thread free lists for the small allocations of every request
// (measured in BENCHMARKS.md, "HTTP under load").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    pudo::telemetry::init();
    cli::main()
}
