//! The seed network: realistic partner shops placed around real populated places.
//!
//! Built from `seeds/places-cn-es.csv` (place data: GeoNames, CC BY 4.0). Each place gets
//! about one shop per [`INHABITANTS_PER_SHOP`] inhabitants (at least one), scattered over a
//! disc whose area grows with the population, with capacities and opening hours drawn from a
//! spread typical of corner shops in that country. A fixed RNG seed per place makes the
//! network identical on every machine and independent of the order places are read in.
//!
//! Each seeded shop's address is its place and the place's first-level administrative area
//! (province or autonomous community, from the GeoNames admin-1 code) in its country: real
//! names, but no street or postcode, since none is known. Seeded addresses are marked as such
//! in docs/planners.md ("Seed networks").

use super::address::{Address, ShopDetails};
use super::hours::WeeklyHours;
use super::services::Services;
use super::shop::{ShopInput, ShopStatus};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::str::FromStr;

/// The place file shipped in `seeds/`, compiled in so `serve` works from any directory.
pub const PLACES_CSV: &str = include_str!("../../seeds/places-cn-es.csv");
/// Inhabitants served by one shop on average.
pub const INHABITANTS_PER_SHOP: f64 = 1250.0;
/// Inhabitants per km² assumed when sizing a place's footprint.
const DENSITY_PER_KM2: f64 = 6000.0;
const SEED: u64 = 0x05ee_d9d0;

/// A country the seed file covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Country {
    /// China: about 616,000 shops.
    #[value(name = "CN")]
    Cn,
    /// Spain: about 48,000 shops.
    #[value(name = "ES")]
    Es,
}

impl Country {
    /// ISO 3166-1 alpha-2 code, as in the place file.
    pub fn code(self) -> &'static str {
        match self {
            Self::Cn => "CN",
            Self::Es => "ES",
        }
    }
}

impl FromStr for Country {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CN" => Ok(Self::Cn),
            "ES" => Ok(Self::Es),
            other => Err(format!(
                "no seed network for country {other:?} (use CN or ES)"
            )),
        }
    }
}

/// Why the place file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("place file line {line}: {message}")]
pub struct SeedError {
    /// Line in the place file.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, serde::Deserialize)]
struct Place {
    geonameid: u64,
    name: String,
    latitude: f64,
    longitude: f64,
    country: String,
    admin1: String,
    population: u64,
    timezone: String,
}

/// The seed network of a country from the shipped place file.
pub fn generate(country: Country) -> Vec<ShopInput> {
    // The shipped file is tested to parse; an error here is a packaging bug.
    generate_from(PLACES_CSV, country).unwrap_or_default()
}

/// The seed network of a country from a place file in the GeoNames layout described in
/// `seeds/PLACES-README.md`.
pub fn generate_from(places_csv: &str, country: Country) -> Result<Vec<ShopInput>, SeedError> {
    let mut reader = csv::Reader::from_reader(places_csv.as_bytes());
    let mut shops = Vec::new();
    for record in reader.deserialize::<Place>() {
        let place = record.map_err(|e| SeedError {
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        if place.country == country.code() {
            let line = place.geonameid;
            let tz = place.timezone.parse().map_err(|_| SeedError {
                line: 0,
                message: format!("place {line}: unknown time zone {:?}", place.timezone),
            })?;
            place_shops(&place, country, tz, &mut shops);
        }
    }
    Ok(shops)
}

fn place_shops(place: &Place, country: Country, tz: chrono_tz::Tz, out: &mut Vec<ShopInput>) {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ place.geonameid);
    let expected = place.population as f64 / INHABITANTS_PER_SHOP;
    // Randomised rounding keeps the total close to population / 1250 without bias.
    let count =
        (expected.floor() as usize + usize::from(rng.random::<f64>() < expected.fract())).max(1);
    let radius_km = (place.population as f64 / DENSITY_PER_KM2 / std::f64::consts::PI)
        .sqrt()
        .max(0.3);
    let cos_lat = place.latitude.to_radians().cos().max(0.01);
    let details = place_details(place, country);
    for k in 1..=count {
        // Uniform over the disc, denser toward the centre through the square root's complement.
        let r = radius_km * rng.random::<f64>().powf(0.75);
        let theta = rng.random::<f64>() * std::f64::consts::TAU;
        let lat = (place.latitude + r * theta.sin() / 111.32).clamp(-89.999, 89.999);
        let mut lon = place.longitude + r * theta.cos() / (111.32 * cos_lat);
        if lon > 180.0 {
            lon -= 360.0;
        } else if lon < -180.0 {
            lon += 360.0;
        }
        let (kind, hours) = shop_kind(country, &mut rng);
        out.push(ShopInput {
            external_id: format!("{}-{}-{k}", country.code(), place.geonameid),
            name: format!("{kind} {} #{k}", place.name),
            latitude: round6(lat),
            longitude: round6(lon),
            capacity: capacity(&mut rng),
            timezone: tz,
            hours: WeeklyHours::parse(hours).unwrap_or_else(|_| WeeklyHours::always()),
            status: if rng.random::<f64>() < 0.03 {
                ShopStatus::Paused
            } else {
                ShopStatus::Active
            },
            services: Services::all(),
            closures: None,
            details: details.clone(),
            sizes: Default::default(),
            profile: Default::default(),
        });
    }
}

/// The address every shop of a place gets: the place, its admin-1 area, the country.
fn place_details(place: &Place, country: Country) -> Option<ShopDetails> {
    Some(ShopDetails {
        address: Some(Address {
            street: None,
            postcode: None,
            city: place.name.trim().into(),
            region: admin1_name(country, &place.admin1).map(Box::from),
            country: super::address::Country::parse(country.code()).ok()?,
        }),
        phone: None,
        localized: None,
    })
}

/// The English name of a GeoNames admin-1 code of the seed countries (GeoNames'
/// `admin1CodesASCII.txt`, CC BY 4.0); `None` for a code it does not list.
fn admin1_name(country: Country, code: &str) -> Option<&'static str> {
    const CN: [(&str, &str); 31] = [
        ("01", "Anhui"),
        ("02", "Zhejiang"),
        ("03", "Jiangxi"),
        ("04", "Jiangsu"),
        ("05", "Jilin"),
        ("06", "Qinghai"),
        ("07", "Fujian"),
        ("08", "Heilongjiang"),
        ("09", "Henan"),
        ("10", "Hebei"),
        ("11", "Hunan"),
        ("12", "Hubei"),
        ("13", "Xinjiang"),
        ("14", "Tibet"),
        ("15", "Gansu"),
        ("16", "Guangxi"),
        ("18", "Guizhou"),
        ("19", "Liaoning"),
        ("20", "Inner Mongolia"),
        ("21", "Ningxia"),
        ("22", "Beijing"),
        ("23", "Shanghai"),
        ("24", "Shanxi"),
        ("25", "Shandong"),
        ("26", "Shaanxi"),
        ("28", "Tianjin"),
        ("29", "Yunnan"),
        ("30", "Guangdong"),
        ("31", "Hainan"),
        ("32", "Sichuan"),
        ("33", "Chongqing"),
    ];
    const ES: [(&str, &str); 19] = [
        ("07", "Balearic Islands"),
        ("27", "La Rioja"),
        ("29", "Madrid"),
        ("31", "Murcia"),
        ("32", "Navarre"),
        ("34", "Asturias"),
        ("39", "Cantabria"),
        ("51", "Andalusia"),
        ("52", "Aragon"),
        ("53", "Canary Islands"),
        ("54", "Castille-La Mancha"),
        ("55", "Castille and León"),
        ("56", "Catalonia"),
        ("57", "Extremadura"),
        ("58", "Galicia"),
        ("59", "Basque Country"),
        ("60", "Valencia"),
        ("CE", "Ceuta"),
        ("ML", "Melilla"),
    ];
    let table: &[(&str, &str)] = if country == Country::Cn { &CN } else { &ES };
    table
        .iter()
        .find(|(c, _)| *c == code.trim())
        .map(|(_, name)| *name)
}

/// Parcel slots: most corner shops hold 10 to 40 parcels, a few large ones up to 150.
fn capacity(rng: &mut ChaCha8Rng) -> i32 {
    let u: f64 = rng.random();
    if u < 0.40 {
        rng.random_range(10..=20)
    } else if u < 0.75 {
        rng.random_range(21..=40)
    } else if u < 0.95 {
        rng.random_range(41..=80)
    } else {
        rng.random_range(81..=150)
    }
}

fn shop_kind(country: Country, rng: &mut ChaCha8Rng) -> (&'static str, &'static str) {
    const CN: [(&str, &str); 4] = [
        ("Convenience store", "Mo-Su 07:00-23:00"),
        ("Corner shop", "Mo-Su 08:00-22:00"),
        ("24h Mart", "24/7"),
        ("Campus station", "Mo-Fr 08:00-21:00; Sa-Su 10:00-18:00"),
    ];
    const ES: [(&str, &str); 4] = [
        ("Kiosko", "Mo-Sa 08:00-14:00,17:00-21:00; Su off"),
        (
            "Estanco",
            "Mo-Fr 09:00-14:00,17:00-20:30; Sa 10:00-14:00; Su off",
        ),
        ("Papelería", "Mo-Fr 09:30-13:30,17:00-20:00; Sa-Su off"),
        ("Supermercado", "Mo-Sa 09:00-21:30; Su 10:00-15:00"),
    ];
    let table = if country == Country::Cn { &CN } else { &ES };
    table[rng.random_range(0..table.len())]
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spain_is_deterministic_and_about_the_right_size() {
        let a = generate(Country::Es);
        let b = generate(Country::Es);
        assert_eq!(a, b);
        assert!((44_000..=52_000).contains(&a.len()), "{} shops", a.len());
        assert!(a
            .iter()
            .all(|s| (27.0..44.5).contains(&s.latitude) && (-18.5..5.0).contains(&s.longitude)));
        let ids: std::collections::HashSet<_> = a.iter().map(|s| &s.external_id).collect();
        assert_eq!(ids.len(), a.len(), "external ids are unique");
        assert!(a.iter().any(|s| s.timezone == chrono_tz::Atlantic::Canary));
        // Every seeded shop has its place's address, without an invented street.
        let madrid = a
            .iter()
            .find(|s| s.name.contains(" Madrid #"))
            .and_then(|s| s.details.as_ref()?.address.clone())
            .expect("a shop in Madrid");
        assert_eq!(madrid.one_line(), "Madrid, Madrid, ES");
        assert!(a.iter().all(|s| s
            .details
            .as_ref()
            .and_then(|d| d.address.as_ref())
            .is_some_and(|a| a.street.is_none() && a.region.is_some())));
    }

    #[test]
    fn capacities_have_a_realistic_spread() {
        let shops = generate(Country::Es);
        let mut caps: Vec<i32> = shops.iter().map(|s| s.capacity).collect();
        caps.sort_unstable();
        let median = caps[caps.len() / 2];
        assert!((20..=35).contains(&median), "median {median}");
        assert!(caps[0] >= 10 && *caps.last().unwrap_or(&0) <= 150);
    }

    #[test]
    fn bad_place_files_are_reported_with_the_line() {
        let bad = "geonameid,name,latitude,longitude,country,admin1,population,timezone\n1,X,1.0,2.0,ES,1,notanumber,Europe/Madrid\n";
        let err = generate_from(bad, Country::Es).expect_err("bad population");
        assert_eq!(err.line, 2);
        assert_eq!("cn".parse::<Country>(), Ok(Country::Cn));
        assert!("FR".parse::<Country>().is_err());
    }
}
