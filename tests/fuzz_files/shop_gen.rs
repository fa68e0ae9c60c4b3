//! Valid shops as a planner's file would hold them, the shop each must read as, and the
//! invariants every accepted shop must satisfy whatever the input.

use crate::hours::{schedule, Schedule};
use proptest::prelude::*;
use pudo::network::hours::WeeklyHours;
use pudo::network::{ShopInput, ShopStatus};
use std::collections::HashSet;

/// Time zones a generated shop may be in.
const ZONES: &[&str] = &[
    "Europe/Madrid",
    "Asia/Shanghai",
    "UTC",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Pacific/Chatham",
];

/// Status texts a file may carry (any case, padded).
const STATUSES: &[&str] = &["active", "paused", "closed", "Active", "CLOSED", " paused "];

/// One valid shop, with its values as written in the file.
#[derive(Debug, Clone)]
pub struct GenShop {
    /// Unique in its file.
    pub external_id: String,
    /// As written: may carry spaces around it, commas, quotes, any script.
    pub name: String,
    /// Latitude as written.
    pub lat: String,
    /// Longitude as written.
    pub lon: String,
    /// Capacity as written.
    pub capacity: String,
    /// IANA name, if given.
    pub timezone: Option<&'static str>,
    /// Opening hours, if given (then a time zone is given too).
    pub hours: Option<Schedule>,
    /// Status text, if given.
    pub status: Option<&'static str>,
}

/// A coordinate in `[-max, max]` written as a spreadsheet or script would write it.
fn coordinate(max: f64) -> impl Strategy<Value = String> {
    let value = prop_oneof![
        8 => -max..=max,
        1 => prop::sample::select(vec![-max, max, 0.0, -0.0]),
    ];
    (value, 0u8..4).prop_map(|(x, style)| match style {
        0 => format!("{x:.6}"),
        1 => format!("{x:e}"),
        2 => format!("{}", x.round()),
        _ => format!("{x}"),
    })
}

fn name() -> impl Strategy<Value = String> {
    "[ ]{0,2}[A-Za-z0-9,.'\"&()éñüß中文店🙂-][A-Za-z0-9 ,.'\"&()éñüß中文店🙂-]{0,38}[ ]{0,2}"
        .prop_filter("a name", |n| !n.trim().is_empty())
}

/// Shop fields without the external id (made unique per file afterwards).
fn shop_parts() -> impl Strategy<Value = GenShop> {
    (
        "[A-Za-z0-9][A-Za-z0-9._:/-]{0,20}",
        name(),
        coordinate(90.0),
        coordinate(180.0),
        (0..=100_000i32, any::<bool>()),
        prop::option::of(prop::sample::select(ZONES)),
        prop::option::weighted(0.6, schedule()),
        prop::option::of(prop::sample::select(STATUSES)),
    )
        .prop_map(
            |(id, name, lat, mut lon, (capacity, padded), timezone, hours, status)| {
                if lat.parse::<f64>().ok() == Some(0.0) && lon.parse::<f64>().ok() == Some(0.0) {
                    lon = "1.5".into();
                }
                GenShop {
                    external_id: id,
                    name,
                    lat,
                    lon,
                    capacity: if padded {
                        format!("{capacity:06}")
                    } else {
                        capacity.to_string()
                    },
                    timezone: timezone.or(hours.as_ref().map(|_| "Europe/Madrid")),
                    hours,
                    status,
                }
            },
        )
}

/// One to `max` valid shops with unique external ids.
pub fn shops(max: usize) -> impl Strategy<Value = Vec<GenShop>> {
    prop::collection::vec(shop_parts(), 1..=max).prop_map(|mut shops| {
        // The id's last segment is the row index, so ids are unique whatever the prefixes.
        for (i, s) in shops.iter_mut().enumerate() {
            s.external_id = format!("{}-{i}", s.external_id);
        }
        shops
    })
}

impl GenShop {
    /// The shop this row must read as; `present` says which optional columns
    /// (timezone, opening_hours, status) the file has.
    pub fn expected(&self, present: [bool; 3]) -> ShopInput {
        let timezone = self.timezone.filter(|_| present[0]);
        let hours = self.hours.as_ref().filter(|_| present[1]);
        ShopInput {
            external_id: self.external_id.clone(),
            name: self.name.trim().to_owned(),
            latitude: self.lat.parse().expect("generated latitude"),
            longitude: self.lon.parse().expect("generated longitude"),
            capacity: self.capacity.parse().expect("generated capacity"),
            timezone: timezone.map_or(chrono_tz::UTC, |t| t.parse().expect("generated zone")),
            hours: hours.map_or_else(WeeklyHours::always, |h| {
                WeeklyHours::parse(&h.text).expect("generated hours")
            }),
            status: self
                .status
                .filter(|_| present[2])
                .map_or(ShopStatus::Active, |s| s.parse().expect("generated status")),
            services: pudo::network::services::Services::all(),
            closures: None,
            details: None,
            sizes: Default::default(),
            profile: Default::default(),
        }
    }

    /// The value of column `c` (see `import::COLUMNS`) as written; empty when not given.
    pub fn value(&self, c: usize) -> String {
        match c {
            0 => self.external_id.clone(),
            1 => self.name.clone(),
            2 => self.lat.clone(),
            3 => self.lon.clone(),
            4 => self.capacity.clone(),
            5 => self.timezone.unwrap_or_default().to_owned(),
            6 => self
                .hours
                .as_ref()
                .map(|h| h.text.clone())
                .unwrap_or_default(),
            _ => self.status.unwrap_or_default().to_owned(),
        }
    }
}

/// What every accepted shop must be, whatever file it came from.
pub fn check_accepted(shops: &[ShopInput]) -> Result<(), TestCaseError> {
    let mut ids = HashSet::new();
    for s in shops {
        prop_assert!(s.latitude.is_finite() && (-90.0..=90.0).contains(&s.latitude));
        prop_assert!(s.longitude.is_finite() && (-180.0..=180.0).contains(&s.longitude));
        prop_assert!(!(s.latitude == 0.0 && s.longitude == 0.0));
        prop_assert!((0..=100_000).contains(&s.capacity));
        for (text, max) in [(&s.external_id, 64), (&s.name, 200)] {
            prop_assert!(!text.is_empty() && text.chars().count() <= max, "{text:?}");
            prop_assert_eq!(text.trim(), text.as_str());
            prop_assert!(!text.chars().any(char::is_control), "{text:?}");
        }
        prop_assert!(ids.insert(s.external_id.clone()), "{} twice", s.external_id);
        prop_assert_eq!(
            WeeklyHours::parse(&s.hours.to_string()),
            Ok(s.hours.clone())
        );
    }
    Ok(())
}

/// Values that must be refused in column `c` (see `import::COLUMNS`).
pub fn bad_values(c: usize) -> Vec<String> {
    let fixed: &[&str] = match c {
        0 | 1 => &["", "  ", "tab\u{7}bell", "new\u{1}line"],
        2 => &[
            "91",
            "-90.0001",
            "NaN",
            "nan",
            "inf",
            "-infinity",
            "1e400",
            "4O.5",
            "0x10",
            "1,5",
            "",
            "forty",
            "40.5.1",
            "--40",
        ],
        3 => &["180.5", "-181", "NaN", "inf", "1e999", "", "3°E", "1_000"],
        4 => &[
            "-1",
            "100001",
            "1.5",
            "9999999999999999999999",
            "ten",
            "",
            "NaN",
            "1e3",
            "0x10",
        ],
        5 => &["Mars/Olympus", "Europe/Madrd", "not a zone", "GMT+25"],
        6 => crate::hours::BROKEN_RULES,
        _ => &["open", "deleted", "actve", "1"],
    };
    let mut values: Vec<String> = fixed.iter().map(|v| (*v).to_owned()).collect();
    match c {
        0 => values.push("x".repeat(65)),
        1 => values.push("é".repeat(201)),
        2 | 3 => values.push(format!("1{}", "0".repeat(70))),
        _ => {}
    }
    values
}
