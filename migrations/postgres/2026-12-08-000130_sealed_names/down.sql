-- On Citus: sequential multi-shard DDL before the function definitions (see up.sql).
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';
-- Back to the clear names of 2026-12-08-000100. The sealed names cannot be opened in SQL:
-- they are dropped (a parcel reverted keeps its conditions but shows no name).
DROP FUNCTION pudo_handover_batch(bigint[], text[], text[], boolean[], boolean[], timestamp, timestamp, integer, bigint);
DROP FUNCTION pudo_handover_one(bigint, text, text, boolean, boolean, timestamp, timestamp, integer, bigint);
DROP FUNCTION pudo_arrive(bigint, bigint, timestamp, timestamp, text, text, text, text);
CREATE OR REPLACE FUNCTION pudo_parcel_json(p parcels) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT '{"arrived_at":' || COALESCE(to_json(pudo_rfc3339(p.arrived_at))::text, 'null')
        || CASE WHEN p.cod_amount_minor IS NULL THEN '' ELSE ',"cash_on_delivery":{"amount_minor":'
            || p.cod_amount_minor || ',"currency":' || to_json(p.cod_currency)::text || '}' END
        || CASE WHEN p.collector_name IS NULL THEN '' ELSE ',"collector_name":' || to_json(p.collector_name)::text END
        || ',"created_at":' || to_json(pudo_rfc3339(p.created_at))::text
        || ',"expires_at":' || COALESCE(to_json(pudo_rfc3339(p.expires_at))::text, 'null')
        || ',"hold_extended_days":' || COALESCE(p.hold_extended_days::text, 'null')
        || ',"id":' || p.id
        || CASE WHEN p.id_check IS NULL THEN '' ELSE ',"id_check":' || to_json(p.id_check)::text END
        || ',"order_ref":' || to_json(p.order_ref)::text
        || ',"picked_up_at":' || COALESCE(to_json(pudo_rfc3339(p.picked_up_at))::text, 'null')
        || ',"pickup_point_id":' || p.shop_id
        || CASE WHEN p.recipient_name IS NULL THEN '' ELSE ',"recipient_name":' || to_json(p.recipient_name)::text END
        || CASE WHEN p.size_class IS NULL THEN '' ELSE ',"size_class":' || to_json(p.size_class)::text END
        || ',"sku":' || COALESCE(to_json(p.sku)::text, 'null')
        || ',"state":' || to_json(p.state)::text
        || '}'
$$;

CREATE FUNCTION pudo_handover_one(
    p_shop bigint, p_actor text, p_hash text, p_cash boolean, p_id boolean, p_now timestamp,
    p_window_start timestamp, p_window_minutes integer, p_max_wrong bigint,
    OUT outcome text, OUT parcel_id bigint, OUT order_ref text, OUT state text,
    OUT picked_up_at timestamp, OUT retry_after_secs bigint,
    OUT cod_amount_minor bigint, OUT cod_currency text, OUT id_check text,
    OUT recipient_name text, OUT collector_name text
) LANGUAGE plpgsql AS $$
DECLARE
    v_region bigint;
    v_wrong bigint;
    v_oldest timestamp;
    v_confirmed text;
    p parcels;
BEGIN
    -- The shop's lock: attempts at one shop go one at a time.
    UPDATE shop_load SET live = live WHERE shop_id = p_shop RETURNING region INTO v_region;
    IF NOT FOUND THEN
        outcome := 'unknown_shop';
        RETURN;
    END IF;
    SELECT count(*) INTO v_wrong FROM handover_attempts
        WHERE shop_id = p_shop AND region = v_region AND result = 'wrong_code' AND at > p_window_start;
    IF p_hash IS NOT NULL AND v_wrong < p_max_wrong THEN
        -- A waiting parcel first, else the newest with the code.
        SELECT * INTO p FROM parcels
            WHERE shop_id = p_shop AND region = v_region AND code_hash = p_hash
            ORDER BY (parcels.state = 'at_point') DESC, id DESC LIMIT 1;
    END IF;
    IF p.id IS NULL THEN
        IF v_wrong >= p_max_wrong THEN
            SELECT min(at) INTO v_oldest FROM (SELECT at FROM handover_attempts
                WHERE shop_id = p_shop AND region = v_region AND result = 'wrong_code'
                  AND at > p_window_start ORDER BY at DESC LIMIT p_max_wrong) recent;
            outcome := 'rate_limited';
            retry_after_secs := greatest(1, trunc(extract(epoch FROM
                (v_oldest + make_interval(mins => p_window_minutes) - p_now)))::bigint);
        ELSE
            outcome := 'wrong_code';
        END IF;
    ELSE
        parcel_id := p.id;
        order_ref := p.order_ref;
        state := p.state;
        picked_up_at := p.picked_up_at;
        cod_amount_minor := p.cod_amount_minor;
        cod_currency := p.cod_currency;
        id_check := p.id_check;
        recipient_name := p.recipient_name;
        collector_name := p.collector_name;
        IF p.state = 'at_point' AND p.expires_at IS NOT NULL AND p.expires_at <= p_now THEN
            outcome := 'expired';
        ELSIF p.state = 'at_point' AND p.cod_amount_minor IS NOT NULL AND NOT coalesce(p_cash, false) THEN
            outcome := 'cash_not_confirmed';
        ELSIF p.state = 'at_point' AND p.id_check IS NOT NULL AND NOT coalesce(p_id, false) THEN
            outcome := 'id_check_required';
        ELSIF p.state = 'at_point' THEN
            UPDATE parcels SET state = 'picked_up', picked_up_at = p_now, code_escrow = NULL,
                               updated_at = p_now
                WHERE id = p.id AND region = v_region AND parcels.state = 'at_point'
                RETURNING * INTO p;
            IF NOT FOUND THEN
                -- Another confirmation of the same code got there first.
                SELECT * INTO p FROM parcels WHERE id = parcel_id AND region = v_region;
                outcome := 'replay';
                state := p.state;
                picked_up_at := coalesce(p.picked_up_at, p_now);
            ELSE
                UPDATE shop_load SET live = live - 1,
                                     live_s = live_s - CASE WHEN p.size_class = 'S' THEN 1 ELSE 0 END,
                                     live_m = live_m - CASE WHEN p.size_class = 'M' THEN 1 ELSE 0 END,
                                     changed_at = p_now
                    WHERE shop_id = p_shop AND region = v_region;
                IF p.cod_amount_minor IS NOT NULL THEN
                    INSERT INTO cash_ledger (shop_id, region, merchant, parcel_id, event_key,
                                             amount_minor, currency, occurred_at)
                        VALUES (p_shop, v_region, p.merchant, p.id, 'cod:' || p.id,
                                p.cod_amount_minor, p.cod_currency, p_now)
                        ON CONFLICT DO NOTHING;
                END IF;
                PERFORM pudo_record_paid('handover', p_shop, v_region, p.id, p.merchant,
                    'parcel.picked_up', '{"reservation":' || pudo_parcel_json(p) || '}', p_now);
                v_confirmed := nullif(concat_ws(',',
                    CASE WHEN p.cod_amount_minor IS NOT NULL THEN 'cash_collected' END,
                    CASE WHEN p.id_check IS NOT NULL THEN 'id_checked' END), '');
                outcome := 'success';
                state := p.state;
                picked_up_at := p_now;
            END IF;
        ELSIF p.state = 'picked_up' THEN
            outcome := 'replay';
            picked_up_at := coalesce(p.picked_up_at, p_now);
        ELSIF p.state = 'expired' THEN
            outcome := 'expired';
        ELSE
            outcome := 'not_collectable';
        END IF;
    END IF;
    INSERT INTO handover_attempts (shop_id, region, actor, kind, result, parcel_id, return_id, at,
                                   confirmed)
        VALUES (p_shop, v_region, p_actor, 'handover', outcome, parcel_id, NULL, p_now,
                v_confirmed);
END;
$$;

CREATE FUNCTION pudo_handover_batch(
    p_shops bigint[], p_actors text[], p_hashes text[], p_cash boolean[], p_ids boolean[],
    p_now timestamp, p_window_start timestamp, p_window_minutes integer, p_max_wrong bigint
) RETURNS TABLE (idx integer, outcome text, parcel_id bigint, order_ref text, state text,
                 picked_up_at timestamp, retry_after_secs bigint, cod_amount_minor bigint,
                 cod_currency text, id_check text, recipient_name text, collector_name text)
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
        recipient_name := r.recipient_name;
        collector_name := r.collector_name;
        RETURN NEXT;
    END LOOP;
END;
$$;

-- An arrival answers the parcel's conditions too (the partner sees them as the parcel is scanned in).

CREATE FUNCTION pudo_arrive(
    p_shop bigint, p_id bigint, p_now timestamp, p_expires timestamp, p_hash text,
    p_sealed text, p_escrow text, p_event_sealed text,
    OUT status text, OUT late boolean, OUT order_ref text, OUT sku text, OUT state text,
    OUT created_at timestamp, OUT arrived_at timestamp, OUT expires_at timestamp,
    OUT picked_up_at timestamp, OUT hold_extended_days integer, OUT size_class text,
    OUT cod_amount_minor bigint, OUT cod_currency text, OUT id_check text,
    OUT recipient_name text, OUT collector_name text
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
    recipient_name := p.recipient_name;
    collector_name := p.collector_name;
END;
$$;

-- The redefined write functions plan once per session again (migration 000075).
SELECT pudo_plan_write_functions();
DO $$ BEGIN
    ALTER TABLE parcels DROP CONSTRAINT parcels_id_check_check;
END $$;
-- NOT VALID: a reverted parcel with `named_recipient` whose name was sealed has none now.
DO $$ BEGIN
    ALTER TABLE parcels ADD CONSTRAINT parcels_id_check_check CHECK (
        id_check IN ('age_18', 'named_recipient')
        AND (id_check = 'named_recipient') = (recipient_name IS NOT NULL)) NOT VALID;
END $$;
DO $$ BEGIN
    DROP INDEX parcels_clear_names;
END $$;
-- In DO blocks: on Citus, a DROP COLUMN of a distributed table in a multi-statement
-- migration is refused ("cannot insert multiple commands into a prepared statement").
DO $$ BEGIN
    ALTER TABLE parcels DROP COLUMN collector_name_sealed;
END $$;
DO $$ BEGIN
    ALTER TABLE parcels DROP COLUMN recipient_name_sealed;
END $$;
