DROP INDEX outbox_pending;
DROP INDEX shop_load_full;
ALTER TABLE shop_load DROP COLUMN active_capacity;
