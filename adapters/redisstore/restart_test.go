package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/store"
)

// TestServerRestart stops Redis under a store and starts it again: while it
// is down every call fails with an error that no caller could mistake for an
// answer, a running watch ends with an error rather than hang or pretend,
// and once it is back the same store, on the same client, finds the state it
// left, and works, a new watch included.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	srv := testenv.Redis(t, testenv.Options{Own: true})
	client := newClient(t, srv.URL)
	s := redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()))
	ctx := t.Context()

	base := oauth2test.Now()
	first := oauth2test.NewToken(base)
	second := oauth2test.Successor(first, base.Add(time.Minute))
	mustCreate(ctx, t, s, first)
	mustRotate(ctx, t, s, first.Hash, second)
	jti := oauth2test.NewID("jti")
	if err := s.RevokeAccessToken(ctx, jti, base.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeAccessToken() = %v, want nil", err)
	}
	version, err := s.SwapKeySet(ctx, 0, nil)
	if err != nil {
		t.Fatalf("SwapKeySet() = %v, want nil", err)
	}
	sess := oauth2test.NewSession(first.Subject, base)
	mustCreateSession(ctx, t, s, sess)

	_, watchDone := startWatch(ctx, t, s)

	if err := srv.Stop(ctx); err != nil {
		t.Fatalf("Stop() error = %v", err)
	}
	if err := waitForEnd(ctx, t, watchDone); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("WatchRevocations() when the server stopped = %v, want an error of its own", err)
	}
	lost := oauth2test.Successor(second, base.Add(2*time.Minute))
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateRefreshToken(new)", func() error { return s.CreateRefreshToken(ctx, oauth2test.NewToken(base)) }},
		{"GetRefreshToken(live)", func() error { _, err := s.GetRefreshToken(ctx, second.Hash); return err }},
		{"GetRefreshToken(unknown)", func() error { _, err := s.GetRefreshToken(ctx, oauth2test.NewHash()); return err }},
		{"RotateRefreshToken(live)", func() error { return s.RotateRefreshToken(ctx, second.Hash, lost) }},
		{"RotateRefreshToken(consumed)", func() error { return s.RotateRefreshToken(ctx, first.Hash, lost) }},
		{"RevokeGrant()", func() error { return s.RevokeGrant(ctx, oauth2test.NewID("grant"), base.Add(time.Hour)) }},
		{"RevokeAccessToken()", func() error { return s.RevokeAccessToken(ctx, oauth2test.NewID("jti"), base.Add(time.Hour)) }},
		{"IsRevoked()", func() error {
			revoked, err := s.IsRevoked(ctx, jti, "")
			if err == nil {
				t.Errorf("IsRevoked() while stopped = %v, nil, want an error", revoked)
			}
			return err
		}},
		{"GetKeySet()", func() error { _, err := s.GetKeySet(ctx); return err }},
		{"ListRevocations()", func() error { _, err := s.ListRevocations(ctx); return err }},
		{"WatchRevocations()", func() error {
			wctx, cancel := context.WithTimeout(ctx, watchEndTimeout)
			defer cancel()
			err := s.WatchRevocations(wctx, &watchRecorder{})
			if wctx.Err() != nil {
				t.Errorf("WatchRevocations() while stopped still running after %s, want an error", watchEndTimeout)
			}
			return err
		}},
		{"SwapKeySet()", func() error { _, err := s.SwapKeySet(ctx, version, nil); return err }},
		{"CreateSession(live)", func() error { return s.CreateSession(ctx, sess) }},
		{"TouchSession()", func() error {
			return s.TouchSession(ctx, sess.Subject, sess.GrantID, base.Add(time.Minute), base.Add(2*time.Hour))
		}},
		{"ListSessions()", func() error { _, err := s.ListSessions(ctx, sess.Subject); return err }},
		{"DeleteSession()", func() error { return s.DeleteSession(ctx, sess.Subject, sess.GrantID) }},
	}
	for _, c := range calls {
		err := c.call()
		if err == nil {
			t.Errorf("%s while stopped = nil, want an error", c.name)
			continue
		}
		for _, sentinel := range []error{store.ErrNotFound, store.ErrReused, store.ErrAlreadyExists, store.ErrConflict} {
			if errors.Is(err, sentinel) {
				t.Errorf("%s while stopped = %v, want no match for %v: an unreachable server is not an answer", c.name, err, sentinel)
			}
		}
	}

	if err := srv.Start(ctx); err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	waitForServer(ctx, t, client)

	wantToken(ctx, t, s, consumed(first, second.IssuedAt))
	wantToken(ctx, t, s, second)
	wantNotFound(ctx, t, s, lost.Hash)
	if revoked, err := s.IsRevoked(ctx, jti, ""); !revoked || err != nil {
		t.Errorf("IsRevoked(%q) after restart = %v, %v, want true, nil", jti, revoked, err)
	}
	if set, err := s.GetKeySet(ctx); set.Version != version || err != nil {
		t.Errorf("GetKeySet() after restart = version %d, %v, want %d, nil", set.Version, err, version)
	}
	wantSessions(ctx, t, s, sess.Subject, sess)
	third := oauth2test.Successor(second, base.Add(3*time.Minute))
	mustRotate(ctx, t, s, second.Hash, third)
	wantToken(ctx, t, s, third)
	wantErr(t, "RotateRefreshToken(first, after restart)", s.RotateRefreshToken(ctx, first.Hash, lost), store.ErrReused)

	rec, _ := startWatch(ctx, t, s)
	revoked := store.Revocation{GrantID: oauth2test.NewID("grant"), ExpiresAt: base.Add(time.Hour)}
	if err := s.RevokeGrant(ctx, revoked.GrantID, revoked.ExpiresAt); err != nil {
		t.Fatalf("RevokeGrant() after restart = %v, want nil", err)
	}
	rec.waitFor(ctx, t, revoked)
	list, err := s.ListRevocations(ctx)
	if err != nil {
		t.Fatalf("ListRevocations() after restart error = %v", err)
	}
	if len(list) != 2 {
		t.Errorf("ListRevocations() after restart = %+v, want %s and %s", list, jti, revoked.GrantID)
	}
}

// waitForServer polls until the restarted server answers, a bounded number
// of times: the container may report itself started before it accepts
// connections again.
func waitForServer(ctx context.Context, t *testing.T, client *redis.Client) {
	t.Helper()
	const attempts = 100
	var err error
	for range attempts {
		if err = client.Ping(ctx).Err(); err == nil {
			return
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("waiting for Redis to restart: %v", ctx.Err())
		}
	}
	t.Fatalf("PING after restart, %d attempts: last error = %v, want nil", attempts, err)
}
