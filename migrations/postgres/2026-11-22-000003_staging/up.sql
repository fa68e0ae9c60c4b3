CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT    NOT NULL,
    starts_at  TIMESTAMP NOT NULL,
    ends_at    TIMESTAMP NOT NULL,
    timezone   TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at)
);

CREATE TABLE forecasts (
    event_id BIGINT NOT NULL REFERENCES events (id),
    zone     BIGINT  NOT NULL,
    region   BIGINT  NOT NULL,
    sku      TEXT    NOT NULL,
    units    INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (event_id, zone, sku)
);

CREATE TABLE plans (
    id            BIGSERIAL PRIMARY KEY,
    event_id      BIGINT  NOT NULL REFERENCES events (id),
    state         TEXT    NOT NULL CHECK (state IN ('draft', 'approved', 'dispatched', 'received')),
    radius_km     DOUBLE PRECISION NOT NULL,
    penalty_km    DOUBLE PRECISION NOT NULL,
    total_cost_km DOUBLE PRECISION NOT NULL,
    served_units  BIGINT  NOT NULL,
    unmet_units   BIGINT  NOT NULL,
    shops_used    INTEGER NOT NULL,
    arcs          BIGINT  NOT NULL,
    solve_ms      BIGINT  NOT NULL,
    report        TEXT    NOT NULL,
    map_svg       TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    approved_at   TIMESTAMP,
    dispatched_at TIMESTAMP,
    received_at   TIMESTAMP
);

-- One line per shop and SKU of a plan: what the partner receives.
CREATE TABLE manifest_lines (
    id          BIGSERIAL PRIMARY KEY,
    plan_id     BIGINT  NOT NULL REFERENCES plans (id),
    shop_id     BIGINT  NOT NULL REFERENCES shops (id),
    region      BIGINT  NOT NULL,
    sku         TEXT    NOT NULL,
    units       INTEGER NOT NULL CHECK (units > 0),
    received    INTEGER CHECK (received >= 0),
    received_at TIMESTAMP,
    UNIQUE (plan_id, shop_id, sku)
);
CREATE INDEX manifest_lines_shop ON manifest_lines (shop_id, plan_id);

-- Received staged units a shop holds for instant pickup; never below zero.
CREATE TABLE staged_stock (
    shop_id BIGINT  NOT NULL REFERENCES shops (id),
    sku     TEXT    NOT NULL,
    region  BIGINT  NOT NULL,
    units   INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (shop_id, sku)
);
CREATE INDEX staged_stock_sku ON staged_stock (sku, shop_id);
