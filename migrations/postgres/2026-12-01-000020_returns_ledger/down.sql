DROP TABLE ledger;
DROP FUNCTION ledger_append_only();
DROP TABLE fee_schedule;
ALTER TABLE handover_attempts DROP COLUMN return_id;
ALTER TABLE handover_attempts DROP COLUMN kind;
DROP TABLE returns;
