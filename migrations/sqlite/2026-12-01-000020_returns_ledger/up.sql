-- Returns dropped off at the counter: registered by a merchant for one chosen shop, dropped
-- off there with a drop-off code (hashed per shop, like pickup codes), collected by a carrier.
CREATE TABLE returns (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_id         BIGINT  NOT NULL REFERENCES shops (id),
    region          BIGINT  NOT NULL,
    merchant        TEXT    NOT NULL,
    order_ref       TEXT    NOT NULL,
    sku             TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('registered', 'dropped_off', 'collected')),
    code_hash       TEXT    NOT NULL,
    code_sealed     TEXT,
    code_expires_at TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    dropped_off_at  TIMESTAMP,
    collected_at    TIMESTAMP,
    collected_by    TEXT,
    UNIQUE (merchant, order_ref)
);
CREATE INDEX returns_shop_code ON returns (shop_id, code_hash);
CREATE INDEX returns_shop_state ON returns (shop_id, state);
CREATE UNIQUE INDEX returns_live_code ON returns (shop_id, code_hash) WHERE state = 'registered';

-- Drop-off attempts share the audit table (and so the per-shop bound on wrong codes).
ALTER TABLE handover_attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'handover';
ALTER TABLE handover_attempts ADD COLUMN return_id BIGINT;

-- What a shop is paid per event, from a date (UTC) on; region NULL = the whole network, else an
-- H3 resolution-3 region key whose row wins over the network's.
CREATE TABLE fee_schedule (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT    NOT NULL CHECK (kind IN ('handover', 'dropoff', 'staged_unit_received', 'return_sent_back')),
    region         BIGINT,
    amount_minor   BIGINT  NOT NULL CHECK (amount_minor >= 0),
    currency       TEXT    NOT NULL CHECK (length(currency) = 3),
    effective_from DATE    NOT NULL,
    created_by     TEXT    NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX fee_schedule_key ON fee_schedule (kind, COALESCE(region, 0), effective_from);
-- The default schedule (EUR, the seed network is Spanish); operators change it with
-- `PUT /v1/ops/fees` or `pudo fees set`.
INSERT INTO fee_schedule (kind, region, amount_minor, currency, effective_from, created_by, created_at) VALUES
    ('handover',             NULL, 30, 'EUR', '2026-01-01', 'migration', '2026-12-01 00:00:00'),
    ('dropoff',              NULL, 35, 'EUR', '2026-01-01', 'migration', '2026-12-01 00:00:00'),
    ('staged_unit_received', NULL,  5, 'EUR', '2026-01-01', 'migration', '2026-12-01 00:00:00'),
    ('return_sent_back',     NULL, 20, 'EUR', '2026-01-01', 'migration', '2026-12-01 00:00:00');

-- The append-only ledger: one row per paid event, written in the event's transaction; the
-- unique event_key makes paying an event twice impossible.
CREATE TABLE ledger (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_id           BIGINT  NOT NULL REFERENCES shops (id),
    region            BIGINT  NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('handover', 'dropoff', 'staged_unit_received', 'return_sent_back')),
    event_key         TEXT    NOT NULL UNIQUE,
    subject_id        BIGINT  NOT NULL,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_amount_minor BIGINT  NOT NULL CHECK (unit_amount_minor >= 0),
    amount_minor      BIGINT  NOT NULL CHECK (amount_minor = unit_amount_minor * quantity),
    currency          TEXT    NOT NULL,
    fee_id            BIGINT  NOT NULL REFERENCES fee_schedule (id),
    occurred_at       TIMESTAMP NOT NULL
);
CREATE INDEX ledger_shop_time ON ledger (shop_id, occurred_at);
CREATE INDEX ledger_time ON ledger (occurred_at);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
