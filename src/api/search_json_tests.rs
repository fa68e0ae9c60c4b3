use super::*;
use crate::api::pickup_points::{PickupPoints, PointCluster};
use crate::network::address::{Address, Country, LocalText, Localized, ShopDetails};
use crate::network::availability::UnavailableReason;
use crate::network::capabilities::{Capabilities, Capability};
use crate::network::geo::CellHex;
use crate::network::services::{Service, Services};
use crate::network::sizes::SizeClass;
use crate::network::ShopStatus;
use proptest::prelude::*;

/// The owned parts of one point, from which a borrowed [`PickupPoint`] is made.
#[derive(Debug, Clone)]
struct Owned {
    id: i64,
    external_id: String,
    name: String,
    numbers: [f64; 3],
    cell: i64,
    capacity: i32,
    free_slots: i32,
    status: ShopStatus,
    flags: (bool, bool, Option<bool>, Option<bool>),
    reason: Option<UnavailableReason>,
    hours: Option<String>,
    timezone: Option<&'static str>,
    services: u8,
    details: Option<ShopDetails>,
    /// Seconds since the epoch of `next_open_at`, and whether there is a distance.
    next_open: Option<i64>,
    positioned: bool,
}

impl Owned {
    fn point(&self) -> PickupPoint<'_> {
        PickupPoint {
            id: self.id,
            external_id: &self.external_id,
            name: &self.name,
            lat: self.numbers[0],
            lon: self.numbers[1],
            distance_m: self.positioned.then_some(self.numbers[2]),
            h3_cell: CellHex(self.cell),
            capacity: self.capacity,
            free_slots: self.free_slots,
            status: self.status,
            open_now: self.flags.0,
            selectable: self.flags.1,
            unavailable_reason: self.reason,
            open_at_arrival: self.flags.2,
            opening_hours: self.hours.as_deref(),
            timezone: self.timezone,
            in_stock: self.flags.3,
            services: Service::ALL
                .into_iter()
                .filter(|s| self.services & (1 << (*s as u8)) != 0)
                .collect::<Services>(),
            // Capabilities and the photo from the id: every combination, and a photo text
            // with whatever the external id's generator puts in it.
            capabilities: Capability::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| (self.id as u64 >> 2) & (1 << i) != 0)
                .fold(Capabilities::none(), |mut set, (_, c)| {
                    set.insert(c);
                    set
                }),
            photo_url: (self.id % 3 == 0).then_some(self.external_id.as_str()),
            address: self.details.as_ref().and_then(|d| d.address.as_ref()),
            phone: self.details.as_ref().and_then(|d| d.phone.as_deref()),
            localized: self.details.as_ref().and_then(|d| d.localized.as_deref()),
            next_open_at: self
                .next_open
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
            size_class: [
                None,
                Some(SizeClass::S),
                Some(SizeClass::M),
                Some(SizeClass::L),
            ][self.services as usize % 4],
            limit: [
                None,
                Some("max_weight"),
                Some("max_dimensions"),
                Some("size_class"),
            ][(self.id as u64 % 4) as usize],
        }
    }
}

/// Addresses with any parts missing, in any text, and localised texts in either language.
fn details() -> impl Strategy<Value = ShopDetails> {
    let boxed = || prop::option::of(text().prop_map(Box::<str>::from));
    let local = move || {
        prop::option::of((boxed(), boxed()).prop_map(|(name, address)| LocalText { name, address }))
    };
    let address = prop::option::of(
        (
            boxed(),
            boxed(),
            text(),
            boxed(),
            prop::sample::select(vec!["ES", "CN", "US"]),
        )
            .prop_map(|(street, postcode, city, region, country)| Address {
                street,
                postcode,
                city: city.into(),
                region,
                country: Country::parse(country).expect("ISO code"),
            }),
    );
    (
        address,
        boxed(),
        prop::option::of((local(), local()).prop_map(|(zh, es)| Box::new(Localized { zh, es }))),
    )
        .prop_map(|(address, phone, localized)| ShopDetails {
            address,
            phone,
            localized,
        })
}

/// Text with what JSON must escape (quotes, backslashes, control characters), multi-byte
/// characters and characters that must not be escaped (`/`, DEL, U+2028).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9 #-]{0,24}",
        "\\PC{0,16}",
        prop::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('/'),
                Just('\u{7f}'),
                Just('\u{2028}'),
                Just('店'),
                Just('é'),
                (0u8..0x20).prop_map(char::from),
                any::<char>(),
            ],
            0..12
        )
        .prop_map(|v| v.into_iter().collect()),
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        -180.0..180.0f64,
        0.0..20_000_000.0f64,
        any::<f64>(),
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::MIN_POSITIVE / 2.0),
        Just(1e21),
    ]
}

fn owned() -> impl Strategy<Value = Owned> {
    let status = prop_oneof![
        Just(ShopStatus::Active),
        Just(ShopStatus::Paused),
        Just(ShopStatus::Closed)
    ];
    let reason = prop::option::of(prop_oneof![
        Just(UnavailableReason::Full),
        Just(UnavailableReason::Paused),
        Just(UnavailableReason::ClosedAtArrival),
        Just(UnavailableReason::ClosedForPeriod),
        Just(UnavailableReason::DoesNotFit),
    ]);
    let timezone = prop::option::of(
        prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec()).prop_map(|tz| tz.name()),
    );
    (
        (any::<i64>(), text(), text(), [number(), number(), number()]),
        (
            prop_oneof![any::<i64>(), 0i64..16, Just(0x89318d590dbffff)],
            any::<i32>(),
            any::<i32>(),
            status,
        ),
        (
            (
                any::<bool>(),
                any::<bool>(),
                any::<Option<bool>>(),
                any::<Option<bool>>(),
            ),
            reason,
            prop::option::of(text()),
            timezone,
            0u8..16,
        ),
        prop::option::of(details()),
        (
            prop::option::of(-62_000_000_000i64..250_000_000_000),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (id, external_id, name, numbers),
                (cell, capacity, free_slots, status),
                (flags, reason, hours, timezone, services),
                details,
                (next_open, positioned),
            )| Owned {
                id,
                external_id,
                name,
                numbers,
                cell,
                capacity,
                free_slots,
                status,
                flags,
                reason,
                hours,
                timezone,
                services,
                details,
                next_open,
                positioned,
            },
        )
}

fn serde_bytes(points: Vec<PickupPoint<'_>>) -> Vec<u8> {
    serde_json::to_vec(&PickupPoints {
        items: points,
        total: None,
        clusters: None,
    })
    .expect("serialises")
}

fn written(points: &[PickupPoint<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    write_answer(points, None, &mut out);
    out
}

fn cluster() -> impl Strategy<Value = PointCluster> {
    (
        prop_oneof![any::<i64>(), Just(0x8239a7fffffffff)],
        any::<u32>(),
        number(),
        number(),
    )
        .prop_map(|(cell, count, lat, lon)| PointCluster {
            cell: CellHex(cell),
            count,
            lat,
            lon,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn writes_exactly_what_serde_json_writes(owned in prop::collection::vec(owned(), 0..6)) {
        let points: Vec<_> = owned.iter().map(Owned::point).collect();
        let fast = written(&points);
        let reference = serde_bytes(owned.iter().map(Owned::point).collect());
        prop_assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&reference)
        );
        prop_assert_eq!(fast, reference);
    }

    #[test]
    fn writes_area_answers_as_serde_json(
        owned in prop::collection::vec(owned(), 0..3),
        total in any::<u32>(),
        clusters in prop::collection::vec(cluster(), 0..5),
    ) {
        let points: Vec<_> = owned.iter().map(Owned::point).collect();
        let mut fast = Vec::new();
        write_answer(&points, Some((total as usize, &clusters)), &mut fast);
        let reference = serde_json::to_vec(&PickupPoints {
            items: owned.iter().map(Owned::point).collect(),
            total: Some(total as usize),
            clusters: Some(clusters.clone()),
        })
        .expect("serialises");
        prop_assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&reference)
        );
    }
}

#[test]
fn an_empty_answer_is_an_empty_list() {
    assert_eq!(written(&[]), b"{\"items\":[]}");
}

#[test]
fn a_name_with_quotes_and_controls_is_escaped() {
    let mut o = owned_example();
    o.name = "Tienda \"Sol\"\\\n\u{1}".into();
    let out = String::from_utf8(written(&[o.point()])).expect("utf-8");
    assert!(
        out.contains(r#""name":"Tienda \"Sol\"\\\n\u0001""#),
        "{out}"
    );
    let back: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(back["items"][0]["name"], o.name.as_str());
}

#[test]
fn cells_are_lower_case_hex_without_leading_zeros() {
    for cell in [0i64, 1, 0xf, 0x10, 0x89318d590dbffff, i64::MAX] {
        let mut o = owned_example();
        o.cell = cell;
        let out: serde_json::Value =
            serde_json::from_slice(&written(&[o.point()])).expect("valid JSON");
        assert_eq!(out["items"][0]["h3_cell"], format!("{:x}", cell as u64));
    }
}

#[test]
fn the_capacity_estimate_covers_a_typical_answer() {
    let o = owned_example();
    let points: Vec<_> = (0..10).map(|_| o.point()).collect();
    assert!(written(&points).len() <= capacity_for(points.len()));
}

fn owned_example() -> Owned {
    Owned {
        id: 474_289,
        external_id: "CN-1793424-257".into(),
        name: "Campus station Tanggu #257".into(),
        numbers: [39.006109, 117.616601, 486.64099507533405],
        cell: 0x89318d596b7ffff,
        capacity: 11,
        free_slots: 11,
        status: ShopStatus::Active,
        flags: (true, true, None, None),
        reason: None,
        hours: Some("Mo-Fr 08:00-21:00; Sa-Su 10:00-18:00".into()),
        timezone: Some("Asia/Shanghai"),
        services: 0b1111,
        details: Some(ShopDetails {
            address: Some(Address {
                street: Some("Calle del General Ricardos 118".into()),
                postcode: Some("28019".into()),
                city: "Madrid".into(),
                region: Some("Comunidad de Madrid".into()),
                country: Country::parse("ES").expect("ISO code"),
            }),
            phone: Some("+34 915 55 01 18".into()),
            localized: None,
        }),
        next_open: None,
        positioned: true,
    }
}
