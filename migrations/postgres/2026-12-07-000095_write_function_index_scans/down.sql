DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT oid::regprocedure FROM pg_proc
              WHERE proname IN ('pudo_record_paid', 'pudo_reserve_one', 'pudo_reserve_batch',
                                'pudo_handover_one', 'pudo_handover_batch', 'pudo_arrive',
                                'pudo_dropoff')
                AND pronamespace = current_schema()::regnamespace LOOP
        EXECUTE format('ALTER FUNCTION %s RESET enable_seqscan', f);
    END LOOP;
END;
$$;
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
    END LOOP;
END;
$$;
