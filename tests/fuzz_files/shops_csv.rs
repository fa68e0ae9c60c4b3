//! The shop importer on CSV: valid files in every layout read back exactly; one bad field,
//! a repeated id, a wrong field count, a foreign encoding or a bad header is named by row and
//! field; truncated, mutated and arbitrary bytes never panic.

use crate::shop_gen::{bad_values, check_accepted, shops, GenShop};
use crate::support::{config, csv_text, latin1, layout, names, noise_properties, utf16le};
use crate::support::{well_formed, Layout};
use proptest::prelude::*;
use proptest::sample::Index;
use pudo::network::import::{parse, Format, COLUMNS};
use pudo::network::ShopInput;

/// A valid shop file: its shops, which columns it has in which order, how it is written.
#[derive(Debug, Clone)]
struct CsvFile {
    shops: Vec<GenShop>,
    /// Column numbers (into `COLUMNS`) in file order.
    columns: Vec<usize>,
    /// Header names in capitals.
    shout: bool,
    layout: Layout,
}

fn file(max_shops: usize) -> impl Strategy<Value = CsvFile> {
    (
        shops(max_shops),
        any::<[bool; 3]>(),
        any::<bool>(),
        layout(),
    )
        .prop_flat_map(|(shops, optional, shout, layout)| {
            let mut columns: Vec<usize> = (0..5).collect();
            // Hours are read in the shop's time zone, so a file with hours has time zones.
            let with_hours = optional[1];
            for (i, present) in optional.iter().enumerate() {
                if *present || (i == 0 && with_hours) {
                    columns.push(5 + i);
                }
            }
            Just(columns)
                .prop_shuffle()
                .prop_map(move |columns| CsvFile {
                    shops: shops.clone(),
                    columns,
                    shout,
                    layout,
                })
        })
}

impl CsvFile {
    fn present(&self) -> [bool; 3] {
        [5, 6, 7].map(|c| self.columns.contains(&c))
    }

    fn lines(&self) -> Vec<Vec<String>> {
        let header = self
            .columns
            .iter()
            .map(|&c| {
                if self.shout {
                    COLUMNS[c].to_ascii_uppercase()
                } else {
                    COLUMNS[c].to_owned()
                }
            })
            .collect();
        let mut lines = vec![header];
        for s in &self.shops {
            lines.push(self.columns.iter().map(|&c| s.value(c)).collect());
        }
        lines
    }

    fn text(&self) -> String {
        csv_text(&self.lines(), self.layout)
    }

    fn expected(&self) -> Vec<ShopInput> {
        let present = self.present();
        self.shops.iter().map(|s| s.expected(present)).collect()
    }

    /// The position in the file of column `c`.
    fn position(&self, c: usize) -> Option<usize> {
        self.columns.iter().position(|&x| x == c)
    }
}

fn read(bytes: &[u8]) -> Result<Vec<ShopInput>, pudo::network::import::Rejected> {
    parse(bytes, Format::Csv)
}

/// The largest row number a file can have: one per line terminator, plus the last line.
fn last_row(bytes: &[u8]) -> usize {
    2 + bytes
        .iter()
        .filter(|b| **b == b'\n' || **b == b'\r')
        .count()
}

/// Either accepted shops that satisfy every invariant, or a well-formed rejection.
fn check_any(bytes: &[u8]) -> Result<Vec<ShopInput>, TestCaseError> {
    match read(bytes) {
        Ok(shops) => {
            check_accepted(&shops)?;
            Ok(shops)
        }
        Err(rejected) => {
            well_formed(&rejected, 1..=last_row(bytes))?;
            Ok(Vec::new())
        }
    }
}

const CSV_FRAGMENTS: &[&str] = &[
    "external_id,name,latitude,longitude,capacity",
    ",timezone,opening_hours,status",
    "external_id",
    "name",
    "latitude",
    "capacity",
    "opening_hours",
    "a-1,Kiosko,40.4,-3.7,10",
    "Europe/Madrid",
    "Mo-Fr 09:00-14:00",
    "active",
    "\"Sol, \"\"centro\"\"\"",
    ",,,",
];

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn valid_files_read_back_exactly(f in file(12)) {
        prop_assert_eq!(read(f.text().as_bytes()), Ok(f.expected()), "{}", f.text());
    }

    #[test]
    fn one_bad_field_is_named_by_row_and_field(
        f in file(8),
        row in any::<Index>(),
        column in any::<Index>(),
        value in any::<Index>(),
    ) {
        let c = f.columns[column.index(f.columns.len())];
        let bad = &bad_values(c);
        let bad = &bad[value.index(bad.len())];
        let r = row.index(f.shops.len());
        let mut lines = f.lines();
        lines[r + 1][f.position(c).expect("column")] = bad.clone();
        let text = csv_text(&lines, f.layout);
        let err = read(text.as_bytes()).expect_err(&format!("{} = {bad:?} accepted", COLUMNS[c]));
        well_formed(&err, 1..=last_row(text.as_bytes()))?;
        prop_assert!(names(&err, r + 2, COLUMNS[c]), "{:?} in\n{}", err.errors, text);
        prop_assert!(err.errors.iter().all(|e| e.row == r + 2), "{:?}", err.errors);
    }

    #[test]
    fn no_location_at_zero_zero(f in file(6), row in any::<Index>()) {
        let r = row.index(f.shops.len());
        let mut lines = f.lines();
        lines[r + 1][f.position(2).expect("latitude")] = "0".into();
        lines[r + 1][f.position(3).expect("longitude")] = "0.0".into();
        let err = read(csv_text(&lines, f.layout).as_bytes()).expect_err("(0, 0)");
        prop_assert_eq!(err.errors.len(), 1);
        prop_assert!(names(&err, r + 2, "latitude"));
    }

    #[test]
    fn a_repeated_external_id_is_named_on_its_second_row(
        f in file(8).prop_filter("two rows", |f| f.shops.len() >= 2),
        pick in any::<(Index, Index)>(),
    ) {
        let second = 1 + pick.0.index(f.shops.len() - 1);
        let first = pick.1.index(second);
        let mut lines = f.lines();
        let id = f.position(0).expect("external_id");
        lines[second + 1][id] = lines[first + 1][id].clone();
        let err = read(csv_text(&lines, f.layout).as_bytes()).expect_err("repeated id");
        prop_assert_eq!(err.errors.len(), 1);
        prop_assert!(names(&err, second + 2, "external_id"));
        let earlier = format!("row {}", first + 2);
        prop_assert!(err.errors[0].message.contains(&earlier), "{:?}", err.errors);
    }

    #[test]
    fn a_row_with_a_field_too_many_or_too_few_is_named(
        f in file(8),
        row in any::<Index>(),
        extra in any::<bool>(),
    ) {
        let r = row.index(f.shops.len());
        let mut lines = f.lines();
        if extra {
            lines[r + 1].push("surplus".into());
        } else {
            lines[r + 1].pop();
        }
        let err = read(csv_text(&lines, f.layout).as_bytes()).expect_err("field count");
        prop_assert_eq!(err.errors.len(), 1);
        prop_assert!(names(&err, r + 2, "*"), "{:?}", err.errors);
    }

    #[test]
    fn header_problems_are_named_on_row_one(
        f in file(4),
        column in any::<Index>(),
        unknown in "[a-z_ ]{0,12}",
        problem in 0u8..3,
    ) {
        let mut lines = f.lines();
        let at = column.index(lines[0].len());
        let field = match problem {
            // An extra column pudo does not know (a typo, a phone number).
            0 => {
                prop_assume!(!COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(unknown.trim())));
                for line in &mut lines {
                    line.insert(at, unknown.clone());
                }
                unknown.trim().to_owned()
            }
            // A column twice.
            1 => {
                for line in &mut lines {
                    let copy = line[at].clone();
                    line.push(copy);
                }
                lines[0][at].clone()
            }
            // A required column missing.
            _ => {
                let at = f.position(at % 5).expect("required column");
                for line in &mut lines {
                    line.remove(at);
                }
                COLUMNS[f.columns[at]].to_owned()
            }
        };
        let text = csv_text(&lines, f.layout);
        let err = read(text.as_bytes()).expect_err("bad header");
        well_formed(&err, 1..=1)?;
        prop_assert_eq!(err.errors.len(), 1, "{:?}", err.errors);
        if !field.is_empty() {
            prop_assert_eq!(&err.errors[0].field, &field);
        }
    }

    #[test]
    fn latin1_files_name_each_row_with_accents(f in file(8)) {
        // Keep only characters ISO-8859-1 has, so the file can be written in it.
        let mut f = f;
        for s in &mut f.shops {
            s.name = s.name.chars().map(|c| if u32::from(c) > 0xff { 'ñ' } else { c }).collect();
        }
        let bytes = latin1(&f.text().replace('\u{feff}', "")).expect("latin-1 text");
        let accented: Vec<usize> = f
            .shops
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.name.is_ascii())
            .map(|(i, _)| i + 2)
            .collect();
        match read(&bytes) {
            Ok(shops) => {
                prop_assert!(accented.is_empty());
                prop_assert_eq!(shops, f.expected());
            }
            Err(err) => {
                let rows: Vec<usize> = err.errors.iter().map(|e| e.row).collect();
                prop_assert_eq!(rows, accented);
                prop_assert!(err.errors.iter().all(|e| e.field == "*" && e.message.contains("UTF-8")),
                    "{:?}", err.errors);
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
    fn truncated_files_read_a_prefix_or_are_refused(f in file(8), cut in any::<Index>()) {
        let text = f.text();
        let bytes = &text.as_bytes()[..cut.index(text.len() + 1)];
        let shops = check_any(bytes)?;
        let expected = f.expected();
        prop_assert!(shops.len() <= expected.len());
        if let Some((_, whole)) = shops.split_last() {
            prop_assert_eq!(whole, &expected[..whole.len()]);
        }
    }

    #[test]
    fn mutated_files_never_panic(
        f in file(6),
        edits in prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = f.text().into_bytes();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => bytes.push(byte),
            }
        }
        check_any(&bytes)?;
    }
}

noise_properties!(check_any, CSV_FRAGMENTS);
