-- Back to plain PostgreSQL tables on a Citus coordinator (the data comes back to the
-- coordinator), with the keys of before; then the outbox loses its region.
DO $$
DECLARE
    t TEXT;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
        -- Dropping the foreign key ran on every shard in parallel; undistribute_table must
        -- then use the same connections.
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
        ALTER TABLE handins DROP CONSTRAINT IF EXISTS handins_parcel_id_fkey;
        FOREACH t IN ARRAY ARRAY['shop_load', 'parcels', 'handins', 'handover_attempts', 'outbox',
                                 'staged_stock', 'manifest_lines', 'forecasts', 'shop_closures',
                                 'returns', 'ledger', 'shop_api_keys', 'plans', 'events',
                                 'fee_schedule', 'merchants', 'service_keys', 'network_revision',
                                 'shops'] LOOP
            -- One call returns a whole graph of tables joined by foreign keys to plain tables.
            IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = t::regclass) THEN
                PERFORM undistribute_table(t::regclass, cascade_via_foreign_keys => true);
            END IF;
        END LOOP;
        ALTER TABLE shop_load DROP CONSTRAINT shop_load_pkey;
        ALTER TABLE shop_load ADD PRIMARY KEY (shop_id);
        ALTER TABLE parcels DROP CONSTRAINT parcels_pkey;
        ALTER TABLE parcels ADD PRIMARY KEY (id);
        ALTER TABLE parcels DROP CONSTRAINT parcels_merchant_order_ref_region_key;
        ALTER TABLE parcels ADD UNIQUE (merchant, order_ref);
        DROP INDEX parcels_live_code;
        CREATE UNIQUE INDEX parcels_live_code ON parcels (shop_id, code_hash) WHERE state = 'at_point';
        ALTER TABLE handins DROP CONSTRAINT handins_pkey;
        ALTER TABLE handins ADD PRIMARY KEY (id);
        ALTER TABLE handins DROP CONSTRAINT handins_parcel_id_region_key;
        ALTER TABLE handins ADD UNIQUE (parcel_id);
        ALTER TABLE handins ADD CONSTRAINT handins_parcel_id_fkey FOREIGN KEY (parcel_id) REFERENCES parcels (id);
        ALTER TABLE handover_attempts DROP CONSTRAINT handover_attempts_pkey;
        ALTER TABLE handover_attempts ADD PRIMARY KEY (id);
        ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
        ALTER TABLE outbox ADD PRIMARY KEY (id);
        ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_region_key;
        ALTER TABLE outbox ADD UNIQUE (event_id);
        ALTER TABLE staged_stock DROP CONSTRAINT staged_stock_pkey;
        ALTER TABLE staged_stock ADD PRIMARY KEY (shop_id, sku);
        ALTER TABLE manifest_lines DROP CONSTRAINT manifest_lines_pkey;
        ALTER TABLE manifest_lines ADD PRIMARY KEY (id);
        ALTER TABLE manifest_lines DROP CONSTRAINT manifest_lines_plan_id_shop_id_sku_region_key;
        ALTER TABLE manifest_lines ADD UNIQUE (plan_id, shop_id, sku);
        ALTER TABLE forecasts DROP CONSTRAINT forecasts_pkey;
        ALTER TABLE forecasts ADD PRIMARY KEY (event_id, zone, sku);
        ALTER TABLE shop_closures DROP CONSTRAINT shop_closures_pkey;
        ALTER TABLE shop_closures ADD PRIMARY KEY (id);
        ALTER TABLE returns DROP CONSTRAINT returns_pkey;
        ALTER TABLE returns ADD PRIMARY KEY (id);
        ALTER TABLE returns DROP CONSTRAINT returns_merchant_order_ref_region_key;
        ALTER TABLE returns ADD UNIQUE (merchant, order_ref);
        DROP INDEX returns_live_code;
        CREATE UNIQUE INDEX returns_live_code ON returns (shop_id, code_hash) WHERE state = 'registered';
        ALTER TABLE ledger DROP CONSTRAINT ledger_pkey;
        ALTER TABLE ledger ADD PRIMARY KEY (id);
        ALTER TABLE ledger DROP CONSTRAINT ledger_event_key_region_key;
        ALTER TABLE ledger ADD UNIQUE (event_key);
    END IF;
END;
$$;
DROP FUNCTION pudo_citus_distribute();
ALTER TABLE outbox DROP COLUMN region;
