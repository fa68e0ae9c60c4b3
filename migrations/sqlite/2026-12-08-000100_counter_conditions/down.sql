DROP TABLE cash_ledger;
ALTER TABLE handover_attempts DROP COLUMN confirmed;
ALTER TABLE parcels DROP COLUMN collector_name;
ALTER TABLE parcels DROP COLUMN recipient_name;
ALTER TABLE parcels DROP COLUMN id_check;
ALTER TABLE parcels DROP COLUMN cod_currency;
ALTER TABLE parcels DROP COLUMN cod_amount_minor;
