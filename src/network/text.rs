//! Text search over the shops: by name, external id or address, as people type them.
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
//! A short word names tens of thousands of shops ("shan" on the CN network), and the answer
//! is ten of them, so the search is arranged to do the least work per candidate (under load
//! the mean cost of a query bounds the throughput; BENCHMARKS.md § Search):
//! - Beside each entry one byte, its `Shape`, says whether a field begins there, the word's
//!   length and whether it ends its field. A one-word query (most of what people type) is then
//!   ranked from the entries alone (`rank`): whether the field is the query (Exact), begins
//!   with it (Start), the word is the query (Words) or only begins with it (Prefix). No text
//!   is read, and the range is read once per quality present, best first.
//! - Longer queries take the Exact and Start matches first from the range of the whole folded
//!   query (a field beginning with it begins with its first word), then the other candidates,
//!   whose words are looked for with a prepared `memchr` searcher (`Query::quality_in`).
//! - Each shop is offered once (`Seen`) to a `Ranking` of the best `limit` so far, which
//!   refuses a worse quality than its worst before reading anything, reads kind bits and the
//!   unit vector from the geo index's compact entry, refuses a shop clearly farther than its
//!   worst of the same quality before reading the shop's record, and stops the search once no
//!   shop of the qualities left could enter. Answers are exactly those of ranking every match
//!   ([`Query::matches_joined`] stays the reference the tests compare with).
//!
//! Which fields are searched is [`FIELDS`]: name, external id, street, postcode and city.
//! Shops renamed or added since the build are kept in a short list and folded on every query
//! until the index rebuilds past [`super::REBUILD_AFTER`] of them.
//!
//! This file holds the query and the index; what a word is, and the shape byte of each entry,
//! are in `text_folding.rs`; the bounded ranking of candidates (and [`TextHit`]) in
//! `text_ranking.rs`.

use super::{IndexedShop, Slot};
use memchr::memmem::Finder;
use rayon::prelude::*;
use std::collections::HashSet;

#[path = "text_folding.rs"]
mod folding;
#[path = "text_ranking.rs"]
mod ranking;

use folding::{
    begins_spaced_word, ends_word, fold_into, rank, shape_at, unspaced, word_end, Shape,
};
pub use folding::{fold, word_starts, words};
pub use ranking::TextHit;
use ranking::{Ranking, Seen};

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
    /// A prepared searcher for each word, for [`Query::quality_in`].
    finders: Vec<Finder<'static>>,
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
        let finders = words
            .iter()
            .map(|w| Finder::new(w.as_bytes()).into_owned())
            .collect();
        (!words.is_empty()).then_some(Self {
            folded,
            words,
            finders,
        })
    }

    /// Whether the folded query is one word and nothing else, so that how a shop matches it
    /// follows from the [`Shape`]s of the word's entries.
    fn is_one_word(&self) -> bool {
        matches!(self.words.as_slice(), [w] if *w == self.folded)
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

    /// [`Query::matches_joined`], found faster: each word is looked for only where its bytes
    /// occur (a prepared `memchr` searcher), and an occurrence is then checked to begin a word
    /// (and to end one) from the characters on either side, instead of trying every word start.
    fn quality_in(&self, joined: &str) -> Option<Quality> {
        let bytes = joined.as_bytes();
        let mut whole = true;
        for (w, finder) in self.words.iter().zip(&self.finders) {
            let spaced = w.chars().next().is_some_and(|c| !unspaced(c));
            let (mut found, mut found_whole) = (false, false);
            // Overlapping occurrences too: in an unspaced run each one is a word start.
            let mut from = 0;
            while let Some(i) = finder.find(&bytes[from..]) {
                let at = from + i;
                if !spaced || begins_spaced_word(joined, at) {
                    found = true;
                    if ends_word(joined, at + w.len(), !spaced) {
                        found_whole = true;
                        break;
                    }
                }
                from = at + 1;
            }
            if !found {
                return None;
            }
            whole &= found_whole;
        }
        Some(self.field_quality(joined).unwrap_or(if whole {
            Quality::Words
        } else {
            Quality::Prefix
        }))
    }

    /// Exact when a field of `joined` is the folded query, Start when one begins with it.
    fn field_quality(&self, joined: &str) -> Option<Quality> {
        let mut start = false;
        for field in joined.split('\n') {
            if field == self.folded {
                return Some(Quality::Exact);
            }
            start |= field.starts_with(self.folded.as_str());
        }
        start.then_some(Quality::Start)
    }
}

/// The word index; see the module documentation.
#[derive(Debug, Default, Clone)]
pub(super) struct TextIndex {
    /// Each built slot's folded fields, joined by a newline (never inside a word).
    folded: Vec<Box<str>>,
    /// (slot, byte offset of a word start in `folded[slot]`), sorted by the text from there.
    words: Vec<(u32, u32)>,
    /// The [`Shape`] of each entry of `words`, at the same position.
    shapes: Vec<Shape>,
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
        // Each entry's shape rides along (it never decides the order: slot and offset differ).
        let mut keyed: Vec<(u64, u64, u32, u32, Shape)> = folded
            .par_iter()
            .enumerate()
            .flat_map_iter(|(slot, text)| {
                word_starts(text).map(move |s| {
                    let (hi, lo) = key(text, s);
                    (hi, lo, slot as u32, s as u32, Shape::of(text, s))
                })
            })
            .collect();
        // First by key (then slot and offset, which needs no text), then each run of equal
        // keys of long tails again by its texts: a run's few texts stay in the cache while it
        // is sorted, where one sort reading texts would fetch two from memory per comparison.
        keyed.par_sort_unstable_by_key(|k| (k.0, k.1, k.2, k.3));
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
        let (words, shapes): (Vec<(u32, u32)>, Vec<Shape>) = keyed
            .into_iter()
            .map(|(_, _, slot, at, shape)| ((slot, at), shape))
            .unzip();
        Self {
            folded,
            words,
            shapes,
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
        self.folded.iter().map(|f| f.len() + 16).sum::<usize>()
            + self.words.capacity() * 8
            + self.shapes.capacity()
    }

    /// The entries whose text begins with `w`: one binary-searched range.
    fn range(&self, w: &str) -> std::ops::Range<usize> {
        let lo = self
            .words
            .partition_point(|e| Self::tail(&self.folded, e) < w);
        let hi =
            lo + self.words[lo..].partition_point(|e| Self::tail(&self.folded, e).starts_with(w));
        lo..hi
    }

    /// Whether a built slot's entries in `words` are its current text.
    fn current(&self, slot: u32) -> bool {
        self.stale.is_empty() || !self.stale.contains(&slot)
    }

    /// Offers `ranking` every slot matching `q`, each once and with how well it matches, best
    /// matches first where that is cheap, and stops once `ranking` has its answer. Dead slots
    /// may be among them; the ranking checks.
    fn find(&self, q: &Query, slots: &[Slot], ranking: &mut Ranking<'_, '_>) {
        // Changed since the build: folded here, and offered first (their quality is known).
        for &slot in &self.fresh {
            if let Some(quality) = slots.get(slot as usize).and_then(|s| q.matches(&s.shop)) {
                ranking.offer(slot, quality);
            }
        }
        let driver = q
            .words
            .iter()
            .map(|w| self.range(w))
            .min_by_key(|r| r.len())
            .unwrap_or(0..0);
        if q.is_one_word() {
            self.find_one_word(q, driver, ranking);
            return;
        }
        // A field that begins with the whole query begins with its first word: those entries
        // of the query's own range are the Exact and Start matches (every one of them, when
        // the query begins with a word and has no newline, which no field holds).
        let complete = q.folded.starts_with(q.words[0].as_str()) && !q.folded.contains('\n');
        let starts = if complete {
            self.range(&q.folded)
        } else {
            0..0
        };
        let mut seen = Seen::new(starts.len() + driver.len(), self.folded.len());
        for i in starts.clone() {
            let (slot, _) = self.words[i];
            if self.shapes[i].field_start() && self.current(slot) && seen.insert(slot) {
                let text = &self.folded[slot as usize];
                ranking.offer(slot, q.field_quality(text).unwrap_or(Quality::Start));
            }
        }
        // Every Exact and Start match is now offered (when the query's own range was read):
        // the rest match as Words at best, which may settle them before their text is read.
        let floor = if !complete {
            Quality::Exact
        } else if ranking.settled(Quality::Start) {
            return;
        } else {
            Quality::Words
        };
        for &(slot, _) in &self.words[driver] {
            if self.current(slot) && seen.insert(slot) {
                ranking.offer_with(slot, floor, || q.quality_in(&self.folded[slot as usize]));
            }
        }
    }

    /// [`TextIndex::find`] for a one-word query: each entry of the word's range tells how its
    /// shop matches there from its [`Shape`], without the shop's text. The range is read once
    /// per quality, best first, so a shop is offered at its best quality (the first time it
    /// is met) and the worse qualities are not read at all once the ranking is full.
    fn find_one_word(
        &self,
        q: &Query,
        range: std::ops::Range<usize>,
        ranking: &mut Ranking<'_, '_>,
    ) {
        let len = q.folded.len();
        let mut seen = Seen::new(range.len(), self.folded.len());
        // The qualities met in the first reading (which meets them all): the others are
        // not read for.
        let mut present = 0u8;
        for tier in [
            Quality::Exact,
            Quality::Start,
            Quality::Words,
            Quality::Prefix,
        ] {
            if tier != Quality::Exact && present & (1 << tier as u8) == 0 {
                continue;
            }
            for i in range.clone() {
                let (slot, at) = self.words[i];
                let quality = self.shapes[i].quality(len).unwrap_or_else(|| {
                    let (field_start, ends_field, word) =
                        shape_at(&self.folded[slot as usize], at as usize);
                    rank(field_start, ends_field, word, len)
                });
                present |= 1 << quality as u8;
                if quality == tier && self.current(slot) && seen.insert(slot) {
                    ranking.offer(slot, quality);
                }
            }
            if ranking.settled(tier) {
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
