//! The size columns of a shop file (`slots_s`, `slots_m`, `slots_l`, `max_weight_kg`,
//! `max_dimensions_cm`; see [`super::super::sizes`]), checked with the same error wording as
//! the other columns: each error names its row and column.

use super::super::sizes::{self, ShopSizes};
use super::{Validator, COLUMNS, FIRST_SIZE};

impl Validator {
    /// The size declaration of one row (all empty: every slot `L`, the default limits);
    /// `None` when some column is bad (its errors are recorded). `capacity` is the row's own,
    /// `None` when it was bad already.
    pub(super) fn sizes(
        &mut self,
        row: usize,
        capacity: Option<i32>,
        fields: [Option<String>; 5],
    ) -> Option<ShopSizes> {
        let before = self.errors.len() + usize::from(self.truncated);
        let [s, m, l, weight, dims] =
            fields.map(|f| f.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()));
        let mut slots = [None; 3];
        for (i, value) in [s, m, l].into_iter().enumerate() {
            slots[i] = value.and_then(|v| self.slots(row, FIRST_SIZE + i, &v));
        }
        let max_weight_g = weight.and_then(|w| {
            sizes::parse_weight_kg(&w)
                .map_err(|e| self.error(row, "max_weight_kg", e))
                .ok()
        });
        let max_dims_mm = dims.and_then(|d| {
            sizes::parse_dims_cm(&d)
                .map_err(|e| self.error(row, "max_dimensions_cm", e))
                .ok()
        });
        if self.errors.len() + usize::from(self.truncated) != before {
            return None;
        }
        let capacity = capacity?;
        let [s, m, l] = slots;
        let (slots_s, slots_m) = (s.unwrap_or(0), m.unwrap_or(0));
        match l {
            Some(l) if slots_s + slots_m + l != capacity => self.error(
                row,
                "capacity",
                format!(
                    "{capacity} is not slots_s + slots_m + slots_l ({})",
                    slots_s + slots_m + l
                ),
            ),
            None if slots_s + slots_m > capacity => self.error(
                row,
                if s.is_some() { "slots_s" } else { "slots_m" },
                format!(
                    "slots_s + slots_m ({}) is more than the capacity ({capacity})",
                    slots_s + slots_m
                ),
            ),
            _ => {}
        }
        if self.errors.len() + usize::from(self.truncated) != before {
            return None;
        }
        Some(ShopSizes {
            slots_s,
            slots_m,
            max_weight_g,
            max_dims_mm,
        })
    }

    fn slots(&mut self, row: usize, col: usize, text: &str) -> Option<i32> {
        match text.parse::<i64>() {
            Ok(n) if (0..=super::MAX_CAPACITY).contains(&n) => i32::try_from(n).ok(),
            Ok(n) => {
                self.error(
                    row,
                    COLUMNS[col],
                    format!("{n} is out of range (0 to {})", super::MAX_CAPACITY),
                );
                None
            }
            Err(_) => {
                self.error(row, COLUMNS[col], format!("{text:?} is not a whole number"));
                None
            }
        }
    }
}
