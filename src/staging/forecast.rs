//! Demand forecasts: `zone,sku,units[,size]` files, validated all or nothing like shop
//! imports.

use crate::network::import::{Lines, Rejected, RowError, MAX_ERRORS};
use crate::network::sizes::SizeClass;
use h3o::{CellIndex, Resolution};
use std::collections::HashMap;

/// Finest and coarsest zone resolutions accepted.
pub const ZONE_RESOLUTIONS: std::ops::RangeInclusive<u8> = 5..=10;

/// One validated forecast row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastRow {
    /// H3 cell of the zone.
    pub zone: CellIndex,
    /// SKU.
    pub sku: String,
    /// Expected units.
    pub units: u32,
    /// Size class of the SKU's units (`S` when the file does not say).
    pub size: SizeClass,
}

/// Parses a forecast CSV with the header `zone,sku,units` or `zone,sku,units,size`. `size` is
/// the size class of the SKU's units (`S`, `M` or `L`; empty or absent: `S`, the smallest).
/// Repeated (zone, sku) pairs are an error (a planner's file should say each once), and so is
/// a SKU given two sizes (one product has one size; its manifest lines and staged stock are
/// per SKU); `row` numbers are file lines.
pub fn parse(content: &[u8]) -> Result<Vec<ForecastRow>, Rejected> {
    let mut errors = Vec::new();
    let mut truncated = false;
    let mut push = |errors: &mut Vec<RowError>, row: usize, field: &str, message: String| {
        if errors.len() < MAX_ERRORS {
            errors.push(RowError {
                row,
                field: field.into(),
                message,
            });
        } else {
            truncated = true;
        }
    };
    let lines = Lines::new(content);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(content);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|c| c.trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect(),
        Err(e) => {
            push(
                &mut errors,
                1,
                "header",
                format!("cannot read the header: {e}"),
            );
            return Err(Rejected { errors, truncated });
        }
    };
    let fields = if header == ["zone", "sku", "units"] {
        3
    } else if header == ["zone", "sku", "units", "size"] {
        4
    } else {
        push(
            &mut errors,
            1,
            "header",
            format!(
                "the header must be zone,sku,units or zone,sku,units,size (found {})",
                header.join(",")
            ),
        );
        return Err(Rejected { errors, truncated });
    };
    let mut rows = Vec::new();
    let mut seen: HashMap<(CellIndex, String), usize> = HashMap::new();
    // The first row giving each SKU, and the size it gave.
    let mut sizes: HashMap<String, (SizeClass, usize)> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line(p.byte()));
                push(&mut errors, line, "*", format!("unreadable row: {e}"));
                continue;
            }
        };
        let row = record.position().map_or(0, |p| lines.line(p.byte()));
        if record.len() != fields {
            push(
                &mut errors,
                row,
                "*",
                format!("expected {fields} fields, found {}", record.len()),
            );
            continue;
        }
        let zone = match record[0].parse::<CellIndex>() {
            Ok(cell) if ZONE_RESOLUTIONS.contains(&u8::from(cell.resolution())) => Some(cell),
            Ok(cell) => {
                let res = u8::from(cell.resolution());
                push(
                    &mut errors,
                    row,
                    "zone",
                    format!("{} has resolution {res}; use 5 to 10", &record[0]),
                );
                None
            }
            Err(_) => {
                push(
                    &mut errors,
                    row,
                    "zone",
                    format!("{:?} is not an H3 cell index in hex", &record[0]),
                );
                None
            }
        };
        let sku = record[1].to_owned();
        let sku_ok =
            !sku.is_empty() && sku.chars().count() <= 64 && !sku.chars().any(char::is_control);
        if !sku_ok {
            push(
                &mut errors,
                row,
                "sku",
                "must be 1 to 64 printable characters".into(),
            );
        }
        let units = match record[2].parse::<i64>() {
            Ok(u) if (0..=10_000_000).contains(&u) => Some(u as u32),
            Ok(u) => {
                push(
                    &mut errors,
                    row,
                    "units",
                    format!("{u} is out of range (0 to 10000000)"),
                );
                None
            }
            Err(_) => {
                push(
                    &mut errors,
                    row,
                    "units",
                    format!("{:?} is not a whole number", &record[2]),
                );
                None
            }
        };
        let size = match record.get(3).unwrap_or("") {
            "" => Some(SizeClass::S),
            text => match text.parse::<SizeClass>() {
                Ok(size) => Some(size),
                Err(message) => {
                    push(&mut errors, row, "size", message);
                    None
                }
            },
        };
        if let (true, Some(size)) = (sku_ok, size) {
            match sizes.get(&sku) {
                Some(&(other, first)) if other != size => {
                    push(
                        &mut errors,
                        row,
                        "size",
                        format!("sku {sku:?} is size {other} in row {first}; a SKU has one size"),
                    );
                    continue;
                }
                Some(_) => {}
                None => {
                    sizes.insert(sku.clone(), (size, row));
                }
            }
        }
        if let (Some(zone), true, Some(units), Some(size)) = (zone, sku_ok, units, size) {
            if let Some(first) = seen.insert((zone, sku.clone()), row) {
                push(
                    &mut errors,
                    row,
                    "zone",
                    format!("zone {zone} and sku {sku:?} already appear in row {first}"),
                );
            } else {
                rows.push(ForecastRow {
                    zone,
                    sku,
                    units,
                    size,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(Rejected { errors, truncated })
    }
}

/// The resolution-3 region key of a zone.
pub fn region_of(zone: CellIndex) -> CellIndex {
    zone.parent(Resolution::Three).unwrap_or(zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (row, field) of each error.
    fn fields(err: &Rejected) -> Vec<(usize, &str)> {
        err.errors
            .iter()
            .map(|e| (e.row, e.field.as_str()))
            .collect()
    }

    #[test]
    fn good_file() {
        let rows = parse(b"zone,sku,units\n88390cb1b1fffff,PHONE-1,12\n88390cb1b1fffff,TV-2,0\n")
            .expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].units, 12);
        assert_eq!(u8::from(rows[0].zone.resolution()), 8);
    }

    #[test]
    fn every_bad_row_is_listed() {
        let body = "zone,sku,units\n\
                    88390cb1b1fffff,A,1\n\
                    nothex,A,1\n\
                    83390cfffffffff,A,1\n\
                    88390cb1b1fffff,,1\n\
                    88390cb1b1fffff,B,-1\n\
                    88390cb1b1fffff,C,lots\n\
                    88390cb1b1fffff,A,3\n\
                    88390cb1b1fffff,A\n";
        let err = parse(body.as_bytes()).expect_err("bad");
        let fields = fields(&err);
        assert_eq!(
            fields,
            [
                (3, "zone"),
                (4, "zone"),
                (5, "sku"),
                (6, "units"),
                (7, "units"),
                (8, "zone"),
                (9, "*")
            ]
        );
        assert!(err.errors[5].message.contains("row 2"));
    }

    #[test]
    fn rows_are_numbered_by_line_with_windows_line_ends() {
        let err = parse(b"zone,sku,units\r\n88390cb1b1fffff,A,1\r\n88390cb1b1fffff,B,x\r\n")
            .expect_err("bad units");
        assert_eq!(
            (err.errors[0].row, err.errors[0].field.as_str()),
            (3, "units")
        );
    }

    #[test]
    fn header_must_match() {
        let err = parse(b"cell,sku,units\n").expect_err("bad header");
        assert_eq!(err.errors[0].field, "header");
        let err = parse(b"zone,sku,units,colour\n").expect_err("bad header");
        assert_eq!(err.errors[0].field, "header");
    }

    #[test]
    fn without_a_size_column_every_unit_is_the_smallest_class() {
        let rows = parse(b"zone,sku,units\n88390cb1b1fffff,PHONE-1,12\n").expect("valid");
        assert_eq!(rows[0].size, SizeClass::S);
    }

    #[test]
    fn the_size_column_gives_each_sku_its_class() {
        let rows = parse(
            b"zone,sku,units,size\n88390cb1b1fffff,PHONE,3,s\n88390cb1b1fffff,TV,2,L\n\
              88390cb1b1fffff,KETTLE,1,M\n88390cb1b1fffff,CARD,4,\n88390cb1b3fffff,TV,1,L\n",
        )
        .expect("valid");
        let sizes: Vec<(&str, SizeClass)> = rows.iter().map(|r| (r.sku.as_str(), r.size)).collect();
        assert_eq!(
            sizes,
            [
                ("PHONE", SizeClass::S),
                ("TV", SizeClass::L),
                ("KETTLE", SizeClass::M),
                ("CARD", SizeClass::S),
                ("TV", SizeClass::L)
            ]
        );
    }

    #[test]
    fn a_bad_size_names_row_and_field_and_nothing_is_taken() {
        let body = "zone,sku,units,size\n\
                    88390cb1b1fffff,A,1,S\n\
                    88390cb1b1fffff,B,1,XL\n\
                    88390cb1b3fffff,A,1,M\n\
                    88390cb1b1fffff,C,1\n";
        let err = parse(body.as_bytes()).expect_err("bad");
        let fields = fields(&err);
        assert_eq!(fields, [(3, "size"), (4, "size"), (5, "*")]);
        assert!(
            err.errors[0].message.contains("\"XL\""),
            "{}",
            err.errors[0].message
        );
        assert!(
            err.errors[1].message.contains("row 2"),
            "{}",
            err.errors[1].message
        );
    }
}
