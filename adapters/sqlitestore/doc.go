// Package sqlitestore is an oauth2kit storage adapter for SQLite, through
// database/sql and the pure-Go driver modernc.org/sqlite (no cgo). It keeps
// everything in one database file, so a single-node authorization server keeps
// its grants, revocations and signing keys across a restart with no database
// server to run.
//
// The caller opens the *sql.DB and owns it. Open it with the driver name
// "sqlite" (importing this package registers it) and a DSN that sets a busy
// timeout and WAL mode on every connection, as DSN does:
//
//	db, err := sql.Open("sqlite", sqlitestore.DSN("/var/lib/app/oauth2kit.db"))
//	...
//	s := sqlitestore.New(db)
//	if err := s.Migrate(ctx); err != nil { ... }
//
// Migrate creates the tables (it is idempotent) and switches the file to WAL
// mode, so that readers never wait for the one writer SQLite allows at a time.
// Writers do wait for each other: every write is one statement or one BEGIN
// IMMEDIATE transaction; the writes of one Store take turns in the process
// before they reach SQLite; and a write that still meets SQLITE_BUSY (from
// another process or Store on the file) after the connection's busy timeout
// is retried by the adapter, with backoff, until its context ends or ten
// seconds have passed. An in-memory database (":memory:")
// is one database per connection: do not use one with a pool of more than one
// connection.
//
// Times are stored as integer microseconds since the Unix epoch, the
// precision the conformance suite asks for. Expiry is decided by the adapter's
// clock, time.Now unless WithClock gives another, passed to every statement;
// SQLite's own clock decides nothing. Expired records are filtered on every
// read and removed by DeleteExpired (store.ExpiredDeleter), which the
// application has oauth2.Sweep call; the adapter starts no goroutine of its
// own and does not sweep during writes, except that a write over an expired
// record of the same key replaces it.
//
// Besides store.Store, a Store implements store.ExpiredDeleter,
// store.KeyStore, store.AttemptStore, store.SessionStore and
// store.RevocationWatcher. WatchRevocations polls an append-only revocation
// log in the database (see its doc), so it sees the revocations of every
// process that shares the file, at the cost of one small query per poll.
//
// All tables are named with a prefix, "oauth2kit_" unless WithTablePrefix
// gives another, so that several stores, or an application's own tables,
// can share one file.
package sqlitestore
