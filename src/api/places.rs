//! Towns and districts by name (`GET /v1/places?q=`), from pudo's own place data, so the
//! checkout widget can search "Valencia" without a merchant geocoder.

use super::params::{integer_in, QueryParams};
use super::search_modes::parse_text;
use crate::error::{ApiError, Problem};
use crate::network::places::Places;
use crate::network::Quality;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// Most places one answer lists.
pub const MAX_PLACES: i64 = 50;

/// Query parameters; the route accepts exactly these names (`QueryParams::of`), each parsed and checked by name.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the fields document the query for OpenAPI; QueryParams::of accepts exactly their names and parses each"
)]
struct PlacesQuery {
    /// The name, or its beginning: each word begins a word of the place's name (case and
    /// accents ignored). 1 to 100 characters.
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[0-9A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u4E00-\u9FA5][^\x00-\x1f\x7f-\x9f]*$",
        example = "valencia"
    )]
    q: String,
    /// Only places of this country (ISO 3166-1 alpha-2, e.g. `ES`).
    #[param(
        min_length = 2,
        max_length = 2,
        pattern = "^[A-Za-z]{2}$",
        example = "ES"
    )]
    country: Option<String>,
    /// How many places (1 to 50, default 10).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u32>,
}

/// One place.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceItem<'a> {
    /// GeoNames id.
    pub id: u64,
    /// Name.
    pub name: &'a str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'a str,
    /// GeoNames admin-1 code of the province or region within the country.
    pub admin1: &'a str,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Inhabitants (GeoNames): among equal matches, larger places come first.
    pub population: u64,
}

/// The answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceList<'a> {
    /// Whole-name matches first, then names beginning with the text, then word matches;
    /// within each, the most populous first.
    pub items: Vec<PlaceItem<'a>>,
}

fn country_code(v: &str) -> Result<String, String> {
    if v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(v.to_ascii_uppercase())
    } else {
        Err(format!("{v:?} is not a two-letter country code such as ES"))
    }
}

/// Towns and districts whose name matches `q`, from the place data the seed networks use
/// (GeoNames, CC BY 4.0).
#[utoipa::path(
    tag = "customer",
    context_path = "/v1",
    params(PlacesQuery),
    responses(
        (status = 200, body = PlaceList),
        (status = 400, description = "A parameter is missing or invalid; `parameter` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/places")]
pub async fn search(query: web::Query<Vec<(String, String)>>) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::of::<PlacesQuery>(query.into_inner())?;
    let text = q.required("q", parse_text)?;
    let country = q.optional("country", country_code)?;
    let limit = q
        .optional("limit", integer_in(1, MAX_PLACES))?
        .unwrap_or(10) as usize;
    let found = Places::shipped().find(&text, country.as_deref(), limit);
    let items = found
        .into_iter()
        .map(|(p, _quality): (_, Quality)| PlaceItem {
            id: p.geonameid,
            name: &p.name,
            country: &p.country,
            admin1: &p.admin1,
            lat: p.latitude,
            lon: p.longitude,
            population: p.population,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PlaceList { items }))
}
