-- Point capabilities (issue 19, section 2): what a point declares about itself (step-free
-- access, parking, cash on delivery, ID checks; canonical comma-separated names, see
-- src/network/capabilities.rs) and an https photo URL. Existing shops declare nothing and have
-- no photo. `open_24_7` is never stored: it is derived from `opening_hours`. On Citus, `shops`
-- is a reference table: new columns only, no key changes. The length bound is in a DO block
-- (Citus refuses an ADD COLUMN with a constraint on a reference table; see
-- 2026-12-06-000070_shop_addresses).
ALTER TABLE shops ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN photo_url TEXT;
DO $$ BEGIN
    ALTER TABLE shops ADD CONSTRAINT shops_photo_url_check
        CHECK (photo_url IS NULL OR (length(photo_url) <= 500 AND photo_url ILIKE 'https://%'));
END $$;
