-- The sessions of store.SessionStore, one row per grant, so that a resource
-- owner can list their logins and end them. Migrate runs this file with
-- search_path set to the store's schema, so names here are unqualified.
--
-- grant_id sorts in byte order (COLLATE "C"), as Go compares strings:
-- ListSessions breaks ties of created_at by grant_id, and the database's
-- default collation, whatever it is, must not change that order. Equality,
-- all the primary key is otherwise used for, is the same in every
-- deterministic collation.
CREATE TABLE sessions (
	grant_id     text COLLATE "C" PRIMARY KEY,
	subject      text        NOT NULL,
	client_id    text        NOT NULL,
	scope        text[]      NOT NULL,
	created_at   timestamptz NOT NULL,
	refreshed_at timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL
);

-- ListSessions looks a subject's rows up by this index, which holds them in
-- the order it returns them, so the planner may read them in order rather
-- than sort them; expired rows among them are filtered out as they are read.
CREATE INDEX sessions_subject ON sessions (subject, created_at, grant_id);

-- For DeleteExpired, as on the other tables with an expiry.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
