//! Text search over the shops: by name or external id, as people type them.
//!
//! Text is folded before it is indexed or looked up ([`fold`]): compatibility decomposition
//! (NFKD, `unicode-normalization`), combining marks dropped, lower case, so "Papeleria" finds
//! "Papelería" and "ＡＢＣ" finds "abc". Folded text is cut into words (runs of letters and
//! digits). A query matches a shop when each of its words is the beginning of one of the
//! shop's words (prefix search). Han, kana and hangul are written without spaces, so a run of
//! them is indexed by each of its suffixes: a query word is then the beginning of a suffix
//! exactly when it occurs anywhere in the run (substring search, "朝阳" in "北京朝阳区店").
//!
//! The index is one sorted array of (slot, word offset) into each shop's folded text: a
//! query word's matches are one binary-searched range. Of a query's words the one with the
//! fewest matches gives the candidates; the others are checked in the candidate's folded text.
//! A sorted array was chosen over an FST (the `fst` crate): an FST would be smaller but maps
//! keys to one value, where a word here names thousands of shops, and it cannot be changed in
//! place; the array takes a shop's words with it and is rebuilt with the geo index.
//!
//! Which fields are searched is [`FIELDS`]: name, external id, street, postcode and city.
//! Shops renamed or added since the build are kept in a short list and folded on every query
//! until the index rebuilds past [`super::REBUILD_AFTER`] of them.

use super::area::Check;
use super::{found_as, GeoIndex, IndexedShop, SearchFilter, Slot};
use crate::network::geo::{haversine_m, Point};
use rayon::prelude::*;
use std::collections::HashSet;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{is_nfkd_quick, IsNormalized, UnicodeNormalization};

/// The fields of a shop that text search reads, in the order their words are indexed.
pub const FIELDS: &[fn(&IndexedShop) -> &str] = &[
    |s| &s.name,
    |s| &s.external_id,
    |s| address(s).and_then(|a| a.street.as_deref()).unwrap_or(""),
    |s| address(s).and_then(|a| a.postcode.as_deref()).unwrap_or(""),
    |s| address(s).map_or("", |a| &a.city),
];

fn address(s: &IndexedShop) -> Option<&crate::network::address::Address> {
    s.details.as_ref().and_then(|d| d.address.as_ref())
}

/// Folds text for matching: NFKD, no combining marks, lower case.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

/// Appends folded `text` to `out`. Text already in NFKD (all ASCII, and most Han) skips the
/// decomposition, which costs more than the rest of the index build (BENCHMARKS.md § Search);
/// ASCII has no combining marks either, so it is only lower-cased.
fn fold_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        let start = out.len();
        out.push_str(text);
        out[start..].make_ascii_lowercase();
    } else if is_nfkd_quick(text.chars()) == IsNormalized::Yes {
        out.extend(
            text.chars()
                .filter(|c| !is_combining_mark(*c))
                .flat_map(char::to_lowercase),
        );
    } else {
        out.extend(
            text.nfkd()
                .filter(|c| !is_combining_mark(*c))
                .flat_map(char::to_lowercase),
        );
    }
}

/// Scripts written without spaces between words: matched by substring.
fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff   // hiragana, katakana
        | 0x3400..=0x4dbf // CJK extension A
        | 0x4e00..=0x9fff // CJK unified ideographs
        | 0xac00..=0xd7af // hangul syllables
        | 0xf900..=0xfaff // CJK compatibility ideographs
        | 0x20000..=0x2ffff)
}

/// The words of folded text as byte ranges: runs of letters and digits, split where a run
/// passes between spaced and unspaced scripts.
pub fn words(folded: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, bool)> = None;
    for (i, c) in folded.char_indices() {
        let kind = c.is_alphanumeric().then(|| unspaced(c));
        match (start, kind) {
            (Some((s, k)), Some(now)) if k != now => {
                out.push((s, i));
                start = Some((i, now));
            }
            (None, Some(now)) => start = Some((i, now)),
            (Some((s, _)), None) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((s, _)) = start {
        out.push((s, folded.len()));
    }
    out
}

/// Where each indexed word begins: every word, and every later character of an unspaced one.
pub fn word_starts(folded: &str) -> impl Iterator<Item = usize> + '_ {
    let mut prev: Option<bool> = None;
    folded.char_indices().filter_map(move |(i, c)| {
        let kind = c.is_alphanumeric().then(|| unspaced(c));
        let starts = match kind {
            Some(true) => true,
            Some(false) => prev != Some(false),
            None => false,
        };
        prev = kind;
        starts.then_some(i)
    })
}

/// The end of the word (or unspaced run) that begins at `start`.
fn word_end(folded: &str, start: usize) -> usize {
    let kind = folded[start..].chars().next().map(unspaced);
    folded[start..]
        .char_indices()
        .find(|&(_, c)| !c.is_alphanumeric() || Some(unspaced(c)) != kind)
        .map_or(folded.len(), |(i, _)| start + i)
}

/// How well a shop matches a query; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Quality {
    /// A field equals the query (an external id typed in full).
    Exact = 0,
    /// A field begins with the query.
    Start = 1,
    /// Every query word is a whole word of the shop.
    Words = 2,
    /// Every query word begins a word of the shop (or occurs in an unspaced run).
    Prefix = 3,
}

/// A folded query, ready to match.
#[derive(Debug, Clone)]
pub struct Query {
    folded: String,
    words: Vec<String>,
}

impl Query {
    /// The query's folded words.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Folds and splits a query; `None` when it has no letter or digit.
    pub fn new(text: &str) -> Option<Self> {
        let folded = fold(text.trim());
        let words: Vec<String> = words(&folded)
            .into_iter()
            .map(|(s, e)| folded[s..e].to_owned())
            .collect();
        (!words.is_empty()).then_some(Self { folded, words })
    }

    /// How `shop` matches, if it does (the reference a brute-force scan uses too).
    pub fn matches(&self, shop: &IndexedShop) -> Option<Quality> {
        self.matches_joined(&folded_fields(shop))
    }

    /// How folded fields joined by newlines match (a newline is never inside a word).
    pub fn matches_joined(&self, joined: &str) -> Option<Quality> {
        let mut whole = true;
        for w in &self.words {
            let (mut found, mut found_whole) = (false, false);
            for s in word_starts(joined) {
                if joined[s..].starts_with(w.as_str()) {
                    found = true;
                    found_whole |= word_end(joined, s) == s + w.len();
                }
            }
            if !found {
                return None;
            }
            whole &= found_whole;
        }
        Some(if joined.split('\n').any(|f| f == self.folded) {
            Quality::Exact
        } else if joined.split('\n').any(|f| f.starts_with(&self.folded)) {
            Quality::Start
        } else if whole {
            Quality::Words
        } else {
            Quality::Prefix
        })
    }
}

/// The word index; see the module documentation.
#[derive(Debug, Default, Clone)]
pub(super) struct TextIndex {
    /// Each built slot's folded fields, joined by a newline (never inside a word).
    folded: Vec<Box<str>>,
    /// (slot, byte offset of a word start in `folded[slot]`), sorted by the text from there.
    words: Vec<(u32, u32)>,
    /// Slots whose text changed or that were added since the build: folded on every query.
    fresh: Vec<u32>,
    /// The built slots among `fresh`, whose entries in `words` are out of date.
    stale: HashSet<u32>,
}

fn folded_fields(shop: &IndexedShop) -> String {
    let mut out = String::with_capacity(FIELDS.iter().map(|f| f(shop).len() + 1).sum());
    for (i, field) in FIELDS.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        fold_into(field(shop), &mut out);
    }
    out
}

impl TextIndex {
    /// Folds and sorts the words of every live slot.
    pub(super) fn build(slots: &[Slot]) -> Self {
        let folded: Vec<Box<str>> = slots
            .par_iter()
            .map(|s| {
                if s.live {
                    folded_fields(&s.shop).into()
                } else {
                    Box::from("")
                }
            })
            .collect();
        // Sorted by a key (the first fifteen bytes big-endian and zero-padded, then the length
        // capped at sixteen), then by the whole text only among equal keys of tails longer than
        // fifteen bytes, then by slot. A smaller key never sorts after a larger one's text (a
        // zero pad only stands where the text has ended: a prefix sorts first), and equal keys
        // of shorter tails are equal texts, so the order is the full comparison's while most
        // comparisons (a town's name repeated at every shop of the town) never read the text.
        let key = |text: &str, at: usize| {
            let tail = &text.as_bytes()[at..];
            let mut b = [0u8; 16];
            let n = tail.len().min(15);
            b[..n].copy_from_slice(&tail[..n]);
            b[15] = tail.len().min(16) as u8;
            let k = u128::from_be_bytes(b);
            ((k >> 64) as u64, k as u64)
        };
        let mut keyed: Vec<(u64, u64, u32, u32)> = folded
            .par_iter()
            .enumerate()
            .flat_map_iter(|(slot, text)| {
                word_starts(text).map(move |s| {
                    let (hi, lo) = key(text, s);
                    (hi, lo, slot as u32, s as u32)
                })
            })
            .collect();
        // First by key (then slot and offset, which needs no text), then each run of equal
        // keys of long tails again by its texts: a run's few texts stay in the cache while it
        // is sorted, where one sort reading texts would fetch two from memory per comparison.
        keyed.par_sort_unstable();
        keyed
            .par_chunk_by_mut(|a, b| (a.0, a.1) == (b.0, b.1))
            .filter(|run| run.len() > 1 && run[0].1 as u8 == 16)
            .for_each(|run| {
                run.sort_unstable_by(|a, b| {
                    Self::tail(&folded, &(a.2, a.3))
                        .cmp(Self::tail(&folded, &(b.2, b.3)))
                        .then(a.2.cmp(&b.2))
                });
            });
        let words: Vec<(u32, u32)> = keyed
            .into_iter()
            .map(|(_, _, slot, at)| (slot, at))
            .collect();
        Self {
            folded,
            words,
            fresh: Vec::new(),
            stale: HashSet::new(),
        }
    }

    fn tail<'t>(folded: &'t [Box<str>], (slot, at): &(u32, u32)) -> &'t str {
        &folded[*slot as usize][*at as usize..]
    }

    /// Whether the word entries are in the order of their texts, then slots (for the tests).
    #[cfg(test)]
    pub(super) fn is_sorted_by_text(&self) -> bool {
        self.words.windows(2).all(|w| {
            (Self::tail(&self.folded, &w[0]), w[0].0) < (Self::tail(&self.folded, &w[1]), w[1].0)
        })
    }

    /// Notes a slot whose text may have changed, or that is new; true when the index should
    /// be rebuilt (too many such slots to fold on every query).
    pub(super) fn touch(&mut self, slot: u32) -> bool {
        if (slot as usize) < self.folded.len() {
            self.stale.insert(slot);
        }
        if !self.fresh.contains(&slot) {
            self.fresh.push(slot);
        }
        self.fresh.len() > super::REBUILD_AFTER
    }

    /// Approximate heap bytes held.
    pub(super) fn memory_bytes(&self) -> usize {
        self.folded.iter().map(|f| f.len() + 16).sum::<usize>() + self.words.capacity() * 8
    }

    /// The slots matching `q` (each once), with how well, in no particular order. Dead slots
    /// may be among them; the caller checks.
    pub(super) fn find(&self, q: &Query, slots: &[Slot]) -> Vec<(u32, Quality)> {
        let range = |w: &str| {
            let lo = self
                .words
                .partition_point(|e| Self::tail(&self.folded, e) < w);
            let hi = lo
                + self.words[lo..].partition_point(|e| Self::tail(&self.folded, e).starts_with(w));
            lo..hi
        };
        let driver = q
            .words
            .iter()
            .map(|w| range(w))
            .min_by_key(|r| r.len())
            .unwrap_or(0..0);
        let mut candidates: Vec<u32> = self.words[driver].iter().map(|e| e.0).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut out = Vec::with_capacity(candidates.len());
        for slot in candidates {
            if !self.stale.is_empty() && self.stale.contains(&slot) {
                continue;
            }
            if let Some(quality) = q.matches_joined(&self.folded[slot as usize]) {
                out.push((slot, quality));
            }
        }
        for &slot in &self.fresh {
            if let Some(quality) = slots.get(slot as usize).and_then(|s| q.matches(&s.shop)) {
                out.push((slot, quality));
            }
        }
        out
    }
}

/// One shop found by text.
#[derive(Debug, Clone, Copy)]
pub struct TextHit<'a> {
    /// The shop.
    pub shop: &'a IndexedShop,
    /// How well it matches.
    pub quality: Quality,
    /// Its haversine distance from the position searched near, metres; `None` without one.
    pub distance_m: Option<f64>,
}

impl GeoIndex {
    /// The shops matching `q` and the filter (status, service, capabilities, `open_at`, `min_free`,
    /// `accept`, and `max_distance_m` from `near`), best match first, then nearest to `near`
    /// (when given), then by id; at most `filter.limit`.
    pub fn find_text(
        &self,
        q: &Query,
        near: Option<(f64, f64)>,
        filter: &SearchFilter<'_>,
    ) -> Vec<TextHit<'_>> {
        let mut check = Check::new(filter, &self.area.schedules);
        let from = near.map(|(lat, lon)| Point::from_degrees(lat, lon));
        let mut hits: Vec<TextHit<'_>> = self
            .text
            .find(q, &self.slots)
            .into_iter()
            .filter_map(|(slot, quality)| {
                let s = &self.slots[slot as usize];
                let shop = &s.shop;
                if !check.kind(
                    found_as(s.live, shop.status),
                    shop.services.bits(),
                    shop.capabilities().bits(),
                ) || !check.record(shop)
                {
                    return None;
                }
                let distance_m = from
                    .map(|p| haversine_m(&p, &Point::from_degrees(shop.latitude, shop.longitude)));
                if let (Some(d), Some(max)) = (distance_m, filter.max_distance_m) {
                    if d > max {
                        return None;
                    }
                }
                Some(TextHit {
                    shop,
                    quality,
                    distance_m,
                })
            })
            .collect();
        let order = |a: &TextHit<'_>, b: &TextHit<'_>| {
            a.quality
                .cmp(&b.quality)
                .then(
                    a.distance_m
                        .unwrap_or(0.0)
                        .total_cmp(&b.distance_m.unwrap_or(0.0)),
                )
                .then(a.shop.id.cmp(&b.shop.id))
        };
        if filter.limit == 0 {
            return Vec::new();
        }
        if hits.len() > filter.limit {
            hits.select_nth_unstable_by(filter.limit - 1, order);
            hits.truncate(filter.limit);
        }
        hits.sort_unstable_by(order);
        hits
    }
}
