ALTER TABLE shops DROP COLUMN photo_url;
ALTER TABLE shops DROP COLUMN capabilities;
