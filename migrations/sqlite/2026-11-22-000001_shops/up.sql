CREATE TABLE shops (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id   TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    latitude      DOUBLE  NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude     DOUBLE  NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    h3_cell       BIGINT  NOT NULL,
    region        BIGINT  NOT NULL,
    capacity      INTEGER NOT NULL CHECK (capacity >= 0),
    timezone      TEXT    NOT NULL,
    opening_hours TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'closed')),
    revision      BIGINT  NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX shops_revision ON shops (revision);
CREATE INDEX shops_region ON shops (region);

-- One row: the network's change counter. Every transaction that changes shops bumps it first
-- and stamps the rows it writes, so an index that has seen revision N reloads exactly the
-- shops with a larger revision.
CREATE TABLE network_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT  NOT NULL
);
INSERT INTO network_revision (id, revision) VALUES (1, 0);
