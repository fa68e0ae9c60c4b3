-- The sealed names cannot be opened in SQL: they are dropped.
DROP INDEX parcels_clear_names;
ALTER TABLE parcels DROP COLUMN collector_name_sealed;
ALTER TABLE parcels DROP COLUMN recipient_name_sealed;
