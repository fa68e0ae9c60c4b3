//! What a pickup point declares about itself beyond its services: step-free access, parking,
//! cash on delivery and ID checks, and a photo of the counter; and one capability no shop
//! declares, being open around the clock, which pudo derives from the opening hours so that
//! it can never contradict them.
//!
//! A declared capability is the partner's statement about the place (nothing pudo checks at
//! the counter: the handover conditions themselves are the pickup module's). Capabilities are
//! kept as bits, like services, so the geo index filters on them in its compact entries.

use super::hours::WeeklyHours;
use serde::{Serialize, Serializer};
use std::{fmt, str::FromStr};
use utoipa::ToSchema;

/// Longest photo URL accepted (characters): a link, not a data URL.
pub const MAX_PHOTO_URL: usize = 500;

/// One capability of a pickup point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, ToSchema)]
pub enum Capability {
    /// The counter is reachable without steps (wheelchairs, prams).
    #[serde(rename = "step_free")]
    StepFree,
    /// Customers can park at or next to the shop.
    #[serde(rename = "parking")]
    Parking,
    /// The shop collects cash on delivery for merchants.
    #[serde(rename = "cash_on_delivery")]
    CashOnDelivery,
    /// The shop checks a collector's ID or age when a parcel requires it.
    #[serde(rename = "id_check")]
    IdCheck,
    /// Open every minute of every week: derived from the opening hours, never declared.
    #[serde(rename = "open_24_7")]
    Open24x7,
}

impl Capability {
    /// Every capability, in the canonical order.
    pub const ALL: [Capability; 5] = [
        Self::StepFree,
        Self::Parking,
        Self::CashOnDelivery,
        Self::IdCheck,
        Self::Open24x7,
    ];

    /// The capability's name, as stored, filtered on and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StepFree => "step_free",
            Self::Parking => "parking",
            Self::CashOnDelivery => "cash_on_delivery",
            Self::IdCheck => "id_check",
            Self::Open24x7 => "open_24_7",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl FromStr for Capability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let name = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown capability {name:?} (use step_free, parking, cash_on_delivery, \
                     id_check or open_24_7)"
                )
            })
    }
}

/// A set of capabilities, kept as bits for the geo index. Serialised as the list of names; in
/// OpenAPI schemas fields of this type are declared `value_type = Vec<Capability>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability: what a shop declares when nothing says otherwise.
    pub fn none() -> Self {
        Self(0)
    }

    /// The bits, for the index's compact entries.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether `capability` is in the set.
    pub fn has(self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }

    /// Whether every capability of `wanted` is in the set (an empty `wanted` always holds).
    pub fn covers(self, wanted: Capabilities) -> bool {
        self.0 & wanted.0 == wanted.0
    }

    /// Adds a capability.
    pub fn insert(&mut self, capability: Capability) {
        self.0 |= capability.bit();
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.has(*c))
    }

    /// The declared set with what the hours imply: `open_24_7` when the shop is open every
    /// minute of the week.
    pub fn with_hours(self, hours: &WeeklyHours) -> Self {
        let mut all = self;
        if hours.is_always() {
            all.insert(Capability::Open24x7);
        }
        all
    }

    /// [`Self::with_hours`] from the stored hours text; hours that no longer parse (edited by
    /// hand) derive nothing.
    pub fn with_stored_hours(self, text: &str) -> Self {
        WeeklyHours::parse(text).map_or(self, |hours| self.with_hours(&hours))
    }

    /// Parses what a shop declares: names separated by `|` or `,` (e.g. `step_free|parking`),
    /// none repeated; blank is none. `open_24_7` is refused: the opening hours say it.
    ///
    /// ```
    /// use pudo::network::capabilities::{Capabilities, Capability};
    /// let c = Capabilities::declared("parking|step_free").unwrap();
    /// assert!(c.has(Capability::Parking) && !c.has(Capability::IdCheck));
    /// assert_eq!(c.to_string(), "step_free,parking");
    /// assert!(Capabilities::declared("open_24_7").is_err());
    /// assert!(Capabilities::declared("").unwrap().is_empty());
    /// ```
    pub fn declared(text: &str) -> Result<Self, String> {
        let set = Self::parse_list(text, true)?;
        if set.has(Capability::Open24x7) {
            return Err("open_24_7 is not declared: it follows from opening_hours \
                        (open every day 00:00-24:00)"
                .into());
        }
        Ok(set)
    }

    /// Parses the capabilities a search asks for: names separated by `,` (repeated
    /// parameters are joined with `,` before), `open_24_7` included; a name given twice asks
    /// for it once.
    pub fn wanted(text: &str) -> Result<Self, String> {
        Self::parse_list(text, false)
    }

    fn parse_list(text: &str, strict: bool) -> Result<Self, String> {
        let mut set = Self::none();
        if text.trim().is_empty() {
            return Ok(set);
        }
        for name in text.split(['|', ',']).map(str::trim) {
            if name.is_empty() {
                return Err(format!(
                    "{text:?} has an empty capability name (separate names with |, e.g. \
                     step_free|parking)"
                ));
            }
            let c: Capability = name.parse()?;
            if strict && set.has(c) {
                return Err(format!("{} is listed twice", c.as_str()));
            }
            set.insert(c);
        }
        Ok(set)
    }

    /// Reads what a partner declares through the API: each item exactly one declarable name
    /// (`step_free`, `parking`, `cash_on_delivery`, `id_check`; no other spelling, as the
    /// OpenAPI document's enum says), none twice. An error gives the index of the item at fault.
    ///
    /// ```
    /// use pudo::network::capabilities::{Capabilities, Capability};
    /// let c = Capabilities::from_names(&["parking", "step_free"]).unwrap();
    /// assert!(c.has(Capability::StepFree) && c.has(Capability::Parking));
    /// assert_eq!(Capabilities::from_names(&["open_24_7"]).unwrap_err().0, 0);
    /// assert_eq!(Capabilities::from_names(&["parking", "Lift"]).unwrap_err().0, 1);
    /// assert!(Capabilities::from_names::<&str>(&[]).unwrap().is_empty());
    /// ```
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, (usize, String)> {
        let mut set = Self::none();
        for (i, name) in names.iter().enumerate() {
            let name = name.as_ref();
            let Some(c) = Capability::ALL.into_iter().find(|c| c.as_str() == name) else {
                return Err((
                    i,
                    format!(
                        "unknown capability {name:?} (use step_free, parking, cash_on_delivery \
                         or id_check)"
                    ),
                ));
            };
            if c == Capability::Open24x7 {
                return Err((
                    i,
                    "open_24_7 is not declared: it follows from the opening hours (open every \
                     day 00:00-24:00)"
                        .into(),
                ));
            }
            if set.has(c) {
                return Err((i, format!("{} is listed twice", c.as_str())));
            }
            set.insert(c);
        }
        Ok(set)
    }

    /// Reads the stored text; an unreadable value (edited by hand) declares nothing.
    pub fn from_stored(text: &str) -> Self {
        Self::declared(text).unwrap_or_default()
    }
}

impl fmt::Display for Capabilities {
    /// The stored form: canonical order, comma-separated (empty for none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Capability::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Capability::as_str))
    }
}

/// Checks a photo URL: `https://` with a host, at most [`MAX_PHOTO_URL`] characters, printable
/// ASCII without spaces, quotes or angle brackets (non-ASCII hosts and paths are given
/// percent- or punycode-encoded). Only https: a checkout page served over https would refuse
/// to show an http image, and a `javascript:` or `data:` URL must never reach a page.
///
/// ```
/// use pudo::network::capabilities::photo_url;
/// assert!(photo_url("https://img.example.com/shops/1.jpg").is_ok());
/// assert!(photo_url("http://img.example.com/1.jpg").is_err());
/// assert!(photo_url("https://").is_err());
/// assert!(photo_url("https://a.example/x y.jpg").is_err());
/// ```
pub fn photo_url(text: &str) -> Result<String, String> {
    let url = text.trim();
    if url.chars().count() > MAX_PHOTO_URL {
        return Err(format!("is longer than {MAX_PHOTO_URL} characters"));
    }
    if let Some(c) = url
        .chars()
        .find(|c| !c.is_ascii_graphic() || "\"'<>\\`{}|^".contains(*c))
    {
        return Err(format!(
            "{url:?} contains {c:?} (percent-encode spaces, quotes and non-ASCII characters)"
        ));
    }
    let Some(rest) = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
    else {
        return Err(format!("{url:?} is not an https:// URL"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    // A user name or password in a photo link would be shown to every customer.
    if host.contains('@') {
        return Err(format!("{url:?} carries credentials before the host"));
    }
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        || name.starts_with(['.', '-'])
    {
        return Err(format!("{url:?} has no valid host name after https://"));
    }
    Ok(url.to_owned())
}

/// What a point declares about itself: its capabilities (never `open_24_7`, which the hours
/// say) and its photo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// Declared capabilities.
    pub capabilities: Capabilities,
    /// An https URL of a photo of the shop front or counter.
    pub photo_url: Option<Box<str>>,
}

impl Profile {
    /// Whether the point declares nothing (no capability, no photo).
    pub fn is_empty(&self) -> bool {
        self.capabilities.is_empty() && self.photo_url.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_capabilities_round_trip_and_refuse_open_24_7() {
        for text in [
            "",
            "step_free",
            "step_free,parking,cash_on_delivery,id_check",
        ] {
            let c = Capabilities::declared(text).expect(text);
            assert_eq!(c.to_string(), text);
            assert_eq!(Capabilities::from_stored(&c.to_string()), c);
        }
        assert!(Capabilities::declared("parking|parking").is_err());
        assert!(Capabilities::declared("parking||id_check").is_err());
        let err = Capabilities::declared("lift").expect_err("unknown");
        assert!(err.contains("\"lift\""), "{err}");
        assert!(Capabilities::wanted("parking,parking").is_ok());
        assert!(Capabilities::wanted("open_24_7")
            .expect("wanted")
            .has(Capability::Open24x7));
    }

    #[test]
    fn open_24_7_follows_the_hours() {
        let always = WeeklyHours::always();
        let days = WeeklyHours::parse("Mo-Su 08:00-22:00").expect("hours");
        assert!(Capabilities::none()
            .with_hours(&always)
            .has(Capability::Open24x7));
        assert!(!Capabilities::none()
            .with_hours(&days)
            .has(Capability::Open24x7));
    }

    #[test]
    fn photo_urls_are_https_links_only() {
        for good in [
            "https://img.example.com/a.jpg",
            "HTTPS://img.example.com:8443/a.jpg?w=200#x",
            "https://xn--caf-dma.example/%C3%A9.png",
        ] {
            assert!(photo_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://img.example.com/a.jpg",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "https://",
            "https:///a.jpg",
            "https://user:pw@img.example.com/a.jpg",
            "https://img.example.com/a b.jpg",
            "https://img.example.com/\"onerror=x",
            "https://img.example.com/<script>",
            "https://café.example/a.jpg",
        ] {
            assert!(photo_url(bad).is_err(), "{bad}");
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_PHOTO_URL));
        assert!(photo_url(&long)
            .expect_err("long")
            .contains("longer than 500"));
    }
}
