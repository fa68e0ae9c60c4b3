-- People's names sealed at rest; see the PostgreSQL migration of the same name. `pudo serve`
-- and `pudo migrate` seal what the clear columns of 2026-12-08-000100 hold, at start
-- (pickup::names::seal_clear).
ALTER TABLE parcels ADD COLUMN recipient_name_sealed TEXT;
ALTER TABLE parcels ADD COLUMN collector_name_sealed TEXT;
-- What is left in clear, for the start-up step to find without reading every parcel: empty
-- once it ran, so it costs nothing after.
CREATE INDEX parcels_clear_names ON parcels (id)
    WHERE recipient_name IS NOT NULL OR collector_name IS NOT NULL;
