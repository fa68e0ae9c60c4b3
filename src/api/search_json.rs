//! The JSON of a search answer, written straight into the response buffer.
//!
//! The search is the hottest route of a peak day. Through serde's derive, every answer of ten
//! points escapes some 270 strings (each of the 18 keys of every point, then its values) and
//! formats each H3 cell through `core::fmt`: a profile under load put a quarter of the
//! server's own CPU there, more than the geo search itself. Here the keys are literals, a value
//! string is copied as it is unless it holds a character JSON must escape, and numbers go
//! through `serde_json`'s own formatter, so the bytes are exactly those that
//! `serde_json::to_vec(&PickupPoints { .. })` writes (a property test holds the two equal);
//! [`PickupPoints`] stays the documented schema.
//!
//! [`PickupPoints`]: super::pickup_points::PickupPoints

use super::pickup_points::{PickupPoint, PointCluster};
use crate::network::address::{Address, LocalText};
use serde_json::ser::{CompactFormatter, Formatter};

/// Writes `{"items":[…]}` for `points`, in order, byte for byte as serde_json serialises
/// [`PickupPoints`](super::pickup_points::PickupPoints); a map-area answer adds its `total`
/// and `clusters`.
pub fn write_answer<'p, 'a: 'p, I>(
    points: I,
    area: Option<(usize, &[PointCluster])>,
    out: &mut Vec<u8>,
) where
    I: IntoIterator<Item = &'p PickupPoint<'a>>,
    I::IntoIter: Clone,
{
    let points = points.into_iter();
    touch_strings(points.clone());
    out.extend_from_slice(b"{\"items\":[");
    for (i, point) in points.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_point(point, out);
    }
    out.push(b']');
    if let Some((total, clusters)) = area {
        out.extend_from_slice(b",\"total\":");
        int(out, total as i64);
        out.extend_from_slice(b",\"clusters\":[");
        for (i, c) in clusters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"cell\":");
            hex(out, c.cell.0);
            out.extend_from_slice(b",\"count\":");
            int(out, i64::from(c.count));
            out.extend_from_slice(b",\"lat\":");
            float(out, c.lat);
            out.extend_from_slice(b",\"lon\":");
            float(out, c.lon);
            out.push(b'}');
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// Reads the first byte of every point's name and external id, in one short loop, before any
/// is written. Under load these strings are seldom in cache; loaded here, their misses overlap
/// (no load waits for another), where the writer would meet them one at a time, each after a
/// point's worth of formatting.
fn touch_strings<'p, 'a: 'p>(points: impl Iterator<Item = &'p PickupPoint<'a>>) {
    let mut seen = 0u8;
    for p in points {
        seen ^= p.name.as_bytes().first().copied().unwrap_or(0);
        seen ^= p.external_id.as_bytes().first().copied().unwrap_or(0);
    }
    // Keeps the loads: nothing else reads `seen`.
    std::hint::black_box(seen);
}

/// The answer's likely size, to allocate its buffer once (about 420 bytes a point, up to
/// about 200 more with an address and a phone, 40 more with a parcel's `size_class` and
/// `limit`, and about 100 more with capabilities and a photo URL).
pub fn capacity_for(points: usize) -> usize {
    16 + points * 820
}

fn write_point(p: &PickupPoint<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    int(out, p.id);
    out.extend_from_slice(b",\"external_id\":");
    string(out, p.external_id);
    out.extend_from_slice(b",\"name\":");
    string(out, p.name);
    out.extend_from_slice(b",\"lat\":");
    float(out, p.lat);
    out.extend_from_slice(b",\"lon\":");
    float(out, p.lon);
    out.extend_from_slice(b",\"distance_m\":");
    match p.distance_m {
        Some(d) => float(out, d),
        None => null(out),
    }
    out.extend_from_slice(b",\"h3_cell\":");
    hex(out, p.h3_cell.0);
    out.extend_from_slice(b",\"capacity\":");
    int(out, i64::from(p.capacity));
    out.extend_from_slice(b",\"free_slots\":");
    int(out, i64::from(p.free_slots));
    out.extend_from_slice(b",\"status\":");
    plain(out, p.status.as_str());
    out.extend_from_slice(b",\"open_now\":");
    boolean(out, p.open_now);
    out.extend_from_slice(b",\"selectable\":");
    boolean(out, p.selectable);
    out.extend_from_slice(b",\"unavailable_reason\":");
    match p.unavailable_reason {
        Some(reason) => plain(out, reason.as_str()),
        None => null(out),
    }
    out.extend_from_slice(b",\"open_at_arrival\":");
    optional_boolean(out, p.open_at_arrival);
    out.extend_from_slice(b",\"opening_hours\":");
    match p.opening_hours {
        Some(hours) => string(out, hours),
        None => null(out),
    }
    out.extend_from_slice(b",\"timezone\":");
    match p.timezone {
        Some(zone) => string(out, zone),
        None => null(out),
    }
    out.extend_from_slice(b",\"in_stock\":");
    optional_boolean(out, p.in_stock);
    out.extend_from_slice(b",\"services\":[");
    for (i, service) in p.services.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        plain(out, service.as_str());
    }
    out.extend_from_slice(b"],\"capabilities\":[");
    for (i, capability) in p.capabilities.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        plain(out, capability.as_str());
    }
    out.extend_from_slice(b"],\"photo_url\":");
    optional_string(out, p.photo_url);
    out.extend_from_slice(b",\"address\":");
    match p.address {
        Some(a) => address(out, a),
        None => null(out),
    }
    out.extend_from_slice(b",\"phone\":");
    optional_string(out, p.phone);
    out.extend_from_slice(b",\"localized\":");
    match p.localized {
        Some(l) => {
            out.extend_from_slice(b"{\"zh\":");
            local_text(out, l.zh.as_ref());
            out.extend_from_slice(b",\"es\":");
            local_text(out, l.es.as_ref());
            out.push(b'}');
        }
        None => null(out),
    }
    out.extend_from_slice(b",\"next_open_at\":");
    match p.next_open_at {
        Some(t) => plain(out, &t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        None => null(out),
    }
    if let Some(class) = p.size_class {
        out.extend_from_slice(b",\"size_class\":");
        plain(out, class.as_str());
    }
    if let Some(limit) = p.limit {
        out.extend_from_slice(b",\"limit\":");
        plain(out, limit);
    }
    out.push(b'}');
}

fn address(out: &mut Vec<u8>, a: &Address) {
    out.extend_from_slice(b"{\"street\":");
    optional_string(out, a.street.as_deref());
    out.extend_from_slice(b",\"postcode\":");
    optional_string(out, a.postcode.as_deref());
    out.extend_from_slice(b",\"city\":");
    string(out, &a.city);
    out.extend_from_slice(b",\"region\":");
    optional_string(out, a.region.as_deref());
    out.extend_from_slice(b",\"country\":");
    string(out, a.country.as_str());
    out.push(b'}');
}

fn local_text(out: &mut Vec<u8>, t: Option<&LocalText>) {
    let Some(t) = t else { return null(out) };
    out.extend_from_slice(b"{\"name\":");
    optional_string(out, t.name.as_deref());
    out.extend_from_slice(b",\"address\":");
    optional_string(out, t.address.as_deref());
    out.push(b'}');
}

fn optional_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => null(out),
    }
}

/// A string value: copied between quotes when nothing in it needs escaping (names, codes and
/// hours almost never do), else escaped by serde_json itself.
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        plain(out, s);
    } else {
        // Serialising a str into a Vec cannot fail (no I/O, no non-string key).
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// A string known to need no escaping (a fixed enum name).
fn plain(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// An H3 cell as serde writes a [`CellHex`](crate::network::geo::CellHex): a quoted
/// lower-case hexadecimal number without leading zeros.
fn hex(out: &mut Vec<u8>, cell: i64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let v = cell as u64;
    // Nibbles to write: at least one, so that 0 is "0".
    let nibbles = (16 - v.leading_zeros() as usize / 4).max(1);
    out.push(b'"');
    for i in (0..nibbles).rev() {
        out.push(DIGITS[((v >> (i * 4)) & 0xf) as usize]);
    }
    out.push(b'"');
}

fn int(out: &mut Vec<u8>, v: i64) {
    // Writing into a Vec cannot fail.
    let _ = CompactFormatter.write_i64(out, v);
}

/// A number as serde_json writes an `f64`: shortest round-trip form, `null` when not finite.
fn float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let _ = CompactFormatter.write_f64(out, v);
    } else {
        null(out);
    }
}

fn boolean(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

fn optional_boolean(out: &mut Vec<u8>, v: Option<bool>) {
    match v {
        Some(v) => boolean(out, v),
        None => null(out),
    }
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

#[cfg(test)]
#[path = "search_json_tests.rs"]
mod tests;
