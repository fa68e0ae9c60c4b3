-- Point capabilities (issue 19, section 2); see the PostgreSQL migration of the same name.
ALTER TABLE shops ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN photo_url TEXT
    CHECK (photo_url IS NULL OR (length(photo_url) <= 500 AND lower(substr(photo_url, 1, 8)) = 'https://'));
