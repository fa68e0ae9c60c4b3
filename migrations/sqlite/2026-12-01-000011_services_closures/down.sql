DROP TABLE shop_closures;
ALTER TABLE shops DROP COLUMN services;
