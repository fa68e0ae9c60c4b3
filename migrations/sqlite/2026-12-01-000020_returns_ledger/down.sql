DROP TRIGGER ledger_no_delete;
DROP TRIGGER ledger_no_update;
DROP TABLE ledger;
DROP TABLE fee_schedule;
ALTER TABLE handover_attempts DROP COLUMN return_id;
ALTER TABLE handover_attempts DROP COLUMN kind;
DROP TABLE returns;
