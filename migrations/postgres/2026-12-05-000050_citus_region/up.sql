-- Region on the outbox, and the distribution of the schema on a Citus coordinator
-- (docs/scaling.md, "Stage 2"; docs/operations.md, "pudo on Citus").
--
-- 1. Every backend: an outbox event carries the region of the shop it is about, so that on
--    Citus it can be written in the same single-shard transaction as the change it reports.
--    0 = no shop (none today). Existing events take the region of the shop named in their
--    payload ("reservation" or "return" -> "pickup_point_id"); nothing else changes.
ALTER TABLE outbox ADD COLUMN region BIGINT NOT NULL DEFAULT 0;
UPDATE outbox o SET region = s.region
  FROM shops s
 WHERE s.id = COALESCE(o.payload::json -> 'reservation' ->> 'pickup_point_id',
                       o.payload::json -> 'return' ->> 'pickup_point_id')::BIGINT;

-- 2. Citus only (the extension is installed in this database): small, global tables become
--    reference tables (a copy on every node); the high-volume tables become hash-distributed
--    by region, all co-located with shop_load, so that a shop's rows of every table live on
--    one shard. Citus enforces a primary key or unique constraint of a distributed table only
--    when it includes the distribution column, and a foreign key between two distributed
--    tables only when both sides include it: those keys are extended with region. The region
--    goes last, so that the leading columns, and every lookup that does not name the region
--    yet, keep using the same index. Nothing is lost: a shop lies in one region, so a key that
--    names the shop (or a parcel, a return, an event key of one shop) is unique as before. The
--    one real change: parcels and returns (merchant, order_ref) are unique per region only.
--
--    A function, so that an operator who restores a plain PostgreSQL dump into a coordinator
--    (migrations already recorded as applied) can distribute it with one statement:
--    SELECT pudo_citus_distribute(); it does nothing for a table Citus already manages.
CREATE FUNCTION pudo_citus_distribute() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t TEXT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'pudo_citus_distribute: the citus extension is not installed in database %', current_database();
    END IF;

    -- Reference tables, referenced ones first (a reference table may only reference another).
    FOREACH t IN ARRAY ARRAY['shops', 'network_revision', 'service_keys', 'merchants',
                             'shop_api_keys', 'events', 'plans', 'fee_schedule'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_dist_partition
                        WHERE logicalrelid = t::regclass AND partmethod = 'n' AND repmodel = 't') THEN
            PERFORM create_reference_table(t::regclass);
        END IF;
    END LOOP;

    -- (One subcommand per ALTER TABLE: Citus refuses an ADD CONSTRAINT with others.)
    -- Distributed tables: keys extended with region, then distributed, co-located. (Making
    -- shops a reference table has already turned every table with a foreign key to it into a
    -- "Citus local table", partmethod 'n': only hash distribution, 'h', counts as done.)
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'shop_load'::regclass AND partmethod = 'h') THEN
        ALTER TABLE shop_load DROP CONSTRAINT shop_load_pkey;
        ALTER TABLE shop_load ADD PRIMARY KEY (shop_id, region);
        PERFORM create_distributed_table('shop_load', 'region', colocate_with => 'none');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'parcels'::regclass AND partmethod = 'h') THEN
        -- The only foreign key between two distributed tables; restored below with region.
        ALTER TABLE handins DROP CONSTRAINT IF EXISTS handins_parcel_id_fkey;
        ALTER TABLE parcels DROP CONSTRAINT parcels_pkey;
        ALTER TABLE parcels ADD PRIMARY KEY (id, region);
        ALTER TABLE parcels DROP CONSTRAINT parcels_merchant_order_ref_key;
        ALTER TABLE parcels ADD UNIQUE (merchant, order_ref, region);
        DROP INDEX parcels_live_code;
        CREATE UNIQUE INDEX parcels_live_code ON parcels (shop_id, code_hash, region) WHERE state = 'at_point';
        PERFORM create_distributed_table('parcels', 'region', colocate_with => 'shop_load');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'handins'::regclass AND partmethod = 'h') THEN
        ALTER TABLE handins DROP CONSTRAINT IF EXISTS handins_parcel_id_fkey;
        ALTER TABLE handins DROP CONSTRAINT handins_pkey;
        ALTER TABLE handins ADD PRIMARY KEY (id, region);
        ALTER TABLE handins DROP CONSTRAINT handins_parcel_id_key;
        ALTER TABLE handins ADD UNIQUE (parcel_id, region);
        PERFORM create_distributed_table('handins', 'region', colocate_with => 'shop_load');
        ALTER TABLE handins ADD CONSTRAINT handins_parcel_id_fkey
            FOREIGN KEY (parcel_id, region) REFERENCES parcels (id, region);
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'handover_attempts'::regclass AND partmethod = 'h') THEN
        ALTER TABLE handover_attempts DROP CONSTRAINT handover_attempts_pkey;
        ALTER TABLE handover_attempts ADD PRIMARY KEY (id, region);
        PERFORM create_distributed_table('handover_attempts', 'region', colocate_with => 'shop_load');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'outbox'::regclass AND partmethod = 'h') THEN
        ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
        ALTER TABLE outbox ADD PRIMARY KEY (id, region);
        ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_key;
        ALTER TABLE outbox ADD UNIQUE (event_id, region);
        PERFORM create_distributed_table('outbox', 'region', colocate_with => 'shop_load');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'staged_stock'::regclass AND partmethod = 'h') THEN
        ALTER TABLE staged_stock DROP CONSTRAINT staged_stock_pkey;
        ALTER TABLE staged_stock ADD PRIMARY KEY (shop_id, sku, region);
        PERFORM create_distributed_table('staged_stock', 'region', colocate_with => 'shop_load');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'manifest_lines'::regclass AND partmethod = 'h') THEN
        ALTER TABLE manifest_lines DROP CONSTRAINT manifest_lines_pkey;
        ALTER TABLE manifest_lines ADD PRIMARY KEY (id, region);
        ALTER TABLE manifest_lines DROP CONSTRAINT manifest_lines_plan_id_shop_id_sku_key;
        ALTER TABLE manifest_lines ADD UNIQUE (plan_id, shop_id, sku, region);
        PERFORM create_distributed_table('manifest_lines', 'region', colocate_with => 'shop_load');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'forecasts'::regclass AND partmethod = 'h') THEN
        -- A zone lies in one region (its resolution-3 parent): nothing is lost.
        ALTER TABLE forecasts DROP CONSTRAINT forecasts_pkey;
        ALTER TABLE forecasts ADD PRIMARY KEY (event_id, zone, sku, region);
        PERFORM create_distributed_table('forecasts', 'region', colocate_with => 'shop_load');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'shop_closures'::regclass AND partmethod = 'h') THEN
        ALTER TABLE shop_closures DROP CONSTRAINT shop_closures_pkey;
        ALTER TABLE shop_closures ADD PRIMARY KEY (id, region);
        PERFORM create_distributed_table('shop_closures', 'region', colocate_with => 'shop_load');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'returns'::regclass AND partmethod = 'h') THEN
        ALTER TABLE returns DROP CONSTRAINT returns_pkey;
        ALTER TABLE returns ADD PRIMARY KEY (id, region);
        ALTER TABLE returns DROP CONSTRAINT returns_merchant_order_ref_key;
        ALTER TABLE returns ADD UNIQUE (merchant, order_ref, region);
        DROP INDEX returns_live_code;
        CREATE UNIQUE INDEX returns_live_code ON returns (shop_id, code_hash, region) WHERE state = 'registered';
        PERFORM create_distributed_table('returns', 'region', colocate_with => 'shop_load');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'ledger'::regclass AND partmethod = 'h') THEN
        -- An event key names one parcel, return or manifest line, hence one shop and region.
        ALTER TABLE ledger DROP CONSTRAINT ledger_pkey;
        ALTER TABLE ledger ADD PRIMARY KEY (id, region);
        ALTER TABLE ledger DROP CONSTRAINT ledger_event_key_key;
        ALTER TABLE ledger ADD UNIQUE (event_key, region);
        -- The append-only triggers go with it: Citus creates the row trigger on every shard
        -- (and the function on every node) only when told that triggers are wanted; this one
        -- reads and writes nothing, so none of the visibility or deadlock risks the setting
        -- warns about apply. The TRUNCATE trigger stays on the coordinator, where every
        -- TRUNCATE of a distributed table starts.
        PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
        PERFORM create_distributed_table('ledger', 'region', colocate_with => 'shop_load');
    END IF;
END;
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM pudo_citus_distribute();
    END IF;
END;
$$;
