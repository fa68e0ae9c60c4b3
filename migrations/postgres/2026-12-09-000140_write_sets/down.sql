-- Back to one call of the function of one request per request (pudo_handover_batch of
-- 2026-12-08-000130_sealed_names, pudo_reserve_batch of 2026-12-07-000090_sizes).
CREATE OR REPLACE FUNCTION pudo_handover_batch(
    p_shops bigint[], p_actors text[], p_hashes text[], p_cash boolean[], p_ids boolean[],
    p_now timestamp, p_window_start timestamp, p_window_minutes integer, p_max_wrong bigint
) RETURNS TABLE (idx integer, outcome text, parcel_id bigint, order_ref text, state text,
                 picked_up_at timestamp, retry_after_secs bigint, cod_amount_minor bigint,
                 cod_currency text, id_check text, recipient_name_sealed text, collector_name_sealed text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_shops, 1), 0) LOOP
        SELECT * INTO r FROM pudo_handover_one(p_shops[i], p_actors[i], p_hashes[i], p_cash[i],
                                               p_ids[i], p_now, p_window_start,
                                               p_window_minutes, p_max_wrong);
        idx := i;
        outcome := r.outcome;
        parcel_id := r.parcel_id;
        order_ref := r.order_ref;
        state := r.state;
        picked_up_at := r.picked_up_at;
        retry_after_secs := r.retry_after_secs;
        cod_amount_minor := r.cod_amount_minor;
        cod_currency := r.cod_currency;
        id_check := r.id_check;
        recipient_name_sealed := r.recipient_name_sealed;
        collector_name_sealed := r.collector_name_sealed;
        RETURN NEXT;
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION pudo_reserve_batch(
    p_merchants text[], p_shops bigint[], p_order_refs text[], p_skus text[],
    p_d1 integer[], p_d2 integer[], p_d3 integer[], p_weights integer[], p_now timestamp
) RETURNS TABLE (idx integer, status text, parcel_id bigint, live integer, size_class text,
                 limit_name text, limit_max integer[]) LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_shops, 1), 0) LOOP
        SELECT * INTO r FROM pudo_reserve_one(p_merchants[i], p_shops[i], p_order_refs[i],
                                              p_skus[i], p_d1[i], p_d2[i], p_d3[i],
                                              p_weights[i], p_now);
        idx := i;
        status := r.status;
        parcel_id := r.parcel_id;
        live := r.live;
        size_class := r.size_class;
        limit_name := r.limit_name;
        limit_max := r.limit_max;
        RETURN NEXT;
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION pudo_arrive(
    p_shop bigint, p_id bigint, p_now timestamp, p_expires timestamp, p_hash text,
    p_sealed text, p_escrow text, p_event_sealed text,
    OUT status text, OUT late boolean, OUT order_ref text, OUT sku text, OUT state text,
    OUT created_at timestamp, OUT arrived_at timestamp, OUT expires_at timestamp,
    OUT picked_up_at timestamp, OUT hold_extended_days integer, OUT size_class text,
    OUT cod_amount_minor bigint, OUT cod_currency text, OUT id_check text,
    OUT recipient_name_sealed text, OUT collector_name_sealed text
) LANGUAGE plpgsql AS $$
DECLARE
    v_region bigint;
    v_deadline timestamp;
    p parcels;
BEGIN
    late := false;
    SELECT region INTO v_region FROM shops WHERE id = p_shop;
    IF FOUND THEN
        -- A no-op write first: it takes the parcel's row lock.
        UPDATE parcels SET updated_at = parcels.updated_at
            WHERE id = p_id AND shop_id = p_shop AND region = v_region RETURNING * INTO p;
    END IF;
    IF p.id IS NULL THEN
        status := 'not_found';
        RETURN;
    END IF;
    IF p.state = 'reserved' THEN
        IF EXISTS (SELECT 1 FROM parcels WHERE shop_id = p_shop AND region = v_region
                   AND code_hash = p_hash AND id <> p_id AND parcels.state <> 'returned') THEN
            status := 'code_clash';
            RETURN;
        END IF;
        UPDATE parcels SET state = 'at_point', code_hash = p_hash, code_sealed = p_sealed,
                           code_escrow = p_escrow, arrived_at = p_now, expires_at = p_expires,
                           updated_at = p_now
            WHERE id = p_id AND region = v_region AND parcels.state = 'reserved'
            RETURNING * INTO p;
        UPDATE handins SET scanned_at = p_now,
                           latency_s = greatest(0, trunc(extract(epoch FROM (p_now - handed_in_at))))::bigint
            WHERE parcel_id = p_id AND region = v_region AND scanned_at IS NULL
            RETURNING deadline_at INTO v_deadline;
        late := FOUND AND p_now > v_deadline;
        INSERT INTO outbox (event_id, region, merchant, kind, payload, created_at, attempts, next_attempt_at)
            VALUES (gen_random_uuid()::text, v_region, p.merchant, 'parcel.arrived',
                    '{"pickup_code_sealed":' || to_json(p_event_sealed)::text
                    || ',"reservation":' || pudo_parcel_json(p) || '}', p_now, 0, p_now);
        status := 'arrived';
    ELSIF p.state = 'at_point' THEN
        status := 'already';
    ELSE
        status := p.state;
    END IF;
    order_ref := p.order_ref;
    sku := p.sku;
    state := p.state;
    created_at := p.created_at;
    arrived_at := p.arrived_at;
    expires_at := p.expires_at;
    picked_up_at := p.picked_up_at;
    hold_extended_days := p.hold_extended_days;
    size_class := p.size_class;
    cod_amount_minor := p.cod_amount_minor;
    cod_currency := p.cod_currency;
    id_check := p.id_check;
    recipient_name_sealed := p.recipient_name_sealed;
    collector_name_sealed := p.collector_name_sealed;
END;
$$;

-- The options of 2026-12-07-000075_write_function_plans only.
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
SELECT pudo_plan_write_functions();
