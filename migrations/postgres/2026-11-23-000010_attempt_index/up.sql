-- The attempt limit counts a shop's recent wrong codes on every handover; with only
-- (shop_id, at) that walked every attempt of the last 10 minutes at a busy shop.
CREATE INDEX handover_attempts_shop_result_at ON handover_attempts (shop_id, result, at);
