//! The fast paths of text search against the reference matcher ([`Query::matches_joined`])
//! and a brute-force scan: the shapes of one-word queries, the word finder of longer ones, and
//! the bounded ranking (small limits, positions, distance caps, renamed and new shops).

use super::*;
use crate::network::address::{Address, Country, ShopDetails};
use crate::network::geo::{haversine_m, Point};
use crate::network::hours::WeeklyHours;
use crate::network::services::{Service, Services};
use crate::network::ShopStatus;
use crate::network::{GeoIndex, SearchFilter};
use proptest::prelude::*;
use std::sync::Arc;

/// Words that start and end fields, repeat, nest in each other, run without spaces, and one
/// longer than a [`Shape`] can measure.
const VOCABULARY: [&str; 14] = [
    "kiosko",
    "kiosk",
    "sol",
    "Sol sol",
    "朝阳",
    "北京朝阳",
    "阳阳",
    "Ñandú",
    "#1",
    "kio-sko",
    "24h",
    "abababababababababababababababababababababababababababababababababab",
    "ab",
    "ÉS-1",
];

fn vocabulary_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY.to_vec()), 0..4)
        .prop_map(|w| w.join(if w.len() % 2 == 0 { " " } else { "" }))
}

/// Queries as typed: a vocabulary word, its first characters, two words, or anything short.
fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(VOCABULARY.to_vec()).prop_map(str::to_owned),
        (prop::sample::select(VOCABULARY.to_vec()), 1usize..70)
            .prop_map(|(w, n)| w.chars().take(n).collect()),
        (
            prop::sample::select(VOCABULARY.to_vec()),
            prop::sample::select(VOCABULARY.to_vec())
        )
            .prop_map(|(a, b)| format!("{a} {b}")),
        "[a-zñ朝阳 #-]{1,5}",
    ]
}

fn shop(
    id: i64,
    (lat, lon): (f64, f64),
    status: ShopStatus,
    name: &str,
    city: &str,
) -> IndexedShop {
    let mut services = Services::none();
    if id % 5 != 0 {
        services.insert(Service::Pickup);
    }
    IndexedShop {
        id,
        external_id: format!("ES-{id}").into(),
        name: name.into(),
        latitude: lat,
        longitude: lon,
        h3_cell: 0,
        capacity: 10,
        live: 0,
        status,
        timezone: chrono_tz::Europe::Madrid,
        hours: Arc::new(WeeklyHours::parse("24/7").expect("hours")),
        services,
        closures: Default::default(),
        details: (!city.is_empty()).then(|| {
            Arc::new(ShopDetails {
                address: Some(Address {
                    street: None,
                    postcode: None,
                    city: city.into(),
                    region: None,
                    country: Country::parse("ES").expect("ES"),
                }),
                ..Default::default()
            })
        }),
        sizes: Default::default(),
        profile: Default::default(),
    }
}

/// A few places, several shops at each, so that distances tie and cross the worst kept.
fn position() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        prop::sample::select(vec![
            (40.4, -3.7),
            (40.41, -3.7),
            (39.9, 116.4),
            (0.0, 179.9)
        ]),
        (-80.0..80.0f64, -180.0..180.0f64),
    ]
}

fn status() -> impl Strategy<Value = ShopStatus> {
    prop_oneof![6 => Just(ShopStatus::Active), 1 => Just(ShopStatus::Paused), 1 => Just(ShopStatus::Closed)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The word finder and the shapes of one-word queries rank a text as the reference does.
    #[test]
    fn fast_matching_equals_the_reference(
        fields in prop::collection::vec(vocabulary_text(), 1..4),
        text in query_text(),
    ) {
        let joined = fields.iter().map(|f| fold(f)).collect::<Vec<_>>().join("\n");
        let Some(q) = Query::new(&text) else { return Ok(()) };
        let want = q.matches_joined(&joined);
        prop_assert_eq!(q.quality_in(&joined), want, "word finder");
        if q.is_one_word() {
            let len = q.folded.len();
            let shaped = word_starts(&joined)
                .filter(|&s| joined[s..].starts_with(q.folded.as_str()))
                .map(|s| {
                    Shape::of(&joined, s).quality(len).unwrap_or_else(|| {
                        let (field_start, ends_field, word) = shape_at(&joined, s);
                        rank(field_start, ends_field, word, len)
                    })
                })
                .min();
            prop_assert_eq!(shaped, want, "shapes");
        }
    }

    /// The best `limit` hits equal the first `limit` of a full scan, sorted, with and without
    /// a position and a distance cap, after renames, new shops and removals.
    #[test]
    fn ranked_hits_equal_a_scan(
        shops in prop::collection::vec((position(), status(), vocabulary_text(), vocabulary_text()), 0..120),
        changes in prop::collection::vec((0usize..130, position(), vocabulary_text(), 0u8..4), 0..12),
        queries in prop::collection::vec(query_text(), 4),
        limit in prop_oneof![1usize..4, 4usize..12, Just(usize::MAX)],
        near in prop::option::of(position()),
        max_distance_m in prop::option::of(prop_oneof![Just(0.0), 1.0..2_000_000.0f64]),
        include_paused in any::<bool>(),
    ) {
        let mut index = GeoIndex::build(shops.iter().enumerate().map(|(i, (at, st, name, city))| {
            shop(i as i64, *at, *st, name, city)
        }));
        for (i, at, name, what) in changes {
            match what {
                // Renamed where it is (stale), or moved (a new slot), or new, or removed.
                0 => if let Some((old_at, st, _, city)) = shops.get(i) {
                    index.upsert(shop(i as i64, *old_at, *st, &name, city));
                },
                1 | 2 => index.upsert(shop(i as i64, at, ShopStatus::Active, &name, "kiosko")),
                _ => index.remove(i as i64),
            }
        }
        let filter = SearchFilter {
            limit,
            max_distance_m,
            include_paused,
            service: Some(Service::Pickup),
            ..SearchFilter::nearest(limit)
        };
        let from = near.map(|(lat, lon)| Point::from_degrees(lat, lon));
        for text in &queries {
            let Some(q) = Query::new(text) else { continue };
            let got: Vec<(i64, Quality, Option<f64>)> = index
                .find_text(&q, near, &filter)
                .iter()
                .map(|h| (h.shop.id, h.quality, h.distance_m))
                .collect();
            let mut want: Vec<(Quality, f64, i64)> = index
                .shops()
                .filter(|s| {
                    (s.status == ShopStatus::Active || (include_paused && s.status == ShopStatus::Paused))
                        && s.services.has(Service::Pickup)
                })
                .filter_map(|s| {
                    let quality = q.matches(s)?;
                    let d = from.map_or(0.0, |p| {
                        haversine_m(&p, &Point::from_degrees(s.latitude, s.longitude))
                    });
                    if from.is_some() && max_distance_m.is_some_and(|m| d > m) {
                        return None;
                    }
                    Some((quality, d, s.id))
                })
                .collect();
            want.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
            want.truncate(limit);
            let want: Vec<(i64, Quality, Option<f64>)> =
                want.into_iter().map(|(q, d, id)| (id, q, from.map(|_| d))).collect();
            prop_assert_eq!(got, want, "query {:?}", text);
        }
    }
}
