//! Folding text and cutting it into words, for the text index ([`super`]): what a word is
//! (runs of letters and digits, Han, kana and hangul matched by substring), where words begin
//! and end, and the [`Shape`] byte kept beside each index entry, from which a one-word query
//! is ranked without reading the shop's text.

use super::Quality;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{is_nfkd_quick, IsNormalized, UnicodeNormalization};

/// Folds text for matching: NFKD, no combining marks, lower case.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

/// Appends folded `text` to `out`. Text already in NFKD (all ASCII, and most Han) skips the
/// decomposition, which costs more than the rest of the index build (BENCHMARKS.md § Search);
/// ASCII has no combining marks either, so it is only lower-cased.
pub(super) fn fold_into(text: &str, out: &mut String) {
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
pub(super) fn unspaced(c: char) -> bool {
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
pub(super) fn word_end(folded: &str, start: usize) -> usize {
    let kind = folded[start..].chars().next().map(unspaced);
    folded[start..]
        .char_indices()
        .find(|&(_, c)| !c.is_alphanumeric() || Some(unspaced(c)) != kind)
        .map_or(folded.len(), |(i, _)| start + i)
}

/// Whether a spaced-script letter or digit at `at` begins a word: nothing before it, or
/// something other than a spaced letter or digit (as [`word_starts`] decides).
pub(super) fn begins_spaced_word(text: &str, at: usize) -> bool {
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
pub(super) fn ends_word(text: &str, end: usize, unspaced_word: bool) -> bool {
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
pub(super) struct Shape(u8);

impl Shape {
    const FIELD_START: u8 = 0x80;
    const ENDS_FIELD: u8 = 0x40;
    const LONG: u8 = 0x3f;

    /// The shape at word start `at` of folded `text`.
    pub(super) fn of(text: &str, at: usize) -> Self {
        let (field_start, ends_field, len) = shape_at(text, at);
        Self(
            (len.min(Self::LONG as usize) as u8)
                | if field_start { Self::FIELD_START } else { 0 }
                | if ends_field { Self::ENDS_FIELD } else { 0 },
        )
    }

    pub(super) fn field_start(self) -> bool {
        self.0 & Self::FIELD_START != 0
    }

    /// How a shop matches at this entry the one-word query of `len` bytes that its text
    /// begins with; `None` when the word is too long for the shape to tell.
    pub(super) fn quality(self, len: usize) -> Option<Quality> {
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
pub(super) fn shape_at(text: &str, at: usize) -> (bool, bool, usize) {
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
pub(super) fn rank(field_start: bool, ends_field: bool, word: usize, len: usize) -> Quality {
    let whole = word == len;
    match (field_start, whole && ends_field) {
        (true, true) => Quality::Exact,
        (true, false) => Quality::Start,
        _ if whole => Quality::Words,
        _ => Quality::Prefix,
    }
}
