-- Reservations and handovers in one round trip on PostgreSQL (issue 18): each is one call of a
-- server-side function doing, in the caller's statement (its own transaction in autocommit),
-- exactly the statements src/pickup/reservations.rs and src/pickup/handover.rs send one by one:
-- the same conditional slot update, the same state checks, the same audit row, outbox event
-- and ledger line. The `_batch` forms run many requests in one transaction (group commit),
-- each with its own outcome, in the order given. Anything out of the common case (a staged
-- unit to turn into the parcel, closures to check (against the arrival time, or the window
-- assumed when none is given), a shop's services
-- to parse) answers `slow` before writing anything, and the caller takes the statement path.
-- Used on plain PostgreSQL; SQLite and Citus keep the statement path (docs/scaling.md).

-- A UTC time as pudo's answers write it (src/timestamps.rs: RFC 3339, `Z`, seconds with as
-- many fraction digits as needed: none, 3 or 6).
CREATE FUNCTION pudo_rfc3339(t timestamp) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN t IS NULL THEN NULL
        WHEN extract(microseconds FROM t)::bigint % 1000000 = 0 THEN to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        WHEN extract(microseconds FROM t)::bigint % 1000 = 0 THEN to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        ELSE to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    END
$$;

-- A parcel's public view, byte for byte the JSON pudo's events carry for `pickup::Parcel`
-- (serde through `serde_json::Value`: keys in sorted order).
CREATE FUNCTION pudo_parcel_json(p parcels) RETURNS text LANGUAGE sql STABLE AS $$
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

-- The two records of a paid change at a shop (pickup::outbox::record_paid): its ledger line at
-- the fee in force (ledger::fees::in_force: the region's newest, else the network's newest;
-- none while no fee is in force; once per event key `kind:subject`) and the merchant's event.
CREATE FUNCTION pudo_record_paid(
    p_kind text, p_shop bigint, p_region bigint, p_subject bigint, p_merchant text,
    p_event text, p_payload text, p_now timestamp
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    fee record;
BEGIN
    SELECT id, amount_minor, currency INTO fee FROM fee_schedule
        WHERE kind = p_kind AND effective_from <= p_now::date
          AND (region = p_region OR region IS NULL)
        ORDER BY (region IS NULL), effective_from DESC LIMIT 1;
    IF FOUND THEN
        INSERT INTO ledger (shop_id, region, kind, event_key, subject_id, quantity,
                            unit_amount_minor, amount_minor, currency, fee_id, occurred_at)
            VALUES (p_shop, p_region, p_kind, p_kind || ':' || p_subject, p_subject, 1,
                    fee.amount_minor, fee.amount_minor, fee.currency, fee.id, p_now)
            ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO outbox (event_id, region, merchant, kind, payload, created_at, attempts, next_attempt_at)
        VALUES (gen_random_uuid()::text, p_region, p_merchant, p_event, p_payload, p_now, 0, p_now);
END;
$$;

-- One reservation. Answers (status, parcel id, slots held after it):
--   created  the parcel was reserved now (id, live)
--   repeat   the merchant's order_ref exists already (id of that parcel)
--   unknown | paused | closed | full   no slot was taken (nothing written)
--   slow     the statement path must decide (nothing written)
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

-- Many reservations in one transaction, in the order given; row i answers request i.
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

-- One code typed at a shop's counter for a handover (pickup::attempts::guarded around
-- pickup::handover::decide). p_hash is the code's keyed hash, NULL for text that is no code.
-- Answers the outcome's label (`success`, `replay`, `wrong_code`, `expired`,
-- `not_collectable`, `rate_limited`, or `unknown_shop` with nothing written), the parcel, its
-- order_ref and state, when it was handed over, and the wait when rate-limited.
CREATE FUNCTION pudo_handover_one(
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

-- Many handovers in one transaction, in the order given; row i answers request i.
CREATE FUNCTION pudo_handover_batch(
    p_shops bigint[], p_actors text[], p_hashes text[], p_now timestamp,
    p_window_start timestamp, p_window_minutes integer, p_max_wrong bigint
) RETURNS TABLE (idx integer, outcome text, parcel_id bigint, order_ref text, state text,
                 picked_up_at timestamp, retry_after_secs bigint) LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_shops, 1), 0) LOOP
        SELECT * INTO r FROM pudo_handover_one(p_shops[i], p_actors[i], p_hashes[i], p_now,
                                               p_window_start, p_window_minutes, p_max_wrong);
        idx := i;
        outcome := r.outcome;
        parcel_id := r.parcel_id;
        order_ref := r.order_ref;
        state := r.state;
        picked_up_at := r.picked_up_at;
        retry_after_secs := r.retry_after_secs;
        RETURN NEXT;
    END LOOP;
END;
$$;

-- A parcel's arrival at its shop (pickup::reservations::arrive): its pickup code (hash and two
-- sealed copies, made by the caller) set, the carrier's hand-in scanned, the `parcel.arrived`
-- event written. Answers `arrived` (now), `already` (at the shop before), `not_found`,
-- `code_clash` (the code is in use at the shop: nothing written, the caller tries another),
-- or the parcel's state when it cannot arrive; with the parcel's fields and whether the scan
-- came after the hand-in's deadline.
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

-- A return's public view, byte for byte the JSON of `pickup::returns::Return` in events (keys
-- sorted, as serde through `serde_json::Value` writes them).
CREATE FUNCTION pudo_return_json(r returns) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT '{"code_expires_at":' || to_json(pudo_rfc3339(r.code_expires_at))::text
        || ',"collected_at":' || COALESCE(to_json(pudo_rfc3339(r.collected_at))::text, 'null')
        || ',"created_at":' || to_json(pudo_rfc3339(r.created_at))::text
        || ',"dropped_off_at":' || COALESCE(to_json(pudo_rfc3339(r.dropped_off_at))::text, 'null')
        || ',"id":' || r.id
        || ',"order_ref":' || to_json(r.order_ref)::text
        || ',"pickup_point_id":' || r.shop_id
        || ',"sku":' || COALESCE(to_json(r.sku)::text, 'null')
        || ',"state":' || to_json(r.state)::text
        || '}'
$$;

-- A drop-off code typed at a shop's counter (pickup::attempts::guarded around
-- pickup::dropoffs::decide): the return takes a slot, is paid, the merchant is told, the
-- attempt audited. Answers the outcome's label (`success`, `replay`, `wrong_code`, `expired`,
-- `shop_unavailable` with why, `rate_limited` with the wait, or `unknown_shop` with nothing
-- written) and the return's fields.
CREATE FUNCTION pudo_dropoff(
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
