-- Size classes in staging (issue 19, section 1): a forecast row's size class, a manifest
-- line's, and the slots of each class staged stock holds (src/staging/allocator.rs).
--
-- Forecasts and manifest lines written before sizes are class S, the smallest, which may use
-- slots of every class: on points declaring no sizes (only L slots) that is exactly the
-- staging of before. `staged_stock.units` stays the count of every unit held; `units_s` and
-- `units_m` count those in S and M slots (the rest are in L slots), as `shop_load.live_s` and
-- `live_m` do for slots held. On Citus the three tables are distributed by region: new
-- columns only, no key changes.
-- The checks apart, in a DO block: Citus refuses an ADD COLUMN with a constraint on a
-- distributed table (see 2026-12-06-000070_shop_addresses).
ALTER TABLE forecasts ADD COLUMN size_class TEXT NOT NULL DEFAULT 'S';
ALTER TABLE manifest_lines ADD COLUMN size_class TEXT NOT NULL DEFAULT 'S';
ALTER TABLE staged_stock ADD COLUMN units_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staged_stock ADD COLUMN units_m INTEGER NOT NULL DEFAULT 0;
DO $$ BEGIN
    ALTER TABLE forecasts ADD CONSTRAINT forecasts_size_class_check
        CHECK (size_class IN ('S', 'M', 'L'));
    ALTER TABLE manifest_lines ADD CONSTRAINT manifest_lines_size_class_check
        CHECK (size_class IN ('S', 'M', 'L'));
    ALTER TABLE staged_stock ADD CONSTRAINT staged_stock_units_s_check CHECK (units_s >= 0);
    ALTER TABLE staged_stock ADD CONSTRAINT staged_stock_units_m_check CHECK (units_m >= 0);
END $$;
