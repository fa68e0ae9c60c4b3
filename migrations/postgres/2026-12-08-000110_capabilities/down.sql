ALTER TABLE shops DROP CONSTRAINT shops_photo_url_check;
ALTER TABLE shops DROP COLUMN photo_url;
ALTER TABLE shops DROP COLUMN capabilities;
