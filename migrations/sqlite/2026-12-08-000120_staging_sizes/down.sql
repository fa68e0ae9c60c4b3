ALTER TABLE staged_stock DROP COLUMN units_m;
ALTER TABLE staged_stock DROP COLUMN units_s;
ALTER TABLE manifest_lines DROP COLUMN size_class;
ALTER TABLE forecasts DROP COLUMN size_class;
