use super::*;
use proptest::prelude::*;

fn cell(lat: f64, lon: f64) -> CellIndex {
    LatLng::new(lat, lon)
        .expect("valid")
        .to_cell(Resolution::Nine)
}

fn shop(id: i64, lat: f64, lon: f64, capacity: u32) -> StagingShop {
    StagingShop {
        id,
        latitude: lat,
        longitude: lon,
        capacity,
        room_s: 0,
        room_m: 0,
        cell: None,
    }
}

/// A shop with room `[s, m, l]` per class.
fn sized_shop(id: i64, lat: f64, lon: f64, [s, m, l]: [u32; 3]) -> StagingShop {
    StagingShop {
        room_s: s,
        room_m: m,
        ..shop(id, lat, lon, s + m + l)
    }
}

fn row(zone: CellIndex, sku: &str, units: u32) -> DemandRow {
    sized_row(zone, sku, units, SizeClass::S)
}

fn sized_row(zone: CellIndex, sku: &str, units: u32, size: SizeClass) -> DemandRow {
    DemandRow {
        zone,
        sku: sku.into(),
        units,
        size,
    }
}

fn dist_km(zone: CellIndex, s: &StagingShop) -> f64 {
    let c = LatLng::from(zone);
    haversine_m(
        &Point::from_degrees(c.lat(), c.lng()),
        &Point::from_degrees(s.latitude, s.longitude),
    ) / 1000.0
}

/// Exhaustive optimum: every way to split every zone-class's units over the slots of their
/// class or larger of the shops in reach (the model itself, not the allocator's network).
fn brute_force(shops: &[StagingShop], zones: &[(CellIndex, SizeClass, u32)], p: &Params) -> f64 {
    fn go(
        z: usize,
        zones: &[(CellIndex, SizeClass, u32)],
        shops: &[StagingShop],
        cap: &mut Vec<u32>,
        p: &Params,
    ) -> f64 {
        if z == zones.len() {
            return 0.0;
        }
        let (zone, class, units) = zones[z];
        // Bins are (shop, slot class) pairs, numbered shop * 3 + class.
        let reach: Vec<usize> = (0..shops.len())
            .filter(|&i| dist_km(zone, &shops[i]) <= p.radius_km)
            .flat_map(|i| (class as usize..3).map(move |c| i * 3 + c))
            .collect();
        let mut best = f64::INFINITY;
        split(
            0, units, &reach, zone, z, zones, shops, cap, p, 0.0, &mut best,
        );
        best
    }
    #[allow(clippy::too_many_arguments)]
    fn split(
        k: usize,
        left: u32,
        reach: &[usize],
        zone: CellIndex,
        z: usize,
        zones: &[(CellIndex, SizeClass, u32)],
        shops: &[StagingShop],
        cap: &mut Vec<u32>,
        p: &Params,
        acc: f64,
        best: &mut f64,
    ) {
        if k == reach.len() {
            let total = acc + p.penalty_km * f64::from(left) + go(z + 1, zones, shops, cap, p);
            *best = best.min(total);
            return;
        }
        let i = reach[k];
        for x in 0..=left.min(cap[i]) {
            cap[i] -= x;
            split(
                k + 1,
                left - x,
                reach,
                zone,
                z,
                zones,
                shops,
                cap,
                p,
                acc + f64::from(x) * dist_km(zone, &shops[i / 3]),
                best,
            );
            cap[i] += x;
        }
    }
    let mut cap: Vec<u32> = shops
        .iter()
        .flat_map(|s| SizeClass::ALL.map(|c| s.room(c)))
        .collect();
    go(0, zones, shops, &mut cap, p)
}

fn check_feasible(plan: &Plan, shops: &[StagingShop], demand: &[DemandRow], p: &Params) {
    let mut used: HashMap<i64, u64> = HashMap::new();
    let mut per: HashMap<(CellIndex, String), u64> = HashMap::new();
    for a in &plan.allocations {
        *used.entry(a.shop_id).or_default() += u64::from(a.units);
        *per.entry((a.zone, a.sku.clone())).or_default() += u64::from(a.units);
        let s = shops
            .iter()
            .find(|s| s.id == a.shop_id)
            .expect("known shop");
        assert!(a.distance_km <= p.radius_km + 1e-9);
        assert!((a.distance_km - dist_km(a.zone, s)).abs() < 1e-9);
    }
    for u in &plan.unmet {
        *per.entry((u.zone, u.sku.clone())).or_default() += u64::from(u.units);
    }
    for s in shops {
        assert!(
            used.get(&s.id).copied().unwrap_or(0) <= u64::from(s.capacity),
            "capacity of {}",
            s.id
        );
        // Per-class room: the units of class c or larger never exceed the slots of class c
        // or larger (the exact condition for placing units in slots of their class or larger).
        for class in SizeClass::ALL {
            let units: u64 = plan
                .allocations
                .iter()
                .filter(|a| a.shop_id == s.id && a.size >= class)
                .map(|a| u64::from(a.units))
                .sum();
            assert!(
                units <= u64::from(s.room_for(class)),
                "room of class {class} or larger at {}: {units} units",
                s.id
            );
        }
    }
    let mut want: HashMap<(CellIndex, String), u64> = HashMap::new();
    let size_of: HashMap<&str, SizeClass> =
        demand.iter().map(|r| (r.sku.as_str(), r.size)).collect();
    for a in &plan.allocations {
        assert_eq!(
            a.size,
            size_of[a.sku.as_str()],
            "an allocation keeps its SKU's size"
        );
    }
    for r in demand.iter().filter(|r| r.units > 0) {
        *want.entry((r.zone, r.sku.clone())).or_default() += u64::from(r.units);
    }
    assert_eq!(per, want, "every unit is staged or unmet, once");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn optimum_equals_exhaustive_search(
        shops in prop::collection::vec((0.0..0.05f64, 0.0..0.05f64, 0u32..4), 0..4),
        zones in prop::collection::vec((0.0..0.05f64, 0.0..0.05f64, 0u32..4), 1..4),
        radius in 0.5..4.0f64,
        penalty in prop_oneof![Just(50.0), 0.5..8.0f64],
    ) {
        let shops: Vec<StagingShop> = shops.iter().enumerate().map(|(i, &(a, b, c))| shop(i as i64 + 1, 40.0 + a, -3.0 + b, c)).collect();
        let mut zone_units: BTreeMap<CellIndex, u32> = BTreeMap::new();
        for &(a, b, u) in &zones {
            *zone_units.entry(cell(40.0 + a, -3.0 + b)).or_default() += u;
        }
        let demand: Vec<DemandRow> = zone_units.iter().map(|(z, u)| row(*z, "A", *u)).collect();
        let p = Params { radius_km: radius, penalty_km: penalty };
        let plan = solve(&shops, &demand, &p, &mut |_| {}).expect("solves");
        check_feasible(&plan, &shops, &demand, &p);
        let zones: Vec<(CellIndex, SizeClass, u32)> = zone_units.into_iter().map(|(z, u)| (z, SizeClass::S, u)).collect();
        let best = brute_force(&shops, &zones, &p);
        prop_assert!((plan.total_cost_km - best).abs() < 1e-6, "allocator {} vs exhaustive {}", plan.total_cost_km, best);
    }

    #[test]
    fn optimum_with_size_classes_equals_exhaustive_search(
        shops in prop::collection::vec((0.0..0.03f64, 0.0..0.03f64, [0u32..3, 0u32..3, 0u32..3]), 0..4),
        rows in prop::collection::vec((0.0..0.03f64, 0.0..0.03f64, 0usize..3, 0u32..3), 1..4),
        radius in 0.5..4.0f64,
        penalty in prop_oneof![Just(50.0), 0.5..8.0f64],
    ) {
        let shops: Vec<StagingShop> = shops.iter().enumerate().map(|(i, &(a, b, room))| sized_shop(i as i64 + 1, 40.0 + a, -3.0 + b, room)).collect();
        let mut units: BTreeMap<(CellIndex, SizeClass), u32> = BTreeMap::new();
        for &(a, b, c, u) in &rows {
            *units.entry((cell(40.0 + a, -3.0 + b), SizeClass::ALL[c])).or_default() += u;
        }
        // One SKU per class, as a forecast file gives each SKU one size.
        let demand: Vec<DemandRow> = units.iter().map(|(&(z, c), &u)| sized_row(z, c.as_str(), u, c)).collect();
        let p = Params { radius_km: radius, penalty_km: penalty };
        let plan = solve(&shops, &demand, &p, &mut |_| {}).expect("solves");
        check_feasible(&plan, &shops, &demand, &p);
        let zones: Vec<(CellIndex, SizeClass, u32)> = units.into_iter().map(|((z, c), u)| (z, c, u)).collect();
        let best = brute_force(&shops, &zones, &p);
        prop_assert!((plan.total_cost_km - best).abs() < 1e-6, "allocator {} vs exhaustive {}", plan.total_cost_km, best);
    }

    #[test]
    fn a_forecast_without_sizes_plans_as_before_sizes(
        shops in prop::collection::vec((0.0..0.2f64, 0.0..0.2f64, [0u32..10, 0u32..10, 0u32..10]), 0..40),
        rows in prop::collection::vec((0.0..0.2f64, 0.0..0.2f64, 0usize..3, 0u32..40), 0..60),
    ) {
        // Every unit S (no `size` column): each may take any slot, so the plan is the one of
        // the same shops with all their room in one class, as every shop had before sizes;
        // and the network is that single-class network, so the plan is the same to the line.
        let sized: Vec<StagingShop> = shops.iter().enumerate().map(|(i, &(a, b, room))| sized_shop(i as i64 + 1, 40.0 + a, -3.0 + b, room)).collect();
        let plain: Vec<StagingShop> = sized.iter().map(|s| shop(s.id, s.latitude, s.longitude, s.capacity)).collect();
        let skus = ["A", "B", "C"];
        let demand: Vec<DemandRow> = rows.iter().map(|&(a, b, s, u)| row(cell(40.0 + a, -3.0 + b), skus[s], u)).collect();
        let p = Params::default();
        let with_classes = solve(&sized, &demand, &p, &mut |_| {}).expect("solves");
        let without = solve(&plain, &demand, &p, &mut |_| {}).expect("solves");
        prop_assert_eq!(Plan { solve_ms: 0, ..with_classes }, Plan { solve_ms: 0, ..without });
    }

    #[test]
    fn plans_are_feasible_and_deterministic_on_larger_instances(
        shops in prop::collection::vec((0.0..0.2f64, 0.0..0.2f64, [0u32..10, 0u32..10, 0u32..10]), 0..60),
        rows in prop::collection::vec((0.0..0.2f64, 0.0..0.2f64, 0usize..3, 0u32..40), 0..80),
    ) {
        let shops: Vec<StagingShop> = shops.iter().enumerate().map(|(i, &(a, b, room))| sized_shop(i as i64 + 1, 40.0 + a, -3.0 + b, room)).collect();
        // SKU A is S, B is M, C is L.
        let skus = ["A", "B", "C"];
        let demand: Vec<DemandRow> = rows.iter().map(|&(a, b, s, u)| sized_row(cell(40.0 + a, -3.0 + b), skus[s], u, SizeClass::ALL[s])).collect();
        let p = Params::default();
        let plan = solve(&shops, &demand, &p, &mut |_| {}).expect("solves");
        check_feasible(&plan, &shops, &demand, &p);
        let mut reversed = shops.clone();
        reversed.reverse();
        let again = solve(&reversed, &demand, &p, &mut |_| {}).expect("solves");
        prop_assert_eq!(plan.allocations, again.allocations);
        prop_assert_eq!(plan.served_units + plan.unmet_units, demand.iter().map(|r| u64::from(r.units)).sum::<u64>());
    }
}

#[test]
fn capacity_binds_and_the_nearest_shop_fills_first() {
    let z = cell(40.0, -3.0);
    let near = shop(1, 40.0, -3.0, 2);
    let farther = shop(2, 40.01, -3.0, 10);
    let plan = solve(
        &[near.clone(), farther.clone()],
        &[row(z, "A", 5)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    let units: Vec<(i64, u32)> = plan
        .allocations
        .iter()
        .map(|a| (a.shop_id, a.units))
        .collect();
    assert_eq!(units, [(1, 2), (2, 3)]);
    let expected = 2.0 * dist_km(z, &near) + 3.0 * dist_km(z, &farther);
    assert!((plan.total_cost_km - expected).abs() < 1e-9);
    assert_eq!(
        (plan.served_units, plan.unmet_units, plan.shops_used),
        (5, 0, 2)
    );
}

#[test]
fn the_radius_cuts_a_shop_off() {
    let z = cell(40.0, -3.0);
    let outside = shop(1, 40.05, -3.0, 10); // about 5.5 km north
    let plan = solve(
        &[outside],
        &[row(z, "A", 4)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    assert!(plan.allocations.is_empty());
    assert_eq!(
        plan.unmet,
        vec![Unmet {
            zone: z,
            sku: "A".into(),
            units: 4,
            size: SizeClass::S
        }]
    );
    assert_eq!(plan.total_cost_km, 200.0);
    assert_eq!(plan.arcs, 0);
}

#[test]
fn a_cheap_penalty_leaves_far_demand_unmet() {
    let z = cell(40.0, -3.0);
    let s = shop(1, 40.02, -3.0, 10); // about 2.2 km
    let p = Params {
        radius_km: 3.0,
        penalty_km: 1.0,
    };
    let plan = solve(&[s], &[row(z, "A", 3)], &p, &mut |_| {}).expect("solves");
    assert_eq!(
        (plan.served_units, plan.unmet_units),
        (0, 3),
        "1 km penalty beats 2.2 km"
    );
}

#[test]
fn ties_are_broken_the_same_way_every_time() {
    let z = cell(40.0, -3.0);
    let c = LatLng::from(z);
    let twins = [shop(7, c.lat(), c.lng(), 1), shop(3, c.lat(), c.lng(), 1)];
    let plan = solve(&twins, &[row(z, "A", 1)], &Params::default(), &mut |_| {}).expect("solves");
    assert_eq!(
        plan.allocations[0].shop_id, 3,
        "equal distances go to the lower id"
    );
    let again = solve(
        &[twins[1].clone(), twins[0].clone()],
        &[row(z, "A", 1)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    assert_eq!(
        plan,
        Plan {
            solve_ms: plan.solve_ms,
            ..again
        }
    );
}

#[test]
fn zero_demand_empty_network_and_duplicate_rows() {
    let z = cell(40.0, -3.0);
    let none = solve(
        &[shop(1, 40.0, -3.0, 5)],
        &[row(z, "A", 0)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    assert_eq!(
        (none.served_units, none.unmet_units, none.total_cost_km),
        (0, 0, 0.0)
    );
    let empty = solve(
        &[],
        &[row(z, "A", 2), row(z, "B", 1)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    assert_eq!((empty.unmet_units, empty.total_cost_km), (3, 150.0));
    let twice = solve(
        &[shop(1, 40.0, -3.0, 9)],
        &[row(z, "A", 2), row(z, "A", 3)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    assert_eq!(twice.allocations.len(), 1);
    assert_eq!(twice.allocations[0].units, 5);
}

#[test]
fn skus_split_over_the_zone_flows() {
    let z = cell(40.0, -3.0);
    let shops = [shop(1, 40.0, -3.0, 3), shop(2, 40.005, -3.0, 3)];
    let plan = solve(
        &shops,
        &[row(z, "B", 2), row(z, "A", 3), row(z, "C", 2)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    let lines: Vec<(i64, &str, u32)> = plan
        .allocations
        .iter()
        .map(|a| (a.shop_id, a.sku.as_str(), a.units))
        .collect();
    assert_eq!(lines, [(1, "A", 3), (2, "B", 2), (2, "C", 1)]);
    assert_eq!(
        plan.unmet,
        vec![Unmet {
            zone: z,
            sku: "C".into(),
            units: 1,
            size: SizeClass::S
        }]
    );
}

#[test]
fn a_unit_takes_a_slot_of_its_class_or_larger_and_never_a_smaller_one() {
    let z = cell(40.0, -3.0);
    // The near shop has S slots only, the farther one L slots only.
    let near = sized_shop(1, 40.0, -3.0, [5, 0, 0]);
    let far = sized_shop(2, 40.01, -3.0, [0, 0, 5]);
    let shops = [near.clone(), far.clone()];
    let plan = solve(
        &shops,
        &[
            sized_row(z, "CARD", 3, SizeClass::S),
            sized_row(z, "TV", 4, SizeClass::L),
        ],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    let lines: Vec<(i64, &str, u32, SizeClass)> = plan
        .allocations
        .iter()
        .map(|a| (a.shop_id, a.sku.as_str(), a.units, a.size))
        .collect();
    // The TVs cannot use the near S slots; the cards take them.
    assert_eq!(
        lines,
        [(1, "CARD", 3, SizeClass::S), (2, "TV", 4, SizeClass::L)]
    );
    // Six TVs: the farther shop's five L slots, one unmet, although S slots are free.
    let plan = solve(
        &shops,
        &[sized_row(z, "TV", 6, SizeClass::L)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    assert_eq!((plan.served_units, plan.unmet_units), (5, 1));
    assert_eq!(plan.unmet[0].size, SizeClass::L);
    // Eight cards: the five S slots near, then three L slots farther.
    let plan = solve(
        &shops,
        &[sized_row(z, "CARD", 8, SizeClass::S)],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    let lines: Vec<(i64, u32)> = plan
        .allocations
        .iter()
        .map(|a| (a.shop_id, a.units))
        .collect();
    assert_eq!(lines, [(1, 5), (2, 3)]);
    let expected = 5.0 * dist_km(z, &near) + 3.0 * dist_km(z, &far);
    assert!((plan.total_cost_km - expected).abs() < 1e-9);
}

#[test]
fn small_units_leave_the_large_slots_to_the_large_units_when_that_is_cheaper() {
    // One shop with 1 M and 1 L slot; an S unit and an L unit of the same zone: the S unit
    // must take the M slot so that the L unit fits (a greedy S-into-L would strand it).
    let z = cell(40.0, -3.0);
    let s = sized_shop(1, 40.0, -3.0, [0, 1, 1]);
    let plan = solve(
        &[s],
        &[
            sized_row(z, "A", 1, SizeClass::S),
            sized_row(z, "B", 1, SizeClass::L),
        ],
        &Params::default(),
        &mut |_| {},
    )
    .expect("solves");
    assert_eq!((plan.served_units, plan.unmet_units), (2, 0));
}

#[test]
fn bad_parameters_are_refused() {
    for p in [
        Params {
            radius_km: 0.0,
            penalty_km: 1.0,
        },
        Params {
            radius_km: f64::NAN,
            penalty_km: 1.0,
        },
        Params {
            radius_km: 1.0,
            penalty_km: -1.0,
        },
    ] {
        assert!(solve(&[], &[], &p, &mut |_| {}).is_err());
    }
}

#[test]
fn the_disk_covers_the_radius() {
    // Every shop bucket within R of a zone centre is inside the disk, checked on a dense grid
    // of points around a high-latitude and an equatorial zone.
    for (lat, lon) in [(0.0, 0.0), (60.0, 30.0), (31.2, 121.5)] {
        let centre = LatLng::new(lat, lon).expect("valid");
        let disk: std::collections::HashSet<CellIndex> = centre
            .to_cell(BUCKET_RESOLUTION)
            .grid_disk::<Vec<_>>(disk_radius(3.0))
            .into_iter()
            .collect();
        let cp = Point::from_degrees(lat, lon);
        for i in 0..60 {
            for j in 0..60 {
                let (a, b) = (
                    lat - 0.03 + f64::from(i) * 0.001,
                    lon - 0.06 + f64::from(j) * 0.002,
                );
                if haversine_m(&cp, &Point::from_degrees(a, b)) <= 3000.0 {
                    let c = LatLng::new(a, b).expect("valid").to_cell(BUCKET_RESOLUTION);
                    assert!(
                        disk.contains(&c),
                        "({a}, {b}) near ({lat}, {lon}) not covered"
                    );
                }
            }
        }
    }
}
