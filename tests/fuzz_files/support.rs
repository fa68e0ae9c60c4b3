//! Shared pieces: the case count, the checks every rejection must pass, writing CSV text the
//! ways real files are written, and foreign encodings.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use pudo::network::import::{Rejected, MAX_ERRORS};

/// Cases per property when `PUDO_FUZZ_CASES` is not set: enough to catch a regression in a
/// few seconds of a debug build.
pub const DEFAULT_CASES: u32 = 48;

/// The proptest configuration: `PUDO_FUZZ_CASES` (or [`DEFAULT_CASES`]) times `weight`, so
/// that cheap properties run more cases than those that build whole files.
pub fn config(weight: u32) -> Config {
    let cases = match std::env::var("PUDO_FUZZ_CASES") {
        Ok(v) => v
            .trim()
            .parse::<u32>()
            .unwrap_or_else(|_| panic!("PUDO_FUZZ_CASES={v:?} is not a whole number")),
        Err(_) => DEFAULT_CASES,
    };
    Config {
        cases: cases.saturating_mul(weight),
        ..Config::default()
    }
}

/// Checks what every rejection must be: at least one error, no more than the cap, and each
/// naming a row in `rows`, a field and what is wrong.
pub fn well_formed(
    rejected: &Rejected,
    rows: std::ops::RangeInclusive<usize>,
) -> Result<(), TestCaseError> {
    prop_assert!(!rejected.errors.is_empty(), "a rejection without errors");
    prop_assert!(rejected.errors.len() <= MAX_ERRORS);
    for e in &rejected.errors {
        prop_assert!(
            rows.contains(&e.row),
            "row {} not in {rows:?}: {e:?}",
            e.row
        );
        prop_assert!(!e.field.trim().is_empty(), "no field named: {e:?}");
        prop_assert!(!e.message.trim().is_empty(), "no message: {e:?}");
    }
    let first = &rejected.errors[0];
    let text = rejected.to_string();
    prop_assert!(
        text.contains(&format!("row {}, {}", first.row, first.field)),
        "{text}"
    );
    Ok(())
}

/// Whether some error is on `row` and names `field`.
pub fn names(rejected: &Rejected, row: usize, field: &str) -> bool {
    rejected
        .errors
        .iter()
        .any(|e| e.row == row && e.field == field)
}

/// How a generated CSV file is laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Line terminator: `\n`, `\r\n` or a lone `\r` (old spreadsheets).
    pub newline: &'static str,
    /// A UTF-8 byte-order mark first.
    pub bom: bool,
    /// Quote every field, not only those that need it.
    pub quote_all: bool,
    /// A terminator after the last line.
    pub final_newline: bool,
}

/// Any of the layouts spreadsheets and scripts produce.
pub fn layout() -> impl Strategy<Value = Layout> {
    (
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(newline, bom, quote_all, final_newline)| Layout {
            newline,
            bom,
            quote_all,
            final_newline,
        })
}

/// One field as a CSV writer would put it.
pub fn field(value: &str, quote_all: bool) -> String {
    let needs = value.contains([',', '"', '\r', '\n'])
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace);
    if quote_all || needs {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Lines of fields (the first is the header) as one CSV text.
pub fn csv_text(lines: &[Vec<String>], layout: Layout) -> String {
    let mut out = String::new();
    if layout.bom {
        out.push('\u{feff}');
    }
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str(layout.newline);
        }
        let fields: Vec<String> = line.iter().map(|f| field(f, layout.quote_all)).collect();
        out.push_str(&fields.join(","));
    }
    if layout.final_newline {
        out.push_str(layout.newline);
    }
    out
}

/// The text in ISO-8859-1 (what a spreadsheet saves as "CSV" on many systems), or `None` when
/// it has characters that encoding lacks.
pub fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// The text in UTF-16LE with its byte-order mark (Excel's "Unicode text").
pub fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xff, 0xfe];
    for unit in text.trim_start_matches('\u{feff}').encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// Bytes that look like a text file often enough to reach past the first check: fragments of
/// CSV and JSON syntax, numbers, special values and stray bytes.
pub fn file_like_bytes(fragments: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(fragments).prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::sample::select(&[
            ",", "\"", "\n", "\r\n", "\r", " ", "\t", "\u{feff}", "-", ".", "e", "1", "0", "9",
            "NaN", "inf", "-inf", "1e400", "99999999999999999999", "{", "}", "[", "]", ":",
            "null", "true", "é", "中", "\u{0}",
        ][..])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..8),
    ];
    prop::collection::vec(piece, 0..120).prop_map(|pieces| pieces.concat())
}

/// Up to `max - 1` single-byte overwrites, each at a chosen place of a file.
pub fn byte_edits(max: usize) -> impl Strategy<Value = Vec<(Index, u8)>> {
    prop::collection::vec((any::<Index>(), any::<u8>()), 0..max)
}

/// `bytes` with every edit applied and then cut at `cut`: a damaged copy of a valid file, the
/// kind a failed upload or a careless hand edit leaves behind.
pub fn overwritten_and_cut(mut bytes: Vec<u8>, edits: &[(Index, u8)], cut: Index) -> Vec<u8> {
    if !bytes.is_empty() {
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
    }
    bytes.truncate(cut.index(bytes.len() + 1));
    bytes
}

/// The two noise properties every file parser gets, with `$check` (a function taking `&[u8]`
/// and returning `Result<_, TestCaseError>`) judging each answer: arbitrary bytes, and bytes
/// assembled from `$fragments` of the format so that more of them reach past the first check.
macro_rules! noise_properties {
    ($check:path, $fragments:expr) => {
        proptest! {
            #![proptest_config($crate::support::config(8))]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
                $check(&bytes)?;
            }

            #[test]
            fn format_like_bytes_never_panic(
                bytes in $crate::support::file_like_bytes($fragments),
            ) {
                $check(&bytes)?;
            }
        }
    };
}
pub(crate) use noise_properties;
