ALTER TABLE parcels DROP COLUMN hold_extended_days;
ALTER TABLE parcels DROP COLUMN code_escrow;
