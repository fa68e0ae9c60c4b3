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
        /// Offered services, canonical comma-separated names (see `network::services`).
        services -> Text,
        /// Street and number (see `network::address`).
        street -> Nullable<Text>,
        /// Postcode.
        postcode -> Nullable<Text>,
        /// City; with `country`, what makes an address.
        city -> Nullable<Text>,
        /// Administrative area of the address (not the `region` key).
        address_region -> Nullable<Text>,
        /// ISO 3166-1 alpha-2 country code.
        country -> Nullable<Text>,
        /// Phone customers may call.
        phone -> Nullable<Text>,
        /// Name in Chinese.
        name_zh -> Nullable<Text>,
        /// Address line in Chinese.
        address_zh -> Nullable<Text>,
        /// Name in Spanish.
        name_es -> Nullable<Text>,
        /// Address line in Spanish.
        address_es -> Nullable<Text>,
        /// Slots of size class S (see `network::sizes`).
        slots_s -> Integer,
        /// Slots of size class M; the rest of `capacity` is L.
        slots_m -> Integer,
        /// Heaviest parcel taken, grams; NULL: the default.
        max_weight_g -> Nullable<Integer>,
        /// Largest parcel taken, longest side, mm; NULL: the default.
        max_length_mm -> Nullable<Integer>,
        /// Largest parcel taken, middle side, mm.
        max_width_mm -> Nullable<Integer>,
        /// Largest parcel taken, shortest side, mm.
        max_height_mm -> Nullable<Integer>,
        /// Declared capabilities, canonical comma-separated names (see
        /// `network::capabilities`); empty: none.
        capabilities -> Text,
        /// An https URL of a photo of the shop.
        photo_url -> Nullable<Text>,
    }
}

diesel::table! {
    /// Closure periods of shops: whole local days, end inclusive.
    shop_closures (id) {
        /// Row id.
        id -> BigInt,
        /// The shop.
        shop_id -> BigInt,
        /// The shop's region key.
        region -> BigInt,
        /// First closed local day.
        starts_on -> Date,
        /// Last closed local day (inclusive).
        ends_on -> Date,
        /// Why, as the partner or planner wrote it.
        reason -> Text,
    }
}

diesel::table! {
    /// Carriers' hand-ins of parcels at shops, and the arrival scan that followed.
    handins (id) {
        /// Row id.
        id -> BigInt,
        /// The parcel (one hand-in per parcel).
        parcel_id -> BigInt,
        /// The shop it was handed in at.
        shop_id -> BigInt,
        /// The shop's region key.
        region -> BigInt,
        /// Token subject of the carrier.
        carrier -> Text,
        /// UTC.
        handed_in_at -> Timestamp,
        /// The arrival scan is late after this instant (UTC).
        deadline_at -> Timestamp,
        /// The partner's arrival scan (UTC), once made.
        scanned_at -> Nullable<Timestamp>,
        /// Seconds from hand-in to scan (never negative).
        latency_s -> Nullable<BigInt>,
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
        /// The shop's capacity while it is active, NULL while paused or closed: a copy kept
        /// beside `live` so that counting full shops is an indexed query (metrics).
        active_capacity -> Nullable<Integer>,
        /// Of `live`, the slots of size class S.
        live_s -> Integer,
        /// Of `live`, the slots of size class M (the rest are L).
        live_m -> Integer,
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
        /// The code sealed while the parcel waits, so a redirect can re-key it to a new shop.
        code_escrow -> Nullable<Text>,
        /// Days the holding period was extended by (once), if it was.
        hold_extended_days -> Nullable<Integer>,
        /// Size class of the slot it holds; NULL: L.
        size_class -> Nullable<Text>,
        /// Longest side, mm, when given.
        length_mm -> Nullable<Integer>,
        /// Middle side, mm.
        width_mm -> Nullable<Integer>,
        /// Shortest side, mm.
        height_mm -> Nullable<Integer>,
        /// Weight, grams, when given.
        weight_g -> Nullable<Integer>,
        /// Cash to collect at the handover, minor units of `cod_currency`; NULL: none.
        cod_amount_minor -> Nullable<BigInt>,
        /// ISO 4217 code of the cash to collect.
        cod_currency -> Nullable<Text>,
        /// `age_18` or `named_recipient`: the check the partner makes before handing over.
        id_check -> Nullable<Text>,
        /// Clear names of before 2026-12-08-000130: NULL once `pickup::names::seal_clear` ran
        /// (at every start); nothing writes them.
        recipient_name -> Nullable<Text>,
        /// As `recipient_name`: clear names of before sealing, NULL after.
        collector_name -> Nullable<Text>,
        /// The name a `named_recipient` check compares the ID with, sealed with the data key.
        recipient_name_sealed -> Nullable<Text>,
        /// The one person besides the customer the merchant authorised to collect, sealed.
        collector_name_sealed -> Nullable<Text>,
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
        /// handover or dropoff: which code was typed (both count towards one bound).
        kind -> Text,
        /// The return, when a drop-off code matched one.
        return_id -> Nullable<BigInt>,
        /// What the partner confirmed at a handover (`cash_collected`, `id_checked`), never
        /// any data of the ID seen.
        confirmed -> Nullable<Text>,
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
        /// Whether pudo e-mails the merchant's customers (off by default).
        customer_emails -> Bool,
    }
}

diesel::table! {
    /// A reservation's customer for pudo's e-mails: the address sealed, erased after the
    /// parcel's life ends (src/pickup/contacts.rs).
    customer_contacts (parcel_id, region) {
        /// The parcel.
        parcel_id -> BigInt,
        /// The parcel's region key.
        region -> BigInt,
        /// The e-mail address, sealed with the data key.
        email_sealed -> Text,
        /// en, zh or es.
        language -> Text,
        /// The point the customer was last told of.
        notified_shop_id -> BigInt,
        /// When the arrival mail was accepted by the SMTP server (UTC).
        arrival_sent_at -> Nullable<Timestamp>,
        /// The end of the holding period the last reminder was about (UTC).
        reminded_for -> Nullable<Timestamp>,
        /// Failed attempts since the last mail sent.
        attempts -> Integer,
        /// Next attempt (UTC).
        next_attempt_at -> Timestamp,
        /// Last failure.
        last_error -> Nullable<Text>,
        /// UTC.
        created_at -> Timestamp,
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
        /// Region of the shop the event is about (0: none, or written before the code sets
        /// it); the distribution key of the outbox on Citus.
        region -> BigInt,
    }
}

diesel::joinable!(parcels -> shops (shop_id));
diesel::joinable!(shop_closures -> shops (shop_id));
diesel::joinable!(handins -> parcels (parcel_id));
diesel::joinable!(shop_load -> shops (shop_id));
diesel::allow_tables_to_appear_in_same_query!(
    shops,
    shop_load,
    parcels,
    customer_contacts,
    network_revision,
    shop_api_keys,
    handover_attempts,
    merchants,
    outbox,
    shop_closures,
    handins
);

diesel::table! {
    /// Peak events (e.g. Singles Day).
    events (id) {
        /// Id.
        id -> BigInt,
        /// Name.
        name -> Text,
        /// Window start (UTC).
        starts_at -> Timestamp,
        /// Window end (UTC).
        ends_at -> Timestamp,
        /// IANA zone the window was given in.
        timezone -> Text,
        /// Token subject that created it.
        created_by -> Text,
        /// UTC.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Demand forecast of an event per H3 zone and SKU.
    forecasts (event_id, zone, sku) {
        /// Event.
        event_id -> BigInt,
        /// H3 cell.
        zone -> BigInt,
        /// Resolution-3 parent of the zone.
        region -> BigInt,
        /// SKU.
        sku -> Text,
        /// Expected units.
        units -> Integer,
        /// Size class of the SKU's units: S, M or L (`network::sizes`).
        size_class -> Text,
    }
}

diesel::table! {
    /// Staging plans and their report.
    plans (id) {
        /// Id.
        id -> BigInt,
        /// Event.
        event_id -> BigInt,
        /// draft, approved, dispatched or received.
        state -> Text,
        /// Radius used, km.
        radius_km -> Double,
        /// Penalty per unmet unit, km.
        penalty_km -> Double,
        /// Objective, km.
        total_cost_km -> Double,
        /// Units staged.
        served_units -> BigInt,
        /// Units not staged.
        unmet_units -> BigInt,
        /// Shops with a manifest.
        shops_used -> Integer,
        /// Candidate arcs.
        arcs -> BigInt,
        /// Solver time.
        solve_ms -> BigInt,
        /// Report JSON.
        report -> Text,
        /// Map picture.
        map_svg -> Text,
        /// Token subject.
        created_by -> Text,
        /// UTC.
        created_at -> Timestamp,
        /// UTC.
        approved_at -> Nullable<Timestamp>,
        /// UTC.
        dispatched_at -> Nullable<Timestamp>,
        /// UTC.
        received_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Per-shop, per-SKU lines of a plan.
    manifest_lines (id) {
        /// Id.
        id -> BigInt,
        /// Plan.
        plan_id -> BigInt,
        /// Shop.
        shop_id -> BigInt,
        /// Region key.
        region -> BigInt,
        /// SKU.
        sku -> Text,
        /// Units to stage.
        units -> Integer,
        /// Units the partner confirmed.
        received -> Nullable<Integer>,
        /// UTC.
        received_at -> Nullable<Timestamp>,
        /// Size class of the SKU's units: S, M or L.
        size_class -> Text,
    }
}

diesel::table! {
    /// Received staged units per shop and SKU.
    staged_stock (shop_id, sku) {
        /// Shop.
        shop_id -> BigInt,
        /// SKU.
        sku -> Text,
        /// Region key.
        region -> BigInt,
        /// Units on hand.
        units -> Integer,
        /// Of which held in S slots.
        units_s -> Integer,
        /// Of which held in M slots (the rest are in L slots).
        units_m -> Integer,
    }
}

diesel::joinable!(manifest_lines -> plans (plan_id));
diesel::joinable!(plans -> events (event_id));
diesel::allow_tables_to_appear_in_same_query!(
    events,
    forecasts,
    plans,
    manifest_lines,
    staged_stock,
    shops
);
diesel::allow_tables_to_appear_in_same_query!(manifest_lines, shop_load);

diesel::table! {
    /// Returns registered by merchants and dropped off at a chosen shop.
    returns (id) {
        /// Id.
        id -> BigInt,
        /// The drop-off point.
        shop_id -> BigInt,
        /// The shop's region key.
        region -> BigInt,
        /// The merchant (token subject) that registered it.
        merchant -> Text,
        /// The merchant's order reference, unique per merchant.
        order_ref -> Text,
        /// Optional SKU.
        sku -> Nullable<Text>,
        /// registered, dropped_off or collected.
        state -> Text,
        /// Keyed hash of the drop-off code.
        code_hash -> Text,
        /// The code sealed for its one-time reading by the merchant.
        code_sealed -> Nullable<Text>,
        /// When the drop-off code stops being accepted (UTC).
        code_expires_at -> Timestamp,
        /// UTC.
        created_at -> Timestamp,
        /// UTC.
        updated_at -> Timestamp,
        /// UTC.
        dropped_off_at -> Nullable<Timestamp>,
        /// UTC.
        collected_at -> Nullable<Timestamp>,
        /// Token subject that confirmed the collection.
        collected_by -> Nullable<Text>,
    }
}

diesel::table! {
    /// Fees per paid event kind, from a date on, network-wide or per region.
    fee_schedule (id) {
        /// Id.
        id -> BigInt,
        /// handover, dropoff, staged_unit_received or return_sent_back.
        kind -> Text,
        /// Region key the fee applies to; null for the whole network.
        region -> Nullable<BigInt>,
        /// Amount in minor units of the currency.
        amount_minor -> BigInt,
        /// ISO 4217 code.
        currency -> Text,
        /// First day (UTC) the fee applies.
        effective_from -> Date,
        /// Token subject (or `migration`) that set it.
        created_by -> Text,
        /// UTC.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// The append-only ledger of paid events.
    ledger (id) {
        /// Id.
        id -> BigInt,
        /// The shop paid.
        shop_id -> BigInt,
        /// The shop's region key.
        region -> BigInt,
        /// Event kind.
        kind -> Text,
        /// Unique key of the event (e.g. `handover:42`): an event is paid once.
        event_key -> Text,
        /// The parcel, return or manifest line the event concerns.
        subject_id -> BigInt,
        /// Units paid (1, or the staged units received).
        quantity -> Integer,
        /// Fee per unit, minor units.
        unit_amount_minor -> BigInt,
        /// quantity × unit amount.
        amount_minor -> BigInt,
        /// ISO 4217 code.
        currency -> Text,
        /// The fee schedule row applied.
        fee_id -> BigInt,
        /// When the event happened (UTC).
        occurred_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(returns, shops, ledger, fee_schedule);

diesel::table! {
    /// Cash collected on delivery: what a shop holds for a merchant, one row per handover of
    /// a parcel with cash on delivery. Never summed with the fees of `ledger`. Append-only.
    cash_ledger (id) {
        /// Id.
        id -> BigInt,
        /// The shop that collected.
        shop_id -> BigInt,
        /// The shop's region key.
        region -> BigInt,
        /// The merchant the cash is owed to.
        merchant -> Text,
        /// The parcel handed over.
        parcel_id -> BigInt,
        /// `cod:<parcel id>`: recorded once.
        event_key -> Text,
        /// Minor units.
        amount_minor -> BigInt,
        /// ISO 4217 code.
        currency -> Text,
        /// When it was collected (UTC).
        occurred_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(cash_ledger, shops);
