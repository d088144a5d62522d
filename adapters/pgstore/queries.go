package pgstore

import (
	"strconv"
	"strings"
)

// queries are the statements of one Store, with its schema written in. Names
// are qualified rather than found through search_path because the pool is
// the caller's: its sessions' search_path is none of the Store's business.
type queries struct {
	createRefresh, getRefresh, rotate, rotateOutcome, deleteExpiredRefresh string
	revokeGrant, revokeAccessToken, isRevoked, listRevocations             string
	getKeySet, insertKeySet, updateKeySet                                  string
	addFailure, getAttempts, resetAttempts                                 string
	createSession, touchSession, listSessions, deleteSession               string
	deleteExpired                                                          []string
}

// newQueries returns the statements for schema, an already quoted identifier.
func newQueries(schema string) queries {
	// Every statement names its tables as {schema}.table; the schema is
	// quoted by the caller and is the only text substituted.
	sql := func(s string) string { return strings.ReplaceAll(s, "{schema}", schema) }
	return queries{
		// An expired token is as good as absent, so creating over one
		// replaces it; over a live one the WHERE fails and no row is
		// affected, which is ErrAlreadyExists.
		createRefresh: sql(`
INSERT INTO {schema}.refresh_tokens AS t
	(hash, grant_id, client_id, subject, scope, issued_at, expires_at, grant_expires_at, consumed_at, successor_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)
ON CONFLICT (hash) DO UPDATE SET
	grant_id = EXCLUDED.grant_id,
	client_id = EXCLUDED.client_id,
	subject = EXCLUDED.subject,
	scope = EXCLUDED.scope,
	issued_at = EXCLUDED.issued_at,
	expires_at = EXCLUDED.expires_at,
	grant_expires_at = EXCLUDED.grant_expires_at,
	consumed_at = NULL,
	successor_key = EXCLUDED.successor_key
WHERE t.expires_at <= $10`),

		getRefresh: sql(`
SELECT grant_id, client_id, subject, scope, issued_at, expires_at, grant_expires_at, consumed_at, successor_key
FROM {schema}.refresh_tokens
WHERE hash = $1 AND expires_at > $2`),

		// One statement, so one implicit transaction: the UPDATE consumes
		// the old token only if it is live and unconsumed, and the INSERT
		// stores the successor only if the UPDATE did. A concurrent
		// rotation of the same token blocks on the row lock the UPDATE
		// takes and, once the winner commits, re-checks the WHERE against
		// the consumed row and matches nothing. A unique violation on the
		// successor's hash fails the whole statement, so the old token is
		// not consumed either.
		rotate: sql(`
WITH consumed AS (
	UPDATE {schema}.refresh_tokens
	SET consumed_at = $2
	WHERE hash = $1 AND grant_id = $5 AND consumed_at IS NULL AND expires_at > $3
	RETURNING hash
)
INSERT INTO {schema}.refresh_tokens
	(hash, grant_id, client_id, subject, scope, issued_at, expires_at, grant_expires_at, consumed_at, successor_key)
SELECT $4::bytea, $5::text, $6::text, $7::text, $8::text[], $9::timestamptz, $10::timestamptz, $11::timestamptz, NULL, $12::bytea
WHERE EXISTS (SELECT 1 FROM consumed)`),

		// Asked in a statement of its own after a rotation that changed
		// nothing, so that it sees what the rotation's UPDATE saw once it
		// stopped waiting: the statement's own snapshot predates the
		// concurrent rotation that beat it.
		rotateOutcome: sql(`
SELECT consumed_at IS NOT NULL
FROM {schema}.refresh_tokens
WHERE hash = $1 AND expires_at > $2 AND grant_id = $3`),

		// Removes a successor's hash that is taken only by an expired
		// token, which is as good as absent.
		deleteExpiredRefresh: sql(`
DELETE FROM {schema}.refresh_tokens WHERE hash = $1 AND expires_at <= $2`),

		revokeGrant:       sql(revokeSQL("revoked_grants", kindGrant)),
		revokeAccessToken: sql(revokeSQL("revoked_access_tokens", kindJTI)),

		// An empty id is never looked up, even if it was revoked.
		isRevoked: sql(`
SELECT
	EXISTS (SELECT 1 FROM {schema}.revoked_access_tokens WHERE $1 <> '' AND id = $1 AND expires_at > $3)
	OR EXISTS (SELECT 1 FROM {schema}.revoked_grants WHERE $2 <> '' AND id = $2 AND expires_at > $3)`),

		// One statement, so one snapshot of both tables. An empty id is
		// never looked up, so it is not listed either.
		listRevocations: sql(`
SELECT true, id, expires_at FROM {schema}.revoked_grants WHERE expires_at > $1 AND id <> ''
UNION ALL
SELECT false, id, expires_at FROM {schema}.revoked_access_tokens WHERE expires_at > $1 AND id <> ''`),

		getKeySet: sql(`SELECT version, keys FROM {schema}.key_set`),
		// The table holds at most one row (its key is the constant true),
		// so of concurrent first swaps one inserts and the others conflict.
		insertKeySet: sql(`
INSERT INTO {schema}.key_set (version, keys) VALUES (1, $1)
ON CONFLICT (id) DO NOTHING`),
		// A concurrent swap from the same version blocks on the row lock
		// and then re-checks the WHERE against the new version.
		updateKeySet: sql(`
UPDATE {schema}.key_set SET version = version + 1, keys = $2
WHERE version = $1
RETURNING version`),

		// One statement, so concurrent failures of one key queue on its
		// row lock: under READ COMMITTED each waiter re-reads the row the
		// previous one committed, so each is counted once and returns its
		// own count. An expired record is as good as absent, so it starts
		// again at one failure, with the new expiry and the time of this
		// one; a live one keeps the later of its expiry and the new one.
		// Every SET reads the row as it was before this statement.
		addFailure: sql(`
INSERT INTO {schema}.attempts AS a (key, failures, last, expires_at)
VALUES ($1, 1, $2, $3)
ON CONFLICT (key) DO UPDATE SET
	failures = CASE WHEN a.expires_at <= $2 THEN 1 ELSE a.failures + 1 END,
	last = CASE WHEN a.expires_at <= $2 THEN $2 ELSE GREATEST(a.last, $2) END,
	expires_at = CASE WHEN a.expires_at <= $2 THEN $3 ELSE GREATEST(a.expires_at, $3) END
RETURNING failures, last`),

		// Every key in one statement, whatever their number; the caller
		// maps the rows back to the keys' order.
		getAttempts: sql(`
SELECT key, failures, last FROM {schema}.attempts
WHERE key = ANY($1) AND expires_at > $2`),

		resetAttempts: sql(`DELETE FROM {schema}.attempts WHERE key = $1`),

		// As createRefresh: an expired session is as good as absent, so
		// creating over one replaces it; over a live one the WHERE fails
		// and no row is affected, which is ErrAlreadyExists. Concurrent
		// creates of one grant queue on its row lock, and each re-checks
		// the WHERE against the row the previous one left.
		createSession: sql(`
INSERT INTO {schema}.sessions AS s
	(grant_id, subject, client_id, scope, created_at, refreshed_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (grant_id) DO UPDATE SET
	subject = EXCLUDED.subject,
	client_id = EXCLUDED.client_id,
	scope = EXCLUDED.scope,
	created_at = EXCLUDED.created_at,
	refreshed_at = EXCLUDED.refreshed_at,
	expires_at = EXCLUDED.expires_at
WHERE s.expires_at <= $8`),

		// GREATEST keeps the later of what is stored and what is given, so
		// touches landing in any order leave the latest. Only a live row of
		// the subject is touched: an expired one is absent, whether or not
		// DeleteExpired removed it yet, and must stay so.
		touchSession: sql(`
UPDATE {schema}.sessions
SET refreshed_at = GREATEST(refreshed_at, $3), expires_at = GREATEST(expires_at, $4)
WHERE grant_id = $1 AND subject = $2 AND expires_at > $5`),

		// Looked up by the sessions_subject index, which holds a
		// subject's rows in this order.
		listSessions: sql(`
SELECT grant_id, client_id, scope, created_at, refreshed_at, expires_at
FROM {schema}.sessions
WHERE subject = $1 AND expires_at > $2
ORDER BY created_at, grant_id`),

		// The subject is matched as well as the grant, so that naming
		// another subject's grant deletes nothing.
		deleteSession: sql(`DELETE FROM {schema}.sessions WHERE grant_id = $1 AND subject = $2`),

		deleteExpired: []string{
			sql(deleteExpiredSQL("refresh_tokens", "hash")),
			sql(deleteExpiredSQL("revoked_grants", "id")),
			sql(deleteExpiredSQL("revoked_access_tokens", "id")),
			sql(deleteExpiredSQL("attempts", "key")),
			sql(deleteExpiredSQL("sessions", "grant_id")),
		},
	}
}

// revokeSQL records a revocation in table, keeping the later expiry when the
// id is revoked already, whatever order concurrent revocations land in, and
// announces it on channel $3 to the watchers (see watch.go) as
// kind:expiry-in-µs:id, with the expiry as stored. The NOTIFY is part of the
// statement's transaction: PostgreSQL delivers it when the revocation
// commits and discards it if it does not, so no revocation is stored
// unannounced and none is announced that was not stored. An attempt that the
// retry policy runs again was aborted, so its NOTIFY went with it; the same
// revocation can still be announced twice (revoked again by the
// application, or retried by it after an ambiguous failure), which is
// harmless: a watcher keeps the later expiry, as the table does. An id too
// long for a payload (PostgreSQL takes under 8000 bytes) is announced without
// it, as kindResync, so that watchers list again rather than the revocation
// failing.
func revokeSQL(table string, kind byte) string {
	k := string(kind)
	return `
WITH up AS (
	INSERT INTO {schema}.` + table + ` AS r (id, expires_at) VALUES ($1, $2)
	ON CONFLICT (id) DO UPDATE SET expires_at = GREATEST(r.expires_at, EXCLUDED.expires_at)
	RETURNING id, expires_at
)
SELECT pg_notify($3, CASE
	WHEN octet_length(id) <= ` + strconv.Itoa(maxPayloadID) + `
	THEN '` + k + `:' || (extract(epoch FROM expires_at) * 1000000)::bigint || ':' || id
	ELSE '` + string(kindResync) + `'
END)
FROM up`
}

// deleteExpiredSQL removes at most $2 rows of table that expired by $1.
// SKIP LOCKED lets instances clean up at once without queueing behind each
// other. A row can be revived while it is being picked (a revocation
// extended, an expired token's hash created anew), and deleting it then would
// lose a live record: FOR UPDATE re-checks the expiry of a row changed under
// it, and the DELETE checks it again so that this holds by itself.
func deleteExpiredSQL(table, key string) string {
	return `
WITH batch AS (
	SELECT ` + key + ` FROM {schema}.` + table + `
	WHERE expires_at <= $1
	LIMIT $2
	FOR UPDATE SKIP LOCKED
)
DELETE FROM {schema}.` + table + ` AS t
USING batch
WHERE t.` + key + ` = batch.` + key + ` AND t.expires_at <= $1`
}
