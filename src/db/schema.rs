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

diesel::table! {
    /// Live parcels per shop; the row a reservation updates to take a slot.
    shop_load (shop_id) {
        /// The shop.
        shop_id -> BigInt,
        /// The shop's region key.
        region -> BigInt,
        /// Parcels reserved or waiting at the shop.
        live -> Integer,
        /// Last change (UTC), for the geo indexes that follow free slots.
        changed_at -> Timestamp,
    }
}

diesel::table! {
    /// Reservations and the parcels they become.
    parcels (id) {
        /// pudo's id, also the reservation id.
        id -> BigInt,
        /// The pickup point.
        shop_id -> BigInt,
        /// The shop's region key.
        region -> BigInt,
        /// The merchant (token subject) that reserved.
        merchant -> Text,
        /// The merchant's order reference, unique per merchant.
        order_ref -> Text,
        /// Optional SKU.
        sku -> Nullable<Text>,
        /// reserved, at_point, picked_up, expired, returned or cancelled.
        state -> Text,
        /// Keyed hash of the pickup code.
        code_hash -> Nullable<Text>,
        /// The code sealed for its one-time reading by the merchant.
        code_sealed -> Nullable<Text>,
        /// End of the holding period (UTC).
        expires_at -> Nullable<Timestamp>,
        /// UTC.
        created_at -> Timestamp,
        /// UTC.
        updated_at -> Timestamp,
        /// UTC.
        arrived_at -> Nullable<Timestamp>,
        /// UTC.
        picked_up_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Audit of every handover attempt; never holds a code.
    handover_attempts (id) {
        /// Row id.
        id -> BigInt,
        /// The shop the attempt was made at.
        shop_id -> BigInt,
        /// The shop's region key.
        region -> BigInt,
        /// Token subject that made it.
        actor -> Text,
        /// success, replay, wrong_code, expired, not_collectable or rate_limited.
        result -> Text,
        /// The parcel, when the code matched one.
        parcel_id -> Nullable<BigInt>,
        /// UTC.
        at -> Timestamp,
    }
}

diesel::table! {
    /// Hashed partner API keys, one per shop.
    shop_api_keys (shop_id) {
        /// The shop.
        shop_id -> BigInt,
        /// SHA-256 of the key, hex.
        key_hash -> Text,
        /// UTC.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Generated service secrets shared by every instance (JWT key, data key).
    service_keys (name) {
        /// Key name.
        name -> Text,
        /// Base64 value.
        value -> Text,
        /// UTC.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Merchants' webhook endpoints.
    merchants (id) {
        /// Token subject of the merchant.
        id -> Text,
        /// Where events are POSTed.
        webhook_url -> Nullable<Text>,
        /// Signing secret, sealed with the data key.
        webhook_secret_sealed -> Nullable<Text>,
        /// UTC.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Transactional outbox of webhook events.
    outbox (id) {
        /// Row id, the delivery order.
        id -> BigInt,
        /// Public event id for de-duplication.
        event_id -> Text,
        /// Recipient merchant.
        merchant -> Text,
        /// Event kind, e.g. parcel.arrived.
        kind -> Text,
        /// JSON payload (any code in it is sealed).
        payload -> Text,
        /// UTC.
        created_at -> Timestamp,
        /// UTC, once delivered.
        delivered_at -> Nullable<Timestamp>,
        /// Delivery attempts so far.
        attempts -> Integer,
        /// When to try next (UTC).
        next_attempt_at -> Timestamp,
        /// Last failure, for operators.
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(parcels -> shops (shop_id));
diesel::joinable!(shop_load -> shops (shop_id));
diesel::allow_tables_to_appear_in_same_query!(
    shops,
    shop_load,
    parcels,
    network_revision,
    shop_api_keys,
    handover_attempts,
    merchants,
    outbox
);
