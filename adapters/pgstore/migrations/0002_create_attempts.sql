-- The failed credential checks that AttemptStore counts, one row per key
-- (an opaque digest chosen by package oauth2). Migrate runs this file with
-- search_path set to the store's schema, so names here are unqualified.
CREATE TABLE attempts (
	key        text        PRIMARY KEY,
	failures   integer     NOT NULL CHECK (failures > 0),
	last       timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

-- For DeleteExpired, as on the other tables with an expiry.
CREATE INDEX attempts_expires_at ON attempts (expires_at);
