-- Live parcels per shop, kept apart from the wide shops row so that a reservation updates one
-- narrow row. The conditional UPDATE that takes a slot is what enforces capacity.
CREATE TABLE shop_load (
    shop_id    INTEGER PRIMARY KEY REFERENCES shops (id),
    region     BIGINT  NOT NULL,
    live       INTEGER NOT NULL DEFAULT 0 CHECK (live >= 0),
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX shop_load_changed ON shop_load (changed_at);
INSERT INTO shop_load (shop_id, region, live, changed_at) SELECT id, region, 0, updated_at FROM shops;

CREATE TABLE parcels (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_id      BIGINT  NOT NULL REFERENCES shops (id),
    region       BIGINT  NOT NULL,
    merchant     TEXT    NOT NULL,
    order_ref    TEXT    NOT NULL,
    sku          TEXT,
    state        TEXT    NOT NULL CHECK (state IN ('reserved', 'at_point', 'picked_up', 'expired', 'returned', 'cancelled')),
    code_hash    TEXT,
    code_sealed  TEXT,
    expires_at   TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    arrived_at   TIMESTAMP,
    picked_up_at TIMESTAMP,
    UNIQUE (merchant, order_ref)
);
CREATE INDEX parcels_shop_state ON parcels (shop_id, state);
CREATE INDEX parcels_shop_code ON parcels (shop_id, code_hash);
CREATE UNIQUE INDEX parcels_live_code ON parcels (shop_id, code_hash) WHERE state = 'at_point';
CREATE INDEX parcels_expiry ON parcels (expires_at) WHERE state = 'at_point';

CREATE TABLE handover_attempts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_id   BIGINT  NOT NULL,
    region    BIGINT  NOT NULL,
    actor     TEXT    NOT NULL,
    result    TEXT    NOT NULL,
    parcel_id BIGINT,
    at        TIMESTAMP NOT NULL
);
CREATE INDEX handover_attempts_shop_at ON handover_attempts (shop_id, at);

CREATE TABLE shop_api_keys (
    shop_id    INTEGER PRIMARY KEY REFERENCES shops (id),
    key_hash   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE service_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE merchants (
    id                    TEXT PRIMARY KEY,
    webhook_url           TEXT,
    webhook_secret_sealed TEXT,
    updated_at            TIMESTAMP NOT NULL
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL UNIQUE,
    merchant        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
