-- Customer e-mails (issue 20): see the PostgreSQL migration of the same name.
ALTER TABLE merchants ADD COLUMN customer_emails BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE customer_contacts (
    parcel_id        BIGINT NOT NULL,
    region           BIGINT NOT NULL,
    email_sealed     TEXT NOT NULL,
    language         TEXT NOT NULL CHECK (language IN ('en', 'zh', 'es')),
    notified_shop_id BIGINT NOT NULL,
    arrival_sent_at  TIMESTAMP,
    reminded_for     TIMESTAMP,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (parcel_id, region)
);
