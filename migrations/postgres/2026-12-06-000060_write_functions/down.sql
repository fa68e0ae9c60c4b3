DROP FUNCTION IF EXISTS pudo_dropoff(bigint, text, text, timestamp, timestamp, integer, bigint);
DROP FUNCTION IF EXISTS pudo_return_json(returns);
DROP FUNCTION IF EXISTS pudo_arrive(bigint, bigint, timestamp, timestamp, text, text, text, text);
DROP FUNCTION IF EXISTS pudo_handover_batch(bigint[], text[], text[], timestamp, timestamp, integer, bigint);
DROP FUNCTION IF EXISTS pudo_handover_one(bigint, text, text, timestamp, timestamp, integer, bigint);
DROP FUNCTION IF EXISTS pudo_reserve_batch(text[], bigint[], text[], text[], boolean[], timestamp);
DROP FUNCTION IF EXISTS pudo_reserve_one(text, bigint, text, text, boolean, timestamp);
DROP FUNCTION IF EXISTS pudo_parcel_json(parcels);
DROP FUNCTION IF EXISTS pudo_rfc3339(timestamp);
