package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// tables holds the Store's table names, each with the Store's prefix.
type tables struct {
	refresh, revocations, revocationLog, keySet, attempts, sessions string
}

func newTables(prefix string) tables {
	return tables{
		refresh:       prefix + "refresh_tokens",
		revocations:   prefix + "revocations",
		revocationLog: prefix + "revocation_log",
		keySet:        prefix + "key_set",
		attempts:      prefix + "attempts",
		sessions:      prefix + "sessions",
	}
}

// schema is the Store's tables. Times are integer microseconds since the
// Unix epoch; a NULL time is the zero time.
func (t tables) schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t.refresh + ` (
			hash BLOB PRIMARY KEY,
			grant_id TEXT NOT NULL,
			client_id TEXT NOT NULL,
			subject TEXT NOT NULL,
			scope TEXT NOT NULL,
			issued_at INTEGER,
			expires_at INTEGER NOT NULL,
			grant_expires_at INTEGER,
			consumed_at INTEGER,
			successor_key BLOB
		)`,
		`CREATE INDEX IF NOT EXISTS ` + t.refresh + `_expires_at ON ` + t.refresh + ` (expires_at)`,
		// kind is 'g' for a grant, 'j' for an access token's jti.
		`CREATE TABLE IF NOT EXISTS ` + t.revocations + ` (
			kind TEXT NOT NULL,
			id TEXT NOT NULL,
			expires_at INTEGER NOT NULL,
			PRIMARY KEY (kind, id)
		)`,
		`CREATE INDEX IF NOT EXISTS ` + t.revocations + `_expires_at ON ` + t.revocations + ` (expires_at)`,
		// Every revocation is appended here too, by the trigger below, for
		// WatchRevocations to poll. AUTOINCREMENT: a seq is never reused,
		// even after DeleteExpired removed the highest one.
		`CREATE TABLE IF NOT EXISTS ` + t.revocationLog + ` (
			seq INTEGER PRIMARY KEY AUTOINCREMENT,
			kind TEXT NOT NULL,
			id TEXT NOT NULL,
			expires_at INTEGER NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS ` + t.revocationLog + `_expires_at ON ` + t.revocationLog + ` (expires_at)`,
		`CREATE TRIGGER IF NOT EXISTS ` + t.revocations + `_log_insert AFTER INSERT ON ` + t.revocations + ` BEGIN
			INSERT INTO ` + t.revocationLog + ` (kind, id, expires_at) VALUES (NEW.kind, NEW.id, NEW.expires_at);
		END`,
		`CREATE TRIGGER IF NOT EXISTS ` + t.revocations + `_log_update AFTER UPDATE ON ` + t.revocations + ` BEGIN
			INSERT INTO ` + t.revocationLog + ` (kind, id, expires_at) VALUES (NEW.kind, NEW.id, NEW.expires_at);
		END`,
		// One row at most: the shared signing key set, as JSON.
		`CREATE TABLE IF NOT EXISTS ` + t.keySet + ` (
			one INTEGER PRIMARY KEY CHECK (one = 1),
			version INTEGER NOT NULL,
			keys BLOB NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS ` + t.attempts + ` (
			key TEXT PRIMARY KEY,
			failures INTEGER NOT NULL,
			last INTEGER NOT NULL,
			expires_at INTEGER NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS ` + t.attempts + `_expires_at ON ` + t.attempts + ` (expires_at)`,
		`CREATE TABLE IF NOT EXISTS ` + t.sessions + ` (
			grant_id TEXT PRIMARY KEY,
			subject TEXT NOT NULL,
			client_id TEXT NOT NULL,
			scope TEXT NOT NULL,
			created_at INTEGER,
			refreshed_at INTEGER,
			expires_at INTEGER NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS ` + t.sessions + `_subject ON ` + t.sessions + ` (subject, created_at, grant_id)`,
		`CREATE INDEX IF NOT EXISTS ` + t.sessions + `_expires_at ON ` + t.sessions + ` (expires_at)`,
	}
}

// Migrate puts the database file in WAL mode and creates the Store's tables
// where they do not exist yet. It is idempotent: call it at every start-up,
// before the Store serves. Several processes may call it at once.
func (s *Store) Migrate(ctx context.Context) error {
	// journal_mode cannot change inside a transaction, and persists in the
	// file, so it is set once here rather than on every connection.
	err := retry(ctx, func() error {
		var mode string
		return s.db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
	})
	if err != nil {
		return fail(ctx, "setting WAL mode", err)
	}
	err = s.immediate(ctx, func(c *sql.Conn) error {
		for _, stmt := range s.t.schema() {
			if _, err := c.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%w in %.60q", err, stmt)
			}
		}
		return nil
	})
	if err != nil {
		return fail(ctx, "creating tables", err)
	}
	return nil
}
