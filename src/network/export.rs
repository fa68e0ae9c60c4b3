//! Writing the network as a shop file in exactly the format the importer reads
//! ([`super::import`]): CSV with the documented columns, or a GeoJSON FeatureCollection of
//! Points. Exporting a network and importing the file into an empty database gives the same
//! shops (same external ids, names, coordinates, capacities, time zones, hours, statuses,
//! services, closures, addresses, phones, localised texts, sizes, capabilities and photos).
//!
//! Shops are read in pages of [`PAGE`] inside one snapshot and written as they come, so
//! memory stays flat at 600,000 shops.

use super::address::ShopDetails;
use super::capabilities::Profile;
use super::closure_store;
use super::closures::{self, Closure};
use super::import::{Format, COLUMNS, FIRST_CAPABILITY, FIRST_DETAIL, FIRST_SIZE};
use super::services::Services;
use super::shop::ShopInput;
use super::sizes::{self, ShopSizes};
use super::store::{self, ShopRow};
use crate::db::DbConn;
use std::io::Write;

/// Shops read per database round trip.
pub const PAGE: i64 = 5000;

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the database failed.
    #[error("reading the shops: {0}")]
    Db(#[from] diesel::result::Error),
    /// Writing the output failed.
    #[error("writing the file: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV writer failed.
    #[error("writing the CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// One shop as a file row: the importer's columns, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct ShopRecord<'a> {
    /// `external_id`
    pub external_id: &'a str,
    /// `name`
    pub name: &'a str,
    /// `latitude`, degrees
    pub latitude: f64,
    /// `longitude`, degrees
    pub longitude: f64,
    /// `capacity`
    pub capacity: i32,
    /// `timezone`, IANA name
    pub timezone: &'a str,
    /// `opening_hours`, canonical text
    pub opening_hours: &'a str,
    /// `status`
    pub status: &'a str,
    /// `services`
    pub services: Services,
    /// `closures`: `None` leaves the column out of the file (or the property out of the
    /// feature), so that importing it keeps the closures already stored.
    pub closures: Option<&'a [Closure]>,
    /// `street` … `address_es`: `None` leaves the columns out (importing the file keeps the
    /// stored addresses).
    pub details: Option<&'a ShopDetails>,
    /// `slots_s` … `max_dimensions_cm`: what the shop declares about sizes.
    pub sizes: ShopSizes,
    /// `capabilities` (declared only: `open_24_7` follows from the hours) and `photo_url`.
    pub profile: &'a Profile,
}

impl<'a> ShopRecord<'a> {
    /// A stored shop with its closures and details.
    fn stored(
        r: &'a ShopRow,
        closures: &'a [Closure],
        details: &'a ShopDetails,
        profile: &'a Profile,
    ) -> Self {
        Self {
            external_id: &r.external_id,
            name: &r.name,
            latitude: r.latitude,
            longitude: r.longitude,
            capacity: r.capacity,
            timezone: &r.timezone,
            opening_hours: &r.opening_hours,
            status: &r.status,
            services: Services::from_stored(&r.services),
            closures: Some(closures),
            details: Some(details),
            sizes: r.sizes(),
            profile,
        }
    }
}

/// The detail columns of a record, in [`COLUMNS`] order, empty when unknown.
fn detail_values(d: &ShopDetails) -> [&str; FIRST_SIZE - FIRST_DETAIL] {
    let a = d.address.as_ref();
    let [name_zh, address_zh, name_es, address_es] = d.local_columns();
    [
        a.and_then(|a| a.street.as_deref()),
        a.and_then(|a| a.postcode.as_deref()),
        a.map(|a| &*a.city),
        a.and_then(|a| a.region.as_deref()),
        a.map(|a| a.country.as_str()),
        d.phone.as_deref(),
        name_zh,
        address_zh,
        name_es,
        address_es,
    ]
    .map(|v| v.unwrap_or(""))
}

/// The size columns of a record, in [`COLUMNS`] order; all empty for a shop that declares
/// nothing (every slot `L`, the default limits), which is how the importer reads them back.
fn size_values(s: &ShopSizes, capacity: i32) -> [String; FIRST_CAPABILITY - FIRST_SIZE] {
    let slots = if s.slots_s == 0 && s.slots_m == 0 {
        [String::new(), String::new(), String::new()]
    } else {
        [
            s.slots_s.to_string(),
            s.slots_m.to_string(),
            (capacity - s.slots_s - s.slots_m).to_string(),
        ]
    };
    let [slots_s, slots_m, slots_l] = slots;
    [
        slots_s,
        slots_m,
        slots_l,
        s.max_weight_g.map(sizes::kg).unwrap_or_default(),
        s.max_dims_mm
            .map(|d| d.map(sizes::cm).join("x"))
            .unwrap_or_default(),
    ]
}

/// A shop file being written, row by row.
pub struct ShopWriter<W: Write> {
    inner: Inner<W>,
    with_closures: bool,
    with_details: bool,
    with_sizes: bool,
    with_capabilities: bool,
}

enum Inner<W: Write> {
    // Boxed: the CSV writer carries its buffer inline.
    Csv(Box<csv::Writer<W>>),
    GeoJson { out: W, first: bool },
}

impl<W: Write> ShopWriter<W> {
    /// Starts a file (CSV header or the FeatureCollection's opening); `with_closures` and
    /// `with_details` say whether it carries the `closures` column and the address columns
    /// (every record then gives its closures, its details).
    pub fn new(
        out: W,
        format: Format,
        with_closures: bool,
        with_details: bool,
    ) -> Result<Self, ExportError> {
        Self::with_sizes(out, format, with_closures, with_details, false, false)
    }

    /// [`Self::new`], with the size columns when `with_sizes` and the capability columns when
    /// `with_capabilities` (every record then gives them).
    pub fn with_sizes(
        out: W,
        format: Format,
        with_closures: bool,
        with_details: bool,
        with_sizes: bool,
        with_capabilities: bool,
    ) -> Result<Self, ExportError> {
        let inner = match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                let mut columns = COLUMNS[..9].to_vec();
                if with_closures {
                    columns.push(COLUMNS[9]);
                }
                if with_details {
                    columns.extend_from_slice(&COLUMNS[FIRST_DETAIL..FIRST_SIZE]);
                }
                if with_sizes {
                    columns.extend_from_slice(&COLUMNS[FIRST_SIZE..FIRST_CAPABILITY]);
                }
                if with_capabilities {
                    columns.extend_from_slice(&COLUMNS[FIRST_CAPABILITY..]);
                }
                w.write_record(columns)?;
                Inner::Csv(Box::new(w))
            }
            Format::GeoJson => {
                let mut out = out;
                out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[")?;
                Inner::GeoJson { out, first: true }
            }
        };
        Ok(Self {
            inner,
            with_closures,
            with_details,
            with_sizes,
            with_capabilities,
        })
    }

    /// Writes one shop.
    pub fn write(&mut self, s: &ShopRecord<'_>) -> Result<(), ExportError> {
        let closures = if self.with_closures {
            Some(s.closures.unwrap_or_default())
        } else {
            None
        };
        let empty = ShopDetails::default();
        let details = self
            .with_details
            .then(|| detail_values(s.details.unwrap_or(&empty)));
        let size_cells = self.with_sizes.then(|| size_values(&s.sizes, s.capacity));
        let services = s.services.names().join("|");
        match &mut self.inner {
            Inner::Csv(w) => {
                let mut record = vec![
                    s.external_id.to_owned(),
                    s.name.to_owned(),
                    s.latitude.to_string(),
                    s.longitude.to_string(),
                    s.capacity.to_string(),
                    s.timezone.to_owned(),
                    s.opening_hours.to_owned(),
                    s.status.to_owned(),
                    services,
                ];
                record.extend(closures.map(closures::format_list));
                record.extend(details.iter().flatten().map(|v| (*v).to_owned()));
                record.extend(size_cells.iter().flatten().cloned());
                if self.with_capabilities {
                    record.push(
                        s.profile
                            .capabilities
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join("|"),
                    );
                    record.push(
                        s.profile
                            .photo_url
                            .as_deref()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
                w.write_record(&record)?;
            }
            Inner::GeoJson { out, first } => {
                if !*first {
                    out.write_all(b",")?;
                }
                *first = false;
                // serde_json writes floats in their shortest exact form: they read back equal.
                let mut feature = serde_json::json!({
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [s.longitude, s.latitude]},
                    "properties": {
                        "external_id": s.external_id,
                        "name": s.name,
                        "capacity": s.capacity,
                        "timezone": s.timezone,
                        "opening_hours": s.opening_hours,
                        "status": s.status,
                        "services": s.services.names(),
                    },
                });
                if let Some(closures) = closures {
                    // Objects, not the compact text: a reason reads back exactly as written.
                    feature["properties"]["closures"] = serde_json::json!(closures);
                }
                // Only the known details: an absent property reads back as unknown.
                for (name, value) in COLUMNS[FIRST_DETAIL..FIRST_SIZE]
                    .iter()
                    .zip(details.iter().flatten())
                {
                    if !value.is_empty() {
                        feature["properties"][*name] = serde_json::json!(value);
                    }
                }
                // Slots as numbers, the limits as text (`2.5`, `64x38x19`), only when declared.
                for (i, (name, value)) in COLUMNS[FIRST_SIZE..FIRST_CAPABILITY]
                    .iter()
                    .zip(size_cells.iter().flatten())
                    .enumerate()
                {
                    if value.is_empty() {
                        continue;
                    }
                    feature["properties"][*name] = match value.parse::<i64>() {
                        Ok(n) if i < 3 => serde_json::json!(n),
                        _ => serde_json::json!(value),
                    };
                }
                // Only what the shop declares: absent properties read back as nothing declared.
                if self.with_capabilities && !s.profile.capabilities.is_empty() {
                    feature["properties"]["capabilities"] =
                        serde_json::json!(s.profile.capabilities);
                }
                if let Some(url) = s
                    .profile
                    .photo_url
                    .as_deref()
                    .filter(|_| self.with_capabilities)
                {
                    feature["properties"]["photo_url"] = serde_json::json!(url);
                }
                out.write_all(b"\n")?;
                serde_json::to_writer(&mut *out, &feature).map_err(std::io::Error::from)?;
            }
        }
        Ok(())
    }

    /// Ends the file and hands back the writer.
    pub fn finish(self) -> Result<W, ExportError> {
        match self.inner {
            Inner::Csv(w) => w.into_inner().map_err(|e| ExportError::Io(e.into_error())),
            Inner::GeoJson { mut out, .. } => {
                out.write_all(b"\n]}\n")?;
                Ok(out)
            }
        }
    }
}

/// Writes every shop (any status), in id order, from one snapshot of the database; `progress`
/// is told the shops written so far and the total. Returns the number written.
pub fn export(
    conn: &mut DbConn,
    format: Format,
    out: impl Write,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, ExportError> {
    crate::db::in_snapshot(conn, |conn| {
        let total = u64::try_from(store::count(conn)?).unwrap_or(0);
        // Closures are few (holidays of some shops): all of them fit in memory at 600k shops.
        let closures = closure_store::all(conn)?;
        let with_sizes = store::any_sizes(conn)?;
        let with_capabilities = store::any_profiles(conn)?;
        let mut writer =
            ShopWriter::with_sizes(out, format, true, true, with_sizes, with_capabilities)?;
        let (mut after, mut written) = (0, 0u64);
        loop {
            let page = store::shops_after(conn, after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for row in &page {
                let closed = closures.get(&row.id).map_or(&[][..], Vec::as_slice);
                let (details, profile) = (row.details(), row.profile());
                writer.write(&ShopRecord::stored(row, closed, &details, &profile))?;
            }
            written += page.len() as u64;
            progress(written, total.max(written));
        }
        writer.finish()?.flush()?;
        Ok(written)
    })
}

/// Writes validated shops (a seed network) as a shop file; the `closures` column is there
/// only when some shop says what its closures are.
pub fn write_inputs(
    shops: &[ShopInput],
    format: Format,
    out: impl Write,
) -> Result<(), ExportError> {
    let with_closures = shops.iter().any(|s| s.closures.is_some());
    let with_details = shops.iter().any(|s| s.details.is_some());
    let with_sizes = shops.iter().any(|s| s.sizes != ShopSizes::default());
    let with_capabilities = shops.iter().any(|s| !s.profile.is_empty());
    let mut writer = ShopWriter::with_sizes(
        out,
        format,
        with_closures,
        with_details,
        with_sizes,
        with_capabilities,
    )?;
    for s in shops {
        let hours = s.hours.to_string();
        writer.write(&ShopRecord {
            external_id: &s.external_id,
            name: &s.name,
            latitude: s.latitude,
            longitude: s.longitude,
            capacity: s.capacity,
            timezone: s.timezone.name(),
            opening_hours: &hours,
            status: s.status.as_str(),
            services: s.services,
            closures: s.closures.as_deref(),
            details: s.details.as_ref(),
            sizes: s.sizes,
            profile: &s.profile,
        })?;
    }
    writer.finish()?.flush()?;
    Ok(())
}
