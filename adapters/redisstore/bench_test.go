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
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/internal/storebench"
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
	keys := []string{oauth2test.NewID("attempt"), oauth2test.NewID("attempt"), oauth2test.NewID("attempt")}
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
	base := oauth2test.Now()

	b.Run("CreateSession", func(b *testing.B) {
		for b.Loop() {
			if err := s.CreateSession(ctx, oauth2test.NewSession(oauth2test.NewID("subject"), base)); err != nil {
				b.Fatal(err)
			}
		}
	})
	subject := oauth2test.NewID("subject")
	for i := range 5 {
		mustCreateSession(ctx, b, s, oauth2test.NewSession(subject, base.Add(time.Duration(i)*time.Second)))
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
			ids[i] = oauth2test.NewID("grant")
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
	storebench.RoundTrips(b, s, func(ctx context.Context) error { return client.Ping(ctx).Err() }, nil)
}
