DROP INDEX handover_attempts_at;
DROP INDEX parcels_arrived_at;
DROP INDEX parcels_created_at;
DROP TABLE handins;
