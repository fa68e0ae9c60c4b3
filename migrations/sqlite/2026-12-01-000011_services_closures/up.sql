-- What a shop offers, as canonical comma-separated names in a fixed order (pickup, dropoff,
-- returns, staging). Existing shops offer everything, as before this column.
ALTER TABLE shops ADD COLUMN services TEXT NOT NULL DEFAULT 'pickup,dropoff,returns,staging';

-- Periods a shop is closed (holidays, one-off closures): whole local days in the shop's time
-- zone, end inclusive. Changing them bumps the shop's revision so every geo index reloads it.
CREATE TABLE shop_closures (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_id   BIGINT NOT NULL REFERENCES shops (id),
    region    BIGINT NOT NULL,
    starts_on DATE   NOT NULL,
    ends_on   DATE   NOT NULL,
    reason    TEXT   NOT NULL,
    CHECK (ends_on >= starts_on)
);
CREATE INDEX shop_closures_shop ON shop_closures (shop_id, starts_on);
-- Staging asks which shops are closed during an event window.
CREATE INDEX shop_closures_ends ON shop_closures (ends_on, starts_on);
