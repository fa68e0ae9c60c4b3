//! Spherical geometry shared by the index, the brute-force reference and the allocator.
//!
//! Every distance pudo reports is the haversine great-circle distance on a sphere of radius
//! [`EARTH_RADIUS_M`]; there is exactly one function computing it, [`haversine_m`], so the geo
//! index and any reference scan agree to the last bit.

use h3o::{CellIndex, LatLng, Resolution};

/// Mean Earth radius in metres (IUGG), the sphere every pudo distance is measured on.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// H3 resolution of a shop's cell (about 0.1 km² per cell).
pub const SHOP_CELL_RESOLUTION: Resolution = Resolution::Nine;

/// H3 resolution of the region key (about 12,000 km² per cell), the unit of distribution.
pub const REGION_RESOLUTION: Resolution = Resolution::Three;

/// A point on the sphere in degrees, with its unit vector precomputed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude in radians.
    pub lat_rad: f64,
    /// Longitude in radians.
    pub lon_rad: f64,
    /// Cosine of the latitude, reused by every haversine evaluation.
    pub cos_lat: f64,
}

impl Point {
    /// Builds a point from degrees; the caller validates ranges.
    pub fn from_degrees(lat: f64, lon: f64) -> Self {
        let lat_rad = lat.to_radians();
        Self {
            lat_rad,
            lon_rad: lon.to_radians(),
            cos_lat: lat_rad.cos(),
        }
    }

    /// The point as a unit vector in Earth-centred coordinates.
    ///
    /// The straight-line (chord) distance between two unit vectors grows strictly with the
    /// great-circle distance, so a k-d tree over these vectors finds great-circle neighbours
    /// without any special case at the antimeridian or the poles.
    pub fn unit_vector(&self) -> [f64; 3] {
        let (sin_lat, cos_lat) = self.lat_rad.sin_cos();
        let (sin_lon, cos_lon) = self.lon_rad.sin_cos();
        [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
    }
}

/// Haversine distance in metres between two points.
///
/// ```
/// use pudo::network::geo::{haversine_m, Point};
/// let madrid = Point::from_degrees(40.4168, -3.7038);
/// let barcelona = Point::from_degrees(41.3874, 2.1686);
/// let km = haversine_m(&madrid, &barcelona) / 1000.0;
/// assert!((km - 505.0).abs() < 2.0);
/// ```
#[inline]
pub fn haversine_m(a: &Point, b: &Point) -> f64 {
    let s_lat = ((b.lat_rad - a.lat_rad) * 0.5).sin();
    let s_lon = ((b.lon_rad - a.lon_rad) * 0.5).sin();
    let h = s_lat * s_lat + a.cos_lat * b.cos_lat * s_lon * s_lon;
    2.0 * EARTH_RADIUS_M * h.min(1.0).sqrt().asin()
}

/// Chord length (on the unit sphere) that corresponds to a great-circle distance in metres.
#[inline]
pub fn chord_for_distance(distance_m: f64) -> f64 {
    let angle = (distance_m / EARTH_RADIUS_M).min(std::f64::consts::PI);
    2.0 * (angle * 0.5).sin()
}

/// The H3 cell (resolution 9) and region key (resolution-3 parent) of a location, as the
/// lossless `i64` form stored in the database.
pub fn cell_and_region(lat: f64, lon: f64) -> Result<(i64, i64), h3o::error::InvalidLatLng> {
    let cell = LatLng::new(lat, lon)?.to_cell(SHOP_CELL_RESOLUTION);
    let region = cell.parent(REGION_RESOLUTION).unwrap_or(cell);
    Ok((cell_to_i64(cell), cell_to_i64(region)))
}

/// Converts a cell to the `i64` stored in `BIGINT` columns (the top bit of an H3 index is 0).
pub fn cell_to_i64(cell: CellIndex) -> i64 {
    u64::from(cell) as i64
}

/// Formats a stored cell as the usual hexadecimal H3 string.
pub fn cell_hex(cell: i64) -> String {
    CellHex(cell).to_string()
}

/// A stored cell shown (and serialised) as its hexadecimal H3 string, without building the
/// string first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellHex(pub i64);

impl std::fmt::Display for CellHex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0 as u64)
    }
}

impl serde::Serialize for CellHex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The outline of an H3 cell as `[lat, lon]` vertices in degrees, counter-clockwise (six for a
/// hexagon, five for a pentagon, more where the cell crosses an icosahedron edge): what a map
/// draws for the cell, exactly as H3 defines it.
pub fn cell_outline(cell: CellIndex) -> Vec<[f64; 2]> {
    cell.boundary().iter().map(|v| [v.lat(), v.lng()]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Haversine};

    #[test]
    fn agrees_with_the_geo_crate() {
        let pairs = [
            ((40.4168, -3.7038), (41.3874, 2.1686)),
            ((0.0, 179.9), (0.0, -179.9)),
            ((89.9, 0.0), (89.9, 180.0)),
            ((-33.9, 151.2), (51.5, -0.12)),
            ((10.0, 10.0), (-10.0, -170.0)),
        ];
        for ((la, lo), (lb, lob)) in pairs {
            let ours = haversine_m(&Point::from_degrees(la, lo), &Point::from_degrees(lb, lob));
            let theirs = Haversine.distance(geo::Point::new(lo, la), geo::Point::new(lob, lb));
            assert!(
                (ours - theirs).abs() < 1e-6 * theirs.max(1.0),
                "{ours} vs {theirs}"
            );
        }
    }

    #[test]
    fn chord_matches_unit_vectors() {
        let a = Point::from_degrees(12.0, 34.0);
        let b = Point::from_degrees(-5.0, 120.0);
        let (va, vb) = (a.unit_vector(), b.unit_vector());
        let chord =
            ((va[0] - vb[0]).powi(2) + (va[1] - vb[1]).powi(2) + (va[2] - vb[2]).powi(2)).sqrt();
        assert!((chord - chord_for_distance(haversine_m(&a, &b))).abs() < 1e-12);
    }

    #[test]
    fn cells_round_trip_through_i64() {
        let (cell, region) = cell_and_region(31.2222, 121.4581).expect("valid");
        assert!(cell > 0 && region > 0);
        let parsed: CellIndex = cell_hex(cell).parse().expect("hex");
        assert_eq!(parsed.resolution(), Resolution::Nine);
        assert_eq!(
            cell_to_i64(parsed.parent(Resolution::Three).expect("parent")),
            region
        );
    }
}
