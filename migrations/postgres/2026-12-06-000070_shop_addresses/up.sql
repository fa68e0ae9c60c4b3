-- A point's postal address, phone and localised names and addresses (issue 20): nullable text,
-- so existing shops simply have none until a shop file gives them. `address_region` is the
-- administrative area of the address (province, state), not the `region` key. On Citus,
-- `shops` is a reference table: the new columns reach every node with this statement and no
-- distribution key changes.
ALTER TABLE shops ADD COLUMN street TEXT;
ALTER TABLE shops ADD COLUMN postcode TEXT;
ALTER TABLE shops ADD COLUMN city TEXT;
ALTER TABLE shops ADD COLUMN address_region TEXT;
ALTER TABLE shops ADD COLUMN country TEXT;
-- Apart from the ADD COLUMN, and in a DO block (a query string of its own): Citus refuses an
-- ADD COLUMN with a constraint on a distributed or reference table (`shops` is one), and an
-- ADD CONSTRAINT sent with other commands. The name is the one PostgreSQL gives the inline form.
DO $$ BEGIN
    ALTER TABLE shops ADD CONSTRAINT shops_country_check CHECK (country IS NULL OR length(country) = 2);
END $$;
ALTER TABLE shops ADD COLUMN phone TEXT;
ALTER TABLE shops ADD COLUMN name_zh TEXT;
ALTER TABLE shops ADD COLUMN address_zh TEXT;
ALTER TABLE shops ADD COLUMN name_es TEXT;
ALTER TABLE shops ADD COLUMN address_es TEXT;
