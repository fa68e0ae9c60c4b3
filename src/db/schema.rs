//! The diesel schema common to both backends (the lowest common denominator of column types).

diesel::table! {
    /// Partner shops.
    shops (id) {
        /// pudo's id.
        id -> BigInt,
        /// The partner's unique reference.
        external_id -> Text,
        /// Display name.
        name -> Text,
        /// Degrees.
        latitude -> Double,
        /// Degrees.
        longitude -> Double,
        /// H3 cell, resolution 9.
        h3_cell -> BigInt,
        /// Resolution-3 parent cell: the distribution key.
        region -> BigInt,
        /// Parcel slots.
        capacity -> Integer,
        /// IANA time zone.
        timezone -> Text,
        /// Canonical opening-hours text.
        opening_hours -> Text,
        /// active, paused or closed.
        status -> Text,
        /// Network revision that last wrote the row.
        revision -> BigInt,
        /// UTC.
        created_at -> Timestamp,
        /// UTC.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// The single-row change counter of the network.
    network_revision (id) {
        /// Always 1.
        id -> Integer,
        /// Last revision committed.
        revision -> BigInt,
    }
}
