//! H3 cell outlines, so that a map (the checkout widget's) draws the hexagons of pickup points
//! exactly as H3 defines them without shipping an H3 implementation to the browser.

use super::params::QueryParams;
use crate::error::{ApiError, Problem};
use crate::network::geo::cell_outline;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{get, web, HttpResponse};
use h3o::CellIndex;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// Most cells one request may ask for.
pub const MAX_CELLS: usize = 100;

/// Query parameters; the route accepts exactly these names (`QueryParams::of`), each parsed and checked by name.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the fields document the query for OpenAPI; QueryParams::of accepts exactly their names and parses each"
)]
struct CellsQuery {
    /// Comma-separated H3 cells in hexadecimal (as `h3_cell` in search answers), 1 to 100.
    #[param(min_length = 1, example = "89390cb1b0bffff,89390cb1b57ffff")]
    cells: String,
}

/// One cell and its outline.
#[derive(Debug, Serialize, ToSchema)]
pub struct CellOutline {
    /// The H3 cell, hexadecimal.
    pub cell: String,
    /// H3 resolution of the cell (0 to 15).
    pub resolution: u8,
    /// Vertices as `[lat, lon]` in degrees, counter-clockwise, not closed (the last vertex is
    /// not a repeat of the first).
    pub boundary: Vec<[f64; 2]>,
}

/// The answer: one outline per requested cell, in the order asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct CellOutlines {
    /// The outlines.
    pub items: Vec<CellOutline>,
}

/// Reads the `cells` parameter: 1 to [`MAX_CELLS`] valid H3 cells.
fn parse_cells(v: &str) -> Result<Vec<CellIndex>, String> {
    let cells: Vec<&str> = v.split(',').map(str::trim).collect();
    if cells.len() > MAX_CELLS {
        return Err(format!(
            "{} cells given; at most {MAX_CELLS} per request",
            cells.len()
        ));
    }
    cells
        .into_iter()
        .map(|c| {
            c.parse::<CellIndex>()
                .map_err(|_| format!("{c:?} is not an H3 cell in hexadecimal"))
        })
        .collect()
}

/// The outlines of H3 cells (any resolution). Outlines never change, so answers may be cached
/// for a day.
#[utoipa::path(
    tag = "customer",
    context_path = "/v1",
    params(CellsQuery),
    responses(
        (status = 200, body = CellOutlines),
        (status = 400, description = "`cells` is missing, has more than 100 cells or one that is not an H3 cell", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/h3-cells")]
pub async fn outlines(query: web::Query<Vec<(String, String)>>) -> Result<HttpResponse, ApiError> {
    let q = QueryParams::of::<CellsQuery>(query.into_inner())?;
    let cells = q.required("cells", parse_cells)?;
    let items = cells
        .into_iter()
        .map(|cell| CellOutline {
            cell: cell.to_string(),
            resolution: u8::from(cell.resolution()),
            boundary: cell_outline(cell),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(86_400),
        ]))
        .json(CellOutlines { items }))
}
