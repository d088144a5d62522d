package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// BenchmarkStore runs the shared store benchmarks against a real server
// (the one OAUTH2KIT_REDIS_URL names, or a container started once: the
// sub-benchmarks run -count times each). The figures include round trips, so
// compare them only with each other (benchstat).
func BenchmarkStore(b *testing.B) {
	// testcontainers logs to stderr, which go test interleaves with the
	// result lines of -count runs, and benchstat then cannot read them.
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	srv := testenv.Redis(b, testenv.Options{})
	storetest.Benchmark(b, redisstore.New(newClient(b, srv.URL), redisstore.WithKeyPrefix(newPrefix())))
}

// BenchmarkAttempts measures the calls of throttling: AddFailure, one
// script, after each failed credential check, and GetAttempts of three keys,
// one pipeline, before every check (package oauth2 reads a few keys per
// attempt). Two of the three keys have a record and one has none.
func BenchmarkAttempts(b *testing.B) {
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	srv := testenv.Redis(b, testenv.Options{})
	s := redisstore.New(newClient(b, srv.URL), redisstore.WithKeyPrefix(newPrefix()))
	ctx := b.Context()
	keys := []string{newID("attempt"), newID("attempt"), newID("attempt")}
	exp := time.Now().Add(time.Hour)

	b.Run("AddFailure", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.AddFailure(ctx, keys[0], exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	if _, err := s.AddFailure(ctx, keys[1], exp); err != nil {
		b.Fatal(err)
	}
	b.Run("GetAttempts", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetAttempts(ctx, keys...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSessions measures the calls of the session record: CreateSession,
// one script, at every password grant, here each of a new subject; and
// ListSessions, one HGETALL, of a subject holding five sessions, as a user
// with a few devices would when they look at their logins.
func BenchmarkSessions(b *testing.B) {
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	srv := testenv.Redis(b, testenv.Options{})
	s := redisstore.New(newClient(b, srv.URL), redisstore.WithKeyPrefix(newPrefix()))
	ctx := b.Context()
	base := now()

	b.Run("CreateSession", func(b *testing.B) {
		for b.Loop() {
			if err := s.CreateSession(ctx, newSession(newID("subject"), base)); err != nil {
				b.Fatal(err)
			}
		}
	})
	subject := newID("subject")
	for i := range 5 {
		mustCreateSession(ctx, b, s, newSession(subject, base.Add(time.Duration(i)*time.Second)))
	}
	b.Run("ListSessions", func(b *testing.B) {
		for b.Loop() {
			if list, err := s.ListSessions(ctx, subject); len(list) != 5 || err != nil {
				b.Fatalf("ListSessions() = %d sessions, %v, want 5, nil", len(list), err)
			}
		}
	})
}

// BenchmarkRevocationPropagation measures how long a revocation takes to
// reach another process: one client revokes, a watcher on a second client
// (its own connections, as another process would have) receives it. Each
// iteration revokes propagationBatch grants one after another, without
// waiting for their delivery; the latency of each runs from the call to
// RevokeGrant to the watcher's Revoked. It reports their p50 and p99 over
// the whole run besides ns/op, the time of one batch.
func BenchmarkRevocationPropagation(b *testing.B) {
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	srv := testenv.Redis(b, testenv.Options{})
	prefix := newPrefix()
	revoker := redisstore.New(newClient(b, srv.URL), redisstore.WithKeyPrefix(prefix))
	watcher := redisstore.New(newClient(b, srv.URL), redisstore.WithKeyPrefix(prefix))
	ctx := b.Context()

	h := &arrivals{alive: make(chan struct{}, 1), at: make(map[string]time.Time)}
	wctx, cancel := context.WithCancel(ctx)
	var watchErr error
	done := make(chan struct{})
	go func() { watchErr = watcher.WatchRevocations(wctx, h); close(done) }()
	b.Cleanup(func() {
		cancel()
		<-done
		if !errors.Is(watchErr, context.Canceled) {
			b.Errorf("WatchRevocations() = %v, want an error matching %v", watchErr, context.Canceled)
		}
	})
	select {
	case <-h.alive:
	case <-done:
		b.Fatalf("WatchRevocations() = %v before its first Alive", watchErr)
	}

	exp := time.Now().Add(time.Hour)
	var latencies []time.Duration
	for b.Loop() {
		ids := make([]string, propagationBatch)
		sent := make([]time.Time, propagationBatch)
		h.expect(propagationBatch)
		for i := range ids {
			ids[i] = newID("grant")
			sent[i] = time.Now()
			if err := revoker.RevokeGrant(ctx, ids[i], exp); err != nil {
				b.Fatalf("RevokeGrant() = %v", err)
			}
		}
		select {
		case <-h.all:
		case <-done:
			b.Fatalf("WatchRevocations() = %v before every revocation arrived", watchErr)
		case <-time.After(time.Minute):
			b.Fatalf("revocations still missing after a minute")
		}
		h.mu.Lock()
		for i, id := range ids {
			latencies = append(latencies, h.at[id].Sub(sent[i]))
		}
		clear(h.at)
		h.mu.Unlock()
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(percentile(latencies, 50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(latencies, 99).Microseconds()), "p99-µs")
}

// propagationBatch is how many revocations each iteration of
// BenchmarkRevocationPropagation makes.
const propagationBatch = 500

// arrivals is a store.RevocationListener noting when each grant arrived.
type arrivals struct {
	alive chan struct{}
	mu    sync.Mutex
	at    map[string]time.Time
	want  int
	all   chan struct{} // closed once want revocations have arrived
}

func (a *arrivals) expect(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.want, a.all = n, make(chan struct{})
}

func (a *arrivals) Alive() {
	select {
	case a.alive <- struct{}{}:
	default:
	}
}

func (a *arrivals) Revoked(r store.Revocation) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.at[r.GrantID]; dup || a.want == 0 {
		return
	}
	a.at[r.GrantID] = now
	if len(a.at) == a.want {
		a.want = 0
		close(a.all)
	}
}

// percentile returns the p-th percentile of sorted, by the nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[max(0, (len(sorted)*p+99)/100-1)]
}

// BenchmarkRoundTrips runs every call of the Store, one after another,
// beside RoundTrip, a bare PING through the same client: a call costing one
// round trip takes about as long as RoundTrip, so the ratios of one run tell
// how many each call costs. Point OAUTH2KIT_REDIS_URL at a server on
// loopback for figures that are about round trips rather than a container's
// network; BENCHMARKS.md has the commands and the figures.
func BenchmarkRoundTrips(b *testing.B) {
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	srv := testenv.Redis(b, testenv.Options{})
	client := newClient(b, srv.URL)
	s := redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()))
	roundTrips(b, s, func(ctx context.Context) error { return client.Ping(ctx).Err() }, nil)
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
		created = newToken(at)
		return nil
	}, func() error { return s.CreateRefreshToken(ctx, created) })
	tok := newToken(at)
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
		sess = newSession(newID("subject"), at)
		return nil
	}, func() error { return s.CreateSession(ctx, sess) })
	subject := newID("subject")
	for i := range 5 {
		mustCreateSession(ctx, b, s, newSession(subject, at.Add(time.Duration(i)*time.Second)))
	}
	if settle != nil {
		if err := settle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	touched := newSession(subject, at)
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
		deleted = newSession(subject, at)
		return s.CreateSession(ctx, deleted)
	}, func() error { return s.DeleteSession(ctx, subject, deleted.GrantID) })

	var version int64
	run("SwapKeySet", func() error {
		v, err := s.SwapKeySet(ctx, version, []store.SigningKey{{ID: newID("key"), Algorithm: "EdDSA", Private: newHash(), CreatedAt: at}})
		version = v
		return err
	})
	run("GetKeySet", func() error {
		_, err := s.GetKeySet(ctx)
		return err
	})
}
