-- Size classes in staging (issue 19, section 1); see the PostgreSQL migration of the same name.
ALTER TABLE forecasts ADD COLUMN size_class TEXT NOT NULL DEFAULT 'S'
    CHECK (size_class IN ('S', 'M', 'L'));
ALTER TABLE manifest_lines ADD COLUMN size_class TEXT NOT NULL DEFAULT 'S'
    CHECK (size_class IN ('S', 'M', 'L'));
ALTER TABLE staged_stock ADD COLUMN units_s INTEGER NOT NULL DEFAULT 0 CHECK (units_s >= 0);
ALTER TABLE staged_stock ADD COLUMN units_m INTEGER NOT NULL DEFAULT 0 CHECK (units_m >= 0);
