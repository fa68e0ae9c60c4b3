use super::*;
use proptest::prelude::*;

fn shop(s: i32, m: i32) -> ShopSizes {
    ShopSizes {
        slots_s: s,
        slots_m: m,
        ..ShopSizes::default()
    }
}

#[test]
fn dimensions_parse_in_centimetres_longest_first() {
    assert_eq!(parse_dims_cm("30x20x5"), Ok([300, 200, 50]));
    assert_eq!(parse_dims_cm("4.5X60x20.5"), Ok([600, 205, 45]));
    for bad in [
        "",
        "30x20",
        "30x20x5x1",
        "30x-1x5",
        "30x0x5",
        "30x20x5.25",
        "axbxc",
        "1e3x1x1",
    ] {
        assert!(parse_dims_cm(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn weights_parse_in_kilograms_to_the_gram() {
    assert_eq!(parse_weight_kg("2.5"), Ok(2500));
    assert_eq!(parse_weight_kg("0.001"), Ok(1));
    assert_eq!(parse_weight_kg("25"), Ok(25_000));
    for bad in [
        "0", "0.0001", "-1", "1,5", "", "1000.001", "NaN", "01", "0.000", ".5", "5.", "+1",
    ] {
        assert!(parse_weight_kg(bad).is_err(), "{bad:?} parsed");
    }
    assert_eq!(weight_g_of_kg(1.2345), Ok(1235));
    assert_eq!(parse_weight_kg("1000.000"), Ok(1_000_000));
    assert!(weight_g_of_kg(0.0).is_err());
    assert!(weight_g_of_kg(0.0009).is_err());
    assert!(weight_g_of_kg(1000.1).is_err());
    assert!(weight_g_of_kg(f64::NAN).is_err());
    assert_eq!(kg(2500), "2.5");
    assert_eq!(cm(385), "38.5");
}

#[test]
fn a_point_without_sizes_takes_everything_up_to_the_defaults_in_l() {
    let legacy = shop(0, 0);
    let small = ParcelSize {
        dims_mm: Some([100, 100, 10]),
        weight_g: Some(100),
    };
    let p = legacy.place(10, &small).expect("fits");
    assert_eq!(p.needed, SizeClass::S);
    assert_eq!(p.classes().collect::<Vec<_>>(), vec![SizeClass::L]);
    // Capacity 0: full, not unfit (as before sizes).
    assert!(legacy.place(0, &ParcelSize::default()).is_ok());
    let heavy = ParcelSize {
        dims_mm: None,
        weight_g: Some(25_001),
    };
    assert_eq!(legacy.place(10, &heavy), Err(DoesNotFit::Weight(25_000)));
    let big = ParcelSize {
        dims_mm: Some([641, 100, 100]),
        weight_g: None,
    };
    assert_eq!(
        legacy.place(10, &big),
        Err(DoesNotFit::Dimensions([640, 410, 380]))
    );
}

#[test]
fn a_parcel_takes_the_smallest_class_it_fits_then_larger_ones() {
    let sizes = shop(2, 3); // capacity 10: 2 S, 3 M, 5 L
    let m_parcel = ParcelSize {
        dims_mm: Some([300, 200, 150]),
        weight_g: None,
    };
    let p = sizes.place(10, &m_parcel).expect("fits");
    assert_eq!(p.needed, SizeClass::M);
    assert_eq!(
        p.classes().collect::<Vec<_>>(),
        vec![SizeClass::M, SizeClass::L]
    );
    // Without measurements: the largest class.
    let p = sizes.place(10, &ParcelSize::default()).expect("fits");
    assert_eq!(p.classes().collect::<Vec<_>>(), vec![SizeClass::L]);
    // A point with S slots only cannot take an M parcel.
    assert_eq!(
        shop(4, 0).place(4, &m_parcel),
        Err(DoesNotFit::NoClass(SizeClass::M))
    );
    let held = Held {
        live: 6,
        live_s: 2,
        live_m: 1,
    };
    assert_eq!(free_for(&sizes, 10, &held, &p), 2);
    let p = sizes.place(10, &m_parcel).expect("fits");
    assert_eq!(free_for(&sizes, 10, &held, &p), 2 + 2);
}

proptest! {
    /// Every text the OpenAPI patterns allow is accepted, so no valid request is refused.
    #[test]
    fn what_the_patterns_allow_parses(
        dims in proptest::string::string_regex(DIMS_PATTERN.trim_start_matches('^').trim_end_matches('$')).expect("regex"),
        weight in proptest::string::string_regex(WEIGHT_PATTERN.trim_start_matches('^').trim_end_matches('$')).expect("regex"),
    ) {
        prop_assert!(parse_dims_cm(&dims).is_ok(), "{dims:?}");
        prop_assert!(parse_weight_kg(&weight).is_ok(), "{weight:?}");
    }

    /// Whatever the parcel and the point, a class offered to the parcel holds it: the parcel
    /// is within the point's limits and within the class's box.
    #[test]
    fn a_parcel_is_only_placed_where_it_fits(
        a in 1..800i32, b in 1..800i32, c in 1..800i32, w in 1..40_000i32,
        s in 0..5i32, m in 0..5i32, l in 0..5i32,
        max in proptest::option::of((100..900i32, 100..900i32, 50..900i32)),
        max_w in proptest::option::of(1_000..40_000i32),
    ) {
        let sizes = ShopSizes {
            slots_s: s,
            slots_m: m,
            max_weight_g: max_w,
            max_dims_mm: max.map(|(x, y, z)| sorted([x, y, z])),
        };
        let parcel = ParcelSize { dims_mm: Some(sorted([a, b, c])), weight_g: Some(w) };
        let capacity = s + m + l;
        match sizes.place(capacity, &parcel) {
            Ok(p) => {
                let d = parcel.dims_mm.expect("dims");
                prop_assert!(w <= sizes.max_weight());
                prop_assert!(within(d, sizes.max_dims()));
                for class in p.classes() {
                    prop_assert!(class >= p.needed);
                    prop_assert!(sizes.has(capacity, class));
                    if let Some(bounds) = class.bounds_mm() {
                        prop_assert!(within(d, bounds));
                    }
                }
            }
            Err(DoesNotFit::Weight(_)) => prop_assert!(w > sizes.max_weight()),
            Err(DoesNotFit::Dimensions(_)) => prop_assert!(!within(parcel.dims_mm.expect("dims"), sizes.max_dims())),
            Err(DoesNotFit::NoClass(needed)) => {
                prop_assert!(SizeClass::ALL.iter().all(|&c| c < needed || !sizes.has(capacity, c)));
            }
        }
    }
}

#[test]
fn free_slots_by_class_never_add_up_to_more_than_the_free_slots_in_all() {
    let held = |live, live_s, live_m| Held {
        live,
        live_s,
        live_m,
    };
    // 2 S, 2 M, 2 L: one of each held.
    assert_eq!(free_by_class(&shop(2, 2), 6, &held(3, 1, 1)), [1, 1, 1]);
    // No sizes declared: every slot L, as before sizes.
    assert_eq!(free_by_class(&shop(0, 0), 5, &held(2, 0, 0)), [0, 0, 3]);
    // S slots lowered to 1 while 3 are held: the S overhang takes room off L first, then M.
    assert_eq!(free_by_class(&shop(1, 2), 5, &held(3, 3, 0)), [0, 2, 0]);
    assert_eq!(free_by_class(&shop(1, 2), 5, &held(4, 4, 0)), [0, 1, 0]);
}
