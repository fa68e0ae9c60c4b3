//! What a planner looks at: coverage, utilisation, unmet demand by zone, and a map.

use super::allocator::{Plan, StagingShop};
use crate::network::sizes::SizeClass;
use h3o::CellIndex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use utoipa::ToSchema;

/// Zones listed in `unmet_by_zone` at most (the largest first).
pub const UNMET_ZONES_LISTED: usize = 200;

/// A plan's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// Forecast units in all.
    pub forecast_units: u64,
    /// Share of forecast units staged within 1, 2 and 3 km of their zone (0 to 1).
    pub coverage: Vec<Coverage>,
    /// Shops by share of their staging capacity used, in tenths (`0-10%` … `90-100%`).
    pub utilisation: Vec<Bucket>,
    /// Zones with unmet demand, most unmet first (at most 200).
    pub unmet_by_zone: Vec<ZoneUnmet>,
    /// Units staged and not staged per size class of the forecast, smallest class first
    /// (only the classes it has; empty in reports stored before sizes).
    #[serde(default)]
    pub by_size: Vec<SizeUnits>,
}

/// Units of one size class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SizeUnits {
    /// The class.
    pub size: SizeClass,
    /// Units staged.
    pub served_units: u64,
    /// Units not staged.
    pub unmet_units: u64,
}

/// Coverage within a distance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Coverage {
    /// Distance, km.
    pub within_km: f64,
    /// Share of forecast units staged that close.
    pub share: f64,
}

/// One bar of the utilisation histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Bucket {
    /// e.g. `40-50%`.
    pub range: String,
    /// Shops in it.
    pub shops: u32,
}

/// Unmet demand of one zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneUnmet {
    /// H3 cell, hex.
    pub zone: String,
    /// Units not staged.
    pub units: u64,
}

/// Builds the report of a plan over the shops it was computed for.
pub fn report(plan: &Plan, shops: &[StagingShop]) -> Report {
    let served: u64 = plan.served_units;
    let forecast_units = served + plan.unmet_units;
    let coverage = [1.0, 2.0, 3.0]
        .into_iter()
        .map(|km| {
            let within: u64 = plan
                .allocations
                .iter()
                .filter(|a| a.distance_km <= km)
                .map(|a| u64::from(a.units))
                .sum();
            Coverage {
                within_km: km,
                share: if forecast_units == 0 {
                    0.0
                } else {
                    within as f64 / forecast_units as f64
                },
            }
        })
        .collect();
    let used = used_by_shop(plan);
    let mut counts = [0u32; 10];
    for shop in shops.iter().filter(|s| s.capacity > 0) {
        let share = f64::from(used.get(&shop.id).copied().unwrap_or(0)) / f64::from(shop.capacity);
        counts[((share * 10.0).floor() as usize).min(9)] += 1;
    }
    let utilisation = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| Bucket {
            range: format!("{}-{}%", i * 10, i * 10 + 10),
            shops: n,
        })
        .collect();
    let mut unmet: BTreeMap<CellIndex, u64> = BTreeMap::new();
    for u in &plan.unmet {
        *unmet.entry(u.zone).or_default() += u64::from(u.units);
    }
    let mut unmet_by_zone: Vec<ZoneUnmet> = unmet
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(z, units)| ZoneUnmet {
            zone: z.to_string(),
            units,
        })
        .collect();
    unmet_by_zone.sort_by(|a, b| b.units.cmp(&a.units).then_with(|| a.zone.cmp(&b.zone)));
    unmet_by_zone.truncate(UNMET_ZONES_LISTED);
    let mut by_size: BTreeMap<SizeClass, (u64, u64)> = BTreeMap::new();
    for a in &plan.allocations {
        by_size.entry(a.size).or_default().0 += u64::from(a.units);
    }
    for u in &plan.unmet {
        by_size.entry(u.size).or_default().1 += u64::from(u.units);
    }
    Report {
        forecast_units,
        coverage,
        utilisation,
        unmet_by_zone,
        by_size: by_size
            .into_iter()
            .map(|(size, (served_units, unmet_units))| SizeUnits {
                size,
                served_units,
                unmet_units,
            })
            .collect(),
    }
}

fn used_by_shop(plan: &Plan) -> HashMap<i64, u32> {
    let mut used = HashMap::new();
    for a in &plan.allocations {
        *used.entry(a.shop_id).or_insert(0) += a.units;
    }
    used
}

/// The plan as an SVG map: zones as H3 hexagons coloured from green (all staged) to red (all
/// unmet), and the shops used as dots coloured from light (little used) to dark (full).
/// Drawn in an equirectangular projection of the plan's bounding box; no tiles needed.
pub fn map_svg(plan: &Plan, shops: &[StagingShop]) -> String {
    let mut zone_units: BTreeMap<CellIndex, (u64, u64)> = BTreeMap::new();
    for a in &plan.allocations {
        zone_units.entry(a.zone).or_default().0 += u64::from(a.units);
    }
    for u in &plan.unmet {
        zone_units.entry(u.zone).or_default().1 += u64::from(u.units);
    }
    let used = used_by_shop(plan);
    let used_shops: Vec<&StagingShop> = shops.iter().filter(|s| used.contains_key(&s.id)).collect();
    let mut points: Vec<(f64, f64)> = used_shops
        .iter()
        .map(|s| (s.longitude, s.latitude))
        .collect();
    let hexagons: Vec<(Vec<(f64, f64)>, f64)> = zone_units
        .iter()
        .map(|(zone, (served, unmet))| {
            let ring: Vec<(f64, f64)> = zone
                .boundary()
                .iter()
                .map(|ll| (ll.lng(), ll.lat()))
                .collect();
            let total = served + unmet;
            (
                ring,
                if total == 0 {
                    0.0
                } else {
                    *unmet as f64 / total as f64
                },
            )
        })
        .collect();
    points.extend(hexagons.iter().flat_map(|(ring, _)| ring.iter().copied()));
    let (width, height) = (1000.0, 800.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"#f8f8f4\"/>\n"
    );
    if points.is_empty() {
        svg.push_str("<text x=\"20\" y=\"40\" font-size=\"20\">Nothing to draw: the plan has no demand.</text>\n</svg>\n");
        return svg;
    }
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &points {
        (min_x, max_x, min_y, max_y) = (min_x.min(x), max_x.max(x), min_y.min(y), max_y.max(y));
    }
    let mid_lat = ((min_y + max_y) / 2.0).to_radians().cos().max(0.05);
    let span_x = ((max_x - min_x) * mid_lat).max(1e-6);
    let span_y = (max_y - min_y).max(1e-6);
    let scale = ((width - 40.0) / span_x).min((height - 80.0) / span_y);
    let project = |(x, y): (f64, f64)| {
        (
            20.0 + (x - min_x) * mid_lat * scale,
            60.0 + (max_y - y) * scale,
        )
    };
    let _ = writeln!(
        svg,
        "<text x=\"20\" y=\"30\" font-size=\"18\">Staging plan: {} units staged, {} unmet, {} shops, cost {:.1} km</text>",
        plan.served_units, plan.unmet_units, plan.shops_used, plan.total_cost_km
    );
    svg.push_str("<g stroke=\"#666\" stroke-width=\"0.5\" fill-opacity=\"0.6\">\n");
    for (ring, unmet_share) in &hexagons {
        let path: Vec<String> = ring
            .iter()
            .map(|&p| project(p))
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            svg,
            "<polygon points=\"{}\" fill=\"{}\"/>",
            path.join(" "),
            ramp(*unmet_share, (46, 160, 67), (214, 39, 40))
        );
    }
    svg.push_str("</g>\n<g stroke=\"#222\" stroke-width=\"0.3\">\n");
    for shop in used_shops {
        let (x, y) = project((shop.longitude, shop.latitude));
        let share = if shop.capacity == 0 {
            1.0
        } else {
            f64::from(used[&shop.id]) / f64::from(shop.capacity)
        };
        let _ = writeln!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"{}\"/>",
            ramp(share, (198, 219, 239), (8, 48, 107))
        );
    }
    svg.push_str("</g>\n<text x=\"20\" y=\"790\" font-size=\"12\">Zones: green = staged, red = unmet. Shops: light = little used, dark = full.</text>\n</svg>\n");
    svg
}

fn ramp(t: f64, from: (u8, u8, u8), to: (u8, u8, u8)) -> String {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(from.0, to.0),
        mix(from.1, to.1),
        mix(from.2, to.2)
    )
}
