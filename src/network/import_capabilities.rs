//! The capability columns of a shop file (`capabilities`, `photo_url`; see
//! [`super::super::capabilities`]), checked with the same error wording as the other columns:
//! each error names its row and column.

use super::super::capabilities::{self, Capabilities, Profile};
use super::Validator;

impl Validator {
    /// What one row declares about the point (both empty: nothing, as for every shop before
    /// capabilities); `None` when a column is bad (its error is recorded).
    pub(super) fn profile(&mut self, row: usize, fields: [Option<String>; 2]) -> Option<Profile> {
        let [declared, photo] =
            fields.map(|f| f.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()));
        let capabilities = match declared {
            None => Some(Capabilities::none()),
            Some(text) => Capabilities::declared(&text)
                .map_err(|m| self.error(row, "capabilities", m))
                .ok(),
        };
        let photo_url = match photo {
            None => Some(None),
            Some(url) => capabilities::photo_url(&url)
                .map(|u| Some(u.into_boxed_str()))
                .map_err(|m| self.error(row, "photo_url", m))
                .ok(),
        };
        Some(Profile {
            capabilities: capabilities?,
            photo_url: photo_url?,
        })
    }
}
