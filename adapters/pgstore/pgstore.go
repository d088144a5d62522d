package pgstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/store"
)

var (
	_ store.Store          = (*Store)(nil)
	_ store.KeyStore       = (*Store)(nil)
	_ store.ExpiredDeleter = (*Store)(nil)

	_ store.RevocationWatcher = (*Store)(nil)
	_ store.AttemptStore      = (*Store)(nil)
	_ store.SessionStore      = (*Store)(nil)
)

// DefaultSchema is the schema a Store uses unless WithSchema says otherwise.
const DefaultSchema = "oauth2kit"

// defaultDeleteBatch is how many rows one DELETE of DeleteExpired removes at
// most: small enough that no statement holds many row locks or runs long,
// large enough that a backlog clears in few round trips.
const defaultDeleteBatch = 1000

// Store is a store.Store, store.KeyStore, store.ExpiredDeleter,
// store.RevocationWatcher, store.AttemptStore and store.SessionStore backed
// by PostgreSQL. It is safe for concurrent use. The zero value is not usable; call New, then
// Migrate.
type Store struct {
	pool        *pgxpool.Pool
	schema      string
	channel     string // of revocation notifications, see watch.go
	now         func() time.Time
	retry       retryPolicy
	deleteBatch int
	q           queries
}

// Option configures a Store.
type Option func(*Store)

// WithSchema makes the Store keep its tables in the schema name instead of
// DefaultSchema, so that several stores (or tests) share one database without
// sharing records. The name is quoted, never interpolated raw.
func WithSchema(name string) Option {
	return func(s *Store) { s.schema = name }
}

// WithClock makes the Store read the current time from now instead of
// time.Now. Expiry is judged by this clock (see package store), not the
// server's, so tests driving a fake clock see records expire on that clock.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// withDeleteBatch sets how many rows one DELETE of DeleteExpired removes. It
// is unexported: only tests need a batch small enough to see several.
func withDeleteBatch(n int) Option {
	return func(s *Store) { s.deleteBatch = n }
}

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1: longer names are silently
// truncated, so two long schema names could name the same schema.
const maxIdentifierLen = 63

// New returns a Store on pool. The caller owns pool and closes it after the
// last use of the Store. New does not touch the database: call Migrate before
// using the Store.
//
// Like every adapter's New, it cannot fail: what it could refuse is a
// programming error, and it panics on one, so that a misconfigured Store
// never starts. It panics on a nil pool or clock, and on a schema name that
// is empty, contains a NUL byte or is longer than the 63 bytes PostgreSQL
// keeps (two long names could otherwise name the same schema).
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	if pool == nil {
		panic("pgstore: New: nil pool")
	}
	s := &Store{
		pool:        pool,
		schema:      DefaultSchema,
		now:         time.Now,
		retry:       defaultRetryPolicy,
		deleteBatch: defaultDeleteBatch,
	}
	for _, opt := range opts {
		opt(s)
	}
	if err := checkSchema(s.schema); err != nil {
		panic("pgstore: New: " + err.Error())
	}
	switch {
	case s.now == nil:
		panic("pgstore: New: nil clock")
	case s.deleteBatch < 1:
		panic(fmt.Sprintf("pgstore: New: delete batch size %d, want at least 1", s.deleteBatch))
	}
	s.q = newQueries(pgx.Identifier{s.schema}.Sanitize())
	s.channel = channelName(s.schema)
	return s
}

// checkSchema reports why name cannot be a schema name, or nil. Any name
// PostgreSQL keeps whole will do: it is quoted, never interpolated raw.
func checkSchema(name string) error {
	switch {
	case name == "":
		return errors.New("empty schema name")
	case len(name) > maxIdentifierLen:
		return fmt.Errorf("schema name %q is longer than %d bytes", name, maxIdentifierLen)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("schema name %q contains a NUL byte", name)
	}
	return nil
}

// clock returns the Store's current time to the microsecond, the precision
// of the columns it is compared with, so that the instant expiry is judged
// at does not depend on how the driver rounds.
func (s *Store) clock() time.Time { return s.now().Truncate(time.Microsecond) }
