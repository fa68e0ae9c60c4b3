DROP TABLE outbox;
DROP TABLE merchants;
DROP TABLE service_keys;
DROP TABLE shop_api_keys;
DROP TABLE handover_attempts;
DROP TABLE parcels;
DROP TABLE shop_load;
