//! Parcel sizes: the size classes of a point's slots, what a point accepts (weight and
//! dimensions), a parcel's measurements, and which of a point's classes a parcel may take.
//!
//! Three classes, modelled on parcel lockers (InPost's A/B/C compartments): a parcel fits a
//! class when, turned as needed, each of its sides fits the class's box.
//!
//! | class | up to (cm)                          |
//! |-------|-------------------------------------|
//! | `S`   | 8 × 38 × 64                          |
//! | `M`   | 19 × 38 × 64                         |
//! | `L`   | the point's maximum (default 41 × 38 × 64) |
//!
//! A point declares how many of its slots are `S` and `M`; the rest of its capacity is `L`. A
//! point that declares nothing (every shop imported before sizes existed) has only `L` slots,
//! takes parcels up to 41 × 38 × 64 cm and 25 kg, and works exactly as before.
//!
//! A parcel takes the smallest class it fits, or a larger one when that class has no room;
//! a parcel whose size is not given takes the point's largest class (it may be anything the
//! point accepts). All lengths are whole millimetres and weights whole grams, so every
//! comparison is exact.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// A size class of slots.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
pub enum SizeClass {
    /// Up to 8 × 38 × 64 cm.
    S,
    /// Up to 19 × 38 × 64 cm.
    M,
    /// Up to the point's maximum dimensions.
    L,
}

impl SizeClass {
    /// Every class, smallest first.
    pub const ALL: [SizeClass; 3] = [SizeClass::S, SizeClass::M, SizeClass::L];

    /// The text stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S => "S",
            Self::M => "M",
            Self::L => "L",
        }
    }

    /// The class's box, sides in millimetres, longest first; `None` for `L`, which is bounded
    /// by the point's maximum only.
    pub fn bounds_mm(self) -> Option<[i32; 3]> {
        match self {
            Self::S => Some([640, 380, 80]),
            Self::M => Some([640, 380, 190]),
            Self::L => None,
        }
    }
}

impl fmt::Display for SizeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SizeClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "S" => Ok(Self::S),
            "M" => Ok(Self::M),
            "L" => Ok(Self::L),
            other => Err(format!("unknown size class {other:?} (use S, M or L)")),
        }
    }
}

/// The heaviest parcel a point takes when it declares no maximum, grams (25 kg).
pub const DEFAULT_MAX_WEIGHT_G: i32 = 25_000;
/// The largest parcel a point takes when it declares no maximum, millimetres, longest side
/// first (41 × 38 × 64 cm, a locker's largest compartment).
pub const DEFAULT_MAX_DIMS_MM: [i32; 3] = [640, 410, 380];
/// The longest side any parcel or point may give, millimetres (999.9 cm).
pub const MAX_SIDE_MM: i32 = 9_999;
/// The heaviest weight any parcel or point may give, grams (1 t).
pub const MAX_WEIGHT_G: i32 = 1_000_000;
/// What `parcel=` and `max_dimensions_cm` accept (the OpenAPI pattern): three sides in
/// centimetres, 0.1 to 999.9 with at most one decimal, separated by `x`.
pub const DIMS_PATTERN: &str = r"^\s*(?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])[xX](?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])[xX](?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])\s*$";
/// What `weight_kg=` and `max_weight_kg` accept (the OpenAPI pattern): kilograms, 0.001 to
/// 1000 with at most three decimals.
pub const WEIGHT_PATTERN: &str = r"^\s*(?:[1-9][0-9]{0,2}(?:\.[0-9]{1,3})?|1000(?:\.0{1,3})?|0\.(?:[1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9]))\s*$";

/// A parcel's measurements as a reservation or search gives them; either may be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ParcelSize {
    /// Sides in millimetres, longest first.
    pub dims_mm: Option<[i32; 3]>,
    /// Weight in grams.
    pub weight_g: Option<i32>,
}

impl ParcelSize {
    /// Whether nothing is known of the parcel's size.
    pub fn is_unknown(&self) -> bool {
        self.dims_mm.is_none() && self.weight_g.is_none()
    }
}

/// Sides sorted longest first: a parcel may be turned to fit.
pub fn sorted(mut sides: [i32; 3]) -> [i32; 3] {
    sides.sort_unstable_by(|a, b| b.cmp(a));
    sides
}

/// Parses `LxWxH` in centimetres (0.1 to 999.9, at most one decimal: millimetres), e.g.
/// `30x20x5` or `30.5x20x4.5`, exactly what [`DIMS_PATTERN`] allows; answers the sides in
/// millimetres, longest first.
pub fn parse_dims_cm(text: &str) -> Result<[i32; 3], String> {
    let bad = || {
        format!(
            "{:?} is not LxWxH in centimetres (e.g. 30x20x5; each side 0.1 to 999.9, at most \
             one decimal)",
            text.trim()
        )
    };
    let parts: Vec<&str> = text.trim().split(['x', 'X']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(bad());
    };
    let side = |t: &str| decimal(t, 1, 3).filter(|&v| v <= MAX_SIDE_MM);
    match (side(a), side(b), side(c)) {
        (Some(a), Some(b), Some(c)) => Ok(sorted([a, b, c])),
        _ => Err(bad()),
    }
}

/// Parses a weight in kilograms (0.001 to 1000, at most three decimals: grams), e.g. `2.5`,
/// exactly what [`WEIGHT_PATTERN`] allows; answers grams.
pub fn parse_weight_kg(text: &str) -> Result<i32, String> {
    decimal(text.trim(), 3, 4)
        .filter(|&g| g <= MAX_WEIGHT_G)
        .ok_or_else(|| {
            format!(
                "{:?} is not a weight in kilograms (0.001 to 1000, at most three decimals)",
                text.trim()
            )
        })
}

/// A weight in kilograms given as a JSON number (0.001 to 1000), in grams (to the gram).
pub fn weight_g_of_kg(kg: f64) -> Result<i32, String> {
    if !(0.001..=1000.0).contains(&kg) {
        return Err(format!(
            "{kg} is not a weight in kilograms from 0.001 to 1000"
        ));
    }
    Ok(((kg * 1000.0).round() as i32).clamp(1, MAX_WEIGHT_G))
}

/// A positive decimal written plainly (no sign, no exponent, no leading zero, at most
/// `whole_digits` digits before the point and `places` after it), scaled by 10^places; `None`
/// for anything else or zero. Parsed as text so that no value is rounded.
fn decimal(t: &str, places: u32, whole_digits: usize) -> Option<i32> {
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || whole.len() > whole_digits || (whole.len() > 1 && whole.starts_with('0')) {
        return None;
    }
    let frac = frac.unwrap_or("");
    if (t.contains('.') && !digits(frac)) || frac.len() > places as usize {
        return None;
    }
    let scale = 10_i64.pow(places);
    let whole: i64 = whole.parse().ok()?;
    let frac_scaled: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().ok()? * 10_i64.pow(places - frac.len() as u32)
    };
    let v = whole * scale + frac_scaled;
    if v < 1 {
        return None;
    }
    i32::try_from(v).ok()
}

/// Millimetres as centimetres for messages and files (`38` or `38.5`).
pub fn cm(mm: i32) -> String {
    if mm % 10 == 0 {
        (mm / 10).to_string()
    } else {
        format!("{}.{}", mm / 10, mm % 10)
    }
}

/// Grams as kilograms for messages and files (`25` or `2.5`).
pub fn kg(g: i32) -> String {
    let frac = format!("{:03}", g % 1000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        (g / 1000).to_string()
    } else {
        format!("{}.{frac}", g / 1000)
    }
}

/// What a point declares about sizes: its `S` and `M` slots (the rest of its capacity is
/// `L`) and the largest parcel it takes (`None`: the documented defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ShopSizes {
    /// Slots of class `S`.
    pub slots_s: i32,
    /// Slots of class `M`.
    pub slots_m: i32,
    /// The heaviest parcel, grams.
    pub max_weight_g: Option<i32>,
    /// The largest parcel, millimetres, longest side first.
    pub max_dims_mm: Option<[i32; 3]>,
}

/// Why a parcel cannot go to a point whatever its room: the limit it exceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoesNotFit {
    /// Heavier than the point takes (its maximum, grams).
    Weight(i32),
    /// Larger than the point takes (its maximum, millimetres, longest first).
    Dimensions([i32; 3]),
    /// The point has no slots of the class the parcel needs, nor of a larger one.
    NoClass(SizeClass),
}

impl DoesNotFit {
    /// The stable name of the limit (`max_weight`, `max_dimensions` or `size_class`).
    pub fn limit(&self) -> &'static str {
        match self {
            Self::Weight(_) => "max_weight",
            Self::Dimensions(_) => "max_dimensions",
            Self::NoClass(_) => "size_class",
        }
    }
}

impl fmt::Display for DoesNotFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Weight(g) => write!(
                f,
                "the parcel is heavier than the point's maximum of {} kg",
                kg(*g)
            ),
            Self::Dimensions([a, b, c]) => write!(
                f,
                "the parcel is larger than the point's maximum of {} x {} x {} cm",
                cm(*a),
                cm(*b),
                cm(*c)
            ),
            Self::NoClass(class) => write!(
                f,
                "the parcel needs a slot of size {class} or larger and the point has none"
            ),
        }
    }
}

/// The classes a parcel may take at a point, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The smallest class the parcel fits (the class named when the point is full).
    pub needed: SizeClass,
    /// The point's classes from `needed` up, smallest first (1 to 3 of them).
    classes: [Option<SizeClass>; 3],
}

impl Placement {
    /// The classes to try, smallest first.
    pub fn classes(&self) -> impl Iterator<Item = SizeClass> + '_ {
        self.classes.iter().flatten().copied()
    }
}

impl ShopSizes {
    /// The heaviest parcel the point takes, grams.
    pub fn max_weight(&self) -> i32 {
        self.max_weight_g.unwrap_or(DEFAULT_MAX_WEIGHT_G)
    }

    /// The largest parcel the point takes, millimetres, longest first.
    pub fn max_dims(&self) -> [i32; 3] {
        self.max_dims_mm.unwrap_or(DEFAULT_MAX_DIMS_MM)
    }

    /// Slots of `class` at a point of `capacity` (the `L` slots are what `S` and `M` leave).
    pub fn slots(&self, capacity: i32, class: SizeClass) -> i32 {
        match class {
            SizeClass::S => self.slots_s,
            SizeClass::M => self.slots_m,
            SizeClass::L => (capacity - self.slots_s - self.slots_m).max(0),
        }
    }

    /// Whether the point has slots of `class`; a point that declares no `S` nor `M` has `L`
    /// slots even at capacity 0 (so that it is full, as before sizes, and not unfit).
    pub fn has(&self, capacity: i32, class: SizeClass) -> bool {
        self.slots(capacity, class) > 0
            || (class == SizeClass::L && self.slots_s == 0 && self.slots_m == 0)
    }

    /// The largest class the point has.
    pub fn largest(&self, capacity: i32) -> SizeClass {
        [SizeClass::L, SizeClass::M, SizeClass::S]
            .into_iter()
            .find(|&c| self.has(capacity, c))
            .unwrap_or(SizeClass::L)
    }

    /// Where a parcel may go at a point of `capacity`, or the limit it exceeds. The weight is
    /// checked first, then the dimensions, then the classes.
    pub fn place(&self, capacity: i32, parcel: &ParcelSize) -> Result<Placement, DoesNotFit> {
        if parcel.weight_g.is_some_and(|w| w > self.max_weight()) {
            return Err(DoesNotFit::Weight(self.max_weight()));
        }
        let max = self.max_dims();
        let needed = match parcel.dims_mm {
            Some(d) if !within(d, max) => return Err(DoesNotFit::Dimensions(max)),
            Some(d) => SizeClass::ALL
                .into_iter()
                .find(|c| c.bounds_mm().is_none_or(|b| within(d, b)))
                .unwrap_or(SizeClass::L),
            None => self.largest(capacity),
        };
        let mut classes = [None; 3];
        for (slot, class) in classes.iter_mut().zip(
            SizeClass::ALL
                .into_iter()
                .filter(|&c| c >= needed && self.has(capacity, c)),
        ) {
            *slot = Some(class);
        }
        if classes[0].is_none() {
            return Err(DoesNotFit::NoClass(needed));
        }
        Ok(Placement { needed, classes })
    }
}

/// Whether sides `d` (longest first) fit within the box `b` (longest first).
fn within(d: [i32; 3], b: [i32; 3]) -> bool {
    d[0] <= b[0] && d[1] <= b[1] && d[2] <= b[2]
}

/// What a point takes, as its page shows it: slots per class and the largest parcel (the
/// defaults when it declares none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct SizesView {
    /// Slots of class S (up to 8 x 38 x 64 cm).
    pub slots_s: i32,
    /// Slots of class M (up to 19 x 38 x 64 cm).
    pub slots_m: i32,
    /// Slots of class L (up to the maximum dimensions).
    pub slots_l: i32,
    /// The heaviest parcel taken, kilograms.
    pub max_weight_kg: f64,
    /// The largest parcel taken, centimetres, longest side first.
    pub max_dimensions_cm: [f64; 3],
}

impl SizesView {
    /// The view of a point of `capacity` declaring `sizes`.
    pub fn of(sizes: &ShopSizes, capacity: i32) -> Self {
        Self {
            slots_s: sizes.slots(capacity, SizeClass::S),
            slots_m: sizes.slots(capacity, SizeClass::M),
            slots_l: sizes.slots(capacity, SizeClass::L),
            max_weight_kg: f64::from(sizes.max_weight()) / 1000.0,
            max_dimensions_cm: sizes.max_dims().map(|mm| f64::from(mm) / 10.0),
        }
    }
}

/// Slots held per class at a point: `live` in all, `live_s` and `live_m` of those in `S` and
/// `M` (the rest are in `L`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Held {
    /// Slots held in all.
    pub live: i32,
    /// Of which `S`.
    pub live_s: i32,
    /// Of which `M`.
    pub live_m: i32,
}

impl Held {
    /// Slots of `class` held.
    pub fn of(&self, class: SizeClass) -> i32 {
        match class {
            SizeClass::S => self.live_s,
            SizeClass::M => self.live_m,
            SizeClass::L => self.live - self.live_s - self.live_m,
        }
    }
}

/// Free slots a placed parcel may take at a point: the free slots of its classes, never
/// more than the point's free slots in all.
pub fn free_for(sizes: &ShopSizes, capacity: i32, held: &Held, placement: &Placement) -> i32 {
    let by_class: i32 = placement
        .classes()
        .map(|c| (sizes.slots(capacity, c) - held.of(c)).max(0))
        .sum();
    by_class.min((capacity - held.live).max(0))
}

/// Free slots of each class at a point (S, M, L in that order), each never below zero and
/// together never more than its free slots in all (a class held beyond its slots, after its
/// slots were lowered, counts against the others: taken off the largest class first).
pub fn free_by_class(sizes: &ShopSizes, capacity: i32, held: &Held) -> [i32; 3] {
    let mut free = SizeClass::ALL.map(|c| (sizes.slots(capacity, c) - held.of(c)).max(0));
    let mut over = free.iter().sum::<i32>() - (capacity - held.live).max(0);
    for f in free.iter_mut().rev() {
        let cut = over.clamp(0, *f);
        *f -= cut;
        over -= cut;
    }
    free
}

#[cfg(test)]
#[path = "sizes_tests.rs"]
mod tests;
