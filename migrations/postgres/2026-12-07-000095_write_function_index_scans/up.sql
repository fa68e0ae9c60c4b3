-- The write functions read by index, whatever the size of their tables when a session planned
-- them (issue 18; BENCHMARKS.md, "Handovers and reservations").
--
-- Their statements are all lookups by key, and their plans are generic and kept for the
-- session (plan_cache_mode, migration 000075). A plan made while a table was still small
-- (a new network, the first minutes of a peak, a server without autovacuum) chose a sequential
-- scan, which is the cheaper way to read a few pages, and kept it while the table grew: a
-- profile of the handover load found every handover's count of recent wrong codes reading the
-- whole of handover_attempts (10,190 such scans, 158 million rows in 15 s), handovers falling
-- to 2,200/s. Without sequential scans to choose from, the planner takes the index that a
-- statement's key names, at any size; the statements have such an index each (the fee
-- schedule's four rows are read by its unique key).
CREATE OR REPLACE FUNCTION pudo_plan_write_functions() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    f regprocedure;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    FOR f IN SELECT oid::regprocedure FROM pg_proc
              WHERE proname IN ('pudo_record_paid', 'pudo_reserve_one', 'pudo_reserve_batch',
                                'pudo_handover_one', 'pudo_handover_batch', 'pudo_arrive',
                                'pudo_dropoff')
                AND pronamespace = current_schema()::regnamespace LOOP
        EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
        EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
    END LOOP;
END;
$$;
SELECT pudo_plan_write_functions();
