-- Parcel sizes (issue 19, section 1); see the PostgreSQL migration of the same name.
ALTER TABLE shops ADD COLUMN slots_s INTEGER NOT NULL DEFAULT 0 CHECK (slots_s >= 0);
ALTER TABLE shops ADD COLUMN slots_m INTEGER NOT NULL DEFAULT 0 CHECK (slots_m >= 0);
ALTER TABLE shops ADD COLUMN max_weight_g INTEGER;
ALTER TABLE shops ADD COLUMN max_length_mm INTEGER;
ALTER TABLE shops ADD COLUMN max_width_mm INTEGER;
ALTER TABLE shops ADD COLUMN max_height_mm INTEGER;
ALTER TABLE shop_load ADD COLUMN live_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shop_load ADD COLUMN live_m INTEGER NOT NULL DEFAULT 0;
ALTER TABLE parcels ADD COLUMN size_class TEXT CHECK (size_class IN ('S', 'M', 'L'));
ALTER TABLE parcels ADD COLUMN length_mm INTEGER;
ALTER TABLE parcels ADD COLUMN width_mm INTEGER;
ALTER TABLE parcels ADD COLUMN height_mm INTEGER;
ALTER TABLE parcels ADD COLUMN weight_g INTEGER;
