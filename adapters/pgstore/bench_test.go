package pgstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
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
	roundTrips(b, s, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, "SELECT 1")
		return err
	}, analyze)
}

// roundTripStore is what BenchmarkRoundTrips calls.
type roundTripStore interface {
	store.Store
	store.KeyStore
	store.AttemptStore
	store.SessionStore
	store.RevocationWatcher
}

// roundTrips runs each call of s as a sub-benchmark, after RoundTrip, the
// floor they are compared with. Every iteration of a call's sub-benchmark
// also makes a bare round trip right after the call, timed apart: ns/op is
// the call's time alone, and roundtrips/op the call's time over the round
// trips', so that the ratio holds however busy the machine was. What a call
// is given, and any record it acts on, is made in its iteration, untimed.
// settle, if not nil, runs once the sessions are written, before they are
// read.
func roundTrips(b *testing.B, s roundTripStore, roundTrip func(context.Context) error, settle func(context.Context) error) {
	ctx := b.Context()
	at := now()
	b.Run("RoundTrip", func(b *testing.B) {
		for b.Loop() {
			if err := roundTrip(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	call := func(name string, setup func() error, op func() error) {
		b.Run(name, func(b *testing.B) {
			var inCall, inRoundTrip time.Duration
			n := 0
			for b.Loop() {
				if setup != nil {
					if err := setup(); err != nil {
						b.Fatalf("before %s: %v", name, err)
					}
				}
				start := time.Now()
				if err := op(); err != nil {
					b.Fatalf("%s: %v", name, err)
				}
				called := time.Now()
				if err := roundTrip(ctx); err != nil {
					b.Fatal(err)
				}
				inCall += called.Sub(start)
				inRoundTrip += time.Since(called)
				n++
			}
			b.ReportMetric(float64(inCall.Nanoseconds())/float64(n), "ns/op")
			b.ReportMetric(float64(inCall)/float64(inRoundTrip), "roundtrips/op")
		})
	}
	run := func(name string, op func() error) { call(name, nil, op) }

	// A small set, as a watcher resyncing after a reconnection lists it.
	for range 10 {
		if err := s.RevokeGrant(ctx, newID("listed"), at.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	run("ListRevocations", func() error {
		_, err := s.ListRevocations(ctx)
		return err
	})

	var created store.RefreshToken
	call("CreateRefreshToken", func() error {
		created = token(at, at.Add(time.Hour))
		return nil
	}, func() error { return s.CreateRefreshToken(ctx, created) })
	tok := token(at, at.Add(time.Hour))
	mustCreate(ctx, b, s, tok)
	run("GetRefreshToken", func() error {
		_, err := s.GetRefreshToken(ctx, tok.Hash)
		return err
	})
	// The chain goes on across the -count runs of the sub-benchmark.
	var next store.RefreshToken
	call("RotateRefreshToken", func() error {
		next = successor(tok, at)
		return nil
	}, func() error {
		if err := s.RotateRefreshToken(ctx, tok.Hash, next); err != nil {
			return err
		}
		tok = next
		return nil
	})

	exp := at.Add(time.Hour)
	var id string
	newRevoked := func() error {
		id = newID("revoked")
		return nil
	}
	call("RevokeAccessToken", newRevoked, func() error { return s.RevokeAccessToken(ctx, id, exp) })
	call("RevokeGrant", newRevoked, func() error { return s.RevokeGrant(ctx, id, exp) })
	run("IsRevoked", func() error {
		_, err := s.IsRevoked(ctx, "live-jti", "live-grant")
		return err
	})

	keys := []string{newID("attempt"), newID("attempt"), newID("attempt")}
	run("AddFailure", func() error {
		_, err := s.AddFailure(ctx, keys[0], exp)
		return err
	})
	run("GetAttempts", func() error {
		_, err := s.GetAttempts(ctx, keys...)
		return err
	})
	call("ResetAttempts", func() error {
		_, err := s.AddFailure(ctx, keys[2], exp)
		return err
	}, func() error { return s.ResetAttempts(ctx, keys[2]) })

	var sess store.Session
	call("CreateSession", func() error {
		sess = session(newID("subject"), at, at.Add(time.Hour))
		return nil
	}, func() error { return s.CreateSession(ctx, sess) })
	subject := newID("subject")
	for i := range 5 {
		mustCreateSession(ctx, b, s, session(subject, at.Add(time.Duration(i)*time.Second), at.Add(time.Hour)))
	}
	if settle != nil {
		if err := settle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	touched := session(subject, at, at.Add(time.Hour))
	mustCreateSession(ctx, b, s, touched)
	refreshed := at
	run("TouchSession", func() error {
		refreshed = refreshed.Add(time.Microsecond)
		return s.TouchSession(ctx, subject, touched.GrantID, refreshed, refreshed.Add(time.Hour))
	})
	run("ListSessions", func() error {
		_, err := s.ListSessions(ctx, subject)
		return err
	})
	var deleted store.Session
	call("DeleteSession", func() error {
		deleted = session(subject, at, at.Add(time.Hour))
		return s.CreateSession(ctx, deleted)
	}, func() error { return s.DeleteSession(ctx, subject, deleted.GrantID) })

	var version int64
	run("SwapKeySet", func() error {
		v, err := s.SwapKeySet(ctx, version, []store.SigningKey{{ID: newID("key"), Algorithm: "EdDSA", Private: []byte(rand.Text()), CreatedAt: at}})
		version = v
		return err
	})
	run("GetKeySet", func() error {
		_, err := s.GetKeySet(ctx)
		return err
	})
}

func newID(prefix string) string { return prefix + "-" + rand.Text() }

func mustCreate(ctx context.Context, t testing.TB, s store.Store, tok store.RefreshToken) {
	t.Helper()
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken(%x) = %v, want nil", tok.Hash, err)
	}
}

func mustCreateSession(ctx context.Context, t testing.TB, s store.SessionStore, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession(%s) = %v, want nil", sess.GrantID, err)
	}
}
