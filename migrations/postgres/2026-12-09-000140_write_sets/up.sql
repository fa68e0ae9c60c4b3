-- Batches of handovers and of reservations decided together and written with one statement
-- per table (issue 18; measured in BENCHMARKS.md, "Handovers and reservations").
--
-- A profile of the handover load (perf on every postgres process, 2026-12-05) showed
-- PostgreSQL spending about 300 µs of CPU per handover and 200 µs per reservation, almost half
-- of it in setting up and tearing down statements: the batch functions called the functions
-- of one request once per request, and each of their statements built an executor, parsed the
-- CHECK constraints of the table it wrote (ExecConstraints reads them from text each time),
-- and ran alone. Here a batch takes about five statements, whatever its size:
--
-- 1. the rows the batch needs are read, with the shops' rows locked in shop order (the lock
--    that orders attempts and reservations at one shop; a row lock, no new row version);
-- 2. the outcomes are decided in PL/pgSQL variables, request after request in the order given,
--    exactly as the functions of one request decided them one after another (a code handed
--    over is a replay the second time, a wrong code counts towards the shop's bound for the
--    attempts after it, an order_ref reserved is a repeat the second time, a slot taken is not
--    free for the next request);
-- 3. what was decided is written, each table in one statement, in the order of the requests.
--
-- An arrival (pudo_arrive) now finds its parcel's row by id alone, for the same reason as the
-- batch functions' plan settings at the end.
--
-- What each request is answered, and every row written, is what the function of one request
-- would have answered and written (tests/api/writes.rs: each request of a batch answered as
-- alone, on both paths); pudo_handover_one and pudo_reserve_one stay for the migrations below.

-- Handovers.
CREATE OR REPLACE FUNCTION pudo_handover_batch(
    p_shops bigint[], p_actors text[], p_hashes text[], p_cash boolean[], p_ids boolean[],
    p_now timestamp, p_window_start timestamp, p_window_minutes integer, p_max_wrong bigint
) RETURNS TABLE (idx integer, outcome text, parcel_id bigint, order_ref text, state text,
                 picked_up_at timestamp, retry_after_secs bigint, cod_amount_minor bigint,
                 cod_currency text, id_check text, recipient_name_sealed text, collector_name_sealed text)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(array_length(p_shops, 1), 0);
    -- The locked shops, their regions, wrong codes counted so far and wrong codes of this batch.
    l_shops bigint[];
    l_regions bigint[];
    l_wrong bigint[];
    l_mine integer[];
    -- Every parcel a code names: the request it answers (ascending), the row.
    m_req bigint[];
    m_rows parcels[];
    mk integer := 1;
    -- The answers, one element per request.
    o_outcome text[] := array_fill(NULL::text, ARRAY[n]);
    o_region bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    o_parcel bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    o_order text[] := array_fill(NULL::text, ARRAY[n]);
    o_state text[] := array_fill(NULL::text, ARRAY[n]);
    o_picked timestamp[] := array_fill(NULL::timestamp, ARRAY[n]);
    o_retry bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    o_cod bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    o_currency text[] := array_fill(NULL::text, ARRAY[n]);
    o_idc text[] := array_fill(NULL::text, ARRAY[n]);
    o_rname text[] := array_fill(NULL::text, ARRAY[n]);
    o_cname text[] := array_fill(NULL::text, ARRAY[n]);
    o_confirmed text[] := array_fill(NULL::text, ARRAY[n]);
    -- The parcels handed over by this batch (and their regions), and those the update found.
    v_done bigint[] := '{}';
    v_done_regions bigint[] := '{}';
    v_updated bigint[];
    li integer;
    p parcels;
    cand parcels;
    v_oldest timestamp;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    -- 1. The shops' locks, in the order of their ids (as every batch takes them: no deadlock).
    SELECT coalesce(array_agg(s.shop_id ORDER BY s.shop_id), '{}'),
           coalesce(array_agg(s.region ORDER BY s.shop_id), '{}')
      INTO l_shops, l_regions
      FROM (SELECT shop_load.shop_id, shop_load.region FROM shop_load
             WHERE shop_load.shop_id = ANY (p_shops)
             ORDER BY shop_load.shop_id FOR NO KEY UPDATE) s;
    -- 2. Wrong codes within the window, per shop (after the locks: every one committed before).
    SELECT coalesce(array_agg(coalesce(w.n, 0) ORDER BY l.i), '{}'),
           coalesce(array_agg(0 ORDER BY l.i), '{}')
      INTO l_wrong, l_mine
      FROM unnest(l_shops, l_regions) WITH ORDINALITY AS l(shop, region, i)
      LEFT JOIN LATERAL (SELECT count(*) AS n FROM handover_attempts a
                          WHERE a.shop_id = l.shop AND a.region = l.region
                            AND a.result = 'wrong_code' AND a.at > p_window_start) w ON true;
    -- 3. The parcels named, per request: a waiting one first, else the newest.
    SELECT coalesce(array_agg(q.i ORDER BY q.i, (m.state = 'at_point') DESC, m.id DESC), '{}'),
           coalesce(array_agg(m ORDER BY q.i, (m.state = 'at_point') DESC, m.id DESC), '{}')
      INTO m_req, m_rows
      FROM unnest(p_shops, p_hashes) WITH ORDINALITY AS q(shop, hash, i)
      JOIN unnest(l_shops, l_regions) AS l(shop, region) ON l.shop = q.shop
      JOIN parcels m ON m.shop_id = q.shop AND m.region = l.region AND m.code_hash = q.hash;
    -- 4. The outcomes, in the order given.
    FOR i IN 1 .. n LOOP
        li := array_position(l_shops, p_shops[i]);
        IF li IS NULL THEN
            o_outcome[i] := 'unknown_shop';
            CONTINUE;
        END IF;
        o_region[i] := l_regions[li];
        -- The parcel as pudo_handover_one would find it now: the batch's own handovers count.
        p := NULL;
        WHILE mk <= coalesce(array_length(m_req, 1), 0) AND m_req[mk] < i LOOP
            mk := mk + 1;
        END LOOP;
        IF p_hashes[i] IS NOT NULL AND l_wrong[li] < p_max_wrong THEN
            FOR k IN mk .. coalesce(array_length(m_req, 1), 0) LOOP
                EXIT WHEN m_req[k] <> i;
                cand := m_rows[k];
                IF cand.id = ANY (v_done) THEN
                    cand.state := 'picked_up';
                    cand.picked_up_at := p_now;
                END IF;
                IF p.id IS NULL
                   OR (cand.state = 'at_point' AND p.state <> 'at_point')
                   OR (cand.state = 'at_point') = (p.state = 'at_point') AND cand.id > p.id THEN
                    p := cand;
                END IF;
            END LOOP;
        END IF;
        IF p.id IS NULL THEN
            IF l_wrong[li] >= p_max_wrong THEN
                -- The oldest of the last p_max_wrong wrong codes, this batch's included.
                SELECT min(r.at) INTO v_oldest FROM (
                    SELECT w.at FROM (
                        SELECT a.at FROM handover_attempts a
                         WHERE a.shop_id = p_shops[i] AND a.region = l_regions[li]
                           AND a.result = 'wrong_code' AND a.at > p_window_start
                        UNION ALL
                        SELECT p_now FROM generate_series(1, l_mine[li])) w
                    ORDER BY w.at DESC LIMIT p_max_wrong) r;
                o_outcome[i] := 'rate_limited';
                o_retry[i] := greatest(1, trunc(extract(epoch FROM
                    (v_oldest + make_interval(mins => p_window_minutes) - p_now)))::bigint);
            ELSE
                o_outcome[i] := 'wrong_code';
                l_wrong[li] := l_wrong[li] + 1;
                l_mine[li] := l_mine[li] + 1;
            END IF;
            CONTINUE;
        END IF;
        o_parcel[i] := p.id;
        o_order[i] := p.order_ref;
        o_state[i] := p.state;
        o_picked[i] := p.picked_up_at;
        o_cod[i] := p.cod_amount_minor;
        o_currency[i] := p.cod_currency;
        o_idc[i] := p.id_check;
        o_rname[i] := p.recipient_name_sealed;
        o_cname[i] := p.collector_name_sealed;
        IF p.state = 'at_point' AND p.expires_at IS NOT NULL AND p.expires_at <= p_now THEN
            o_outcome[i] := 'expired';
        ELSIF p.state = 'at_point' AND p.cod_amount_minor IS NOT NULL AND NOT coalesce(p_cash[i], false) THEN
            o_outcome[i] := 'cash_not_confirmed';
        ELSIF p.state = 'at_point' AND p.id_check IS NOT NULL AND NOT coalesce(p_ids[i], false) THEN
            o_outcome[i] := 'id_check_required';
        ELSIF p.state = 'at_point' THEN
            v_done := v_done || p.id;
            v_done_regions := v_done_regions || l_regions[li];
            o_outcome[i] := 'success';
            o_state[i] := 'picked_up';
            o_picked[i] := p_now;
            o_confirmed[i] := nullif(concat_ws(',',
                CASE WHEN p.cod_amount_minor IS NOT NULL THEN 'cash_collected' END,
                CASE WHEN p.id_check IS NOT NULL THEN 'id_checked' END), '');
        ELSIF p.state = 'picked_up' THEN
            o_outcome[i] := 'replay';
            o_picked[i] := coalesce(p.picked_up_at, p_now);
        ELSIF p.state = 'expired' THEN
            o_outcome[i] := 'expired';
        ELSE
            o_outcome[i] := 'not_collectable';
        END IF;
    END LOOP;
    -- The parcels handed over, in the order of their requests: their slots, cash, fees and
    -- events, each table in one statement.
    IF array_length(v_done, 1) > 0 THEN
        WITH up AS (
            UPDATE parcels SET state = 'picked_up', picked_up_at = p_now, code_escrow = NULL,
                               updated_at = p_now
              FROM unnest(v_done, v_done_regions) WITH ORDINALITY AS d(id, region, i)
             WHERE parcels.id = d.id AND parcels.region = d.region
               AND parcels.state = 'at_point'
            RETURNING d.i, parcels.id, parcels.shop_id, parcels.region, parcels.merchant,
                      parcels.size_class, parcels.cod_amount_minor, parcels.cod_currency,
                      pudo_parcel_json(parcels) AS json
        ), released AS (
            UPDATE shop_load SET live = shop_load.live - r.n, live_s = shop_load.live_s - r.s,
                                 live_m = shop_load.live_m - r.m, changed_at = p_now
              FROM (SELECT up.shop_id, up.region, count(*) AS n,
                           count(*) FILTER (WHERE up.size_class = 'S') AS s,
                           count(*) FILTER (WHERE up.size_class = 'M') AS m
                      FROM up GROUP BY up.shop_id, up.region) r
             WHERE shop_load.shop_id = r.shop_id AND shop_load.region = r.region
        ), cash AS (
            INSERT INTO cash_ledger (shop_id, region, merchant, parcel_id, event_key,
                                     amount_minor, currency, occurred_at)
            SELECT up.shop_id, up.region, up.merchant, up.id, 'cod:' || up.id,
                   up.cod_amount_minor, up.cod_currency, p_now
              FROM up WHERE up.cod_amount_minor IS NOT NULL ORDER BY up.i
            ON CONFLICT DO NOTHING
        ), fees AS (
            -- The fee of pudo_record_paid: the region's, else the network's, latest in force.
            INSERT INTO ledger (shop_id, region, kind, event_key, subject_id, quantity,
                                unit_amount_minor, amount_minor, currency, fee_id, occurred_at)
            SELECT up.shop_id, up.region, 'handover', 'handover:' || up.id, up.id, 1,
                   f.amount_minor, f.amount_minor, f.currency, f.id, p_now
              FROM up CROSS JOIN LATERAL (
                    SELECT fee_schedule.id, fee_schedule.amount_minor, fee_schedule.currency
                      FROM fee_schedule
                     WHERE fee_schedule.kind = 'handover' AND fee_schedule.effective_from <= p_now::date
                       AND (fee_schedule.region = up.region OR fee_schedule.region IS NULL)
                     ORDER BY (fee_schedule.region IS NULL), fee_schedule.effective_from DESC
                     LIMIT 1) f
             ORDER BY up.i
            ON CONFLICT DO NOTHING
        ), events AS (
            INSERT INTO outbox (event_id, region, merchant, kind, payload, created_at, attempts,
                                next_attempt_at)
            SELECT gen_random_uuid()::text, up.region, up.merchant, 'parcel.picked_up',
                   '{"reservation":' || up.json || '}', p_now, 0, p_now
              FROM up ORDER BY up.i
        )
        SELECT coalesce(array_agg(up.id), '{}') INTO v_updated FROM up;
        -- A parcel another transaction changed between the read and the update (it waited on
        -- no shop lock of ours, e.g. the hold sweep): answered as a replay of what it is now,
        -- as pudo_handover_one did.
        IF array_length(v_updated, 1) IS DISTINCT FROM array_length(v_done, 1) THEN
            FOR i IN 1 .. n LOOP
                IF o_outcome[i] = 'success' AND NOT (o_parcel[i] = ANY (v_updated)) THEN
                    SELECT * INTO p FROM parcels WHERE parcels.id = o_parcel[i] AND parcels.region = o_region[i];
                    o_outcome[i] := 'replay';
                    o_state[i] := p.state;
                    o_picked[i] := coalesce(p.picked_up_at, p_now);
                    o_confirmed[i] := NULL;
                END IF;
            END LOOP;
        END IF;
    END IF;
    -- 5. Every attempt at a known shop audited, in the order given.
    INSERT INTO handover_attempts (shop_id, region, actor, kind, result, parcel_id, return_id, at,
                                   confirmed)
    SELECT a.shop, a.region, a.actor, 'handover', a.result, a.parcel, NULL, p_now, a.confirmed
      FROM unnest(p_shops, o_region, p_actors, o_outcome, o_parcel, o_confirmed)
           WITH ORDINALITY AS a(shop, region, actor, result, parcel, confirmed, i)
     WHERE a.result <> 'unknown_shop'
     ORDER BY a.i;
    RETURN QUERY
    SELECT o.i::integer, o.outcome, o.parcel, o.order_ref, o.state, o.picked, o.retry, o.cod,
           o.currency, o.idc, o.rname, o.cname
      FROM unnest(o_outcome, o_parcel, o_order, o_state, o_picked, o_retry, o_cod, o_currency,
                  o_idc, o_rname, o_cname)
           WITH ORDINALITY AS o(outcome, parcel, order_ref, state, picked, retry, cod, currency,
                                idc, rname, cname, i);
END;
$$;

-- Reservations. A reservation another transaction makes with the same order_ref while this
-- batch runs (it committed after the batch read the merchant's orders) is the one case the
-- batch cannot decide alone: the whole batch is rolled back and pudo decides each of its
-- requests alone on the statement path (pickup::reservations::reserve_many), as it does for
-- any failed batch.
CREATE OR REPLACE FUNCTION pudo_reserve_batch(
    p_merchants text[], p_shops bigint[], p_order_refs text[], p_skus text[],
    p_d1 integer[], p_d2 integer[], p_d3 integer[], p_weights integer[], p_now timestamp
) RETURNS TABLE (idx integer, status text, parcel_id bigint, live integer, size_class text,
                 limit_name text, limit_max integer[]) LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(array_length(p_shops, 1), 0);
    v_names text[] := ARRAY['S', 'M', 'L'];
    -- The batch's shops (pudo_reserve_one's `s`) and their locked slot counters.
    s_ids bigint[];
    s_region bigint[];
    s_status text[];
    s_capacity integer[];
    s_pickup boolean[];
    s_slots_s integer[];
    s_slots_m integer[];
    s_max_w integer[];
    s_max_l integer[];
    s_max_wd integer[];
    s_max_h integer[];
    s_closed boolean[];
    s_locked boolean[];
    s_live integer[];
    s_live_s integer[];
    s_live_m integer[];
    s_taken boolean[];
    -- The requests whose order_ref exists already, and those with a staged unit of their SKU.
    e_req bigint[];
    e_id bigint[];
    v_staged bigint[];
    -- order_refs reserved by this batch (length-prefixed merchant, then order_ref) and by
    -- which request.
    c_keys text[] := '{}';
    c_req integer[] := '{}';
    v_key text;
    v_at integer;
    -- The answers, one element per request.
    o_status text[] := array_fill(NULL::text, ARRAY[n]);
    o_parcel bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    o_live integer[] := array_fill(NULL::integer, ARRAY[n]);
    o_class text[] := array_fill(NULL::text, ARRAY[n]);
    o_limit text[] := array_fill(NULL::text, ARRAY[n]);
    -- The limits (one value or three) as array text: PostgreSQL's arrays cannot hold arrays of
    -- different lengths; cast back to integer[] in the answer.
    o_max text[] := array_fill(NULL::text, ARRAY[n]);
    o_of integer[] := array_fill(NULL::integer, ARRAY[n]);
    o_region bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    v_ids bigint[];
    v_keys text[];
    si integer;
    v_l integer;
    v_has_l boolean;
    v_needed integer;
    v_class integer;
    v_live integer;
    v_active boolean;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    -- 1. The shops, their counters locked in shop order, the orders already there, the staged
    --    units and the closures.
    SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}'), array_agg(s.region ORDER BY s.id),
           array_agg(s.status ORDER BY s.id), array_agg(s.capacity ORDER BY s.id),
           array_agg('pickup' = ANY (string_to_array(s.services, ',')) ORDER BY s.id),
           array_agg(s.slots_s ORDER BY s.id), array_agg(s.slots_m ORDER BY s.id),
           array_agg(coalesce(s.max_weight_g, 25000) ORDER BY s.id),
           array_agg(coalesce(s.max_length_mm, 640) ORDER BY s.id),
           array_agg(coalesce(s.max_width_mm, 410) ORDER BY s.id),
           array_agg(coalesce(s.max_height_mm, 380) ORDER BY s.id),
           array_agg(EXISTS (SELECT 1 FROM shop_closures c
                              WHERE c.shop_id = s.id AND c.region = s.region) ORDER BY s.id)
      INTO s_ids, s_region, s_status, s_capacity, s_pickup, s_slots_s, s_slots_m, s_max_w,
           s_max_l, s_max_wd, s_max_h, s_closed
      FROM shops s WHERE s.id = ANY (p_shops);
    SELECT array_agg(l.shop_id IS NOT NULL ORDER BY s.i), array_agg(l.live ORDER BY s.i),
           array_agg(l.live_s ORDER BY s.i), array_agg(l.live_m ORDER BY s.i),
           array_agg(false ORDER BY s.i)
      INTO s_locked, s_live, s_live_s, s_live_m, s_taken
      FROM unnest(s_ids, s_region) WITH ORDINALITY AS s(id, region, i)
      LEFT JOIN (SELECT shop_load.shop_id, shop_load.region, shop_load.live, shop_load.live_s,
                        shop_load.live_m
                   FROM shop_load WHERE shop_load.shop_id = ANY (s_ids)
                  ORDER BY shop_load.shop_id FOR NO KEY UPDATE) l
             ON l.shop_id = s.id AND l.region = s.region;
    SELECT coalesce(array_agg(q.i), '{}'), coalesce(array_agg(e.id), '{}') INTO e_req, e_id
      FROM unnest(p_merchants, p_order_refs) WITH ORDINALITY AS q(merchant, order_ref, i)
      JOIN parcels e ON e.merchant = q.merchant AND e.order_ref = q.order_ref;
    SELECT coalesce(array_agg(q.i), '{}') INTO v_staged
      FROM unnest(p_shops, p_skus) WITH ORDINALITY AS q(shop, sku, i)
      JOIN shops s ON s.id = q.shop
     WHERE q.sku IS NOT NULL AND EXISTS (SELECT 1 FROM staged_stock st
            WHERE st.shop_id = q.shop AND st.region = s.region AND st.sku = q.sku AND st.units > 0);
    -- 2. The outcomes, in the order given (pudo_reserve_one's checks in its order).
    FOR i IN 1 .. n LOOP
        v_at := array_position(e_req, i::bigint);
        IF v_at IS NOT NULL THEN
            o_status[i] := 'repeat';
            o_parcel[i] := e_id[v_at];
            CONTINUE;
        END IF;
        v_key := length(p_merchants[i]) || ':' || p_merchants[i] || p_order_refs[i];
        v_at := array_position(c_keys, v_key);
        IF v_at IS NOT NULL THEN
            -- Reserved by an earlier request of this batch: its parcel, once inserted.
            o_status[i] := 'repeat';
            o_of[i] := c_req[v_at];
            CONTINUE;
        END IF;
        si := array_position(s_ids, p_shops[i]);
        IF si IS NULL THEN
            o_status[i] := 'unknown';
            CONTINUE;
        END IF;
        v_l := s_capacity[si] - s_slots_s[si] - s_slots_m[si];
        v_has_l := v_l > 0 OR (s_slots_s[si] = 0 AND s_slots_m[si] = 0);
        IF p_weights[i] > s_max_w[si] THEN
            o_status[i] := 'does_not_fit';
            o_limit[i] := 'max_weight';
            o_max[i] := ARRAY[s_max_w[si]]::text;
            CONTINUE;
        END IF;
        IF p_d1[i] > s_max_l[si] OR p_d2[i] > s_max_wd[si] OR p_d3[i] > s_max_h[si] THEN
            o_status[i] := 'does_not_fit';
            o_limit[i] := 'max_dimensions';
            o_max[i] := ARRAY[s_max_l[si], s_max_wd[si], s_max_h[si]]::text;
            CONTINUE;
        END IF;
        v_needed := CASE
            WHEN p_d1[i] IS NULL THEN CASE WHEN v_has_l THEN 3 WHEN s_slots_m[si] > 0 THEN 2 ELSE 1 END
            WHEN p_d1[i] <= 640 AND p_d2[i] <= 380 AND p_d3[i] <= 80 THEN 1
            WHEN p_d1[i] <= 640 AND p_d2[i] <= 380 AND p_d3[i] <= 190 THEN 2
            ELSE 3 END;
        IF NOT ((v_needed <= 1 AND s_slots_s[si] > 0) OR (v_needed <= 2 AND s_slots_m[si] > 0)
                OR v_has_l) THEN
            o_status[i] := 'does_not_fit';
            o_limit[i] := 'size_class';
            o_class[i] := v_names[v_needed];
            CONTINUE;
        END IF;
        IF NOT s_pickup[si] OR s_closed[si] OR i = ANY (v_staged) THEN
            o_status[i] := 'slow';
            CONTINUE;
        END IF;
        -- The capacity in all and per class, smallest class first (network::load::take_slot),
        -- on the counters as this batch has left them.
        v_class := NULL;
        v_active := s_status[si] = 'active';
        IF s_locked[si] AND v_active AND s_live[si] < s_capacity[si] THEN
            FOR c IN v_needed .. 3 LOOP
                IF c = 1 AND s_slots_s[si] > 0 AND s_live_s[si] < s_slots_s[si] THEN
                    s_live_s[si] := s_live_s[si] + 1;
                ELSIF c = 2 AND s_slots_m[si] > 0 AND s_live_m[si] < s_slots_m[si] THEN
                    s_live_m[si] := s_live_m[si] + 1;
                ELSIF NOT (c = 3 AND v_has_l
                           AND s_live[si] - s_live_s[si] - s_live_m[si] < v_l) THEN
                    CONTINUE;
                END IF;
                v_class := c;
                EXIT;
            END LOOP;
        END IF;
        IF v_class IS NULL THEN
            o_status[i] := CASE s_status[si] WHEN 'paused' THEN 'paused' WHEN 'active' THEN 'full'
                                             ELSE 'closed' END;
            o_class[i] := v_names[v_needed];
            CONTINUE;
        END IF;
        s_live[si] := s_live[si] + 1;
        s_taken[si] := true;
        o_status[i] := 'created';
        o_live[i] := s_live[si];
        o_region[i] := s_region[si];
        -- NULL for an L slot of a parcel without measurements (as pudo_reserve_one).
        IF v_class < 3 OR p_d1[i] IS NOT NULL OR p_weights[i] IS NOT NULL THEN
            o_class[i] := v_names[v_class];
        END IF;
        c_keys := c_keys || v_key;
        c_req := c_req || i;
    END LOOP;
    -- 3. The parcels, their events and the shops' counters.
    IF array_length(c_req, 1) > 0 THEN
        WITH ins AS (
            INSERT INTO parcels (shop_id, region, merchant, order_ref, sku, state, created_at,
                                 updated_at, size_class, length_mm, width_mm, height_mm, weight_g)
            SELECT p_shops[r.i], o_region[r.i], p_merchants[r.i], p_order_refs[r.i], p_skus[r.i],
                   'reserved', p_now, p_now, o_class[r.i], p_d1[r.i], p_d2[r.i], p_d3[r.i],
                   p_weights[r.i]
              FROM unnest(c_req) AS r(i) ORDER BY r.i
            ON CONFLICT DO NOTHING
            RETURNING parcels.id, parcels.region, parcels.merchant, parcels.order_ref,
                      pudo_parcel_json(parcels) AS json
        ), events AS (
            INSERT INTO outbox (event_id, region, merchant, kind, payload, created_at, attempts,
                                next_attempt_at)
            SELECT gen_random_uuid()::text, ins.region, ins.merchant, 'reservation.created',
                   '{"reservation":' || ins.json || '}', p_now, 0, p_now
              FROM ins ORDER BY ins.id
        )
        SELECT coalesce(array_agg(ins.id), '{}'),
               coalesce(array_agg(length(ins.merchant) || ':' || ins.merchant || ins.order_ref), '{}')
          INTO v_ids, v_keys FROM ins;
        IF array_length(v_ids, 1) IS DISTINCT FROM array_length(c_req, 1) THEN
            RAISE EXCEPTION 'pudo_reserve_batch: an order_ref of this batch was reserved meanwhile'
                USING ERRCODE = 'unique_violation';
        END IF;
        UPDATE shop_load SET live = u.live, live_s = u.live_s, live_m = u.live_m,
                             changed_at = p_now
          FROM unnest(s_ids, s_region, s_live, s_live_s, s_live_m, s_taken)
               AS u(shop, region, live, live_s, live_m, taken)
         WHERE u.taken AND shop_load.shop_id = u.shop AND shop_load.region = u.region;
        FOR k IN 1 .. array_length(c_req, 1) LOOP
            o_parcel[c_req[k]] := v_ids[array_position(v_keys, c_keys[k])];
        END LOOP;
        FOR i IN 1 .. n LOOP
            IF o_of[i] IS NOT NULL THEN
                o_parcel[i] := o_parcel[o_of[i]];
            END IF;
        END LOOP;
    END IF;
    RETURN QUERY
    SELECT o.i::integer, o.status, o.parcel, o.live, o.class, o.lim, o.mx::integer[]
      FROM unnest(o_status, o_parcel, o_live, o_class, o_limit, o_max)
           WITH ORDINALITY AS o(status, parcel, live, class, lim, mx, i);
END;
$$;

-- An arrival finds its parcel by id (otherwise as in 2026-12-08-000130_sealed_names).
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
        -- A no-op write first: it takes the parcel's row lock. By its id alone (`shop_id + 0`
        -- cannot use an index): a generic plan made while `parcels` was small chose
        -- `parcels_shop_code` and read every parcel of the shop to find this one.
        UPDATE parcels SET updated_at = parcels.updated_at
            WHERE id = p_id AND shop_id + 0 = p_shop AND region = v_region RETURNING * INTO p;
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

-- The batch functions' statements join the batch's arrays to the tables by key. Their plans are
-- kept for the life of a connection (force_generic_plan, 2026-12-07-000075), and a plan made
-- while a table was small stays until the next ANALYZE: measured in a benchmark that filled an
-- empty database, the lookup of existing order_refs kept a hash join over a sequential scan of
-- `parcels` planned at 140 rows, and reservations ran at 1,000/s instead of 8,000/s. Their
-- plans are index lookups whatever the tables' statistics say (a sequential scan, a hash or a
-- merge join is chosen only where nothing else can answer).
-- CREATE OR REPLACE forgets the functions' options: this function sets them all, and every
-- migration that redefines a write function calls it at its end.
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
    FOR f IN SELECT oid::regprocedure FROM pg_proc
              WHERE proname IN ('pudo_reserve_batch', 'pudo_handover_batch')
                AND pronamespace = current_schema()::regnamespace LOOP
        EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
        EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off', f);
        EXECUTE format('ALTER FUNCTION %s SET enable_mergejoin = off', f);
    END LOOP;
END;
$$;
SELECT pudo_plan_write_functions();
