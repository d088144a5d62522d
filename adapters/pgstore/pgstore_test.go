package pgstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// TestConformance runs the storage contract's suite on one server and one
// pool, each subtest on a schema of its own.
//
// The adapter's own promises, which the suite cannot see (migrations, batched
// cleanup, retries, the clock), run here too, under pgstore/, so that the
// package needs one container rather than one per test function.
func TestConformance(t *testing.T) {
	// In parallel with TestServerRestart, which mostly waits for its
	// container to stop and start.
	t.Parallel()
	db := newDB(t, testenv.Postgres(t, testenv.Options{}).URL)
	newStore := func(t *testing.T) store.Store {
		s, _ := db.newStore(t)
		return s
	}
	storetest.Run(t, newStore)
	storetest.RunConcurrency(t, newStore)
	db.testFaults(t)

	t.Run("pgstore/Migrate/Concurrent", db.testMigrateConcurrent)
	t.Run("pgstore/Migrate/Twice", db.testMigrateTwice)
	t.Run("pgstore/Migrate/Missing", db.testUnmigrated)
	t.Run("pgstore/Migrate/Forward", db.testMigrateForward)
	t.Run("pgstore/DeleteExpired/Batches", db.testDeleteExpiredBatches)
	t.Run("pgstore/Context/EndsWhileWaiting", db.testContextEndsWhileWaiting)
	t.Run("pgstore/Clock", db.testClock)
	t.Run("pgstore/ExpiredHashIsFree", db.testExpiredHashIsFree)
	t.Run("pgstore/SuccessorKey/NilStaysNil", db.testSuccessorKeyNil)
	t.Run("pgstore/Sessions/TiesInByteOrder", db.testSessionTiesInByteOrder)
	t.Run("pgstore/Retry/SerializationFailure", db.testRetrySerializationFailure)
	t.Run("pgstore/Retry/RotateUnderSerializable", db.testRotateUnderSerializable)
	t.Run("pgstore/Retry/AddFailureUnderSerializable", db.testAddFailureUnderSerializable)
	t.Run("pgstore/Watch/CancellingPool", db.testWatchCancellingPool)
	t.Run("pgstore/Watch/LongSchema", db.testWatchLongSchema)
	t.Run("pgstore/Watch/SchemasApart", db.testWatchSchemasApart)
	t.Run("pgstore/Watch/LongID", db.testWatchLongID)
	t.Run("pgstore/RoundTripsPerCall", db.testRoundTripsPerCall)
}

// testFaults runs the fault tier with a pool of its own per store, which
// dials the suite's proxy; the schema is made and dropped through the
// shared pool, which dials the server itself.
func (db testDB) testFaults(t *testing.T) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.url)
	if err != nil {
		t.Fatalf("pgxpool.ParseConfig(%q) = %v, want nil", db.url, err)
	}
	server := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	storetest.RunFaults(t, []string{server}, func(t *testing.T, addrs []string) store.Store {
		host, port, err := net.SplitHostPort(addrs[0])
		if err != nil {
			t.Fatalf("net.SplitHostPort(%q) = %v", addrs[0], err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			t.Fatalf("port %q: %v", port, err)
		}
		pool := newPool(t, db.url, func(cfg *pgxpool.Config) {
			cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
			cfg.ConnConfig.Fallbacks = nil
		})
		return newMigrated(t, pool, db.newSchema(t))
	})
}

// testDB hands out isolated stores on one server.
type testDB struct {
	url  string
	pool *pgxpool.Pool
}

func newDB(t *testing.T, url string) testDB {
	t.Helper()
	return testDB{url: url, pool: newPool(t, url, nil)}
}

// newPool returns a pool on url, changed by configure if not nil, and closed
// when t ends. Its size is well above pgxpool's default of four on a small
// machine, so that concurrent calls really meet in the database rather than
// queue for a connection.
func newPool(t testing.TB, url string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgxpool.ParseConfig(%q) = %v, want nil", url, err)
	}
	cfg.MaxConns = 16
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("pgxpool.NewWithConfig() = %v, want nil", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newSchema returns the name of a schema no other test uses, dropped when t
// ends.
func (db testDB) newSchema(t *testing.T) string {
	t.Helper()
	return newSchema(t, db.pool)
}

func newSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := "pgstore_test_" + strings.ToLower(rand.Text())
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	return name
}

// newStore returns a migrated Store in a fresh schema, and the schema.
func (db testDB) newStore(t *testing.T, opts ...pgstore.Option) (*pgstore.Store, string) {
	t.Helper()
	schema := db.newSchema(t)
	return newMigrated(t, db.pool, schema, opts...), schema
}

func newMigrated(t *testing.T, pool *pgxpool.Pool, schema string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s := pgstore.New(pool, append([]pgstore.Option{pgstore.WithSchema(schema)}, opts...)...)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() = %v, want nil", err)
	}
	return s
}

// count returns how many rows table of schema holds, expired or not.
func (db testDB) count(t *testing.T, schema, table string) int {
	t.Helper()
	var n int
	q := "SELECT count(*) FROM " + pgx.Identifier{schema, table}.Sanitize()
	if err := db.pool.QueryRow(t.Context(), q).Scan(&n); err != nil {
		t.Fatalf("%s = %v, want nil", q, err)
	}
	return n
}

// token returns the first token of a new grant, issued at issuedAt and
// expiring at expiresAt.
func token(issuedAt, expiresAt time.Time) store.RefreshToken {
	h := sha256.Sum256([]byte(rand.Text()))
	return store.RefreshToken{
		Hash:           h[:],
		GrantID:        "grant-" + rand.Text(),
		ClientID:       "client",
		Subject:        "subject",
		Scope:          []string{"openid", "profile"},
		IssuedAt:       issuedAt,
		ExpiresAt:      expiresAt,
		GrantExpiresAt: issuedAt.Add(24 * time.Hour),
	}
}

// successor returns what rotating prev at issuedAt stores.
func successor(prev store.RefreshToken, issuedAt time.Time) store.RefreshToken {
	next := token(issuedAt, issuedAt.Add(time.Hour))
	next.GrantID, next.GrantExpiresAt = prev.GrantID, prev.GrantExpiresAt
	return next
}

func now() time.Time { return time.Now().Truncate(time.Microsecond) }

// sameToken reports whether a and b hold the same record, times compared as
// instants. A nil and an empty byte slice are the same here; tests that care
// which one comes back check it themselves.
func sameToken(a, b store.RefreshToken) bool {
	return bytes.Equal(a.Hash, b.Hash) && a.GrantID == b.GrantID && a.ClientID == b.ClientID &&
		a.Subject == b.Subject && slices.Equal(a.Scope, b.Scope) &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.GrantExpiresAt.Equal(b.GrantExpiresAt) && a.ConsumedAt.Equal(b.ConsumedAt) &&
		bytes.Equal(a.SuccessorKey, b.SuccessorKey)
}

// TestNew checks the options New refuses, by panicking, before anything
// reaches SQL.
func TestNew(t *testing.T) {
	// A pool connects lazily, so one on a closed port serves for New.
	pool, err := pgxpool.New(t.Context(), "postgres://user@127.0.0.1:1/db")
	if err != nil {
		t.Fatalf("pgxpool.New() = %v, want nil", err)
	}
	defer pool.Close()

	tests := []struct {
		name      string
		pool      *pgxpool.Pool
		opts      []pgstore.Option
		wantPanic bool
	}{
		{name: "defaults", pool: pool},
		{name: "schema needing quotes", pool: pool, opts: []pgstore.Option{pgstore.WithSchema(`Odd "schema"; DROP TABLE x`)}},
		{name: "longest schema", pool: pool, opts: []pgstore.Option{pgstore.WithSchema(strings.Repeat("s", 63))}},
		{name: "nil pool", wantPanic: true},
		{name: "empty schema", pool: pool, opts: []pgstore.Option{pgstore.WithSchema("")}, wantPanic: true},
		{name: "schema PostgreSQL would truncate", pool: pool, opts: []pgstore.Option{pgstore.WithSchema(strings.Repeat("s", 64))}, wantPanic: true},
		{name: "schema with NUL", pool: pool, opts: []pgstore.Option{pgstore.WithSchema("a\x00b")}, wantPanic: true},
		{name: "nil clock", pool: pool, opts: []pgstore.Option{pgstore.WithClock(nil)}, wantPanic: true},
	}
	for _, tt := range tests {
		got := func() (panicked bool) {
			defer func() { panicked = recover() != nil }()
			pgstore.New(tt.pool, tt.opts...)
			return false
		}()
		if got != tt.wantPanic {
			t.Errorf("%s: New() panicked = %v, want %v", tt.name, got, tt.wantPanic)
		}
	}
}

// wantFailed checks that err, returned by call while the server is
// unreachable or the schema missing, is an error and none of the sentinels:
// a failure is not an answer.
func wantFailed(t *testing.T, call string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s = nil, want an error", call)
		return
	}
	for _, sentinel := range []error{store.ErrNotFound, store.ErrReused, store.ErrAlreadyExists, store.ErrConflict} {
		if errors.Is(err, sentinel) {
			t.Errorf("%s = %v, want an error not matching %v", call, err, sentinel)
		}
	}
}

// everyMethod calls every method of s but Migrate once, for tests that
// expect them all to fail, and returns each call's error by name. An
// IsRevoked that fails must say so: false with no error would let a revoked
// token through.
func everyMethod(ctx context.Context, s *pgstore.Store, tok store.RefreshToken) map[string]error {
	errs := map[string]error{
		"CreateRefreshToken": s.CreateRefreshToken(ctx, token(now(), now().Add(time.Hour))),
		"RotateRefreshToken": s.RotateRefreshToken(ctx, tok.Hash, successor(tok, now())),
		"RevokeGrant":        s.RevokeGrant(ctx, "grant", now().Add(time.Hour)),
		"RevokeAccessToken":  s.RevokeAccessToken(ctx, "jti", now().Add(time.Hour)),
		"ResetAttempts":      s.ResetAttempts(ctx, "key"),
		"CreateSession":      s.CreateSession(ctx, session("subject", now(), now().Add(time.Hour))),
		"TouchSession":       s.TouchSession(ctx, "subject", tok.GrantID, now(), now().Add(time.Hour)),
		"DeleteSession":      s.DeleteSession(ctx, "subject", tok.GrantID),
	}
	_, errs["GetRefreshToken"] = s.GetRefreshToken(ctx, tok.Hash)
	_, errs["IsRevoked"] = s.IsRevoked(ctx, "jti", "grant")
	_, errs["DeleteExpired"] = s.DeleteExpired(ctx)
	_, errs["GetKeySet"] = s.GetKeySet(ctx)
	_, errs["SwapKeySet"] = s.SwapKeySet(ctx, 0, nil)
	_, errs["AddFailure"] = s.AddFailure(ctx, "key", now().Add(time.Hour))
	_, errs["GetAttempts"] = s.GetAttempts(ctx, "key")
	_, errs["ListSessions"] = s.ListSessions(ctx, "subject")
	return errs
}
