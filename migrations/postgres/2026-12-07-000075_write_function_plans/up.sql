-- Less planning per call of the write functions (issue 18; measured in BENCHMARKS.md,
-- "Handovers and reservations"). A profile of the reservation load showed PostgreSQL spending
-- a fifth of its time parsing and planning, not writing:
--
-- 1. pudo_rfc3339 was declared IMMUTABLE, but to_char is only STABLE, so the planner refused
--    to inline it, and every call ran as a separate SQL function: parsed and planned again
--    for each statement that formats a time (each event's JSON formats three or four). Declared
--    with its true volatility it is inlined into the statement that uses it, whose plan the
--    calling PL/pgSQL function keeps.
-- 2. PL/pgSQL plans each statement for its first five calls in a session, then keeps a generic
--    plan only while it looks no dearer than a fresh one; the write functions' statements are
--    all lookups by key, for which the generic plan is the right one, so they use it from the
--    first call on (plan_cache_mode, for these functions' statements only).
CREATE OR REPLACE FUNCTION pudo_rfc3339(t timestamp) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN t IS NULL THEN NULL
        WHEN extract(microseconds FROM t)::bigint % 1000000 = 0 THEN to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        WHEN extract(microseconds FROM t)::bigint % 1000 = 0 THEN to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        ELSE to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    END
$$;

-- Every write function, whatever its arguments. A later migration that redefines one (CREATE
-- OR REPLACE forgets the option) calls this again at its end; tests/api/writes.rs checks that
-- every write function has the option.
-- Not on a Citus coordinator: there the write functions serve only a request forced onto
-- them (Citus takes the statement path), and Citus cannot plan a generic plan of their
-- statements ("could not create distributed plan": it routes by the parameters' values).
CREATE FUNCTION pudo_plan_write_functions() RETURNS void LANGUAGE plpgsql AS $$
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
    END LOOP;
END;
$$;
SELECT pudo_plan_write_functions();
