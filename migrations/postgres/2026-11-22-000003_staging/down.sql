DROP TABLE staged_stock;
DROP TABLE manifest_lines;
DROP TABLE plans;
DROP TABLE forecasts;
DROP TABLE events;
