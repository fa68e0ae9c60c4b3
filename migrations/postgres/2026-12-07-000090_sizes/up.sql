-- Parcel sizes (issue 19, section 1): what a point accepts and its slots by size class, the
-- slots each class holds, and each parcel's class and measurements (src/network/sizes.rs).
--
-- A point declares its `S` and `M` slots; the rest of its capacity is `L`, so every existing
-- point has only `L` slots and works as before. `max_*` NULL: the documented defaults (25 kg,
-- 64 x 41 x 38 cm). Sides are stored longest first, lengths in millimetres and weights in grams
-- (integers: every comparison exact). `shop_load.live` stays the count of every slot held;
-- `live_s` and `live_m` count those of class S and M (the rest are L), so a reservation takes a
-- slot of its class with one conditional UPDATE of the same row as before. A parcel's
-- `size_class` NULL means L (every parcel reserved before sizes, and those without
-- measurements in an L slot). On Citus, `shops` is a reference table and `shop_load` and
-- `parcels` are distributed by region: new columns only, no key changes.
ALTER TABLE shops ADD COLUMN slots_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shops ADD COLUMN slots_m INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shops ADD COLUMN max_weight_g INTEGER;
ALTER TABLE shops ADD COLUMN max_length_mm INTEGER;
ALTER TABLE shops ADD COLUMN max_width_mm INTEGER;
ALTER TABLE shops ADD COLUMN max_height_mm INTEGER;
ALTER TABLE shop_load ADD COLUMN live_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shop_load ADD COLUMN live_m INTEGER NOT NULL DEFAULT 0;
ALTER TABLE parcels ADD COLUMN size_class TEXT;
ALTER TABLE parcels ADD COLUMN length_mm INTEGER;
ALTER TABLE parcels ADD COLUMN width_mm INTEGER;
ALTER TABLE parcels ADD COLUMN height_mm INTEGER;
ALTER TABLE parcels ADD COLUMN weight_g INTEGER;
-- Constraints apart, each in a DO block (Citus refuses an ADD COLUMN with a constraint on a
-- distributed or reference table; see 2026-12-06-000070_shop_addresses).
DO $$ BEGIN
    ALTER TABLE shops ADD CONSTRAINT shops_slots_check CHECK (slots_s >= 0 AND slots_m >= 0);
END $$;
DO $$ BEGIN
    ALTER TABLE parcels ADD CONSTRAINT parcels_size_class_check CHECK (size_class IN ('S', 'M', 'L'));
END $$;

-- The parcel's class in its public view (pickup::Parcel: `size_class`, absent when NULL).
CREATE OR REPLACE FUNCTION pudo_parcel_json(p parcels) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT '{"arrived_at":' || COALESCE(to_json(pudo_rfc3339(p.arrived_at))::text, 'null')
        || ',"created_at":' || to_json(pudo_rfc3339(p.created_at))::text
        || ',"expires_at":' || COALESCE(to_json(pudo_rfc3339(p.expires_at))::text, 'null')
        || ',"hold_extended_days":' || COALESCE(p.hold_extended_days::text, 'null')
        || ',"id":' || p.id
        || ',"order_ref":' || to_json(p.order_ref)::text
        || ',"picked_up_at":' || COALESCE(to_json(pudo_rfc3339(p.picked_up_at))::text, 'null')
        || ',"pickup_point_id":' || p.shop_id
        || CASE WHEN p.size_class IS NULL THEN '' ELSE ',"size_class":' || to_json(p.size_class)::text END
        || ',"sku":' || COALESCE(to_json(p.sku)::text, 'null')
        || ',"state":' || to_json(p.state)::text
        || '}'
$$;

-- The write functions of 2026-12-06-000060 with sizes: a reservation may carry the parcel's
-- sides (millimetres, longest first) and weight (grams) and takes a slot of the smallest class
-- it fits with room (network::sizes::ShopSizes::place, checked in the same order: weight,
-- dimensions, classes). New answers: `does_not_fit` (nothing written; `size_class` names the
-- limit: `max_weight`, `max_dimensions`, or the class needed when the point has no such class
-- nor a larger one, with the point's maximum in `limit_max`), and `full` names the class needed.
DROP FUNCTION pudo_reserve_batch(text[], bigint[], text[], text[], timestamp);
DROP FUNCTION pudo_reserve_one(text, bigint, text, text, timestamp);

CREATE FUNCTION pudo_reserve_one(
    p_merchant text, p_shop bigint, p_order_ref text, p_sku text,
    p_d1 integer, p_d2 integer, p_d3 integer, p_weight integer,
    p_now timestamp, OUT status text, OUT parcel_id bigint, OUT live integer,
    OUT size_class text, OUT limit_name text, OUT limit_max integer[]
) LANGUAGE plpgsql AS $$
DECLARE
    s record;
    p parcels;
    v_l integer;
    v_has_l boolean;
    v_needed integer;
    v_class integer;
    v_names text[] := ARRAY['S', 'M', 'L'];
BEGIN
    SELECT id INTO parcel_id FROM parcels WHERE merchant = p_merchant AND order_ref = p_order_ref;
    IF FOUND THEN
        status := 'repeat';
        RETURN;
    END IF;
    SELECT region, shops.status AS shop_status, capacity, services, slots_s, slots_m,
           coalesce(max_weight_g, 25000) AS max_w,
           ARRAY[coalesce(max_length_mm, 640), coalesce(max_width_mm, 410),
                 coalesce(max_height_mm, 380)] AS max_d
        INTO s FROM shops WHERE id = p_shop;
    IF NOT FOUND THEN
        status := 'unknown';
        RETURN;
    END IF;
    -- Where the parcel may go (network::sizes::ShopSizes::place).
    v_l := s.capacity - s.slots_s - s.slots_m;
    v_has_l := v_l > 0 OR (s.slots_s = 0 AND s.slots_m = 0);
    IF p_weight > s.max_w THEN
        status := 'does_not_fit';
        limit_name := 'max_weight';
        limit_max := ARRAY[s.max_w];
        RETURN;
    END IF;
    IF p_d1 > s.max_d[1] OR p_d2 > s.max_d[2] OR p_d3 > s.max_d[3] THEN
        status := 'does_not_fit';
        limit_name := 'max_dimensions';
        limit_max := s.max_d;
        RETURN;
    END IF;
    v_needed := CASE
        WHEN p_d1 IS NULL THEN CASE WHEN v_has_l THEN 3 WHEN s.slots_m > 0 THEN 2 ELSE 1 END
        WHEN p_d1 <= 640 AND p_d2 <= 380 AND p_d3 <= 80 THEN 1
        WHEN p_d1 <= 640 AND p_d2 <= 380 AND p_d3 <= 190 THEN 2
        ELSE 3 END;
    IF NOT ((v_needed <= 1 AND s.slots_s > 0) OR (v_needed <= 2 AND s.slots_m > 0) OR v_has_l) THEN
        status := 'does_not_fit';
        limit_name := 'size_class';
        size_class := v_names[v_needed];
        RETURN;
    END IF;
    IF NOT ('pickup' = ANY (string_to_array(s.services, ',')))
        OR (p_sku IS NOT NULL AND EXISTS (SELECT 1 FROM staged_stock
            WHERE shop_id = p_shop AND region = s.region AND sku = p_sku AND units > 0))
        OR EXISTS (SELECT 1 FROM shop_closures WHERE shop_id = p_shop AND region = s.region) THEN
        status := 'slow';
        RETURN;
    END IF;
    -- The conditional updates that enforce capacity, in all and per class, smallest class
    -- first (network::load::take_slot).
    FOR c IN v_needed .. 3 LOOP
        IF c = 1 AND s.slots_s > 0 THEN
            UPDATE shop_load SET live = shop_load.live + 1, live_s = shop_load.live_s + 1,
                                 changed_at = p_now
                WHERE shop_id = p_shop AND region = s.region
                  AND shop_load.live < (CASE WHEN s.shop_status = 'active' THEN s.capacity END)
                  AND shop_load.live_s < s.slots_s
                RETURNING shop_load.live INTO live;
        ELSIF c = 2 AND s.slots_m > 0 THEN
            UPDATE shop_load SET live = shop_load.live + 1, live_m = shop_load.live_m + 1,
                                 changed_at = p_now
                WHERE shop_id = p_shop AND region = s.region
                  AND shop_load.live < (CASE WHEN s.shop_status = 'active' THEN s.capacity END)
                  AND shop_load.live_m < s.slots_m
                RETURNING shop_load.live INTO live;
        ELSIF c = 3 AND v_has_l THEN
            UPDATE shop_load SET live = shop_load.live + 1, changed_at = p_now
                WHERE shop_id = p_shop AND region = s.region
                  AND shop_load.live < (CASE WHEN s.shop_status = 'active' THEN s.capacity END)
                  AND shop_load.live - shop_load.live_s - shop_load.live_m < v_l
                RETURNING shop_load.live INTO live;
        END IF;
        IF live IS NOT NULL THEN
            v_class := c;
            EXIT;
        END IF;
    END LOOP;
    IF v_class IS NULL THEN
        status := CASE s.shop_status WHEN 'paused' THEN 'paused' WHEN 'active' THEN 'full' ELSE 'closed' END;
        size_class := v_names[v_needed];
        RETURN;
    END IF;
    -- NULL for an L slot of a parcel without measurements: the rows and views of before sizes.
    IF v_class < 3 OR p_d1 IS NOT NULL OR p_weight IS NOT NULL THEN
        size_class := v_names[v_class];
    END IF;
    INSERT INTO parcels (shop_id, region, merchant, order_ref, sku, state, created_at, updated_at,
                         size_class, length_mm, width_mm, height_mm, weight_g)
        VALUES (p_shop, s.region, p_merchant, p_order_ref, p_sku, 'reserved', p_now, p_now,
                size_class, p_d1, p_d2, p_d3, p_weight)
        ON CONFLICT DO NOTHING
        RETURNING * INTO p;
    IF p.id IS NULL THEN
        -- Another transaction reserved the same order_ref and committed while this one waited
        -- on it: give the slot back and answer like a repeat.
        UPDATE shop_load SET live = shop_load.live - 1,
                             live_s = shop_load.live_s - CASE WHEN v_class = 1 THEN 1 ELSE 0 END,
                             live_m = shop_load.live_m - CASE WHEN v_class = 2 THEN 1 ELSE 0 END,
                             changed_at = p_now
            WHERE shop_id = p_shop AND region = s.region;
        SELECT id INTO parcel_id FROM parcels WHERE merchant = p_merchant AND order_ref = p_order_ref;
        status := 'repeat';
        live := NULL;
        size_class := NULL;
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

-- A handover frees a slot of the parcel's class.
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
                UPDATE shop_load SET live = live - 1,
                                     live_s = live_s - CASE WHEN p.size_class = 'S' THEN 1 ELSE 0 END,
                                     live_m = live_m - CASE WHEN p.size_class = 'M' THEN 1 ELSE 0 END,
                                     changed_at = p_now
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

-- An arrival answers the parcel's class too.
DROP FUNCTION pudo_arrive(bigint, bigint, timestamp, timestamp, text, text, text, text);
CREATE FUNCTION pudo_arrive(
    p_shop bigint, p_id bigint, p_now timestamp, p_expires timestamp, p_hash text,
    p_sealed text, p_escrow text, p_event_sealed text,
    OUT status text, OUT late boolean, OUT order_ref text, OUT sku text, OUT state text,
    OUT created_at timestamp, OUT arrived_at timestamp, OUT expires_at timestamp,
    OUT picked_up_at timestamp, OUT hold_extended_days integer, OUT size_class text
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
END;
$$;

-- A return's size is not known: a drop-off takes an L slot (network::sizes), as
-- pickup::dropoffs does.
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
                SELECT shops.status AS shop_status, capacity, slots_s, slots_m INTO s
                    FROM shops WHERE id = p_shop;
                UPDATE shop_load SET live = live + 1, changed_at = p_now
                    WHERE shop_id = p_shop AND region = v_region
                      AND live < (CASE WHEN s.shop_status = 'active' THEN s.capacity END)
                      AND live - live_s - live_m < s.capacity - s.slots_s - s.slots_m;
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

-- The redefined write functions plan once per session again (migration 000075).
SELECT pudo_plan_write_functions();
