//! File fuzzing (issue 8): the shop importer (CSV and GeoJSON), the forecast importer and the
//! opening-hours parser fed arbitrary bytes and structure-aware mutations of valid files.
//!
//! What every property checks: no panic; the answer is either the exact shops/rows that were
//! written, or a rejection whose every error names a row and a field in words. Inputs are
//! bounded (a few KiB, at most a few dozen rows) and the parsers are linear, so a hang would
//! show as a test that does not finish rather than through any timer.
//!
//! `PUDO_FUZZ_CASES` sets the cases per property (default [`support::DEFAULT_CASES`], a few
//! seconds in all); `docs/fuzzing.md` describes the long run.

mod forecast;
mod hours;
mod shop_gen;
mod shops_csv;
mod shops_geojson;
mod support;
