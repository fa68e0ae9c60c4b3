//! A point's postal address, phone and localised names: what a customer needs to walk to it
//! and a label printer needs to print it.
//!
//! Every part is optional in a shop file (files from before addresses still import); when an
//! address is given it has at least a city and an ISO 3166-1 alpha-2 country. The index holds
//! a shop's details behind one shared pointer ([`ShopDetails`] in an `Arc`), interned, so the
//! many seeded shops of one place share one copy and a shop without details costs 8 bytes.

use serde::{Serialize, Serializer};
use std::fmt;
use utoipa::ToSchema;

/// Longest street line, in characters.
pub const MAX_STREET: usize = 200;
/// Longest postcode, in characters.
pub const MAX_POSTCODE: usize = 16;
/// Longest city or region name, in characters.
pub const MAX_PLACE: usize = 100;
/// Longest phone number, in characters.
pub const MAX_PHONE: usize = 32;
/// Longest localised name or address line, in characters.
pub const MAX_LOCAL: usize = 300;

/// An ISO 3166-1 alpha-2 country code (upper case), stored in two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, pattern = "^[A-Z]{2}$", example = "ES")]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a code (any case, surrounding spaces ignored), refusing codes ISO 3166-1 does
    /// not assign.
    pub fn parse(text: &str) -> Result<Self, String> {
        let upper = text.trim().to_ascii_uppercase();
        match upper.as_bytes() {
            [a, b] if ISO_3166_ALPHA2.split(' ').any(|c| c == upper) => Ok(Self([*a, *b])),
            _ => Err(format!(
                "{:?} is not an ISO 3166-1 alpha-2 country code (such as ES or CN)",
                text.trim()
            )),
        }
    }

    /// The two-letter code.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters from the table are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Country {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The officially assigned ISO 3166-1 alpha-2 codes (249), space-separated. A table rather
/// than a crate: it is data that changes every few years, and one line keeps it reviewable.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF \
BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW \
CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM \
GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH \
KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP \
MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN \
PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE \
YT ZA ZM ZW";

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub struct Address {
    /// Street and number, as written on a label; null when unknown (seeded points have
    /// none: docs/planners.md, "Seed networks").
    #[schema(value_type = Option<String>, example = "Calle de Laguna 12")]
    pub street: Option<Box<str>>,
    /// Postcode; null where the country has none or it is unknown.
    #[schema(value_type = Option<String>, example = "28025")]
    pub postcode: Option<Box<str>>,
    /// City, town or village.
    #[schema(value_type = String, example = "Madrid")]
    pub city: Box<str>,
    /// Province, state or other administrative area; null when not given.
    #[schema(value_type = Option<String>, example = "Madrid")]
    pub region: Option<Box<str>>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Country,
}

impl Address {
    /// The address on one line, parts joined by commas (for a label or a list).
    pub fn one_line(&self) -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(5);
        parts.extend(self.street.as_deref());
        let city = match &self.postcode {
            Some(p) => format!("{p} {}", self.city),
            None => self.city.to_string(),
        };
        let mut line = parts.join(", ");
        for part in [
            Some(city.as_str()),
            self.region.as_deref(),
            Some(self.country.as_str()),
        ]
        .into_iter()
        .flatten()
        {
            if !line.is_empty() {
                line.push_str(", ");
            }
            line.push_str(part);
        }
        line
    }
}

/// A name and an address line in one language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub struct LocalText {
    /// The point's name in this language; null: use `name`.
    #[schema(value_type = Option<String>, example = "便利店 朝阳 #3")]
    pub name: Option<Box<str>>,
    /// The whole address on one line, written as that language writes addresses; null: use
    /// `address`.
    #[schema(value_type = Option<String>, example = "北京市朝阳区建国路88号")]
    pub address: Option<Box<str>>,
}

impl LocalText {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.address.is_none()
    }
}

/// Names and addresses for the interface languages other than English.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub struct Localized {
    /// Chinese.
    pub zh: Option<LocalText>,
    /// Spanish.
    pub es: Option<LocalText>,
}

/// What a point tells beyond its position: address, phone, localised texts. `None` parts are
/// unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ShopDetails {
    /// The postal address.
    pub address: Option<Address>,
    /// A phone number customers may call, as the partner wrote it.
    pub phone: Option<Box<str>>,
    /// Names and addresses in Chinese and Spanish (boxed: few shops have them, and the
    /// others then pay 8 bytes instead of 64).
    pub localized: Option<Box<Localized>>,
}

impl ShopDetails {
    /// The details from their stored columns; empty texts count as absent.
    #[allow(clippy::too_many_arguments, reason = "one argument per stored column")]
    pub fn from_columns(
        street: Option<&str>,
        postcode: Option<&str>,
        city: Option<&str>,
        region: Option<&str>,
        country: Option<&str>,
        phone: Option<&str>,
        [name_zh, address_zh, name_es, address_es]: [Option<&str>; 4],
    ) -> Self {
        let text = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(Box::from);
        let address = match (text(city), country.and_then(|c| Country::parse(c).ok())) {
            (Some(city), Some(country)) => Some(Address {
                street: text(street),
                postcode: text(postcode),
                city,
                region: text(region),
                country,
            }),
            _ => None,
        };
        let local = |name, address| {
            let t = LocalText {
                name: text(name),
                address: text(address),
            };
            (!t.is_empty()).then_some(t)
        };
        let localized = Localized {
            zh: local(name_zh, address_zh),
            es: local(name_es, address_es),
        };
        Self {
            address,
            phone: text(phone),
            localized: (localized.zh.is_some() || localized.es.is_some())
                .then(|| Box::new(localized)),
        }
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.address.is_none() && self.phone.is_none() && self.localized.is_none()
    }

    /// The localised texts as stored columns: name_zh, address_zh, name_es, address_es.
    pub fn local_columns(&self) -> [Option<&str>; 4] {
        let l = self.localized.as_ref();
        let zh = l.and_then(|l| l.zh.as_ref());
        let es = l.and_then(|l| l.es.as_ref());
        [
            zh.and_then(|t| t.name.as_deref()),
            zh.and_then(|t| t.address.as_deref()),
            es.and_then(|t| t.name.as_deref()),
            es.and_then(|t| t.address.as_deref()),
        ]
    }
}

/// A point as a merchant's answer or a webhook event names it: enough to print a label and
/// tell the customer where to go.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PointContact {
    /// pudo's shop id.
    pub id: i64,
    /// The partner's reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Postal address; null when the partner gave none.
    pub address: Option<Address>,
    /// Phone; null when the partner gave none.
    pub phone: Option<String>,
    /// Names and addresses in Chinese and Spanish; null when none were given.
    pub localized: Option<Localized>,
}

impl PointContact {
    /// The contact of an indexed shop.
    pub fn of(shop: &super::index::IndexedShop) -> Self {
        let details = shop.details.as_deref();
        Self {
            id: shop.id,
            external_id: shop.external_id.to_string(),
            name: shop.name.to_string(),
            lat: shop.latitude,
            lon: shop.longitude,
            address: details.and_then(|d| d.address.clone()),
            phone: details.and_then(|d| d.phone.as_deref().map(str::to_owned)),
            localized: details.and_then(|d| d.localized.as_deref().cloned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_checked_against_iso_3166() {
        assert_eq!(ISO_3166_ALPHA2.split(' ').count(), 249);
        assert_eq!(
            Country::parse(" es ").map(|c| c.to_string()),
            Ok("ES".into())
        );
        assert!(Country::parse("XX").is_err());
        assert!(Country::parse("ESP").is_err());
        assert!(Country::parse("").is_err());
        assert!(Country::parse("E").is_err());
    }

    #[test]
    fn an_address_reads_on_one_line() {
        let d = ShopDetails::from_columns(
            Some("Calle de Laguna 12"),
            Some("28025"),
            Some("Madrid"),
            Some("Comunidad de Madrid"),
            Some("es"),
            None,
            [None; 4],
        );
        let a = d.address.expect("address");
        assert_eq!(
            a.one_line(),
            "Calle de Laguna 12, 28025 Madrid, Comunidad de Madrid, ES"
        );
        let no_street =
            ShopDetails::from_columns(None, None, Some("Lugo"), None, Some("ES"), None, [None; 4]);
        assert_eq!(no_street.address.expect("address").one_line(), "Lugo, ES");
        assert!(
            ShopDetails::from_columns(None, None, None, None, None, Some(" "), [None; 4])
                .is_empty()
        );
    }
}
