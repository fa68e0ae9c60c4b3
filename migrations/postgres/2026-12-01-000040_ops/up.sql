-- Metrics an on-call pages on, computed at scrape time with indexed counts.
--
-- Shops full: an active shop's capacity is mirrored next to its live count (NULL while the
-- shop is paused or closed), so that "active shops without a free slot" is a count over a
-- partial index holding only the full shops, not a join over every shop.
ALTER TABLE shop_load ADD COLUMN active_capacity INTEGER;
UPDATE shop_load SET active_capacity = s.capacity
  FROM shops s WHERE s.id = shop_load.shop_id AND s.status = 'active';
CREATE INDEX shop_load_full ON shop_load (shop_id) WHERE live >= active_capacity;

-- Outbox lag: the undelivered events of each merchant, oldest first.
CREATE INDEX outbox_pending ON outbox (merchant, created_at) WHERE delivered_at IS NULL;
