//! Shops in the database: all-or-nothing upserts, lookups, and the change feed that keeps
//! every instance's geo index current.
//!
//! Kept in one file past 600 lines: the row types (`ShopRow` read, `NewShop` written), the
//! SQLite upsert's hand-written column list and the reads must name the same columns in the
//! same order, and a column added to one and not the others (as sizes and addresses each
//! did) is caught by reading them together. What does not name those columns lives beside
//! it: the rows of a shop that moved to another region, in `region_moves`. The seam for a
//! later split is writes (`upsert_shops` to `ensure_load_rows`) against reads
//! (`current_revision` onwards).

use super::address::ShopDetails;
use super::capabilities::{Capabilities, Profile};
use super::closures::{ClosedSpans, Closure};
use super::geo::{cell_and_region, cell_hex};
use super::hours::WeeklyHours;
use super::index::IndexedShop;
use super::services::Services;
use super::shop::{Shop, ShopInput, ShopStatus};
use crate::db::schema::{network_revision, shops};
use crate::db::DbConn;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel::upsert::excluded;
use std::collections::HashMap;
use std::sync::Arc;

/// Rows per INSERT statement (32 parameters each: inside both backends' limits, SQLite's
/// 32,766 included).
const BATCH: usize = 1000;

/// A `shops` row as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shops)]
pub struct ShopRow {
    /// pudo's id.
    pub id: i64,
    /// Partner reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Degrees.
    pub latitude: f64,
    /// Degrees.
    pub longitude: f64,
    /// H3 cell, resolution 9.
    pub h3_cell: i64,
    /// Region key.
    pub region: i64,
    /// Parcel slots.
    pub capacity: i32,
    /// IANA zone.
    pub timezone: String,
    /// Canonical hours text.
    pub opening_hours: String,
    /// Status text.
    pub status: String,
    /// Revision that last wrote the row.
    pub revision: i64,
    /// UTC.
    pub created_at: NaiveDateTime,
    /// UTC.
    pub updated_at: NaiveDateTime,
    /// Offered services, stored text.
    pub services: String,
    /// Street and number.
    pub street: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Administrative area of the address.
    pub address_region: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Name in Chinese.
    pub name_zh: Option<String>,
    /// Address line in Chinese.
    pub address_zh: Option<String>,
    /// Name in Spanish.
    pub name_es: Option<String>,
    /// Address line in Spanish.
    pub address_es: Option<String>,
    /// Slots of class S.
    pub slots_s: i32,
    /// Slots of class M.
    pub slots_m: i32,
    /// Heaviest parcel taken, grams (NULL: the default).
    pub max_weight_g: Option<i32>,
    /// Largest parcel taken, longest side, mm.
    pub max_length_mm: Option<i32>,
    /// Largest parcel taken, middle side, mm.
    pub max_width_mm: Option<i32>,
    /// Largest parcel taken, shortest side, mm.
    pub max_height_mm: Option<i32>,
    /// Declared capabilities, stored text.
    pub capabilities: String,
    /// Photo URL (https).
    pub photo_url: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = shops)]
struct NewShop<'a> {
    external_id: &'a str,
    name: &'a str,
    latitude: f64,
    longitude: f64,
    h3_cell: i64,
    region: i64,
    capacity: i32,
    timezone: &'a str,
    opening_hours: String,
    status: &'static str,
    revision: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    services: String,
    street: Option<&'a str>,
    postcode: Option<&'a str>,
    city: Option<&'a str>,
    address_region: Option<&'a str>,
    country: Option<&'a str>,
    phone: Option<&'a str>,
    name_zh: Option<&'a str>,
    address_zh: Option<&'a str>,
    name_es: Option<&'a str>,
    address_es: Option<&'a str>,
    slots_s: i32,
    slots_m: i32,
    max_weight_g: Option<i32>,
    max_length_mm: Option<i32>,
    max_width_mm: Option<i32>,
    max_height_mm: Option<i32>,
    capabilities: String,
    photo_url: Option<&'a str>,
    /// Whether the input gave details (else the stored ones are kept).
    #[diesel(skip_insertion)]
    with_details: bool,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UpsertSummary {
    /// Shops that were new.
    pub inserted: usize,
    /// Shops that existed (same external_id) and were updated.
    pub updated: usize,
    /// Network revision the import committed as.
    pub revision: i64,
}

/// Inserts or updates (by `external_id`) every shop in one transaction: either all are
/// stored or none. `progress` is told how many rows are written so far.
pub fn upsert_shops(
    conn: &mut DbConn,
    input: &[ShopInput],
    progress: &mut dyn FnMut(usize),
) -> QueryResult<UpsertSummary> {
    conn.transaction(|conn| {
        let revision = bump_revision(conn)?;
        let before: i64 = shops::table.count().get_result(conn)?;
        let now = Utc::now().naive_utc();
        let mut written = 0;
        for chunk in input.chunks(BATCH) {
            let rows: Vec<NewShop<'_>> = chunk.iter().map(|s| new_shop(s, revision, now)).collect();
            // A file without the address columns keeps the stored addresses: its rows update
            // every other column only.
            let (with, without): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.with_details);
            write_batch(conn, &with, true)?;
            write_batch(conn, &without, false)?;
            written += chunk.len();
            progress(written);
        }
        ensure_load_rows(conn, revision)?;
        super::closure_store::replace_imported(conn, revision, input)?;
        let after: i64 = shops::table.count().get_result(conn)?;
        let inserted = usize::try_from(after - before).unwrap_or(0);
        Ok(UpsertSummary {
            inserted,
            updated: input.len() - inserted,
            revision,
        })
    })
}

fn new_shop(s: &ShopInput, revision: i64, now: NaiveDateTime) -> NewShop<'_> {
    // Coordinates were validated on import, so the cell always exists.
    let (h3_cell, region) = cell_and_region(s.latitude, s.longitude).unwrap_or((0, 0));
    let details = s.details.as_ref();
    let address = details.and_then(|d| d.address.as_ref());
    let [name_zh, address_zh, name_es, address_es] =
        details.map_or([None; 4], |d| d.local_columns());
    NewShop {
        external_id: &s.external_id,
        name: &s.name,
        latitude: s.latitude,
        longitude: s.longitude,
        h3_cell,
        region,
        capacity: s.capacity,
        timezone: s.timezone.name(),
        opening_hours: s.hours.to_string(),
        status: s.status.as_str(),
        revision,
        created_at: now,
        updated_at: now,
        services: s.services.to_string(),
        street: address.and_then(|a| a.street.as_deref()),
        postcode: address.and_then(|a| a.postcode.as_deref()),
        city: address.map(|a| &*a.city),
        address_region: address.and_then(|a| a.region.as_deref()),
        country: address.map(|a| a.country.as_str()),
        phone: details.and_then(|d| d.phone.as_deref()),
        name_zh,
        address_zh,
        name_es,
        address_es,
        slots_s: s.sizes.slots_s,
        slots_m: s.sizes.slots_m,
        max_weight_g: s.sizes.max_weight_g,
        max_length_mm: s.sizes.max_dims_mm.map(|d| d[0]),
        max_width_mm: s.sizes.max_dims_mm.map(|d| d[1]),
        max_height_mm: s.sizes.max_dims_mm.map(|d| d[2]),
        capabilities: s.profile.capabilities.to_string(),
        photo_url: s.profile.photo_url.as_deref(),
        with_details: details.is_some(),
    }
}

macro_rules! upsert_rows {
    ($conn:expr, $rows:expr, details) => {
        diesel::insert_into(shops::table)
            .values($rows)
            .on_conflict(shops::external_id)
            .do_update()
            .set((
                shops::name.eq(excluded(shops::name)),
                shops::latitude.eq(excluded(shops::latitude)),
                shops::longitude.eq(excluded(shops::longitude)),
                shops::h3_cell.eq(excluded(shops::h3_cell)),
                shops::region.eq(excluded(shops::region)),
                shops::capacity.eq(excluded(shops::capacity)),
                shops::timezone.eq(excluded(shops::timezone)),
                shops::opening_hours.eq(excluded(shops::opening_hours)),
                shops::status.eq(excluded(shops::status)),
                shops::revision.eq(excluded(shops::revision)),
                shops::updated_at.eq(excluded(shops::updated_at)),
                shops::services.eq(excluded(shops::services)),
                (
                    shops::slots_s.eq(excluded(shops::slots_s)),
                    shops::slots_m.eq(excluded(shops::slots_m)),
                    shops::max_weight_g.eq(excluded(shops::max_weight_g)),
                    shops::max_length_mm.eq(excluded(shops::max_length_mm)),
                    shops::max_width_mm.eq(excluded(shops::max_width_mm)),
                    shops::max_height_mm.eq(excluded(shops::max_height_mm)),
                    shops::capabilities.eq(excluded(shops::capabilities)),
                    shops::photo_url.eq(excluded(shops::photo_url)),
                ),
                (
                    shops::street.eq(excluded(shops::street)),
                    shops::postcode.eq(excluded(shops::postcode)),
                    shops::city.eq(excluded(shops::city)),
                    shops::address_region.eq(excluded(shops::address_region)),
                    shops::country.eq(excluded(shops::country)),
                    shops::phone.eq(excluded(shops::phone)),
                    shops::name_zh.eq(excluded(shops::name_zh)),
                    shops::address_zh.eq(excluded(shops::address_zh)),
                    shops::name_es.eq(excluded(shops::name_es)),
                    shops::address_es.eq(excluded(shops::address_es)),
                ),
            ))
            .execute($conn)
    };
    ($conn:expr, $rows:expr) => {
        diesel::insert_into(shops::table)
            .values($rows)
            .on_conflict(shops::external_id)
            .do_update()
            .set((
                shops::name.eq(excluded(shops::name)),
                shops::latitude.eq(excluded(shops::latitude)),
                shops::longitude.eq(excluded(shops::longitude)),
                shops::h3_cell.eq(excluded(shops::h3_cell)),
                shops::region.eq(excluded(shops::region)),
                shops::capacity.eq(excluded(shops::capacity)),
                shops::timezone.eq(excluded(shops::timezone)),
                shops::opening_hours.eq(excluded(shops::opening_hours)),
                shops::status.eq(excluded(shops::status)),
                shops::revision.eq(excluded(shops::revision)),
                shops::updated_at.eq(excluded(shops::updated_at)),
                shops::services.eq(excluded(shops::services)),
                (
                    shops::slots_s.eq(excluded(shops::slots_s)),
                    shops::slots_m.eq(excluded(shops::slots_m)),
                    shops::max_weight_g.eq(excluded(shops::max_weight_g)),
                    shops::max_length_mm.eq(excluded(shops::max_length_mm)),
                    shops::max_width_mm.eq(excluded(shops::max_width_mm)),
                    shops::max_height_mm.eq(excluded(shops::max_height_mm)),
                    shops::capabilities.eq(excluded(shops::capabilities)),
                    shops::photo_url.eq(excluded(shops::photo_url)),
                ),
            ))
            .execute($conn)
    };
}

/// Writes `rows`; `details` says whether they carry address columns to store (else a stored
/// shop keeps its own).
fn write_batch(conn: &mut DbConn, rows: &[NewShop<'_>], details: bool) -> QueryResult<usize> {
    // The upsert's SQL differs per backend. Diesel has no multi-row upsert for SQLite and does
    // not cache single-row upsert statements there (so each row would be parsed anew), hence
    // one multi-row statement per batch, built with bound parameters.
    if rows.is_empty() {
        return Ok(0);
    }
    match conn {
        DbConn::Sqlite(c) => sqlite_upsert(c, rows, details),
        DbConn::Postgres(c) if details => upsert_rows!(c, rows, details),
        DbConn::Postgres(c) => upsert_rows!(c, rows),
    }
}

/// The size columns, in the order `sqlite_upsert` binds them (after the address columns).
const SIZE_COLUMNS: &str =
    "slots_s, slots_m, max_weight_g, max_length_mm, max_width_mm, max_height_mm";

/// The capability columns, in the order `sqlite_upsert` binds them (after the size columns).
const CAPABILITY_COLUMNS: &str = "capabilities, photo_url";

/// The address columns, in the order `sqlite_upsert` binds them.
const DETAIL_COLUMNS: &str = "street, postcode, city, address_region, country, phone, \
    name_zh, address_zh, name_es, address_es";

fn sqlite_upsert(
    conn: &mut diesel::SqliteConnection,
    rows: &[NewShop<'_>],
    details: bool,
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text, Timestamp};
    let placeholders =
        vec!["(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"; rows.len()]
            .join(",");
    let set_details = if details {
        DETAIL_COLUMNS
            .split(", ")
            .map(|c| format!(", {0} = excluded.{0}", c.trim()))
            .collect::<String>()
    } else {
        String::new()
    };
    let sql = format!(
        "INSERT INTO shops (external_id, name, latitude, longitude, h3_cell, region, capacity, \
         timezone, opening_hours, status, revision, created_at, updated_at, services, \
         {DETAIL_COLUMNS}, {SIZE_COLUMNS}, {CAPABILITY_COLUMNS}) \
         VALUES {placeholders} \
         ON CONFLICT (external_id) DO UPDATE SET name = excluded.name, latitude = excluded.latitude, \
         longitude = excluded.longitude, h3_cell = excluded.h3_cell, region = excluded.region, \
         capacity = excluded.capacity, timezone = excluded.timezone, \
         opening_hours = excluded.opening_hours, status = excluded.status, \
         revision = excluded.revision, updated_at = excluded.updated_at, \
         services = excluded.services, slots_s = excluded.slots_s, \
         slots_m = excluded.slots_m, max_weight_g = excluded.max_weight_g, \
         max_length_mm = excluded.max_length_mm, max_width_mm = excluded.max_width_mm, \
         max_height_mm = excluded.max_height_mm, capabilities = excluded.capabilities, \
         photo_url = excluded.photo_url{set_details}"
    );
    let mut query = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
    for r in rows {
        query = query
            .bind::<Text, _>(r.external_id)
            .bind::<Text, _>(r.name)
            .bind::<Double, _>(r.latitude)
            .bind::<Double, _>(r.longitude)
            .bind::<BigInt, _>(r.h3_cell)
            .bind::<BigInt, _>(r.region)
            .bind::<Integer, _>(r.capacity)
            .bind::<Text, _>(r.timezone)
            .bind::<Text, _>(r.opening_hours.clone())
            .bind::<Text, _>(r.status)
            .bind::<BigInt, _>(r.revision)
            .bind::<Timestamp, _>(r.created_at)
            .bind::<Timestamp, _>(r.updated_at)
            .bind::<Text, _>(r.services.clone());
        for value in [
            r.street,
            r.postcode,
            r.city,
            r.address_region,
            r.country,
            r.phone,
            r.name_zh,
            r.address_zh,
            r.name_es,
            r.address_es,
        ] {
            query = query.bind::<Nullable<Text>, _>(value);
        }
        query = query
            .bind::<Integer, _>(r.slots_s)
            .bind::<Integer, _>(r.slots_m);
        for value in [
            r.max_weight_g,
            r.max_length_mm,
            r.max_width_mm,
            r.max_height_mm,
        ] {
            query = query.bind::<Nullable<Integer>, _>(value);
        }
        query = query
            .bind::<Text, _>(r.capabilities.clone())
            .bind::<Nullable<Text>, _>(r.photo_url);
    }
    query.execute(conn)
}

/// Gives every shop written at `revision` its `shop_load` row (new shops), its current region
/// and its mirrored `active_capacity` (the capacity while active, else NULL; see the
/// `2026-12-01-000040_ops` migration).
///
/// A shop re-imported at a position in another region moves there whole, in this
/// transaction: its rows in every table keyed by shop (parcels, returns, staged stock,
/// closures, code attempts, hand-ins, manifest lines not yet received) take the new region,
/// so its next paid event is paid at the new region's fees and all its live data stays
/// together under one region key (the distribution key of docs/scaling.md). Ledger lines
/// already written keep the region they were earned in.
fn ensure_load_rows(conn: &mut DbConn, revision: i64) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    // `revision` is our own integer, so inlining it is safe and keeps one SQL text for both
    // backends (their placeholders differ). Moved shops first, so that their load row is in
    // the new region before the insert below looks for it.
    super::region_moves::move_regions(conn, revision)?;
    // ON CONFLICT without a target: the key is `(shop_id)`, or `(shop_id, region)` on Citus,
    // and only a new shop has no row under either.
    conn.batch_execute(&format!(
        "INSERT INTO shop_load (shop_id, region, live, changed_at) \
           SELECT id, region, 0, updated_at FROM shops WHERE revision = {revision} \
           ON CONFLICT DO NOTHING; \
         UPDATE shop_load SET \
           active_capacity = CASE WHEN s.status = 'active' THEN s.capacity END \
           FROM shops s WHERE s.id = shop_load.shop_id AND s.revision = {revision};"
    ))
}

/// Takes the next network revision. Must be the first statement of a write transaction: on
/// PostgreSQL its row lock makes concurrent writers commit in revision order.
pub(crate) fn bump_revision(conn: &mut DbConn) -> QueryResult<i64> {
    diesel::update(network_revision::table)
        .set(network_revision::revision.eq(network_revision::revision + 1))
        .execute(conn)?;
    current_revision(conn)
}

/// The last committed network revision.
pub fn current_revision(conn: &mut DbConn) -> QueryResult<i64> {
    network_revision::table
        .select(network_revision::revision)
        .first(conn)
}

/// Every shop, any status.
pub fn load_all(conn: &mut DbConn) -> QueryResult<Vec<ShopRow>> {
    shops::table
        .select(ShopRow::as_select())
        .order(shops::id)
        .load(conn)
}

/// The shops of `regions`, by id (`shops` is a reference table: on Citus, read on the
/// coordinator whichever worker holds the regions).
pub fn in_regions(conn: &mut DbConn, regions: &[i64]) -> QueryResult<Vec<ShopRow>> {
    shops::table
        .select(ShopRow::as_select())
        .filter(shops::region.eq_any(regions))
        .order(shops::id)
        .load(conn)
}

/// Up to `limit` shops with an id above `after`, in id order: one page of an export (keyset
/// paging, so each page is an index range whatever the network's size).
pub fn shops_after(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<ShopRow>> {
    shops::table
        .select(ShopRow::as_select())
        .filter(shops::id.gt(after))
        .order(shops::id)
        .limit(limit)
        .load(conn)
}

/// Shops written after revision `since` up to and including `until`.
pub fn changed_between(conn: &mut DbConn, since: i64, until: i64) -> QueryResult<Vec<ShopRow>> {
    shops::table
        .select(ShopRow::as_select())
        .filter(shops::revision.gt(since).and(shops::revision.le(until)))
        .order(shops::id)
        .load(conn)
}

/// The id of the shop with this external id, if any.
pub fn id_of(conn: &mut DbConn, external_id: &str) -> QueryResult<Option<i64>> {
    shops::table
        .filter(shops::external_id.eq(external_id))
        .select(shops::id)
        .first(conn)
        .optional()
}

/// Every shop's external id by its id.
pub fn external_ids(conn: &mut DbConn) -> QueryResult<std::collections::HashMap<i64, String>> {
    Ok(shops::table
        .select((shops::id, shops::external_id))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

/// One shop by pudo id.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<ShopRow>> {
    shops::table
        .find(id)
        .select(ShopRow::as_select())
        .first(conn)
        .optional()
}

/// Whether any shop declares sizes (slots of class S or M, or a maximum weight or size):
/// an export then carries the size columns.
pub fn any_sizes(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        shops::table.filter(
            shops::slots_s
                .gt(0)
                .or(shops::slots_m.gt(0))
                .or(shops::max_weight_g.is_not_null())
                .or(shops::max_length_mm.is_not_null()),
        ),
    ))
    .get_result(conn)
}

/// Whether any shop declares capabilities or a photo: an export then carries those columns.
pub fn any_profiles(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        shops::table.filter(
            shops::capabilities
                .ne("")
                .or(shops::photo_url.is_not_null()),
        ),
    ))
    .get_result(conn)
}

/// Number of shops stored.
pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    shops::table.count().get_result(conn)
}

impl ShopRow {
    /// The row as the API shows it.
    pub fn into_shop(self) -> Shop {
        let details = self.details();
        let capabilities = self
            .profile()
            .capabilities
            .with_stored_hours(&self.opening_hours);
        Shop {
            status: self.status.parse().unwrap_or(ShopStatus::Closed),
            h3_cell: cell_hex(self.h3_cell),
            region: cell_hex(self.region),
            id: self.id,
            external_id: self.external_id,
            name: self.name,
            latitude: self.latitude,
            longitude: self.longitude,
            capacity: self.capacity,
            timezone: self.timezone,
            opening_hours: self.opening_hours,
            created_at: self.created_at,
            updated_at: self.updated_at,
            services: Services::from_stored(&self.services),
            address: details.address,
            phone: details.phone.map(String::from),
            localized: details.localized.map(|l| *l),
            capabilities,
            photo_url: self.photo_url,
        }
    }

    /// What the shop declares about parcel sizes.
    pub fn sizes(&self) -> super::sizes::ShopSizes {
        super::load::sizes_from(
            self.slots_s,
            self.slots_m,
            self.max_weight_g,
            [self.max_length_mm, self.max_width_mm, self.max_height_mm],
        )
    }

    /// What the shop declares about itself: capabilities and photo.
    pub fn profile(&self) -> Profile {
        Profile {
            capabilities: Capabilities::from_stored(&self.capabilities),
            photo_url: self.photo_url.as_deref().map(Box::from),
        }
    }

    /// The address, phone and localised texts of the row.
    pub fn details(&self) -> ShopDetails {
        ShopDetails::from_columns(
            self.street.as_deref(),
            self.postcode.as_deref(),
            self.city.as_deref(),
            self.address_region.as_deref(),
            self.country.as_deref(),
            self.phone.as_deref(),
            [
                self.name_zh.as_deref(),
                self.address_zh.as_deref(),
                self.name_es.as_deref(),
                self.address_es.as_deref(),
            ],
        )
    }

    /// The row as the geo index holds it; `None` if a stored value no longer parses (the
    /// database was edited by hand), in which case the shop is left out of searches.
    pub fn to_indexed(&self, closures: &[Closure]) -> Option<IndexedShop> {
        self.to_indexed_cached(&mut HashMap::new(), closures)
    }

    /// [`Self::to_indexed`], parsing each distinct opening-hours text once across calls.
    pub fn to_indexed_cached(
        &self,
        hours: &mut HashMap<String, Arc<WeeklyHours>>,
        closures: &[Closure],
    ) -> Option<IndexedShop> {
        let timezone: chrono_tz::Tz = self.timezone.parse().ok()?;
        let parsed = match hours.get(&self.opening_hours) {
            Some(h) => h.clone(),
            None => {
                let h = Arc::new(WeeklyHours::parse(&self.opening_hours).ok()?);
                hours.insert(self.opening_hours.clone(), h.clone());
                h
            }
        };
        Some(IndexedShop {
            id: self.id,
            external_id: self.external_id.as_str().into(),
            name: self.name.as_str().into(),
            latitude: self.latitude,
            longitude: self.longitude,
            h3_cell: self.h3_cell,
            capacity: self.capacity,
            live: 0,
            status: self.status.parse().ok()?,
            timezone,
            hours: parsed,
            services: Services::from_stored(&self.services),
            closures: ClosedSpans::new(timezone, closures),
            details: Some(self.details()).filter(|d| !d.is_empty()).map(Arc::new),
            sizes: super::index::Sizes {
                declared: self.sizes(),
                live_s: 0,
                live_m: 0,
            },
            profile: self.profile(),
        })
    }
}
