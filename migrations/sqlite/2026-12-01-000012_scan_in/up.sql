-- A carrier's hand-in of a parcel at its shop; the partner's arrival scan must follow by
-- deadline_at (hand-in + PUDO_SCAN_IN_MINUTES at the time of the hand-in).
CREATE TABLE handins (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    parcel_id    BIGINT    NOT NULL UNIQUE REFERENCES parcels (id),
    shop_id      BIGINT    NOT NULL,
    region       BIGINT    NOT NULL,
    carrier      TEXT      NOT NULL,
    handed_in_at TIMESTAMP NOT NULL,
    deadline_at  TIMESTAMP NOT NULL,
    scanned_at   TIMESTAMP,
    latency_s    BIGINT
);
CREATE INDEX handins_shop_at ON handins (shop_id, handed_in_at);
CREATE INDEX handins_at ON handins (handed_in_at);
CREATE INDEX handins_unscanned ON handins (deadline_at) WHERE scanned_at IS NULL;

-- Shop health aggregates activity of every shop over a time window.
CREATE INDEX parcels_created_at ON parcels (created_at);
CREATE INDEX parcels_arrived_at ON parcels (arrived_at);
CREATE INDEX handover_attempts_at ON handover_attempts (at);
