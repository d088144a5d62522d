// Package pgstore is a PostgreSQL implementation of the oauth2kit storage
// contract (store.Store, store.KeyStore, store.ExpiredDeleter,
// store.RevocationWatcher, store.AttemptStore and store.SessionStore) on the
// caller's github.com/jackc/pgx/v5 pool.
//
// # Schema and migrations
//
// A Store keeps its tables in one schema, "oauth2kit" unless WithSchema names
// another: refresh_tokens (keyed by the token's SHA-256 hash, a bytea),
// revoked_grants and revoked_access_tokens (keyed by id), attempts (the
// failure counts of store.AttemptStore, keyed by the key given), sessions
// (store.SessionStore's, keyed by grant id), and key_set (at most one row).
// Times are timestamptz, kept to the microsecond. Every table with an expiry
// has an index on it for DeleteExpired, and sessions one on subject (then
// creation time and grant id, the order of ListSessions); the primary keys
// serve every other lookup.
//
// The schema is created and upgraded by Migrate from SQL migrations embedded
// in the package. New does not touch the database; call Migrate once at
// startup, before anything else. It is idempotent and safe to call from
// every instance at once: the instances take turns under an advisory lock,
// and the first one applies what is missing. The version history is kept in
// the schema's schema_migrations table.
//
// Identifiers (grant ids, client ids, subjects, scopes, jtis) are stored as
// text, so they must be valid UTF-8 without NUL bytes, as the ids that
// package oauth2 generates are. Grant ids of sessions sort in byte order
// (collation "C"), as Go compares strings, so that ListSessions orders
// sessions created at the same instant as every adapter does, whatever the
// database's default collation.
//
// # Expiry
//
// Expiry follows the rule of package store: it is judged by the Store's clock
// (time.Now, or WithClock), which each statement is passed, to the
// microsecond of the columns, and never by the server's now(). A Store thus
// agrees with memstore and with a fake clock in tests. Instances whose
// clocks disagree disagree by as much on when a record expires, so keep them
// synchronised (NTP) as the JWT leeway already requires.
//
// # Atomicity and retries
//
// Every change is made by one statement, except Migrate's, which share one
// transaction. Rotating a refresh token consumes the old token and stores
// its successor in a single statement, so both happen or neither does, and
// of concurrent rotations of one token exactly one wins, under PostgreSQL's
// default READ COMMITTED isolation as under SERIALIZABLE. AddFailure counts
// in a single statement too, so concurrent failures of one key are each
// counted once. Each method of store.SessionStore is a single statement as
// well: creating a session over a live one of the same grant changes nothing
// and fails with store.ErrAlreadyExists, and a touch only ever moves its
// times forward, whatever order concurrent touches land in.
// Statements that PostgreSQL aborts for a serialization failure or a deadlock
// (SQLSTATE 40001, 40P01), as it may under a stricter default isolation
// level, are run again, at most five times in all with a short jittered
// backoff; after that the call fails with an error wrapping the last one.
// Other failures, a lost connection among them, are reported at once and are
// never reported as store.ErrNotFound. An aborted statement changed nothing,
// so running it again counts no failure twice. Under SERIALIZABLE, though,
// concurrent failures of one key abort each other, and a key hammered hard
// enough can exhaust the attempts: AddFailure then fails, counting nothing.
//
// # Round trips
//
// Each call is one statement in its own implicit transaction, with no BEGIN
// or COMMIT of its own, so a call that succeeds is one round trip: pgx sends
// the statement's Bind, Execute and Sync together. That holds in pgx's
// default query exec mode, which prepares each statement once per
// connection (its first use costs one more round trip), and in every other
// mode but QueryExecModeDescribeExec, which asks for the statement's
// description before each run. A rejected rotation takes a second statement
// to tell store.ErrNotFound from store.ErrReused (see the rotate query), and
// one onto a hash held by an expired token two more, to remove it and try
// again. A write still waits, within its round trip, for PostgreSQL to flush
// its commit record to disk, which on most disks costs more than the round
// trip itself. That wait is what makes an acknowledged rotation or
// revocation survive a crash, so the Store never turns synchronous_commit
// off; an operator who accepts losing the last moments of writes in a crash
// may set it for the Store's database or role.
//
// # Contexts
//
// A call whose context has ended fails with an error wrapping the context's
// error and changes nothing. A context that ends while a statement runs fails
// the call the same way, but what the statement did is then unknown, as with
// any remote store: it may have committed just before. With pgx's default
// configuration the client only closes the connection, and the server
// finishes the statement by itself, possibly long after the call returned if
// the statement was waiting for a lock: a rotation abandoned so and committed
// later makes the client's retry with the old token look like reuse. To have
// the server cancel such statements, give the pool a
// pgconn.CancelRequestContextWatcherHandler:
//
//	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
//		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
//	}
//
// # Watching revocations
//
// Each revocation is announced with NOTIFY by the statement that stores it,
// on a channel named after the schema, so it is announced exactly when it
// commits. WatchRevocations listens on a connection that it takes from the
// pool for good and closes when it returns (so a watch holds one server
// connection beyond the pool's MaxConns), and proves the connection alive
// with a trivial query whenever it has been quiet for half a
// store.WatchHeartbeat. The connection's waits are bounded by its own
// deadlines, whatever context watcher handler the pool is configured with.
// LISTEN needs a direct connection or a pooler in session mode, and the
// pool's ConnConfig.OnNotification must be left nil.
//
// # Cleanup
//
// Expired rows are never returned, but the Store runs no goroutine and does
// not delete them by itself: DeleteExpired removes them, in batches of
// bounded size. Start package oauth2's Sweep once at start-up, in one
// instance or all of them, to have it called periodically.
package pgstore
