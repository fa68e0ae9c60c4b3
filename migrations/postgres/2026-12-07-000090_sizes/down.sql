-- Back to the write functions of 2026-12-06-000060 and the columns before sizes.
DROP FUNCTION pudo_arrive(bigint, bigint, timestamp, timestamp, text, text, text, text);
DROP FUNCTION pudo_reserve_batch(text[], bigint[], text[], text[], integer[], integer[], integer[], integer[], timestamp);
DROP FUNCTION pudo_reserve_one(text, bigint, text, text, integer, integer, integer, integer, timestamp);
CREATE FUNCTION pudo_reserve_one(
    p_merchant text, p_shop bigint, p_order_ref text, p_sku text,
    p_now timestamp, OUT status text, OUT parcel_id bigint, OUT live integer
) LANGUAGE plpgsql AS $$
DECLARE
    s record;
    p parcels;
BEGIN
    SELECT id INTO parcel_id FROM parcels WHERE merchant = p_merchant AND order_ref = p_order_ref;
    IF FOUND THEN
        status := 'repeat';
        RETURN;
    END IF;
    SELECT region, shops.status AS shop_status, capacity, services INTO s FROM shops WHERE id = p_shop;
    IF NOT FOUND THEN
        status := 'unknown';
        RETURN;
    END IF;
    IF NOT ('pickup' = ANY (string_to_array(s.services, ',')))
        OR (p_sku IS NOT NULL AND EXISTS (SELECT 1 FROM staged_stock
            WHERE shop_id = p_shop AND region = s.region AND sku = p_sku AND units > 0))
        OR EXISTS (SELECT 1 FROM shop_closures WHERE shop_id = p_shop AND region = s.region) THEN
        status := 'slow';
        RETURN;
    END IF;
    -- The conditional update that enforces capacity (network::load::take_slot).
    UPDATE shop_load SET live = shop_load.live + 1, changed_at = p_now
        WHERE shop_id = p_shop AND region = s.region
          AND shop_load.live < (CASE WHEN s.shop_status = 'active' THEN s.capacity END)
        RETURNING shop_load.live INTO live;
    IF NOT FOUND THEN
        status := CASE s.shop_status WHEN 'paused' THEN 'paused' WHEN 'active' THEN 'full' ELSE 'closed' END;
        RETURN;
    END IF;
    INSERT INTO parcels (shop_id, region, merchant, order_ref, sku, state, created_at, updated_at)
        VALUES (p_shop, s.region, p_merchant, p_order_ref, p_sku, 'reserved', p_now, p_now)
        ON CONFLICT DO NOTHING
        RETURNING * INTO p;
    IF p.id IS NULL THEN
        -- Another transaction reserved the same order_ref and committed while this one waited
        -- on it: give the slot back and answer like a repeat.
        UPDATE shop_load SET live = shop_load.live - 1, changed_at = p_now
            WHERE shop_id = p_shop AND region = s.region;
        SELECT id INTO parcel_id FROM parcels WHERE merchant = p_merchant AND order_ref = p_order_ref;
        status := 'repeat';
        live := NULL;
        RETURN;
    END IF;
    INSERT INTO outbox (event_id, region, merchant, kind, payload, created_at, attempts, next_attempt_at)
        VALUES (gen_random_uuid()::text, s.region, p_merchant, 'reservation.created',
                '{"reservation":' || pudo_parcel_json(p) || '}', p_now, 0, p_now);
    status := 'created';
    parcel_id := p.id;
END;
$$;

CREATE FUNCTION pudo_reserve_batch(
    p_merchants text[], p_shops bigint[], p_order_refs text[], p_skus text[], p_now timestamp
) RETURNS TABLE (idx integer, status text, parcel_id bigint, live integer) LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_shops, 1), 0) LOOP
        SELECT * INTO r FROM pudo_reserve_one(p_merchants[i], p_shops[i], p_order_refs[i],
                                              p_skus[i], p_now);
        idx := i;
        status := r.status;
        parcel_id := r.parcel_id;
        live := r.live;
        RETURN NEXT;
    END LOOP;
END;
$$;

CREATE FUNCTION pudo_arrive(
    p_shop bigint, p_id bigint, p_now timestamp, p_expires timestamp, p_hash text,
    p_sealed text, p_escrow text, p_event_sealed text,
    OUT status text, OUT late boolean, OUT order_ref text, OUT sku text, OUT state text,
    OUT created_at timestamp, OUT arrived_at timestamp, OUT expires_at timestamp,
    OUT picked_up_at timestamp, OUT hold_extended_days integer
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
END;
$$;

CREATE OR REPLACE FUNCTION pudo_handover_one(
    p_shop bigint, p_actor text, p_hash text, p_now timestamp, p_window_start timestamp,
    p_window_minutes integer, p_max_wrong bigint,
    OUT outcome text, OUT parcel_id bigint, OUT order_ref text, OUT state text,
    OUT picked_up_at timestamp, OUT retry_after_secs bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_region bigint;
    v_wrong bigint;
    v_oldest timestamp;
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
        IF p.state = 'at_point' AND p.expires_at IS NOT NULL AND p.expires_at <= p_now THEN
            outcome := 'expired';
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
                UPDATE shop_load SET live = live - 1, changed_at = p_now
                    WHERE shop_id = p_shop AND region = v_region;
                PERFORM pudo_record_paid('handover', p_shop, v_region, p.id, p.merchant,
                    'parcel.picked_up', '{"reservation":' || pudo_parcel_json(p) || '}', p_now);
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
    INSERT INTO handover_attempts (shop_id, region, actor, kind, result, parcel_id, return_id, at)
        VALUES (p_shop, v_region, p_actor, 'handover', outcome, parcel_id, NULL, p_now);
END;
$$;

CREATE OR REPLACE FUNCTION pudo_parcel_json(p parcels) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT '{"arrived_at":' || COALESCE(to_json(pudo_rfc3339(p.arrived_at))::text, 'null')
        || ',"created_at":' || to_json(pudo_rfc3339(p.created_at))::text
        || ',"expires_at":' || COALESCE(to_json(pudo_rfc3339(p.expires_at))::text, 'null')
        || ',"hold_extended_days":' || COALESCE(p.hold_extended_days::text, 'null')
        || ',"id":' || p.id
        || ',"order_ref":' || to_json(p.order_ref)::text
        || ',"picked_up_at":' || COALESCE(to_json(pudo_rfc3339(p.picked_up_at))::text, 'null')
        || ',"pickup_point_id":' || p.shop_id
        || ',"sku":' || COALESCE(to_json(p.sku)::text, 'null')
        || ',"state":' || to_json(p.state)::text
        || '}'
$$;

CREATE OR REPLACE FUNCTION pudo_dropoff(
    p_shop bigint, p_actor text, p_hash text, p_now timestamp, p_window_start timestamp,
    p_window_minutes integer, p_max_wrong bigint,
    OUT outcome text, OUT return_id bigint, OUT order_ref text, OUT sku text,
    OUT dropped_off_at timestamp, OUT unavailable text, OUT retry_after_secs bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_region bigint;
    v_oldest timestamp;
    v_wrong bigint;
    s record;
    r returns;
BEGIN
    UPDATE shop_load SET live = live WHERE shop_id = p_shop RETURNING region INTO v_region;
    IF NOT FOUND THEN
        outcome := 'unknown_shop';
        RETURN;
    END IF;
    -- The bound on wrong codes first (pickup::attempts::retry_after): the newest of them.
    SELECT min(at), count(*) INTO v_oldest, v_wrong FROM (SELECT at FROM handover_attempts
        WHERE shop_id = p_shop AND region = v_region AND result = 'wrong_code'
          AND at > p_window_start ORDER BY at DESC LIMIT p_max_wrong) recent;
    IF v_wrong >= p_max_wrong THEN
        outcome := 'rate_limited';
        retry_after_secs := greatest(1, trunc(extract(epoch FROM
            (v_oldest + make_interval(mins => p_window_minutes) - p_now)))::bigint);
    ELSIF p_hash IS NULL THEN
        outcome := 'wrong_code';
    ELSE
        SELECT * INTO r FROM returns
            WHERE shop_id = p_shop AND region = v_region AND code_hash = p_hash
            ORDER BY id DESC LIMIT 1;
        IF r.id IS NULL THEN
            outcome := 'wrong_code';
        ELSE
            return_id := r.id;
            order_ref := r.order_ref;
            sku := r.sku;
            IF r.state IN ('dropped_off', 'collected') THEN
                outcome := 'replay';
                dropped_off_at := coalesce(r.dropped_off_at, p_now);
            ELSIF r.code_expires_at <= p_now THEN
                outcome := 'expired';
            ELSE
                SELECT shops.status AS shop_status, capacity INTO s FROM shops WHERE id = p_shop;
                UPDATE shop_load SET live = live + 1, changed_at = p_now
                    WHERE shop_id = p_shop AND region = v_region
                      AND live < (CASE WHEN s.shop_status = 'active' THEN s.capacity END);
                IF NOT FOUND THEN
                    outcome := 'shop_unavailable';
                    unavailable := CASE s.shop_status WHEN 'paused' THEN 'paused'
                                                      WHEN 'active' THEN 'full' ELSE 'closed' END;
                ELSE
                    UPDATE returns SET state = 'dropped_off', dropped_off_at = p_now,
                                       code_sealed = NULL, updated_at = p_now
                        WHERE id = r.id AND region = v_region
                        RETURNING * INTO r;
                    PERFORM pudo_record_paid('dropoff', p_shop, v_region, r.id, r.merchant,
                        'return.dropped_off', '{"return":' || pudo_return_json(r) || '}', p_now);
                    outcome := 'success';
                    dropped_off_at := p_now;
                END IF;
            END IF;
        END IF;
    END IF;
    INSERT INTO handover_attempts (shop_id, region, actor, kind, result, parcel_id, return_id, at)
        VALUES (p_shop, v_region, p_actor, 'dropoff', outcome, NULL, return_id, p_now);
END;
$$;

ALTER TABLE parcels DROP CONSTRAINT parcels_size_class_check;
ALTER TABLE shops DROP CONSTRAINT shops_slots_check;
ALTER TABLE parcels DROP COLUMN weight_g;
ALTER TABLE parcels DROP COLUMN height_mm;
ALTER TABLE parcels DROP COLUMN width_mm;
ALTER TABLE parcels DROP COLUMN length_mm;
ALTER TABLE parcels DROP COLUMN size_class;
ALTER TABLE shop_load DROP COLUMN live_m;
ALTER TABLE shop_load DROP COLUMN live_s;
ALTER TABLE shops DROP COLUMN max_height_mm;
ALTER TABLE shops DROP COLUMN max_width_mm;
ALTER TABLE shops DROP COLUMN max_length_mm;
ALTER TABLE shops DROP COLUMN max_weight_g;
ALTER TABLE shops DROP COLUMN slots_m;
ALTER TABLE shops DROP COLUMN slots_s;

-- The redefined write functions plan once per session again (migration 000075).
SELECT pudo_plan_write_functions();
