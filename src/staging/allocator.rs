//! The exact staging allocator (DESIGN.md, "The allocation model").
//!
//! Minimise Σ x·dist(zone, shop) + P·unmet subject to each zone-SKU's demand being staged or
//! unmet, each shop's staging room per size class, and no unit farther than R. The cost does
//! not depend on the SKU, so the problem is solved as one min-cost flow, whose optimum is
//! integral, and each zone's flows are then split over its SKUs.
//!
//! Size classes (`network::sizes`): a unit of class c may take a slot of class c or larger,
//! as a parcel does, so the classes are nested (S ⊂ M ⊂ L by who may use them) and need no
//! separate commodities. With K the classes present in the demand, smallest first, the network
//! has a node per (zone, class in K) with that class's units as supply, a node per (shop,
//! class k in K) with an arc to the sink carrying the shop's room in the slot classes from k
//! up to the next class of K, and a free uncapacitated arc (shop, k) → (shop, next class of
//! K). A unit of class k enters its shop at (shop, k) and can only move up the chain, so every
//! path ends in a slot class ≥ k; conversely every placement of units in slots of their class
//! or larger is such a flow, at the same cost: the optimum of this flow is the optimum of the
//! model. With one class in the demand (every forecast without a `size` column: all `S`), the
//! network is exactly the single-class one of before sizes (zones → shops → sink, plus a zone
//! → sink arc at cost P), with the shop's arc carrying its room in every class it may use.
//!
//! Distances are haversine metres between the zone's cell centre and the shop, rounded to
//! whole micrometres for the solver (≤ 0.5 µm per unit and arc, ~1e-10 relative), and
//! reported from the exact values.
//!
//! Candidate arcs come from H3 disks, never from an all-pairs scan: shops are bucketed by
//! their resolution-7 cell, and each zone looks only at the grid disk of buckets that covers
//! R plus a bucket's own extent (see [`disk_radius`]).

use super::mcf;
use crate::network::geo::{haversine_m, Point};
use crate::network::sizes::SizeClass;
use h3o::{CellIndex, LatLng, Resolution};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// Resolution of the shop buckets.
const BUCKET_RESOLUTION: Resolution = Resolution::Seven;
/// Side of the prefilter's lat/lon squares, degrees.
const GRID: f64 = 0.1;
/// Micrometres per metre: the solver's integer unit of cost.
const MICROMETRES: f64 = 1e6;

/// A shop the allocator may stage at.
#[derive(Debug, Clone, PartialEq)]
pub struct StagingShop {
    /// pudo's shop id.
    pub id: i64,
    /// Degrees.
    pub latitude: f64,
    /// Degrees.
    pub longitude: f64,
    /// Units it can take, in slots of every class.
    pub capacity: u32,
    /// Of which in `S` slots (more than `capacity` counts as `capacity`).
    pub room_s: u32,
    /// Of which in `M` slots; the rest of `capacity` is in `L` slots, which any unit may take.
    pub room_m: u32,
    /// The shop's stored H3 cell (resolution 7 or finer), if known; saves computing it.
    pub cell: Option<CellIndex>,
}

impl StagingShop {
    /// Room in slots of `class`: `room_s` and `room_m` within `capacity`, the rest `L`.
    pub fn room(&self, class: SizeClass) -> u32 {
        let s = self.room_s.min(self.capacity);
        let m = self.room_m.min(self.capacity - s);
        match class {
            SizeClass::S => s,
            SizeClass::M => m,
            SizeClass::L => self.capacity - s - m,
        }
    }

    /// Room a unit of `class` may take: its class's slots and every larger class's.
    pub fn room_for(&self, class: SizeClass) -> u32 {
        SizeClass::ALL
            .into_iter()
            .filter(|&c| c >= class)
            .map(|c| self.room(c))
            .sum()
    }
}

/// Forecast demand of one zone and SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemandRow {
    /// H3 cell of the zone.
    pub zone: CellIndex,
    /// SKU.
    pub sku: String,
    /// Expected units.
    pub units: u32,
    /// Size class of the units (they take slots of this class or larger).
    pub size: SizeClass,
}

/// Model parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Farthest a unit may be staged from its zone, km.
    pub radius_km: f64,
    /// Cost of a unit not staged, km.
    pub penalty_km: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            radius_km: 3.0,
            penalty_km: 50.0,
        }
    }
}

/// Units of one SKU of one zone staged at one shop.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// Zone.
    pub zone: CellIndex,
    /// SKU.
    pub sku: String,
    /// Shop.
    pub shop_id: i64,
    /// Units.
    pub units: u32,
    /// Haversine distance from the zone's centre, km.
    pub distance_km: f64,
    /// Size class of the units.
    pub size: SizeClass,
}

/// Units of one SKU of one zone left unstaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// Zone.
    pub zone: CellIndex,
    /// SKU.
    pub sku: String,
    /// Units.
    pub units: u32,
    /// Size class of the units.
    pub size: SizeClass,
}

/// The optimal plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Sorted by (shop, SKU, zone).
    pub allocations: Vec<Allocation>,
    /// Sorted by (zone, SKU).
    pub unmet: Vec<Unmet>,
    /// The objective, km.
    pub total_cost_km: f64,
    /// Units staged.
    pub served_units: u64,
    /// Units not staged.
    pub unmet_units: u64,
    /// Shops receiving at least one unit.
    pub shops_used: usize,
    /// Candidate arcs within the radius: one per zone, size class and shop with room for it.
    pub arcs: usize,
    /// Wall time of the whole solve.
    pub solve_ms: u64,
}

/// Where the solver is, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Finding candidate arcs: zones done of total.
    BuildingArcs {
        /// Zones done.
        done: usize,
        /// Zones in all.
        total: usize,
    },
    /// Routing units: units still to route.
    Solving {
        /// Units left.
        left: u64,
    },
    /// Splitting flows over SKUs.
    Splitting,
}

/// Parameters the model cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AllocError {
    /// Radius or penalty out of range.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
}

/// Solves the staging model exactly.
pub fn solve(
    shops: &[StagingShop],
    demand: &[DemandRow],
    params: &Params,
    progress: &mut dyn FnMut(Stage),
) -> Result<Plan, AllocError> {
    if !(params.radius_km.is_finite() && params.radius_km > 0.0) {
        return Err(AllocError::InvalidParams(format!(
            "radius_km must be above 0 (got {})",
            params.radius_km
        )));
    }
    if !(params.penalty_km.is_finite() && params.penalty_km >= 0.0) {
        return Err(AllocError::InvalidParams(format!(
            "penalty_km must be 0 or more (got {})",
            params.penalty_km
        )));
    }
    let started = Instant::now();
    // Zone-class nodes in (zone, class) order, each with its SKUs in name order (duplicate
    // rows summed).
    let mut by_node: BTreeMap<(CellIndex, SizeClass), BTreeMap<&str, u64>> = BTreeMap::new();
    for row in demand.iter().filter(|r| r.units > 0) {
        *by_node
            .entry((row.zone, row.size))
            .or_default()
            .entry(row.sku.as_str())
            .or_default() += u64::from(row.units);
    }
    let nodes: Vec<(CellIndex, SizeClass, u64)> = by_node
        .iter()
        .map(|(&(z, c), skus)| (z, c, skus.values().sum()))
        .collect();
    // The classes present, smallest first: K in the module's note.
    let mut classes: Vec<SizeClass> = nodes.iter().map(|n| n.1).collect();
    classes.sort_unstable();
    classes.dedup();
    let class_at = |c: SizeClass| classes.iter().position(|&k| k == c).unwrap_or(0);
    // Candidate shops are found once per zone, whatever its classes.
    let mut zones: Vec<(CellIndex, u64)> = Vec::new();
    let mut zone_of = Vec::with_capacity(nodes.len());
    for &(z, _, units) in &nodes {
        match zones.last_mut() {
            Some(last) if last.0 == z => last.1 += units,
            _ => zones.push((z, units)),
        }
        zone_of.push(zones.len() - 1);
    }
    let open = open_shops(shops);
    let near_by_zone = candidate_arcs(&zones, &open, params);
    // Only shops some zone can reach take part: node numbers for them, in index order, one
    // node per class of K.
    let mut node_of = vec![u32::MAX; open.len()];
    let mut reached: Vec<u32> = Vec::new();
    for &(si, _) in near_by_zone.iter().flatten() {
        if node_of[si as usize] == u32::MAX {
            node_of[si as usize] = 0;
            reached.push(si);
        }
    }
    reached.sort_unstable();
    let n_count = nodes.len();
    for (n, &si) in reached.iter().enumerate() {
        node_of[si as usize] = (n_count + n * classes.len()) as u32;
    }
    let sink = n_count + reached.len() * classes.len();
    let mut net = mcf::Network::new(sink + 1);
    // Candidate arcs per zone-class node: (shop index, exact distance m, arc id); a shop
    // without room for the class gets none.
    let mut candidates: Vec<Vec<(u32, f64, usize)>> = Vec::with_capacity(n_count);
    let mut arcs = 0;
    for (ni, &(_, class, units)) in nodes.iter().enumerate() {
        let cap = units as i64;
        let k = class_at(class);
        let list: Vec<_> = near_by_zone[zone_of[ni]]
            .iter()
            .filter(|&&(si, _)| open[si as usize].room_for(class) > 0)
            .map(|&(si, d)| {
                (
                    si,
                    d,
                    net.add_arc(
                        ni,
                        node_of[si as usize] as usize + k,
                        cap,
                        (d * MICROMETRES).round() as i64,
                    ),
                )
            })
            .collect();
        arcs += list.len();
        candidates.push(list);
        if ni.is_multiple_of(1024) {
            progress(Stage::BuildingArcs {
                done: ni,
                total: n_count,
            });
        }
    }
    let penalty = (params.penalty_km * 1000.0 * MICROMETRES).round() as i64;
    for (ni, &(_, _, units)) in nodes.iter().enumerate() {
        net.add_arc(ni, sink, units as i64, penalty);
    }
    // (shop, k) → sink: the room in slot classes from k up to the next class of K.
    for &si in &reached {
        let shop = open[si as usize];
        for (k, &class) in classes.iter().enumerate() {
            let next = classes.get(k + 1).copied();
            let room: u32 = SizeClass::ALL
                .into_iter()
                .filter(|&c| c >= class && next.is_none_or(|n| c < n))
                .map(|c| shop.room(c))
                .sum();
            if room > 0 {
                net.add_arc(node_of[si as usize] as usize + k, sink, i64::from(room), 0);
            }
        }
    }
    // (shop, k) → (shop, k + 1): a unit may take a larger slot.
    let all_units: i64 = nodes.iter().map(|n| n.2 as i64).sum();
    for &si in &reached {
        let first = node_of[si as usize] as usize;
        for k in 1..classes.len() {
            net.add_arc(first + k - 1, first + k, all_units, 0);
        }
    }
    let mut supply = vec![0i64; sink + 1];
    for (ni, &(_, _, units)) in nodes.iter().enumerate() {
        supply[ni] = units as i64;
    }
    net.solve(&mut supply, sink, &mut |left| {
        progress(Stage::Solving { left: left as u64 })
    });
    progress(Stage::Splitting);
    // Split each zone-class's flows over its SKUs: SKUs in name order fill the nearest shops
    // first.
    let mut allocations = Vec::new();
    let mut unmet = Vec::new();
    let mut total_cost_m = 0.0;
    let (mut served_units, mut unmet_units) = (0u64, 0u64);
    for (ni, &(zone, size, _)) in nodes.iter().enumerate() {
        let mut flows: Vec<(u32, f64, u64)> = candidates[ni]
            .iter()
            .map(|&(si, d, a)| (si, d, net.flow(a) as u64))
            .filter(|f| f.2 > 0)
            .collect();
        let mut flow_at = 0;
        for (sku, &want) in &by_node[&(zone, size)] {
            let mut need = want;
            while need > 0 && flow_at < flows.len() {
                let (si, d, ref mut left) = flows[flow_at];
                let take = need.min(*left);
                *left -= take;
                need -= take;
                total_cost_m += take as f64 * d;
                served_units += take;
                allocations.push(Allocation {
                    zone,
                    sku: (*sku).to_owned(),
                    shop_id: open[si as usize].id,
                    units: take as u32,
                    distance_km: d / 1000.0,
                    size,
                });
                if flows[flow_at].2 == 0 {
                    flow_at += 1;
                }
            }
            if need > 0 {
                unmet_units += need;
                unmet.push(Unmet {
                    zone,
                    sku: (*sku).to_owned(),
                    units: need as u32,
                    size,
                });
            }
        }
    }
    allocations.sort_by(|a, b| (a.shop_id, &a.sku, a.zone).cmp(&(b.shop_id, &b.sku, b.zone)));
    unmet.sort_by(|a, b| (a.zone, &a.sku).cmp(&(b.zone, &b.sku)));
    let mut used: Vec<i64> = allocations.iter().map(|a| a.shop_id).collect();
    used.dedup();
    Ok(Plan {
        allocations,
        unmet,
        total_cost_km: total_cost_m / 1000.0 + params.penalty_km * unmet_units as f64,
        served_units,
        unmet_units,
        shops_used: used.len(),
        arcs,
        solve_ms: started.elapsed().as_millis() as u64,
    })
}

/// Shops with room, in id order.
fn open_shops(shops: &[StagingShop]) -> Vec<&StagingShop> {
    let mut open: Vec<&StagingShop> = shops.iter().filter(|s| s.capacity > 0).collect();
    open.sort_by_key(|s| s.id);
    open
}

/// For each zone, the shops within the radius of its centre as (index in `open`, metres),
/// nearest first, found through H3 buckets and grid disks.
fn candidate_arcs(
    zones: &[(CellIndex, u64)],
    open: &[&StagingShop],
    params: &Params,
) -> Vec<Vec<(u32, f64)>> {
    // Only shops in a coarse lat/lon square near some zone are bucketed: a cheap prefilter
    // (two floors and a hash lookup per shop) so that a small forecast does not pay for
    // indexing the whole country. Squares are GRID degrees; a zone marks every square its
    // radius (plus a bucket's extent) can reach, longitude widened by 1/cos(latitude).
    let reach_deg = (params.radius_km + 2.0 * 1.6 * BUCKET_RESOLUTION.edge_length_km()) / 111.0;
    let square = |lat: f64, lon: f64| ((lat / GRID).floor() as i32, (lon / GRID).floor() as i32);
    let mut wanted: std::collections::HashSet<(i32, i32), FastHash> = Default::default();
    for (zone, _) in zones {
        let c = LatLng::from(*zone);
        let lon_reach = (reach_deg / c.lat().to_radians().cos().max(0.01)).min(180.0);
        let (lo, hi) = (
            square(c.lat() - reach_deg, c.lng() - lon_reach),
            square(c.lat() + reach_deg, c.lng() + lon_reach),
        );
        for a in lo.0..=hi.0 {
            for b in lo.1..=hi.1 {
                wanted.insert((a, b));
            }
        }
    }
    let mut buckets: HashMap<CellIndex, Bucket, FastHash> = Default::default();
    let mut points: Vec<Point> = vec![Point::from_degrees(0.0, 0.0); open.len()];
    let mut vectors: Vec<[f64; 3]> = vec![[0.0; 3]; open.len()];
    for (i, s) in open.iter().enumerate() {
        if !wanted.contains(&square(s.latitude, s.longitude)) {
            continue;
        }
        let cell = match s.cell.and_then(|c| c.parent(BUCKET_RESOLUTION)) {
            Some(cell) => Some(cell),
            None => LatLng::new(s.latitude, s.longitude)
                .ok()
                .map(|ll| ll.to_cell(BUCKET_RESOLUTION)),
        };
        if let Some(cell) = cell {
            points[i] = Point::from_degrees(s.latitude, s.longitude);
            vectors[i] = points[i].unit_vector();
            buckets
                .entry(cell)
                .or_insert_with(|| {
                    let c = LatLng::from(cell);
                    Bucket {
                        centre: Point::from_degrees(c.lat(), c.lng()),
                        shops: Vec::new(),
                    }
                })
                .shops
                .push(i as u32);
        }
    }
    let radius_m = params.radius_km * 1000.0;
    // A bucket can hold a shop within R only if its centre is within R plus its own extent.
    let bucket_reach_m = radius_m + 1.6 * BUCKET_RESOLUTION.edge_length_m();
    // Shops are first compared by chord on unit vectors (three multiplications), and only the
    // ones inside the radius's chord (plus rounding slack) get the exact haversine distance.
    let chord_limit = (crate::network::geo::chord_for_distance(radius_m) + 1e-9).powi(2);
    let k = disk_radius(params.radius_km);
    // Zones are independent: searched on every core, collected in zone order (deterministic).
    zones
        .par_iter()
        .map(|(zone, _)| {
            let centre = LatLng::from(*zone);
            let zp = Point::from_degrees(centre.lat(), centre.lng());
            let zv = zp.unit_vector();
            let mut near: Vec<(u32, f64)> = Vec::new();
            for cell in centre.to_cell(BUCKET_RESOLUTION).grid_disk::<Vec<_>>(k) {
                let Some(bucket) = buckets.get(&cell) else {
                    continue;
                };
                if haversine_m(&zp, &bucket.centre) > bucket_reach_m {
                    continue;
                }
                for &si in &bucket.shops {
                    let v = vectors[si as usize];
                    let c2 =
                        (v[0] - zv[0]).powi(2) + (v[1] - zv[1]).powi(2) + (v[2] - zv[2]).powi(2);
                    if c2 > chord_limit {
                        continue;
                    }
                    let d = haversine_m(&zp, &points[si as usize]);
                    if d <= radius_m {
                        near.push((si, d));
                    }
                }
            }
            near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            near
        })
        .collect()
}

/// A fast hasher for the allocator's integer-keyed maps (FxHash's multiply-rotate); the keys
/// are our own cells and grid squares, so there is no hash-flooding concern.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // hashbrown takes its bucket from the low bits and its tag from the top seven; the
        // multiply leaves H3 indices (which differ mostly in the middle bits) clustered there
        // unless the state is rotated once more.
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }
}

type FastHash = std::hash::BuildHasherDefault<FastHasher>;

/// Shops of one H3 bucket, with the bucket's centre.
struct Bucket {
    centre: Point,
    shops: Vec<u32>,
}

/// The single-commodity model of a staging problem of one size class, for checking the
/// allocator against a general LP solver: zone supplies, shop capacities (the room the class
/// may take) and candidate arcs in kilometres. With several classes in the demand the model
/// is the chained network described at the top of this module; the allocator's tests check
/// that one against exhaustive search.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Units per zone (all SKUs), in cell order.
    pub zones: Vec<(CellIndex, u64)>,
    /// (shop id, capacity) of the shops with room, in id order.
    pub shops: Vec<(i64, u32)>,
    /// (zone index, shop index, distance km) for every candidate arc.
    pub arcs: Vec<(u32, u32, f64)>,
}

/// Builds the [`Instance`] that [`solve`] optimises when every unit of `demand` is of one
/// size class (the smallest class present is taken for all).
pub fn instance(shops: &[StagingShop], demand: &[DemandRow], params: &Params) -> Instance {
    let mut by_zone: BTreeMap<CellIndex, u64> = BTreeMap::new();
    for row in demand.iter().filter(|r| r.units > 0) {
        *by_zone.entry(row.zone).or_default() += u64::from(row.units);
    }
    let zones: Vec<(CellIndex, u64)> = by_zone.into_iter().collect();
    let class = demand
        .iter()
        .filter(|r| r.units > 0)
        .map(|r| r.size)
        .min()
        .unwrap_or(SizeClass::S);
    // A shop without room for the class is no shop of this instance (as in `solve`).
    let fitting: Vec<StagingShop> = shops
        .iter()
        .map(|s| StagingShop {
            capacity: s.room_for(class),
            room_s: 0,
            room_m: 0,
            ..s.clone()
        })
        .collect();
    let open = open_shops(&fitting);
    let arcs = candidate_arcs(&zones, &open, params)
        .into_iter()
        .enumerate()
        .flat_map(|(zi, near)| {
            near.into_iter()
                .map(move |(si, d)| (zi as u32, si, d / 1000.0))
        })
        .collect();
    Instance {
        zones,
        shops: open.iter().map(|s| (s.id, s.capacity)).collect(),
        arcs,
    }
}

/// The grid-disk radius k (in resolution-7 cells) around a zone's bucket that is sure to
/// contain every bucket holding a shop within `radius_km` of the zone's centre.
///
/// A shop within R of the centre lies in a bucket whose centre is within R + e of the zone
/// centre's bucket centre plus e (e: the largest centre-to-vertex distance of a cell, at most
/// 1.6 × the average edge length anywhere on the globe). Neighbouring cell centres are at
/// least √3 × the smallest edge (≥ 0.5 × average) apart, so k = ⌈(R + 2e) / (0.85 × avg
/// edge)⌉ + 1 rings cover it with margin.
pub fn disk_radius(radius_km: f64) -> u32 {
    let edge = BUCKET_RESOLUTION.edge_length_km();
    let reach = radius_km + 2.0 * 1.6 * edge;
    (reach / (0.85 * edge)).ceil() as u32 + 1
}

#[cfg(test)]
#[path = "allocator_tests.rs"]
mod tests;
