//! The forecast importer (`zone,sku,units[,size]`): valid files in every layout, with and
//! without the size column, read back exactly; one bad field, a repeated (zone, SKU), a SKU
//! given two sizes, a wrong field count, a wrong header or a foreign encoding is named by row
//! and field; truncated, mutated and arbitrary bytes never panic.

use crate::support::{byte_edits, config, csv_text, latin1, layout, names, noise_properties};
use crate::support::{overwritten_and_cut, utf16le, well_formed, Layout};
use h3o::{CellIndex, LatLng, Resolution};
use proptest::prelude::*;
use proptest::sample::Index;
use pudo::network::import::Rejected;
use pudo::network::sizes::SizeClass;
use pudo::staging::forecast::{parse, ForecastRow, ZONE_RESOLUTIONS};
use std::collections::HashSet;

/// A valid forecast file.
#[derive(Debug, Clone)]
struct ForecastFile {
    rows: Vec<ForecastRow>,
    /// Zones in capital hex digits.
    upper_zone: bool,
    /// Header in capitals.
    shout: bool,
    /// With the `size` column (else every row is `S`).
    sized: bool,
    layout: Layout,
}

fn zone() -> impl Strategy<Value = CellIndex> {
    (-85.0..85.0f64, -180.0..180.0f64, ZONE_RESOLUTIONS).prop_map(|(lat, lon, res)| {
        LatLng::new(lat, lon)
            .expect("generated location")
            .to_cell(Resolution::try_from(res).expect("resolution"))
    })
}

fn row() -> impl Strategy<Value = ForecastRow> {
    (
        zone(),
        "[A-Za-z0-9é中][A-Za-z0-9 ,\"._/é中-]{0,30}[A-Za-z0-9]",
        0..=10_000_000u32,
        prop::sample::select(SizeClass::ALL.to_vec()),
    )
        .prop_map(|(zone, sku, units, size)| ForecastRow {
            zone,
            sku,
            units,
            size,
        })
}

fn file(max_rows: usize) -> impl Strategy<Value = ForecastFile> {
    (
        prop::collection::vec(row(), 1..=max_rows),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        layout(),
    )
        .prop_map(|(rows, upper_zone, shout, sized, layout)| {
            let mut seen = HashSet::new();
            // One size per SKU (its first row's), S without the column.
            let mut sizes = std::collections::HashMap::new();
            let rows = rows
                .into_iter()
                .filter(|r| seen.insert((r.zone, r.sku.clone())))
                .map(|mut r| {
                    r.size = if sized {
                        *sizes.entry(r.sku.clone()).or_insert(r.size)
                    } else {
                        SizeClass::S
                    };
                    r
                })
                .collect();
            ForecastFile {
                rows,
                upper_zone,
                shout,
                sized,
                layout,
            }
        })
}

impl ForecastFile {
    fn lines(&self) -> Vec<Vec<String>> {
        let names: &[&str] = if self.sized {
            &["zone", "sku", "units", "size"]
        } else {
            &["zone", "sku", "units"]
        };
        let header = names.iter().map(|h| {
            if self.shout {
                h.to_ascii_uppercase()
            } else {
                (*h).to_owned()
            }
        });
        let mut lines = vec![header.collect::<Vec<_>>()];
        for r in &self.rows {
            let zone = r.zone.to_string();
            lines.push(vec![
                if self.upper_zone {
                    zone.to_ascii_uppercase()
                } else {
                    zone
                },
                r.sku.clone(),
                r.units.to_string(),
            ]);
            if self.sized {
                lines.last_mut().expect("row").push(r.size.to_string());
            }
        }
        lines
    }

    fn text(&self) -> String {
        csv_text(&self.lines(), self.layout)
    }
}

fn last_row(bytes: &[u8]) -> usize {
    2 + bytes
        .iter()
        .filter(|b| **b == b'\n' || **b == b'\r')
        .count()
}

fn check_any(bytes: &[u8]) -> Result<Vec<ForecastRow>, TestCaseError> {
    match parse(bytes) {
        Ok(rows) => {
            let mut seen = HashSet::new();
            let mut sizes = std::collections::HashMap::new();
            for r in &rows {
                let size = *sizes.entry(r.sku.clone()).or_insert(r.size);
                prop_assert_eq!(size, r.size, "{:?} of two sizes", r.sku);
                prop_assert!(ZONE_RESOLUTIONS.contains(&u8::from(r.zone.resolution())));
                prop_assert!(!r.sku.is_empty() && r.sku.chars().count() <= 64);
                prop_assert!(!r.sku.chars().any(char::is_control));
                prop_assert!(r.units <= 10_000_000);
                prop_assert!(seen.insert((r.zone, r.sku.clone())), "{r:?} twice");
            }
            Ok(rows)
        }
        Err(rejected) => {
            well_formed(&rejected, 1..=last_row(bytes))?;
            Ok(Vec::new())
        }
    }
}

/// Values that must be refused in field `f` (0 zone, 1 sku, 2 units, 3 size) of a row with
/// `zone`.
fn bad_values(f: usize, zone: CellIndex) -> Vec<String> {
    match f {
        0 => {
            let res = |r: u8| Resolution::try_from(r).expect("resolution");
            let hex = zone.to_string();
            vec![
                String::new(),
                "nothex".into(),
                "0".into(),
                "ffffffffffffffff".into(),
                "1ffffffffffffffff".into(),
                format!("0x{hex}"),
                format!("{hex}0"),
                format!("{} {}", &hex[..4], &hex[4..]),
                zone.parent(res(4)).expect("parent").to_string(),
                zone.center_child(res(11)).expect("child").to_string(),
                zone.center_child(res(15)).expect("child").to_string(),
            ]
        }
        1 => vec![String::new(), "x".repeat(65), "a\u{1}b".into()],
        3 => ["XL", "small", "0", "S M", "SS", "\u{1}"]
            .map(str::to_owned)
            .to_vec(),
        _ => [
            "-1",
            "10000001",
            "1.5",
            "NaN",
            "1e3",
            "99999999999999999999",
            "",
            "ten",
            "0x10",
        ]
        .map(str::to_owned)
        .to_vec(),
    }
}

fn read(bytes: &[u8]) -> Result<Vec<ForecastRow>, Rejected> {
    parse(bytes)
}

const FORECAST_FRAGMENTS: &[&str] = &[
    "zone,sku,units",
    "zone,sku,units,size",
    ",L",
    "88390cb1b1fffff",
    "85390cb3fffffff",
    ",PHONE-1,",
    "12",
    "10000000",
    "\"TV, 55\"\"\"",
];

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn valid_forecasts_read_back_exactly(f in file(16)) {
        prop_assert_eq!(read(f.text().as_bytes()), Ok(f.rows.clone()), "{}", f.text());
    }

    #[test]
    fn one_bad_field_is_named_by_row_and_field(
        f in file(8),
        row in any::<Index>(),
        field in 0usize..4,
        value in any::<Index>(),
    ) {
        // The size field only in files with the column.
        let field = if f.sized { field } else { field % 3 };
        let r = row.index(f.rows.len());
        let bad = bad_values(field, f.rows[r].zone);
        let bad = &bad[value.index(bad.len())];
        let mut lines = f.lines();
        lines[r + 1][field] = bad.clone();
        let text = csv_text(&lines, f.layout);
        let name = ["zone", "sku", "units", "size"][field];
        let err = read(text.as_bytes()).expect_err(&format!("{name} = {bad:?} accepted"));
        well_formed(&err, 1..=last_row(text.as_bytes()))?;
        prop_assert!(names(&err, r + 2, name), "{:?} in\n{}", err.errors, text);
        prop_assert!(err.errors.iter().all(|e| e.row == r + 2), "{:?}", err.errors);
    }

    #[test]
    fn a_repeated_zone_and_sku_is_named_on_its_second_row(
        f in file(8).prop_filter("two rows", |f| f.rows.len() >= 2),
        pick in any::<(Index, Index)>(),
    ) {
        let second = 1 + pick.0.index(f.rows.len() - 1);
        let first = pick.1.index(second);
        let mut lines = f.lines();
        lines[second + 1][0] = lines[first + 1][0].clone();
        lines[second + 1][1] = lines[first + 1][1].clone();
        if f.sized {
            // The same size too: a SKU given two sizes is another error.
            lines[second + 1][3] = lines[first + 1][3].clone();
        }
        let err = read(csv_text(&lines, f.layout).as_bytes()).expect_err("repeated pair");
        prop_assert_eq!(err.errors.len(), 1);
        prop_assert!(names(&err, second + 2, "zone"), "{:?}", err.errors);
        let earlier = format!("row {}", first + 2);
        prop_assert!(err.errors[0].message.contains(&earlier), "{:?}", err.errors);
    }

    #[test]
    fn a_sku_given_two_sizes_is_named_on_its_later_row(
        f in file(8).prop_filter("two rows, sized", |f| f.rows.len() >= 2 && f.sized),
        pick in any::<(Index, Index)>(),
    ) {
        let second = 1 + pick.0.index(f.rows.len() - 1);
        let first = pick.1.index(second);
        let mut lines = f.lines();
        // The later row gets the earlier row's SKU (in another zone) and another size.
        prop_assume!(f.rows[first].zone != f.rows[second].zone);
        lines[second + 1][1] = lines[first + 1][1].clone();
        let other = SizeClass::ALL.into_iter().find(|&c| c != f.rows[first].size).expect("another class");
        lines[second + 1][3] = other.to_string();
        let err = read(csv_text(&lines, f.layout).as_bytes()).expect_err("two sizes");
        prop_assert!(names(&err, second + 2, "size"), "{:?}", err.errors);
    }

    #[test]
    fn a_row_with_a_field_too_many_or_too_few_is_named(
        f in file(8),
        row in any::<Index>(),
        extra in any::<bool>(),
    ) {
        let r = row.index(f.rows.len());
        let mut lines = f.lines();
        if extra {
            lines[r + 1].push("3".into());
        } else {
            lines[r + 1].pop();
        }
        let err = read(csv_text(&lines, f.layout).as_bytes()).expect_err("field count");
        prop_assert_eq!(err.errors.len(), 1);
        prop_assert!(names(&err, r + 2, "*"), "{:?}", err.errors);
    }

    #[test]
    fn a_wrong_header_is_named(f in file(4), header in prop::collection::vec("[a-z_ ]{0,8}", 1..5)) {
        // A header line with nothing on it is a blank line, which CSV readers skip.
        prop_assume!(header != [""]);
        let trimmed: Vec<&str> = header.iter().map(|h| h.trim()).collect();
        prop_assume!(trimmed != ["zone", "sku", "units"] && trimmed != ["zone", "sku", "units", "size"]);
        let mut lines = f.lines();
        lines[0] = header;
        let err = read(csv_text(&lines, f.layout).as_bytes()).expect_err("wrong header");
        prop_assert_eq!(err.errors.len(), 1);
        prop_assert!(names(&err, 1, "header"), "{:?}", err.errors);
    }

    #[test]
    fn latin1_files_name_each_row_with_accents(f in file(8)) {
        let mut f = f;
        for r in &mut f.rows {
            r.sku = r.sku.replace('中', "ñ");
        }
        let bytes = latin1(&f.text().replace('\u{feff}', "")).expect("latin-1 text");
        let accented: Vec<usize> = f
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.sku.is_ascii())
            .map(|(i, _)| i + 2)
            .collect();
        match read(&bytes) {
            Ok(rows) => {
                prop_assert!(accented.is_empty());
                prop_assert_eq!(rows, f.rows);
            }
            Err(err) => {
                let rows: Vec<usize> = err.errors.iter().map(|e| e.row).collect();
                prop_assert_eq!(rows, accented);
                prop_assert!(err.errors.iter().all(|e| e.field == "*"), "{:?}", err.errors);
            }
        }
    }

    #[test]
    fn utf16_files_are_refused_at_the_header(f in file(4)) {
        let err = read(&utf16le(&f.text())).expect_err("UTF-16");
        prop_assert_eq!(err.errors.len(), 1);
        prop_assert!(names(&err, 1, "header"), "{:?}", err.errors);
    }

    #[test]
    fn truncated_and_mutated_files_never_panic(
        f in file(8),
        cut in any::<Index>(),
        edits in byte_edits(4),
    ) {
        check_any(&overwritten_and_cut(f.text().into_bytes(), &edits, cut))?;
    }
}

noise_properties!(check_any, FORECAST_FRAGMENTS);
