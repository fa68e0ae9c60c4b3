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

use super::area::Check;
use super::{found_as, GeoIndex, IndexedShop, SearchFilter, Slot, CHORD_SLACK};
use crate::network::geo::{chord_for_distance, haversine_m, Point};
use memchr::memmem::Finder;
use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
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

/// Whether a spaced-script letter or digit at `at` begins a word: nothing before it, or
/// something other than a spaced letter or digit (as [`word_starts`] decides).
fn begins_spaced_word(text: &str, at: usize) -> bool {
    match text.as_bytes()[..at].last() {
        None => true,
        Some(b) if b.is_ascii() => !b.is_ascii_alphanumeric(),
        Some(_) => text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() || unspaced(c)),
    }
}

/// Whether a word of letters or digits of one kind (`unspaced_word` or not) that reaches
/// `end` ends there (as [`word_end`] decides).
fn ends_word(text: &str, end: usize, unspaced_word: bool) -> bool {
    text[end..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric() || unspaced(c) != unspaced_word)
}

/// What the text says around an entry's word start, kept beside the entry so that a one-word
/// query is ranked without reading the shop's text: whether a field begins there (bit 7),
/// whether the word (or unspaced run) ends its field (bit 6), and the word's length in bytes
/// (bits 0-5; [`Shape::LONG`] for that length or more, when the text must be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape(u8);

impl Shape {
    const FIELD_START: u8 = 0x80;
    const ENDS_FIELD: u8 = 0x40;
    const LONG: u8 = 0x3f;

    /// The shape at word start `at` of folded `text`.
    fn of(text: &str, at: usize) -> Self {
        let (field_start, ends_field, len) = shape_at(text, at);
        Self(
            (len.min(Self::LONG as usize) as u8)
                | if field_start { Self::FIELD_START } else { 0 }
                | if ends_field { Self::ENDS_FIELD } else { 0 },
        )
    }

    fn field_start(self) -> bool {
        self.0 & Self::FIELD_START != 0
    }

    /// How a shop matches at this entry the one-word query of `len` bytes that its text
    /// begins with; `None` when the word is too long for the shape to tell.
    fn quality(self, len: usize) -> Option<Quality> {
        let word = (self.0 & Self::LONG) as usize;
        (word < Self::LONG as usize || len < word).then(|| {
            rank(
                self.field_start(),
                self.0 & Self::ENDS_FIELD != 0,
                word,
                len,
            )
        })
    }
}

/// (Whether a field begins at `at`, whether the word there ends its field, its length).
fn shape_at(text: &str, at: usize) -> (bool, bool, usize) {
    let bytes = text.as_bytes();
    let end = word_end(text, at);
    (
        at == 0 || bytes[at - 1] == b'\n',
        end == bytes.len() || bytes[end] == b'\n',
        end - at,
    )
}

/// How a shop matches a one-word query of `len` bytes at a word start that begins with it:
/// the field is the query (Exact), begins with it (Start), the word is the query (Words), or
/// only begins with it (Prefix). The best over a shop's entries is [`Query::matches`]'s answer.
fn rank(field_start: bool, ends_field: bool, word: usize, len: usize) -> Quality {
    let whole = word == len;
    match (field_start, whole && ends_field) {
        (true, true) => Quality::Exact,
        (true, false) => Quality::Start,
        _ if whole => Quality::Words,
        _ => Quality::Prefix,
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

/// The slots already offered: a bitmap over all slots when there are many candidates, else a
/// short list (zeroing the bitmap would cost more than the search).
enum Seen {
    Few(Vec<u32>),
    Many(Vec<u64>),
}

impl Seen {
    fn new(candidates: usize, slots: usize) -> Self {
        if candidates <= 64 {
            Self::Few(Vec::with_capacity(candidates))
        } else {
            Self::Many(vec![0; slots / 64 + 1])
        }
    }

    /// Notes `slot`; false when it was noted before.
    fn insert(&mut self, slot: u32) -> bool {
        match self {
            Self::Few(list) => {
                let new = !list.contains(&slot);
                if new {
                    list.push(slot);
                }
                new
            }
            Self::Many(bits) => {
                let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
                let new = bits[word] & bit == 0;
                bits[word] |= bit;
                new
            }
        }
    }
}

/// A hit kept by a [`Ranking`], in answer order: quality, then distance (0 without a position),
/// then id.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    quality: Quality,
    distance_m: f64,
    id: i64,
    slot: u32,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.quality
            .cmp(&other.quality)
            .then(self.distance_m.total_cmp(&other.distance_m))
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The best `limit` matching shops offered so far, and what a candidate must beat to join
/// them: a worse quality than the worst kept is refused before anything is read, and near a
/// position a shop whose chord (from its compact tree entry) is clearly longer than the worst
/// kept one's of the same quality is refused before its record is read. Ties in the bounds
/// are kept (the slack is [`CHORD_SLACK`]), so the answer is exactly the full sort's.
pub(super) struct Ranking<'i, 'f> {
    index: &'i GeoIndex,
    check: Check<'f, 'i>,
    limit: usize,
    max_distance_m: Option<f64>,
    from: Option<Point>,
    /// `from` as a unit vector.
    qv: [f64; 3],
    /// Chord² beyond `max_distance_m`.
    max_bound2: f64,
    /// Chord² beyond the worst kept hit's distance, once `limit` are kept.
    worst_bound2: f64,
    /// A max-heap: the worst kept hit on top.
    kept: BinaryHeap<Ranked>,
}

impl<'i, 'f> Ranking<'i, 'f> {
    fn new(index: &'i GeoIndex, filter: &'f SearchFilter<'f>, near: Option<(f64, f64)>) -> Self {
        let from = near.map(|(lat, lon)| Point::from_degrees(lat, lon));
        let bound = filter.max_distance_m.map_or(2.0, chord_for_distance);
        Self {
            index,
            check: Check::new(filter, &index.area.schedules),
            limit: filter.limit,
            max_distance_m: filter.max_distance_m,
            from,
            qv: from.map_or([0.0; 3], |p| p.unit_vector()),
            max_bound2: (bound + CHORD_SLACK).powi(2),
            worst_bound2: f64::INFINITY,
            kept: BinaryHeap::with_capacity(filter.limit.min(1024) + 1),
        }
    }

    /// Whether every shop yet to be offered at quality `tier` or worse is refused.
    fn settled(&self, tier: Quality) -> bool {
        self.kept.len() >= self.limit && self.kept.peek().is_some_and(|w| w.quality <= tier)
    }

    /// Considers a matching slot (each slot offered once).
    fn offer(&mut self, slot: u32, quality: Quality) {
        self.offer_with(slot, quality, || Some(quality));
    }

    /// Considers a slot that matches no better than `floor`, if `quality` (only called when
    /// the slot is of the wanted kind and could still enter) says it matches.
    fn offer_with(&mut self, slot: u32, floor: Quality, quality: impl FnOnce() -> Option<Quality>) {
        let worst = (self.kept.len() >= self.limit)
            .then(|| self.kept.peek().copied())
            .flatten();
        if worst.is_some_and(|w| floor > w.quality) {
            return;
        }
        let index = self.index;
        // The tree entry of a built slot sits at the slot's own position (`lay_out_in_tree_order`).
        let (found, services, capabilities, v) = match index.entries.get(slot as usize) {
            Some(e) if e.slot == slot => (e.found_as, e.services, e.capabilities, e.v),
            _ => {
                let s = &index.slots[slot as usize];
                let shop = &s.shop;
                (
                    found_as(s.live, shop.status),
                    shop.services.bits(),
                    shop.capabilities().bits(),
                    s.point.unit_vector(),
                )
            }
        };
        if !self.check.kind(found, services, capabilities) {
            return;
        }
        // Chord² to `from`, and whether a shop of quality `q` that far is clearly behind the
        // worst kept.
        let c2: f64 = (0..3).map(|k| (v[k] - self.qv[k]).powi(2)).sum();
        let beyond = |q: Quality| {
            self.from.is_some()
                && c2
                    > match worst {
                        Some(w) if w.quality == q => self.worst_bound2,
                        _ => self.max_bound2,
                    }
        };
        if beyond(floor) {
            return;
        }
        // Without a position the order after quality is the id: a larger id than the worst
        // kept's, at its quality, is behind it whatever the text says.
        let s = &index.slots[slot as usize];
        if self.from.is_none() && worst.is_some_and(|w| w.quality == floor && s.shop.id > w.id) {
            return;
        }
        let Some(quality) = quality() else {
            return;
        };
        if worst.is_some_and(|w| quality > w.quality) || beyond(quality) {
            return;
        }
        if !self.check.record(&s.shop) {
            return;
        }
        let distance_m = self.from.map_or(0.0, |p| haversine_m(&p, &s.point));
        if self.from.is_some() && self.max_distance_m.is_some_and(|max| distance_m > max) {
            return;
        }
        let hit = Ranked {
            quality,
            distance_m,
            id: s.shop.id,
            slot,
        };
        if let Some(w) = worst {
            if hit >= w {
                return;
            }
            self.kept.pop();
        }
        self.kept.push(hit);
        if self.kept.len() >= self.limit && self.from.is_some() {
            if let Some(w) = self.kept.peek() {
                self.worst_bound2 = (chord_for_distance(w.distance_m) + CHORD_SLACK).powi(2);
            }
        }
    }

    /// The hits kept, best first.
    fn finish(self) -> Vec<TextHit<'i>> {
        let (index, near) = (self.index, self.from.is_some());
        self.kept
            .into_sorted_vec()
            .into_iter()
            .map(|r| TextHit {
                shop: &index.slots[r.slot as usize].shop,
                quality: r.quality,
                distance_m: near.then_some(r.distance_m),
            })
            .collect()
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
        if filter.limit == 0 {
            return Vec::new();
        }
        let mut ranking = Ranking::new(self, filter, near);
        self.text.find(q, &self.slots, &mut ranking);
        ranking.finish()
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
