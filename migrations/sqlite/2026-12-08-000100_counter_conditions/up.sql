-- Conditions at the counter (issue 19, section 2); see the PostgreSQL migration of the same name.
ALTER TABLE parcels ADD COLUMN cod_amount_minor BIGINT CHECK (cod_amount_minor > 0);
ALTER TABLE parcels ADD COLUMN cod_currency TEXT CHECK (length(cod_currency) = 3);
ALTER TABLE parcels ADD COLUMN id_check TEXT CHECK (id_check IN ('age_18', 'named_recipient'));
ALTER TABLE parcels ADD COLUMN recipient_name TEXT;
ALTER TABLE parcels ADD COLUMN collector_name TEXT;
ALTER TABLE handover_attempts ADD COLUMN confirmed TEXT;
CREATE TABLE cash_ledger (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_id      BIGINT    NOT NULL,
    region       BIGINT    NOT NULL,
    merchant     TEXT      NOT NULL,
    parcel_id    BIGINT    NOT NULL,
    event_key    TEXT      NOT NULL,
    amount_minor BIGINT    NOT NULL CHECK (amount_minor > 0),
    currency     TEXT      NOT NULL CHECK (length(currency) = 3),
    occurred_at  TIMESTAMP NOT NULL,
    UNIQUE (event_key, region)
);
CREATE INDEX cash_ledger_shop_time ON cash_ledger (shop_id, occurred_at);
CREATE INDEX cash_ledger_merchant_time ON cash_ledger (merchant, occurred_at);
CREATE TRIGGER cash_ledger_no_update BEFORE UPDATE ON cash_ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER cash_ledger_no_delete BEFORE DELETE ON cash_ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
