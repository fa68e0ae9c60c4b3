//! Reading shop files (CSV or GeoJSON) into validated [`ShopInput`]s, all or nothing.
//!
//! Every row is checked before anything is stored; one bad row rejects the file with a list
//! of `{row, field, message}`. `row` is the line in a CSV file (the header is line 1, so it
//! matches a spreadsheet's row number) and the 1-based feature number in a GeoJSON file.
//!
//! Kept in one file past 500 lines on purpose: the CSV and GeoJSON readers share every field's
//! check and error wording, so a row reads the same whichever format it came in.

use super::closures;
use super::hours::WeeklyHours;
use super::services::Services;
use super::shop::{ShopInput, ShopStatus};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// Columns a shop file may have, in the documented order.
pub const COLUMNS: [&str; 27] = [
    "external_id",
    "name",
    "latitude",
    "longitude",
    "capacity",
    "timezone",
    "opening_hours",
    "status",
    "services",
    "closures",
    "street",
    "postcode",
    "city",
    "region",
    "country",
    "phone",
    "name_zh",
    "address_zh",
    "name_es",
    "address_es",
    "slots_s",
    "slots_m",
    "slots_l",
    "max_weight_kg",
    "max_dimensions_cm",
    "capabilities",
    "photo_url",
];
/// The position in [`COLUMNS`] of the first address column: from there on, the columns of
/// [`super::address::ShopDetails`].
pub const FIRST_DETAIL: usize = 10;
/// The position in [`COLUMNS`] of the first size column (`slots_s` … `max_dimensions_cm`, see
/// [`super::sizes`]); the detail columns end there.
pub const FIRST_SIZE: usize = 20;
/// The position in [`COLUMNS`] of `capabilities`, followed by `photo_url` (see
/// [`super::capabilities`]); the size columns end there.
pub const FIRST_CAPABILITY: usize = 25;
const REQUIRED: usize = 5;
/// Errors listed at most; a file with more says so with `truncated`.
pub const MAX_ERRORS: usize = 1000;
const MAX_ID_LEN: usize = 64;
const MAX_NAME_LEN: usize = 200;
const MAX_CAPACITY: i64 = 100_000;

/// The two file formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// A GeoJSON FeatureCollection of Points.
    GeoJson,
}

impl Format {
    /// Guesses the format from a file name, falling back to the first byte of the content.
    pub fn detect(name: Option<&str>, content: &[u8]) -> Self {
        let lower = name.map(str::to_ascii_lowercase).unwrap_or_default();
        if lower.ends_with(".geojson") || lower.ends_with(".json") {
            return Self::GeoJson;
        }
        if lower.ends_with(".csv") {
            return Self::Csv;
        }
        match content.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Self::GeoJson,
            _ => Self::Csv,
        }
    }
}

/// One problem with one row of a shop file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// CSV line (header = 1) or GeoJSON feature number (from 1); 0 for the file as a whole.
    pub row: usize,
    /// The column or property at fault.
    pub field: String,
    /// What is wrong, in words.
    pub message: String,
}

/// A shop file that was rejected whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, ToSchema)]
#[error("the file was rejected: {} bad row(s), first: row {}, {}: {}", errors.len(),
    errors.first().map_or(0, |e| e.row),
    errors.first().map_or("", |e| e.field.as_str()),
    errors.first().map_or("", |e| e.message.as_str()))]
pub struct Rejected {
    /// The problems found, in file order.
    pub errors: Vec<RowError>,
    /// Whether more problems were found than listed (see [`MAX_ERRORS`]).
    pub truncated: bool,
}

/// Parses and validates a whole shop file.
pub fn parse(content: &[u8], format: Format) -> Result<Vec<ShopInput>, Rejected> {
    let mut v = Validator::default();
    match format {
        Format::Csv => read_csv(content, &mut v),
        Format::GeoJson => read_geojson(content, &mut v),
    }
    v.finish()
}

/// The text fields of one row, before validation.
#[derive(Debug, Default)]
struct RawRow {
    fields: [Option<String>; COLUMNS.len()],
}

#[derive(Default)]
struct Validator {
    shops: Vec<ShopInput>,
    errors: Vec<RowError>,
    truncated: bool,
    seen: HashMap<String, usize>,
    hours: HashMap<String, Result<WeeklyHours, String>>,
    /// Whether the file has address columns (else stored addresses are kept).
    with_details: bool,
}

impl Validator {
    fn error(&mut self, row: usize, field: &str, message: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(RowError {
                row,
                field: field.to_owned(),
                message: message.into(),
            });
        } else {
            self.truncated = true;
        }
    }

    fn finish(self) -> Result<Vec<ShopInput>, Rejected> {
        if self.errors.is_empty() {
            Ok(self.shops)
        } else {
            Err(Rejected {
                errors: self.errors,
                truncated: self.truncated,
            })
        }
    }

    fn row(&mut self, row: usize, raw: RawRow) {
        let before = self.errors.len() + usize::from(self.truncated);
        let mut fields = raw.fields.into_iter();
        let [external_id, name, lat, lon, capacity, tz, hours, status, services, closures] =
            std::array::from_fn(|_| fields.next().flatten());
        let details = if self.with_details {
            self.details(row, std::array::from_fn(|_| fields.next().flatten()))
                .map(Some)
        } else {
            for _ in FIRST_DETAIL..FIRST_SIZE {
                fields.next();
            }
            Some(None)
        };
        let size_fields: [Option<String>; 5] = std::array::from_fn(|_| fields.next().flatten());
        let profile = self.profile(row, std::array::from_fn(|_| fields.next().flatten()));
        let external_id = self.text(row, 0, external_id, MAX_ID_LEN);
        let name = self.text(row, 1, name, MAX_NAME_LEN);
        let latitude = self.number(row, 2, lat, -90.0, 90.0);
        let longitude = self.number(row, 3, lon, -180.0, 180.0);
        if latitude == Some(0.0) && longitude == Some(0.0) {
            self.error(
                row,
                "latitude",
                "(0, 0) is not a shop location: the coordinates are missing",
            );
        }
        let capacity = self.capacity(row, capacity);
        let sizes = self.sizes(row, capacity, size_fields);
        let tz_text = tz.filter(|t| !t.trim().is_empty());
        let hours_text = hours.filter(|h| !h.trim().is_empty());
        let timezone = match &tz_text {
            Some(t) => match t.trim().parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    self.error(
                        row,
                        "timezone",
                        format!("unknown time zone {t:?} (use an IANA name such as Europe/Madrid)"),
                    );
                    None
                }
            },
            None if hours_text.is_some() => {
                self.error(row, "timezone", "required when opening_hours is given");
                None
            }
            None => Some(chrono_tz::UTC),
        };
        let hours = match hours_text {
            None => Some(WeeklyHours::always()),
            Some(text) => {
                let parsed = self
                    .hours
                    .entry(text.clone())
                    .or_insert_with(|| WeeklyHours::parse(&text).map_err(|e| e.reason))
                    .clone();
                parsed
                    .map_err(|reason| self.error(row, "opening_hours", reason))
                    .ok()
            }
        };
        let status = match status.filter(|s| !s.trim().is_empty()) {
            None => Some(ShopStatus::Active),
            Some(s) => s
                .parse()
                .map_err(|m: String| self.error(row, "status", m))
                .ok(),
        };
        let services = match services.filter(|s| !s.trim().is_empty()) {
            None => Some(Services::all()),
            Some(s) => Services::parse(&s)
                .map_err(|m| self.error(row, "services", m))
                .ok(),
        };
        // A file without closures leaves a shop's stored closures alone; an empty value
        // clears them.
        let closures = match closures {
            None => Some(None),
            Some(text) => closures::parse_list(&text)
                .map(Some)
                .map_err(|m| self.error(row, "closures", m))
                .ok(),
        };
        if let Some(id) = &external_id {
            if let Some(first) = self.seen.get(id) {
                let first = *first;
                self.error(
                    row,
                    "external_id",
                    format!("{id:?} already appears in row {first}"),
                );
            } else {
                self.seen.insert(id.clone(), row);
            }
        }
        if self.errors.len() + usize::from(self.truncated) != before {
            return;
        }
        if let (
            Some(external_id),
            Some(name),
            Some(latitude),
            Some(longitude),
            Some(capacity),
            Some(timezone),
            Some(hours),
            Some(status),
            Some(services),
            Some(closures),
            Some(details),
            Some(sizes),
            Some(profile),
        ) = (
            external_id,
            name,
            latitude,
            longitude,
            capacity,
            timezone,
            hours,
            status,
            services,
            closures,
            details,
            sizes,
            profile,
        ) {
            self.shops.push(ShopInput {
                external_id,
                name,
                latitude,
                longitude,
                capacity,
                timezone,
                hours,
                status,
                services,
                closures,
                details,
                sizes,
                profile,
            });
        }
    }

    fn text(
        &mut self,
        row: usize,
        col: usize,
        value: Option<String>,
        max: usize,
    ) -> Option<String> {
        let field = COLUMNS[col];
        match value.map(|v| v.trim().to_owned()) {
            None => self.error(row, field, "is required"),
            Some(v) if v.is_empty() => self.error(row, field, "is empty"),
            Some(v) if v.chars().count() > max => {
                self.error(row, field, format!("is longer than {max} characters"))
            }
            Some(v) if v.chars().any(char::is_control) => {
                self.error(row, field, "contains control characters")
            }
            Some(v) => return Some(v),
        }
        None
    }

    fn number(
        &mut self,
        row: usize,
        col: usize,
        value: Option<String>,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let field = COLUMNS[col];
        let text = self.text(row, col, value, 64)?;
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() && (min..=max).contains(&x) => Some(x),
            Ok(_) => {
                self.error(
                    row,
                    field,
                    format!("{text} is out of range ({min} to {max})"),
                );
                None
            }
            Err(_) => {
                self.error(row, field, format!("{text:?} is not a number"));
                None
            }
        }
    }

    fn capacity(&mut self, row: usize, value: Option<String>) -> Option<i32> {
        let text = self.text(row, 4, value, 32)?;
        match text.parse::<i64>() {
            Ok(c) if (0..=MAX_CAPACITY).contains(&c) => i32::try_from(c).ok(),
            Ok(c) => {
                self.error(
                    row,
                    "capacity",
                    format!("{c} is out of range (0 to {MAX_CAPACITY})"),
                );
                None
            }
            Err(_) => {
                self.error(row, "capacity", format!("{text:?} is not a whole number"));
                None
            }
        }
    }
}

/// Line numbers of byte offsets in a text file, counting `\r\n`, `\n` and a lone `\r` (old
/// Mac files) each as one line break.
///
/// The CSV reader's own count sees only `\n` and numbers a record that follows a `\r\n` one
/// line early, which would misnumber every row of a file saved on Windows.
pub(crate) struct Lines(Vec<u64>);

impl Lines {
    /// Indexes the line breaks of `content`.
    pub(crate) fn new(content: &[u8]) -> Self {
        let breaks = content
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\r' || (b == b'\n' && (i == 0 || content[i - 1] != b'\r')))
            .map(|(i, _)| i as u64)
            .collect();
        Self(breaks)
    }

    /// The line (from 1) holding the byte at `offset`.
    pub(crate) fn line(&self, offset: u64) -> usize {
        1 + self.0.partition_point(|&b| b < offset)
    }
}

fn read_csv(content: &[u8], v: &mut Validator) {
    let lines = Lines::new(content);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(content);
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return v.error(1, "header", format!("cannot read the header: {e}")),
    };
    if header.is_empty() || header.iter().all(str::is_empty) {
        return v.error(
            1,
            "header",
            format!("the file is empty; expected a header {}", COLUMNS.join(",")),
        );
    }
    let mut positions = [None; COLUMNS.len()];
    for (i, name) in header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}');
        if name.is_empty() {
            v.error(
                1,
                "header",
                format!(
                    "column {} has no name (expected {})",
                    i + 1,
                    COLUMNS.join(",")
                ),
            );
            continue;
        }
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            Some(c) if positions[c].is_some() => v.error(1, name, "column appears twice"),
            Some(c) => positions[c] = Some(i),
            None => v.error(
                1,
                name,
                format!("unknown column (expected {})", COLUMNS.join(",")),
            ),
        }
    }
    v.with_details = positions[FIRST_DETAIL..FIRST_SIZE]
        .iter()
        .any(Option::is_some);
    for (c, pos) in positions.iter().enumerate().take(REQUIRED) {
        if pos.is_none() {
            v.error(1, COLUMNS[c], "required column is missing from the header");
        }
    }
    if !v.errors.is_empty() {
        return;
    }
    let mut record = csv::StringRecord::new();
    loop {
        let line = lines.line(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| lines.line(p.byte()));
                if record.len() != header.len() {
                    v.error(
                        line,
                        "*",
                        format!("expected {} fields, found {}", header.len(), record.len()),
                    );
                    continue;
                }
                let mut raw = RawRow::default();
                for (c, pos) in positions.iter().enumerate() {
                    raw.fields[c] = pos.and_then(|p| record.get(p)).map(str::to_owned);
                }
                v.row(line, raw);
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| lines.line(p.byte()));
                v.error(line, "*", format!("unreadable row: {e}"));
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
            }
        }
    }
}

fn read_geojson(content: &[u8], v: &mut Validator) {
    // Windows editors save JSON with a UTF-8 byte-order mark, which JSON parsers refuse.
    let content = content
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(content);
    let doc: serde_json::Value = match serde_json::from_slice(content) {
        Ok(doc) => doc,
        Err(e) => return v.error(0, "*", format!("not valid JSON: {e}")),
    };
    if doc.get("type").and_then(|t| t.as_str()) != Some("FeatureCollection") {
        return v.error(0, "type", "expected a GeoJSON FeatureCollection");
    }
    let Some(features) = doc.get("features").and_then(|f| f.as_array()) else {
        return v.error(
            0,
            "features",
            "a FeatureCollection needs a \"features\" array",
        );
    };
    v.with_details = features.iter().any(|f| {
        let props = f.get("properties").and_then(|p| p.as_object());
        COLUMNS[FIRST_DETAIL..FIRST_SIZE]
            .iter()
            .any(|c| props.is_some_and(|p| p.contains_key(*c)))
    });
    for (i, feature) in features.iter().enumerate() {
        let row = i + 1;
        let geometry = feature.get("geometry");
        if geometry
            .and_then(|g| g.get("type"))
            .and_then(|t| t.as_str())
            != Some("Point")
        {
            v.error(row, "geometry", "must be a Point");
            continue;
        }
        let coords = geometry
            .and_then(|g| g.get("coordinates"))
            .and_then(|c| c.as_array());
        let (lon, lat) = match coords.map(|c| c.as_slice()) {
            Some([lon, lat, ..]) if lon.is_number() && lat.is_number() => {
                (lon.to_string(), lat.to_string())
            }
            _ => {
                v.error(
                    row,
                    "geometry",
                    "coordinates must be [longitude, latitude] numbers",
                );
                continue;
            }
        };
        let props = feature.get("properties").and_then(|p| p.as_object());
        let mut raw = RawRow::default();
        let mut bad_type = false;
        raw.fields[2] = Some(lat);
        raw.fields[3] = Some(lon);
        for c in [0, 1, 4, 5, 6, 7, 8, 9]
            .into_iter()
            .chain(FIRST_DETAIL..COLUMNS.len())
        {
            raw.fields[c] = match props.and_then(|p| p.get(COLUMNS[c])) {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(n @ serde_json::Value::Number(_)) => Some(n.to_string()),
                Some(serde_json::Value::Array(items))
                    if c == 8 || c == 9 || c == FIRST_CAPABILITY =>
                {
                    match list_text(c, items) {
                        Ok(text) => Some(text),
                        Err(m) => {
                            v.error(row, COLUMNS[c], m);
                            bad_type = true;
                            None
                        }
                    }
                }
                Some(_) => {
                    v.error(row, COLUMNS[c], "must be a string or a number");
                    bad_type = true;
                    None
                }
            };
        }
        if !bad_type {
            v.row(row, raw);
        }
    }
}

/// The text form of a GeoJSON array property: services (`["pickup", "dropoff"]`),
/// capabilities (`["step_free"]`) or closures (compact strings, or `{"start", "end",
/// "reason"}` objects).
fn list_text(c: usize, items: &[serde_json::Value]) -> Result<String, String> {
    use serde_json::Value;
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        parts.push(match item {
            Value::String(s) => s.clone(),
            Value::Object(_) if COLUMNS[c] == "closures" => {
                let c: closures::Closure = serde_json::from_value(item.clone()).map_err(|e| {
                    format!("a closure object needs start, end (YYYY-MM-DD) and an optional reason: {e}")
                })?;
                if c.reason.contains(';') {
                    return Err("a closure reason cannot contain ';'".into());
                }
                format!("{}/{} {}", c.start, c.end, c.reason)
            }
            _ if COLUMNS[c] == "closures" => {
                return Err("items must be strings or {start, end, reason} objects".into())
            }
            _ if c == FIRST_CAPABILITY => return Err("items must be capability names".into()),
            _ => return Err("items must be service names".into()),
        });
    }
    let separator = if COLUMNS[c] == "closures" { ";" } else { "|" };
    Ok(parts.join(separator))
}

#[path = "import_capabilities.rs"]
mod capabilities;
#[path = "import_details.rs"]
mod details;
#[path = "import_sizes.rs"]
mod sizes;

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
