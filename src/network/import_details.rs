//! The address columns of a shop file (`street` … `address_es`), checked with the same error
//! wording as the other columns: each error names its row and column.

use super::super::address::{
    Country, ShopDetails, MAX_LOCAL, MAX_PHONE, MAX_PLACE, MAX_POSTCODE, MAX_STREET,
};
use super::{Validator, COLUMNS, FIRST_DETAIL};

impl Validator {
    /// The details of one row from its ten address columns; `None` when some column is bad
    /// (its errors are recorded).
    pub(super) fn details(
        &mut self,
        row: usize,
        fields: [Option<String>; 10],
    ) -> Option<ShopDetails> {
        let before = self.errors.len() + usize::from(self.truncated);
        let limits = [
            MAX_STREET,
            MAX_POSTCODE,
            MAX_PLACE,
            MAX_PLACE,
            // Any length reaches the ISO check, which says what a country code is.
            64,
            MAX_PHONE,
            MAX_LOCAL,
            MAX_LOCAL,
            MAX_LOCAL,
            MAX_LOCAL,
        ];
        let mut texts: [Option<String>; 10] = Default::default();
        for (i, value) in fields.into_iter().enumerate() {
            texts[i] = self.optional_text(row, FIRST_DETAIL + i, value, limits[i]);
        }
        let [street, postcode, city, region, country, phone, name_zh, address_zh, name_es, address_es] =
            &texts;
        if let Some(p) = postcode {
            if !p
                .chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
            {
                self.error(
                    row,
                    "postcode",
                    format!("{p:?} may hold only letters, digits, spaces and '-'"),
                );
            }
        }
        if let Some(c) = country {
            if let Err(m) = Country::parse(c) {
                self.error(row, "country", m);
            }
        }
        let any_address =
            street.is_some() || postcode.is_some() || city.is_some() || region.is_some();
        if any_address || country.is_some() {
            if city.is_none() {
                self.error(row, "city", "is required when an address is given");
            }
            if country.is_none() {
                self.error(row, "country", "is required when an address is given");
            }
        }
        if let Some(p) = phone {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            if digits < 3
                || !p
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c))
            {
                self.error(
                    row,
                    "phone",
                    format!("{p:?} is not a phone number (digits, spaces, + - ( ) . only)"),
                );
            }
        }
        if self.errors.len() + usize::from(self.truncated) != before {
            return None;
        }
        Some(ShopDetails::from_columns(
            street.as_deref(),
            postcode.as_deref(),
            city.as_deref(),
            region.as_deref(),
            country.as_deref(),
            phone.as_deref(),
            [
                name_zh.as_deref(),
                address_zh.as_deref(),
                name_es.as_deref(),
                address_es.as_deref(),
            ],
        ))
    }

    /// An optional text column: absent or blank is `None`; too long or with control
    /// characters is an error.
    fn optional_text(
        &mut self,
        row: usize,
        col: usize,
        value: Option<String>,
        max: usize,
    ) -> Option<String> {
        let field = COLUMNS[col];
        let v = value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())?;
        if v.chars().count() > max {
            self.error(row, field, format!("is longer than {max} characters"));
            None
        } else if v.chars().any(char::is_control) {
            self.error(row, field, "contains control characters");
            None
        } else {
            Some(v)
        }
    }
}
