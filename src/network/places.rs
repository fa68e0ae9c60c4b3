//! Towns and districts by name, from pudo's own place data (the GeoNames file the seed
//! networks are built from, [`super::seed::PLACES_CSV`]), so a checkout can search
//! "Valencia" without a geocoder of its own.
//!
//! Names are folded and matched as shop names are ([`super::index::text`]): each word of the
//! query begins a word of the name, case and accents ignored. The index is built once, on first
//! use (about 23,000 places), as a sorted array of the names' word starts.

use super::index::text::{fold, word_starts, Quality, Query};
use std::sync::OnceLock;

/// One populated place.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Place {
    /// GeoNames id.
    pub geonameid: u64,
    /// Name (GeoNames' main name).
    pub name: String,
    /// Latitude, degrees.
    pub latitude: f64,
    /// Longitude, degrees.
    pub longitude: f64,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// GeoNames admin-1 code (the province or autonomous region within the country).
    pub admin1: String,
    /// Inhabitants.
    pub population: u64,
    /// IANA time zone.
    pub timezone: String,
}

/// The place index: places, their folded names, and the names' word starts sorted.
#[derive(Debug, Default)]
pub struct Places {
    places: Vec<Place>,
    folded: Vec<String>,
    words: Vec<(u32, u32)>,
}

impl Places {
    /// Reads a place file in the GeoNames layout of `seeds/PLACES-README.md`; bad rows are
    /// an error naming the line.
    pub fn from_csv(csv_text: &str) -> Result<Self, super::seed::SeedError> {
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let mut places = Vec::new();
        for record in reader.deserialize::<Place>() {
            places.push(record.map_err(|e| super::seed::SeedError {
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?);
        }
        let folded: Vec<String> = places.iter().map(|p| fold(&p.name)).collect();
        let mut words: Vec<(u32, u32)> = folded
            .iter()
            .enumerate()
            .flat_map(|(i, f)| word_starts(f).map(move |s| (i as u32, s as u32)))
            .collect();
        words.sort_unstable_by(|a, b| {
            folded[a.0 as usize][a.1 as usize..]
                .cmp(&folded[b.0 as usize][b.1 as usize..])
                .then(a.0.cmp(&b.0))
        });
        Ok(Self {
            places,
            folded,
            words,
        })
    }

    /// The shipped place data, read once.
    pub fn shipped() -> &'static Places {
        static PLACES: OnceLock<Places> = OnceLock::new();
        // The shipped file is tested to parse; an error here is a packaging bug.
        PLACES.get_or_init(|| Self::from_csv(super::seed::PLACES_CSV).unwrap_or_default())
    }

    /// Number of places.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether there is no place.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The places matching `q` (optionally in one country), best match first, then the most
    /// populous, then by GeoNames id; at most `limit`.
    pub fn find(&self, q: &Query, country: Option<&str>, limit: usize) -> Vec<(&Place, Quality)> {
        let tail = |e: &(u32, u32)| &self.folded[e.0 as usize][e.1 as usize..];
        // The longest word is likely the rarest: its range gives the candidates.
        let Some(word) = q.words().iter().max_by_key(|w| w.len()) else {
            return Vec::new();
        };
        let lo = self.words.partition_point(|e| tail(e) < word.as_str());
        let hi = lo + self.words[lo..].partition_point(|e| tail(e).starts_with(word.as_str()));
        let mut candidates: Vec<u32> = self.words[lo..hi].iter().map(|e| e.0).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut found: Vec<(&Place, Quality)> = candidates
            .into_iter()
            .filter_map(|i| {
                let place = &self.places[i as usize];
                if country.is_some_and(|c| !place.country.eq_ignore_ascii_case(c)) {
                    return None;
                }
                q.matches_joined(&self.folded[i as usize])
                    .map(|quality| (place, quality))
            })
            .collect();
        found.sort_by(|a, b| {
            a.1.cmp(&b.1)
                .then(b.0.population.cmp(&a.0.population))
                .then(a.0.geonameid.cmp(&b.0.geonameid))
        });
        found.truncate(limit);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn towns_are_found_by_prefix_without_accents() {
        let places = Places::shipped();
        assert!(places.len() > 20_000);
        let q = Query::new("valen").expect("words");
        let found = places.find(&q, None, 5);
        assert_eq!(found[0].0.name, "Valencia");
        assert_eq!(found[0].0.country, "ES");
        let q = Query::new("malaga").expect("words");
        assert_eq!(places.find(&q, Some("es"), 1)[0].0.name, "Málaga");
        let q = Query::new("Shang").expect("words");
        let found = places.find(&q, Some("CN"), 3);
        assert_eq!(found[0].0.name, "Shanghai");
        assert!(places.find(&q, Some("ES"), 3).is_empty());
    }

    #[test]
    fn matches_agree_with_a_scan() {
        let places = Places::shipped();
        for text in ["san", "san jo", "la", "bei", "x", "alcala de"] {
            let q = Query::new(text).expect("words");
            let all = places.find(&q, None, usize::MAX);
            let scan = places
                .places
                .iter()
                .zip(&places.folded)
                .filter(|(_, f)| q.matches_joined(f).is_some())
                .count();
            assert_eq!(all.len(), scan, "{text}");
        }
    }

    #[test]
    fn bad_place_files_name_the_line() {
        let bad = "geonameid,name,latitude,longitude,country,admin1,population,timezone\n1,X,1.0,2.0,ES,1,many,Europe/Madrid\n";
        assert_eq!(Places::from_csv(bad).expect_err("bad").line, 2);
    }
}
