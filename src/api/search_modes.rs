//! The parameters of a pickup-point search, checked by name: the nearest points to a
//! position, the points of a map area (`bbox`), or the points matching text (`q`).

use super::params::{instant, integer_in, number_in, QueryParams};
use super::pickup_points::{boolean, parse_rank, sku_text, MAX_LIMIT};
use crate::error::ApiError;
use crate::network::capabilities::Capabilities;
use crate::network::index::text::Query as TextQuery;
use crate::network::services::Service;
use crate::network::sizes::{self, ParcelSize};
use crate::network::BoundingBox;
use crate::pickup::points::{PointQuery, Rank};

/// Longest `q`, in characters.
pub const MAX_TEXT: usize = 100;
/// Points a `bbox` answers before it answers clusters, when no `limit` is given.
pub const AREA_LIMIT: i64 = 100;

/// Reads `min_lon,min_lat,max_lon,max_lat`; `min_lon > max_lon` crosses the antimeridian.
pub fn parse_bbox(v: &str) -> Result<BoundingBox, String> {
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    let [west, south, east, north] = parts[..] else {
        return Err(format!(
            "{v:?} is not min_lon,min_lat,max_lon,max_lat (four numbers, e.g. -3.8,40.3,-3.6,40.5)"
        ));
    };
    let number = |name: &str, text: &str, limit: f64| -> Result<f64, String> {
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() && (-limit..=limit).contains(&x) => Ok(x),
            Ok(_) => Err(format!(
                "{name} {text} is out of range (-{limit} to {limit})"
            )),
            Err(_) => Err(format!("{name} {text:?} is not a number")),
        }
    };
    let b = BoundingBox {
        west: number("min_lon", west, 180.0)?,
        south: number("min_lat", south, 90.0)?,
        east: number("max_lon", east, 180.0)?,
        north: number("max_lat", north, 90.0)?,
    };
    if b.south >= b.north {
        return Err(format!(
            "min_lat {} must be below max_lat {}",
            b.south, b.north
        ));
    }
    if b.west == b.east {
        return Err(format!(
            "min_lon and max_lon are both {}: the box has no width (a box crossing the \
             antimeridian has min_lon > max_lon)",
            b.west
        ));
    }
    Ok(b)
}

/// Reads the text of `q`: at most [`MAX_TEXT`] characters, no control characters, at least
/// one letter or digit.
pub fn parse_text(v: &str) -> Result<TextQuery, String> {
    if v.chars().count() > MAX_TEXT {
        return Err(format!("is longer than {MAX_TEXT} characters"));
    }
    if v.chars().any(char::is_control) {
        return Err("contains control characters".to_owned());
    }
    TextQuery::new(v).ok_or_else(|| format!("{v:?} has no letter or digit to search for"))
}

/// The parcel of `parcel=` (LxWxH, cm) and `weight_kg=`, when either is given.
fn parcel_size(q: &QueryParams) -> Result<Option<ParcelSize>, ApiError> {
    let dims_mm = q.optional("parcel", sizes::parse_dims_cm)?;
    let weight_g = q.optional("weight_kg", sizes::parse_weight_kg)?;
    let size = ParcelSize { dims_mm, weight_g };
    Ok((!size.is_unknown()).then_some(size))
}

/// The search a request asks for, every parameter checked (a 400 names the one at fault).
pub fn point_query(q: &QueryParams) -> Result<PointQuery, ApiError> {
    let area = q.optional("bbox", parse_bbox)?;
    let text = q.optional("q", parse_text)?;
    if area.is_some() && text.is_some() {
        return Err(ApiError::bad_parameter(
            "q",
            "q and bbox cannot be combined: search by text, or by map area",
        ));
    }
    let lat = q.optional("lat", number_in(-90.0, 90.0))?;
    let lon = q.optional("lon", number_in(-180.0, 180.0))?;
    let position = match (lat, lon) {
        (Some(lat), Some(lon)) => Some((lat, lon)),
        (None, None) if area.is_some() || text.is_some() => None,
        (Some(_), None) => return Err(ApiError::bad_parameter("lon", "lon is required with lat")),
        (None, Some(_)) => return Err(ApiError::bad_parameter("lat", "lat is required with lon")),
        (None, None) => {
            return Err(ApiError::bad_parameter(
                "lat",
                "lat is required (with lon), unless bbox or q is given",
            ))
        }
    };
    let radius_m = q.optional("radius_m", number_in(0.0, f64::MAX))?;
    if radius_m.is_some() && (area.is_some() || position.is_none()) {
        return Err(ApiError::bad_parameter(
            "radius_m",
            "radius_m needs lat and lon, and does not apply to bbox (the box is the area)",
        ));
    }
    let rank = q.optional("rank", parse_rank)?.unwrap_or_default();
    if rank == Rank::Room && (area.is_some() || text.is_some()) {
        return Err(ApiError::bad_parameter(
            "rank",
            "rank=room orders the nearest points; it does not apply to bbox or q",
        ));
    }
    let default_limit = if area.is_some() { AREA_LIMIT } else { 10 };
    Ok(PointQuery {
        position,
        area,
        text,
        limit: q
            .optional("limit", integer_in(1, MAX_LIMIT))?
            .unwrap_or(default_limit) as usize,
        radius_m,
        open_at: q.optional("open_at", instant)?,
        min_free: q
            .optional("min_free", integer_in(0, 100_000))?
            .map(|m| m as i32),
        sku: q.optional("sku", sku_text)?,
        arrive_at: q.optional("arrive_at", instant)?,
        include_unavailable: q.optional("include_unavailable", boolean)?.unwrap_or(false),
        rank,
        stock_sku: q.optional("stock_sku", sku_text)?,
        service: q
            .optional("service", str::parse::<Service>)?
            .unwrap_or(Service::Pickup),
        capabilities: q
            .optional("capability", Capabilities::wanted)?
            .unwrap_or_default(),
        parcel: parcel_size(q)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_are_checked_part_by_part() {
        let b = parse_bbox("-3.8, 40.3,-3.6,40.5").expect("valid");
        assert_eq!((b.west, b.south, b.east, b.north), (-3.8, 40.3, -3.6, 40.5));
        assert!(
            parse_bbox("170,-20,-170,-10").is_ok(),
            "crosses the antimeridian"
        );
        for (bad, says) in [
            ("1,2,3", "four numbers"),
            ("1,2,3,4,5", "four numbers"),
            ("x,2,3,4", "min_lon \"x\" is not a number"),
            ("-181,2,3,4", "min_lon -181 is out of range"),
            ("1,-91,3,4", "min_lat -91 is out of range"),
            ("1,2,3,NaN", "max_lat NaN is out of range"),
            ("1,5,3,4", "min_lat 5 must be below max_lat 4"),
            ("1,4,1,5", "no width"),
        ] {
            let err = parse_bbox(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn text_needs_a_letter_or_digit() {
        assert!(parse_text("Papelería 12").is_ok());
        assert!(parse_text("--").is_err());
        assert!(parse_text(&"a".repeat(101)).is_err());
        assert!(parse_text("a\u{1}").is_err());
    }
}
