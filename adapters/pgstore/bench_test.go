package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
	"github.com/oauth2kit/oauth2kit/internal/storebench"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// BenchmarkStore runs the shared store benchmarks against a real server,
// started once: its sub-benchmarks run -count times each. The figures
// include a round trip to a local container, so compare them only with each
// other (benchstat).
func BenchmarkStore(b *testing.B) {
	pool := newPool(b, testenv.Postgres(b, testenv.Options{}).URL, nil)
	s := pgstore.New(pool, pgstore.WithSchema(newSchema(b, pool)))
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	storetest.Benchmark(b, s)
}

// BenchmarkAttempts measures the calls throttling makes around a credential
// check: GetAttempts of the three keys read before every check (say a user
// from one address, the user from anywhere, the client), each with a live
// record, and AddFailure after a failed check, counting on one key as an
// attack does. Like BenchmarkStore, the figures include a round trip to a
// local container.
func BenchmarkAttempts(b *testing.B) {
	pool := newPool(b, testenv.Postgres(b, testenv.Options{}).URL, nil)
	s := pgstore.New(pool, pgstore.WithSchema(newSchema(b, pool)))
	ctx := b.Context()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	keys := []string{"bench-user-from-address", "bench-user", "bench-client"}
	exp := time.Now().Add(time.Hour)
	for _, k := range keys {
		if _, err := s.AddFailure(ctx, k, exp); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("AddFailure", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.AddFailure(ctx, keys[0], exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetAttempts", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetAttempts(ctx, keys...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSessions measures the session calls of a login and of a user's
// session page: CreateSession at every password grant, each for a new
// subject, and ListSessions of a subject with five live sessions, among
// 10000 sessions of 2000 other subjects. Like BenchmarkStore, the figures
// include a round trip to a local container.
func BenchmarkSessions(b *testing.B) {
	pool := newPool(b, testenv.Postgres(b, testenv.Options{}).URL, nil)
	schema := newSchema(b, pool)
	s := pgstore.New(pool, pgstore.WithSchema(schema))
	ctx := b.Context()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	at := time.Now()
	// Analyzed, as autovacuum soon has a table of this size in production.
	// Unanalyzed, the planner guesses, and its guess (a bitmap AND with the
	// expiry index, which reads every live row) would be what ListSessions
	// measured after CreateSession had filled the table.
	table := pgx.Identifier{schema, "sessions"}.Sanitize()
	seed := "INSERT INTO " + table + ` (grant_id, subject, client_id, scope, created_at, refreshed_at, expires_at)
SELECT 'seed-' || i, 'seed-subject-' || i % 2000, 'client', '{openid,profile}', $1, $1, $2
FROM generate_series(1, 10000) AS i`
	if _, err := pool.Exec(ctx, seed, at, at.Add(time.Hour)); err != nil {
		b.Fatalf("%s: %v", seed, err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+table); err != nil {
		b.Fatalf("ANALYZE %s: %v", table, err)
	}
	const listed = "bench-listed"
	for i := range 5 {
		sess := session(listed, at.Add(time.Duration(i)*time.Second), at.Add(time.Hour))
		if err := s.CreateSession(ctx, sess); err != nil {
			b.Fatal(err)
		}
	}
	// Across the -count runs of the sub-benchmark, every session is new.
	created := 0
	b.Run("CreateSession", func(b *testing.B) {
		for b.Loop() {
			created++
			sess := session(fmt.Sprint("bench-subject-", created), at, at.Add(time.Hour))
			if err := s.CreateSession(ctx, sess); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListSessions", func(b *testing.B) {
		for b.Loop() {
			got, err := s.ListSessions(ctx, listed)
			if err != nil || len(got) != 5 {
				b.Fatalf("ListSessions() = %d sessions, %v, want 5, nil", len(got), err)
			}
		}
	})
}

// BenchmarkRevocationPropagation measures how long a revocation made by one
// instance takes to reach another's watcher: from the start of
// RevokeAccessToken on one Store to Revoked on a watch of a second Store on
// a pool of its own (two instances of an application), through one server.
// It reports the p50 and p99 in µs; run it with -benchtime=500x for a stable
// p99.
func BenchmarkRevocationPropagation(b *testing.B) {
	url := testenv.Postgres(b, testenv.Options{}).URL
	revokerPool, watcherPool := newPool(b, url, nil), newPool(b, url, nil)
	schema := newSchema(b, revokerPool)
	var stores []*pgstore.Store
	for _, pool := range []*pgxpool.Pool{revokerPool, watcherPool} {
		s := pgstore.New(pool, pgstore.WithSchema(schema))
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		stores = append(stores, s)
	}
	revoker, watcher := stores[0], stores[1]
	rec, done := startWatch(b, watcher)
	waitAlive(b, rec, done)

	ctx := context.Background()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		want := store.Revocation{JTI: fmt.Sprint("prop-", i)}
		start := time.Now()
		want.ExpiresAt = start.Add(time.Hour).Truncate(time.Microsecond)
		if err := revoker.RevokeAccessToken(ctx, want.JTI, want.ExpiresAt); err != nil {
			b.Fatal(err)
		}
		waitRevoked(b, rec, done, want)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRoundTrips runs every call of the Store, one after another,
// beside RoundTrip, a bare SELECT 1 through the same pool: a call costing one
// round trip takes about as long as RoundTrip, so the ratios of one run tell
// how many each call costs. Point OAUTH2KIT_POSTGRES_URL at a server on
// loopback for figures that are about round trips rather than a container's
// network; BENCHMARKS.md has the commands and the figures.
func BenchmarkRoundTrips(b *testing.B) {
	pool := newPool(b, testenv.Postgres(b, testenv.Options{}).URL, nil)
	schema := newSchema(b, pool)
	s := pgstore.New(pool, pgstore.WithSchema(schema))
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	// Analyzed once CreateSession has filled the table, as autovacuum
	// soon would in production: unanalyzed, the planner may read every
	// live session for ListSessions (see BenchmarkSessions).
	sessions := pgx.Identifier{schema, "sessions"}.Sanitize()
	analyze := func(ctx context.Context) error {
		_, err := pool.Exec(ctx, "ANALYZE "+sessions)
		return err
	}
	storebench.RoundTrips(b, s, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, "SELECT 1")
		return err
	}, analyze)
}
