//! Map areas, clusters, text search and next openings against brute-force scans.

use super::area::{brute_force_clusters, AreaAnswer, BoundingBox};
use super::text::{Quality, Query};
use super::*;
use crate::network::closures::Closure;
use chrono::TimeZone;
use proptest::prelude::*;
use std::collections::BTreeSet;

const NAMES: [&str; 8] = [
    "Papelería Carabanchel",
    "Estanco Ávila",
    "Kiosko Sol",
    "北京朝阳区便利店",
    "Convenience store Shanghai",
    "Supermercado Alcalá de Henares",
    "Ñandú Express",
    "24h Mart 朝阳",
];

fn shop(id: i64, lat: f64, lon: f64, status: ShopStatus, services: u8, name: usize) -> IndexedShop {
    let mut set = Services::none();
    for s in Service::ALL {
        if services & (1 << (s as u8)) != 0 {
            set.insert(s);
        }
    }
    IndexedShop {
        id,
        external_id: format!("ES-{id}-{}", id % 7).into(),
        name: format!("{} #{id}", NAMES[name % NAMES.len()]).into(),
        latitude: lat,
        longitude: lon,
        h3_cell: 0,
        capacity: 10,
        live: (id % 12) as i32,
        status,
        timezone: chrono_tz::Europe::Madrid,
        hours: Arc::new(
            WeeklyHours::parse(if id % 3 == 0 {
                "Mo-Fr 09:00-14:00"
            } else {
                "24/7"
            })
            .expect("hours"),
        ),
        services: set,
        closures: Default::default(),
        details: None,
        sizes: Default::default(),
        profile: Default::default(),
    }
}

/// Schedules the open-at tests give shops: zone, hours and closures, more of them than the
/// classes the index numbers in tests, so that some shops are irregular.
fn schedule(variant: usize) -> (chrono_tz::Tz, &'static str, Vec<Closure>) {
    use chrono_tz::{America, Asia, Europe};
    const HOURS: [&str; 5] = [
        "24/7",
        "Mo-Fr 09:00-14:00",
        "Mo-Sa 08:00-22:00",
        "Fr-Sa 20:00-02:00",
        "Mo-Su off",
    ];
    let zones = [
        Europe::Madrid,
        Asia::Shanghai,
        America::New_York,
        Asia::Kolkata,
    ];
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 9, d).expect("date");
    let closures = match variant % 3 {
        0 => Vec::new(),
        1 => vec![Closure {
            start: day(23),
            end: day(25),
            reason: String::new(),
        }],
        _ => vec![
            Closure {
                start: day(21),
                end: day(21),
                reason: String::new(),
            },
            Closure {
                start: day(28),
                end: day(30),
                reason: String::new(),
            },
        ],
    };
    (zones[variant % 4], HOURS[variant % 5], closures)
}

/// [`shop`] with one of the [`schedule`]s.
fn scheduled(
    id: i64,
    (lat, lon): (f64, f64),
    status: ShopStatus,
    services: u8,
    variant: usize,
) -> IndexedShop {
    let (tz, hours, closures) = schedule(variant);
    IndexedShop {
        timezone: tz,
        hours: Arc::new(WeeklyHours::parse(hours).expect("hours")),
        closures: ClosedSpans::new(tz, &closures),
        ..shop(id, lat, lon, status, services, id as usize)
    }
}

/// Services bits of the open-at tests: few kinds, so that nodes keep their class tallies.
fn few_services() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![1u8, 3, 15])
}

/// An instant in the fortnight the schedules' closures fall in.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..14 * 86_400).prop_map(|s| {
        Utc.timestamp_opt(1_790_000_000 + s, 0)
            .single()
            .expect("time")
    })
}

fn coord() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        (-80.0..=80.0f64, -180.0..=180.0f64),
        (
            -10.0..10.0f64,
            prop_oneof![175.0..=180.0f64, -180.0..-175.0f64]
        ),
        (40.0..40.6f64, -4.0..-3.4f64),
        (40.40..40.42f64, -3.71..-3.69f64),
    ]
}

fn status() -> impl Strategy<Value = ShopStatus> {
    prop_oneof![6 => Just(ShopStatus::Active), 1 => Just(ShopStatus::Paused), 1 => Just(ShopStatus::Closed)]
}

fn area() -> impl Strategy<Value = BoundingBox> {
    let lat = -85.0..85.0f64;
    prop_oneof![
        // Anywhere, any size, crossing the antimeridian when west > east.
        (
            -180.0..180.0f64,
            lat.clone(),
            -180.0..180.0f64,
            0.001..60.0f64
        ),
        // Around Madrid, from a street to the region.
        (-4.1..-3.5f64, 40.0..40.5f64, 0.001..1.0f64, 0.001..1.0f64).prop_map(|(w, s, dw, dh)| (
            w,
            s,
            w + dw,
            dh
        )),
    ]
    .prop_filter("a box has width", |b| b.0 != b.2)
    .prop_map(|(west, south, east, height)| BoundingBox {
        west,
        south,
        east,
        north: (south + height).min(90.0),
    })
}

/// What a filter lets through, checked on every shop (the reference).
fn qualifies(s: &IndexedShop, f: &SearchFilter<'_>) -> bool {
    (s.status == ShopStatus::Active || (f.include_paused && s.status == ShopStatus::Paused))
        && f.service.is_none_or(|sv| s.services.has(sv))
        && s.capabilities().covers(f.capabilities)
        && f.open_at.is_none_or(|at| s.is_open_at(at))
        && f.min_free.is_none_or(|m| s.capacity - s.live >= m)
        && f.accept.is_none_or(|a| a(s))
}

fn built(shops: &[((f64, f64), ShopStatus, u8, usize)]) -> GeoIndex {
    GeoIndex::build(
        shops
            .iter()
            .enumerate()
            .map(|(i, ((lat, lon), st, sv, name))| shop(i as i64, *lat, *lon, *st, *sv, *name)),
    )
}

fn check_area(
    index: &GeoIndex,
    b: &BoundingBox,
    f: &SearchFilter<'_>,
) -> Result<(), TestCaseError> {
    let matching: Vec<&IndexedShop> = index
        .shops()
        .filter(|s| qualifies(s, f) && b.contains(s.latitude, s.longitude))
        .collect();
    match index.in_area(b, f) {
        AreaAnswer::Points(points) => {
            prop_assert!(matching.len() <= f.limit);
            let got: BTreeSet<i64> = points.iter().map(|s| s.id).collect();
            prop_assert_eq!(got.len(), points.len(), "each point once");
            let want: BTreeSet<i64> = matching.iter().map(|s| s.id).collect();
            prop_assert_eq!(got, want);
        }
        AreaAnswer::Clusters {
            resolution,
            clusters,
        } => {
            prop_assert!(matching.len() > f.limit);
            prop_assert_eq!(resolution, b.cluster_resolution());
            let want = brute_force_clusters(matching.into_iter(), b, resolution);
            prop_assert_eq!(clusters, want);
        }
    }
    Ok(())
}

/// Capabilities a test shop declares: few combinations, so that nodes keep their class tallies
/// and the capability filter counts from them.
fn few_capabilities() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![0u8, 0, 1, 3, 12, 15])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn capability_areas_equal_a_scan(
        shops in prop::collection::vec((coord(), status(), few_services(), 0usize..60, few_capabilities()), 0..800),
        changes in prop::collection::vec((0usize..900, coord(), status(), few_services(), 0usize..60, 0u8..16, any::<bool>()), 0..60),
        boxes in prop::collection::vec(area(), 6),
        limit in prop_oneof![1usize..5, 5usize..200],
        include_paused in any::<bool>(),
        service in prop::option::of(prop::sample::select(Service::ALL.to_vec())),
        want in prop_oneof![Just(0u8), Just(16u8), 0u8..32],
        at in prop::option::of(instant()),
        min_free in prop::option::of(0i32..12),
    ) {
        use super::tests::{declared, wanted};
        let make = |i: usize, c: (f64, f64), st: ShopStatus, sv: u8, v: usize, bits: u8| IndexedShop {
            profile: declared(bits),
            ..scheduled(i as i64, c, st, sv, v)
        };
        let mut index = GeoIndex::build(shops.iter().enumerate().map(|(i, (c, st, sv, v, bits))| make(i, *c, *st, *sv, *v, *bits)));
        prop_assert!(shops.len() < 400 || index.area.class_tallied_nodes() > 0, "class tallies are used");
        // Capabilities, hours (so open_24_7), status and places change in place or move.
        for (i, c, st, sv, v, bits, moved) in changes {
            let c = if moved || i >= shops.len() { c } else { shops[i].0 };
            index.upsert(make(i, c, st, sv, v, bits));
        }
        let filter = SearchFilter { limit, max_distance_m: None, open_at: at, min_free, accept: None, include_paused, service, capabilities: wanted(want) };
        for b in &boxes {
            check_area(&index, b, &filter)?;
        }
        let text = Query::new("kiosko").expect("query");
        let got: BTreeSet<i64> = index.find_text(&text, None, &SearchFilter { limit: usize::MAX, ..filter }).iter().map(|h| h.shop.id).collect();
        let want: BTreeSet<i64> = index.shops().filter(|s| qualifies(s, &filter) && text.matches(s).is_some()).map(|s| s.id).collect();
        prop_assert_eq!(got, want, "text search");
    }

    #[test]
    fn areas_and_clusters_equal_a_scan(
        shops in prop::collection::vec((coord(), status(), 0u8..16, 0usize..8), 0..500),
        boxes in prop::collection::vec(area(), 6),
        limit in prop_oneof![1usize..5, 5usize..200],
        include_paused in any::<bool>(),
        service in prop::option::of(prop::sample::select(Service::ALL.to_vec())),
        open_at in prop::option::of(0i64..14 * 86_400),
        min_free in prop::option::of(0i32..12),
    ) {
        let index = built(&shops);
        let at = open_at.map(|s| Utc.timestamp_opt(1_790_000_000 + s, 0).single().expect("time"));
        let filter = SearchFilter { limit, max_distance_m: None, open_at: at, min_free, accept: None, include_paused, service, capabilities: Default::default() };
        for b in &boxes {
            check_area(&index, b, &filter)?;
        }
    }

    #[test]
    fn open_areas_equal_a_scan(
        shops in prop::collection::vec((coord(), status(), few_services(), 0usize..60), 0..800),
        boxes in prop::collection::vec(area(), 6),
        limit in prop_oneof![1usize..5, 5usize..200],
        include_paused in any::<bool>(),
        service in prop::option::of(prop::sample::select(Service::ALL.to_vec())),
        at in instant(),
        min_free in prop::option::of(0i32..12),
    ) {
        let index = GeoIndex::build(shops.iter().enumerate().map(|(i, (c, st, sv, v))| scheduled(i as i64, *c, *st, *sv, *v)));
        let filter = SearchFilter { limit, max_distance_m: None, open_at: Some(at), min_free, accept: None, include_paused, service, capabilities: Default::default() };
        for b in &boxes {
            check_area(&index, b, &filter)?;
        }
    }

    #[test]
    fn open_areas_stay_exact_through_updates(
        shops in prop::collection::vec((coord(), status(), few_services(), 0usize..60), 1..500),
        changes in prop::collection::vec((0usize..600, coord(), status(), few_services(), 0usize..60, any::<bool>()), 0..100),
        boxes in prop::collection::vec(area(), 4),
        limit in 1usize..200,
        at in instant(),
        service in prop::option::of(prop::sample::select(Service::ALL.to_vec())),
    ) {
        let mut index = GeoIndex::build(shops.iter().enumerate().map(|(i, (c, st, sv, v))| scheduled(i as i64, *c, *st, *sv, *v)));
        for (i, c, st, sv, v, moved) in changes {
            let c = if moved || i >= shops.len() { c } else { shops[i].0 };
            if st == ShopStatus::Closed && i % 5 == 0 {
                index.remove(i as i64);
            } else {
                index.upsert(scheduled(i as i64, c, st, sv, v));
            }
        }
        let filter = SearchFilter { limit, max_distance_m: None, open_at: Some(at), min_free: None, accept: None, include_paused: true, service, capabilities: Default::default() };
        for b in &boxes {
            check_area(&index, b, &filter)?;
        }
    }

    #[test]
    fn areas_stay_exact_through_updates(
        shops in prop::collection::vec((coord(), status(), 0u8..16, 0usize..8), 1..300),
        changes in prop::collection::vec((0usize..400, coord(), status(), 0u8..16, any::<bool>()), 0..200),
        boxes in prop::collection::vec(area(), 4),
        limit in 1usize..50,
    ) {
        let mut index = built(&shops);
        for (i, (lat, lon), st, sv, moved) in changes {
            let (lat, lon) = if moved || i >= shops.len() { (lat, lon) } else { shops[i].0 };
            if st == ShopStatus::Closed && i % 5 == 0 {
                index.remove(i as i64);
            } else {
                index.upsert(shop(i as i64, lat, lon, st, sv, i));
            }
        }
        let filter = SearchFilter { limit, max_distance_m: None, open_at: None, min_free: None, accept: None, include_paused: true, service: Some(Service::Dropoff), capabilities: Default::default() };
        for b in &boxes {
            check_area(&index, b, &filter)?;
        }
    }

    #[test]
    fn text_matches_equal_a_scan(
        shops in prop::collection::vec((coord(), status(), 0u8..16, 0usize..8), 0..300),
        renames in prop::collection::vec((0usize..300, 0usize..8), 0..20),
        queries in prop::collection::vec(prop_oneof![
            Just("papeleria".to_owned()), Just("PAPEL car".to_owned()), Just("avila".to_owned()),
            Just("朝阳".to_owned()), Just("便利".to_owned()), Just("es-1".to_owned()),
            Just("ES-12-5".to_owned()), Just("nandu".to_owned()), Just("alcala de h".to_owned()),
            Just("store #1".to_owned()), "[a-zñá0-9 -]{1,6}",
        ], 6),
        near in prop::option::of(coord()),
        include_paused in any::<bool>(),
    ) {
        let mut index = built(&shops);
        for (i, name) in renames {
            if let Some(((lat, lon), st, sv, _)) = shops.get(i) {
                index.upsert(shop(i as i64, *lat, *lon, *st, *sv, name));
            }
        }
        let filter = SearchFilter { limit: usize::MAX, max_distance_m: None, open_at: None, min_free: None, accept: None, include_paused, service: Some(Service::Pickup), capabilities: Default::default() };
        for text in &queries {
            let Some(q) = Query::new(text) else { continue };
            let got: Vec<(i64, Quality)> = index.find_text(&q, near, &filter).iter().map(|h| (h.shop.id, h.quality)).collect();
            let mut want: Vec<(Quality, f64, i64)> = index.shops().filter(|s| qualifies(s, &filter)).filter_map(|s| {
                let quality = q.matches(s)?;
                let d = near.map_or(0.0, |(lat, lon)| haversine_m(&Point::from_degrees(lat, lon), &Point::from_degrees(s.latitude, s.longitude)));
                Some((quality, d, s.id))
            }).collect();
            want.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
            let want: Vec<(i64, Quality)> = want.into_iter().map(|(q, _, id)| (id, q)).collect();
            prop_assert_eq!(got, want, "query {:?}", text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The fast paths of folding (ASCII, text already in NFKD) fold as the decomposition does.
    #[test]
    fn folding_equals_the_decomposition(text in "[a-zA-Z0-9 #\\-\u{0}éÉñÑ\u{301}朝阳ＡＢ①ﬁ\u{f900}İß]{0,20}") {
        use unicode_normalization::char::is_combining_mark;
        use unicode_normalization::UnicodeNormalization;
        let want: String = text
            .nfkd()
            .filter(|c| !is_combining_mark(*c))
            .flat_map(char::to_lowercase)
            .collect();
        prop_assert_eq!(super::text::fold(&text), want);
    }

    /// The word index is in the order of the full texts from each word start (then slot),
    /// whatever the lengths around the sort key's fifteen bytes and its zero padding.
    #[test]
    fn words_sort_as_their_texts(
        names in prop::collection::vec("[ab\u{0} 朝]{0,20}", 0..40),
        streets in prop::collection::vec(prop::option::of("[ab 朝]{10,18}"), 40),
    ) {
        let shops: Vec<IndexedShop> = names.iter().enumerate().map(|(i, n)| {
            let mut s = shop(i as i64, 40.0, -3.0, ShopStatus::Active, 1, 0);
            s.name = n.as_str().into();
            s.details = streets[i].as_ref().map(|street| Arc::new(crate::network::address::ShopDetails {
                address: Some(crate::network::address::Address {
                    street: Some(street.as_str().into()),
                    postcode: None,
                    city: "ab".into(),
                    region: None,
                    country: crate::network::address::Country::parse("ES").expect("ES"),
                }),
                ..Default::default()
            }));
            s
        }).collect();
        let index = GeoIndex::build(shops);
        prop_assert!(index.text.is_sorted_by_text());
    }
}

#[test]
fn text_is_folded_and_ranked() {
    let index =
        GeoIndex::build((0..8).map(|i| shop(i, 40.4, -3.7, ShopStatus::Active, 15, i as usize)));
    let filter = SearchFilter {
        service: Some(Service::Pickup),
        ..SearchFilter::nearest(10)
    };
    let ids = |text: &str| -> Vec<i64> {
        index
            .find_text(&Query::new(text).expect("words"), None, &filter)
            .iter()
            .map(|h| h.shop.id)
            .collect()
    };
    assert_eq!(ids("PAPELERIA"), vec![0]);
    assert_eq!(ids("avila"), vec![1]);
    assert_eq!(
        ids("朝阳"),
        vec![7, 3],
        "a whole word, then a substring of a Chinese name"
    );
    assert_eq!(ids("阳区"), vec![3]);
    assert_eq!(ids("nandu ex"), vec![6]);
    assert_eq!(ids("es-5-5"), vec![5], "an external id in full");
    let hits = index.find_text(&Query::new("es-5-5").expect("words"), None, &filter);
    assert_eq!(hits[0].quality, Quality::Exact);
    assert!(ids("xyz").is_empty());
}

#[test]
fn a_cluster_answer_counts_every_point() {
    let shops = (0..1000).map(|i| {
        let (lat, lon) = (40.0 + (i % 40) as f64 * 0.01, -4.0 + (i / 40) as f64 * 0.01);
        shop(i, lat, lon, ShopStatus::Active, 1, 0)
    });
    let index = GeoIndex::build(shops);
    let b = BoundingBox {
        west: -4.5,
        south: 39.5,
        east: -3.0,
        north: 41.0,
    };
    let filter = SearchFilter {
        service: Some(Service::Pickup),
        ..SearchFilter::nearest(100)
    };
    let AreaAnswer::Clusters { clusters, .. } = index.in_area(&b, &filter) else {
        panic!("1,000 points in the box are more than 100");
    };
    assert_eq!(clusters.iter().map(|c| c.count).sum::<u32>(), 1000);
    let small = BoundingBox {
        west: -4.001,
        south: 39.999,
        east: -3.985,
        north: 40.015,
    };
    let AreaAnswer::Points(points) = index.in_area(&small, &filter) else {
        panic!("a few points");
    };
    assert_eq!(points.len(), 4);
}

/// Many shops of few schedules: the nodes count open shops from their class tallies, and a
/// whole-country box with `open_at` gives the scan's clusters at every hour of a week.
#[test]
fn open_clusters_come_from_class_tallies() {
    let shops = (0..4000).map(|i| {
        let c = (40.0 + (i % 60) as f64 * 0.01, -4.0 + (i / 60) as f64 * 0.01);
        scheduled(i, c, ShopStatus::Active, 1, (i % 3) as usize * 4)
    });
    let index = GeoIndex::build(shops);
    assert!(index.area.class_tallied_nodes() > 0);
    let b = BoundingBox {
        west: -4.5,
        south: 39.5,
        east: -3.0,
        north: 41.0,
    };
    for hour in 0..7 * 24 {
        let at = Utc
            .timestamp_opt(1_790_000_000 + hour * 3600, 0)
            .single()
            .expect("time");
        let filter = SearchFilter {
            open_at: Some(at),
            service: Some(Service::Pickup),
            ..SearchFilter::nearest(100)
        };
        check_area(&index, &b, &filter).expect("exact");
    }
}

#[test]
fn next_opening_skips_nights_weekends_and_closures() {
    let madrid = chrono_tz::Europe::Madrid;
    let mut s = shop(3, 40.4, -3.7, ShopStatus::Active, 1, 0);
    // Saturday 2026-12-05 12:00 local: next is Monday 09:00 local (08:00 UTC).
    let saturday = madrid
        .with_ymd_and_hms(2026, 12, 5, 12, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    let monday = Utc
        .with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
        .single()
        .expect("time");
    assert_eq!(s.next_open_at(saturday), Some(monday));
    // Open now: none.
    assert_eq!(s.next_open_at(monday + chrono::Duration::hours(1)), None);
    // Closed Monday and Tuesday for a holiday: Wednesday 09:00.
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 12, d).expect("date");
    s.closures = ClosedSpans::new(
        madrid,
        &[Closure {
            start: day(7),
            end: day(8),
            reason: String::new(),
        }],
    );
    let wednesday = Utc
        .with_ymd_and_hms(2026, 12, 9, 8, 0, 0)
        .single()
        .expect("time");
    assert_eq!(s.next_open_at(saturday), Some(wednesday));
    // Open around the clock but closed for a holiday now: opens when the holiday ends.
    let mut always = shop(1, 40.4, -3.7, ShopStatus::Active, 1, 0);
    always.closures = s.closures.clone();
    let during = Utc
        .with_ymd_and_hms(2026, 12, 7, 12, 0, 0)
        .single()
        .expect("time");
    let after = madrid
        .with_ymd_and_hms(2026, 12, 9, 0, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    assert_eq!(always.next_open_at(during), Some(after));
    // Never open: none.
    always.hours = Arc::new(WeeklyHours::parse("Mo-Su off").expect("hours"));
    assert_eq!(always.next_open_at(during), None);
}
