-- Region on the outbox, as on PostgreSQL (where a Citus coordinator distributes the outbox by
-- it, co-located with the change each event reports; see migrations/postgres). 0 = no shop.
-- Existing events take the region of the shop named in their payload.
ALTER TABLE outbox ADD COLUMN region INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET region = COALESCE(
    (SELECT s.region FROM shops s
      WHERE s.id = COALESCE(json_extract(outbox.payload, '$.reservation.pickup_point_id'),
                            json_extract(outbox.payload, '$.return.pickup_point_id'))),
    0);
