package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/store"
)

// watchEndTimeout bounds the wait for a watch that must end. It only keeps
// a broken watcher from hanging the test: a watch sees its connection drop
// at once, or at worst after store.WatchHeartbeat and three more for the
// missing reply to its PING.
const watchEndTimeout = 10 * store.WatchHeartbeat

// deliveryTimeout bounds the wait for a revocation to reach a watcher,
// which takes milliseconds, so that a lost one fails the test early.
const deliveryTimeout = 5 * time.Second

// watchRecorder is a store.RevocationListener that records what it is told.
type watchRecorder struct {
	alive chan struct{} // one send per Alive, dropped when full
	mu    sync.Mutex
	got   []store.Revocation
	more  chan struct{}
}

func (r *watchRecorder) Alive() {
	select {
	case r.alive <- struct{}{}:
	default:
	}
}

func (r *watchRecorder) Revoked(rev store.Revocation) {
	r.mu.Lock()
	r.got = append(r.got, rev)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// startWatch runs s.WatchRevocations until the test ends and waits for its
// first Alive. WatchRevocations' error arrives on the returned channel.
func startWatch(ctx context.Context, t *testing.T, s *redisstore.Store) (*watchRecorder, <-chan error) {
	t.Helper()
	rec := &watchRecorder{alive: make(chan struct{}, 16), more: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { done <- s.WatchRevocations(ctx, rec) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-rec.alive:
	case err := <-done:
		t.Fatalf("WatchRevocations() = %v before its first Alive", err)
	case <-ctx.Done():
		t.Fatalf("WatchRevocations() never called Alive: %v", ctx.Err())
	}
	return rec, done
}

// waitFor waits until rec holds want, with its expiry to the millisecond.
func (r *watchRecorder) waitFor(ctx context.Context, t testing.TB, want store.Revocation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	for {
		r.mu.Lock()
		n := r.count(want)
		r.mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-r.more:
		case <-ctx.Done():
			t.Fatalf("revocation %+v never delivered: %v", want, ctx.Err())
		}
	}
}

// count returns how many times r holds want; r.mu must be held.
func (r *watchRecorder) count(want store.Revocation) int {
	n := 0
	for _, g := range r.got {
		d := g.ExpiresAt.Sub(want.ExpiresAt)
		if g.GrantID == want.GrantID && g.JTI == want.JTI && d > -time.Millisecond && d < time.Millisecond {
			n++
		}
	}
	return n
}

// waitForEnd waits for a watch to end by itself and returns its error.
func waitForEnd(ctx context.Context, t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(watchEndTimeout):
		t.Fatalf("WatchRevocations() still running %s after its connection was lost", watchEndTimeout)
	case <-ctx.Done():
		t.Fatalf("waiting for WatchRevocations() to end: %v", ctx.Err())
	}
	return nil
}

// testWatchEndsWhenConnectionDrops kills a watch's connection from the
// server's side. go-redis would reconnect and subscribe again by itself,
// and what was published in between would be lost without the watcher's
// caller knowing: the watch must end with an error instead.
func testWatchEndsWhenConnectionDrops(t *testing.T, url string) {
	ctx := t.Context()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis.ParseURL(%q) error = %v", url, err)
	}
	name := "watch-" + rand.Text()
	opts.ClientName = name
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	admin := newClient(t, url)
	s := redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()))

	_, done := startWatch(ctx, t, s)
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST error = %v", err)
	}
	var id string
	for line := range strings.Lines(list) {
		fields := strings.Fields(line)
		if !hasField(fields, "name="+name) || hasField(fields, "sub=0") {
			continue
		}
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
		}
	}
	if id == "" {
		t.Fatalf("CLIENT LIST has no subscribed client named %s:\n%s", name, list)
	}
	if err := admin.Do(ctx, "client", "kill", "id", id).Err(); err != nil {
		t.Fatalf("CLIENT KILL ID %s error = %v", id, err)
	}
	if err := waitForEnd(ctx, t, done); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("WatchRevocations() after its connection was killed = %v, want an error of its own", err)
	}
}

func hasField(fields []string, f string) bool {
	for _, g := range fields {
		if g == f {
			return true
		}
	}
	return false
}

// testListRevocationsEscapesPrefix checks that a prefix is matched as text,
// not as a glob: "?" must not list another prefix's revocations, nor "["
// make SCAN fail.
func testListRevocationsEscapesPrefix(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	ctx := t.Context()
	tag := rand.Text()
	exp := oauth2test.Now().Add(time.Hour)
	for _, tt := range []struct{ prefix, other string }{
		{"t?" + tag + ":", "tx" + tag + ":"},
		{"t*" + tag + ":", "t*x" + tag + ":"},
		{"t[x]" + tag + ":", "tx" + tag + ":"},
		{"t[" + tag + ":", "t[" + tag + "x:"},
		{`t\` + tag + ":", "t" + tag + ":"},
	} {
		s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(tt.prefix))...)
		other := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(tt.other))...)
		own, foreign := oauth2test.NewID("grant"), oauth2test.NewID("grant")
		if err := s.RevokeGrant(ctx, own, exp); err != nil {
			t.Fatalf("RevokeGrant() = %v, want nil", err)
		}
		if err := other.RevokeGrant(ctx, foreign, exp); err != nil {
			t.Fatalf("RevokeGrant() = %v, want nil", err)
		}
		got, err := s.ListRevocations(ctx)
		if err != nil {
			t.Fatalf("ListRevocations() under prefix %q error = %v", tt.prefix, err)
		}
		want := []store.Revocation{{GrantID: own, ExpiresAt: exp.Truncate(time.Millisecond)}}
		if len(got) != 1 || got[0].GrantID != own || !got[0].ExpiresAt.Equal(want[0].ExpiresAt) {
			t.Errorf("ListRevocations() under prefix %q = %+v, want %+v (and not %s's)", tt.prefix, got, want, tt.other)
		}
	}
}

// testListRevocationsPaged lists more revocations than one SCAN page and
// one pipeline hold, each exactly once.
func testListRevocationsPaged(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	ctx := t.Context()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(newPrefix()))...)
	const n = 2500
	exp := oauth2test.Now().Add(time.Hour)
	ids := make([]string, n)
	want := make(map[string]bool, n)
	for i := range ids {
		ids[i] = oauth2test.NewID("jti")
		want[ids[i]] = true
	}
	// A few revokers at once, so that the setup takes less than a second.
	const workers = 8
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += workers {
				errs[w] = s.RevokeAccessToken(ctx, ids[i], exp)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("RevokeAccessToken() error = %v", err)
	}
	got, err := s.ListRevocations(ctx)
	if err != nil {
		t.Fatalf("ListRevocations() error = %v", err)
	}
	seen := make(map[string]bool, len(got))
	for _, r := range got {
		if !want[r.JTI] || seen[r.JTI] {
			t.Errorf("ListRevocations() lists %+v, unexpected or twice", r)
		}
		seen[r.JTI] = true
	}
	if len(seen) != n {
		t.Errorf("ListRevocations() lists %d revocations, want %d", len(seen), n)
	}
}
