-- Customer e-mails (issue 20, "The customer is told"; docs/merchants.md, docs/security.md).
--
-- 1. A merchant's choice to let pudo e-mail its customers: off until the merchant turns it on
--    (PUT /v1/merchant/notifications). `merchants` is a reference table on Citus: the column
--    reaches every node with this statement.
ALTER TABLE merchants ADD COLUMN customer_emails BOOLEAN NOT NULL DEFAULT FALSE;

-- 2. A reservation's customer: the e-mail address sealed with the data key (as pickup codes
--    are), the language of the mails, and what the customer has been told so far. One row per
--    parcel, keyed and distributed like the parcel (id, region), written in the reservation's
--    transaction, deleted by the sweep a set number of days after the parcel's life ends
--    (PUDO_CUSTOMER_DATA_DAYS). The mail sender delivers what the parcel's state calls for
--    and the row has not recorded yet, at least once, with the outbox's backoff.
CREATE TABLE customer_contacts (
    parcel_id        BIGINT NOT NULL,
    region           BIGINT NOT NULL,
    email_sealed     TEXT NOT NULL,
    language         TEXT NOT NULL CHECK (language IN ('en', 'zh', 'es')),
    -- The point the customer was last told of (at first the reserved one).
    notified_shop_id BIGINT NOT NULL,
    arrival_sent_at  TIMESTAMP,
    -- The end of the holding period the last reminder was about (a new end, after an
    -- extension, gets its own reminder).
    reminded_for     TIMESTAMP,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (parcel_id, region)
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM create_distributed_table('customer_contacts', 'region', colocate_with => 'shop_load');
    END IF;
END;
$$;
