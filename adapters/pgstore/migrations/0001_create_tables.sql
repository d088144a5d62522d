-- The first schema of pgstore. Migrate runs this file with search_path set
-- to the store's schema, so names here are unqualified.

-- One row per refresh token, consumed or not: a consumed token is kept until
-- it expires so that presenting it again is detected as reuse.
CREATE TABLE refresh_tokens (
	hash             bytea       PRIMARY KEY,
	grant_id         text        NOT NULL,
	client_id        text        NOT NULL,
	subject          text        NOT NULL,
	scope            text[]      NOT NULL,
	issued_at        timestamptz NOT NULL,
	expires_at       timestamptz NOT NULL,
	grant_expires_at timestamptz NOT NULL,
	-- NULL while the token is live.
	consumed_at      timestamptz
);

CREATE TABLE revoked_grants (
	id         text        PRIMARY KEY,
	expires_at timestamptz NOT NULL
);

CREATE TABLE revoked_access_tokens (
	id         text        PRIMARY KEY,
	expires_at timestamptz NOT NULL
);

-- DeleteExpired looks rows up by expiry; the primary keys serve every other
-- lookup.
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX revoked_grants_expires_at ON revoked_grants (expires_at);
CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

-- The signing keys shared by instances: at most one row, replaced by
-- compare-and-swap on version.
CREATE TABLE key_set (
	id      boolean PRIMARY KEY DEFAULT true CHECK (id),
	version bigint  NOT NULL CHECK (version > 0),
	keys    jsonb   NOT NULL
);
