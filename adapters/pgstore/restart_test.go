package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/store"
)

// While the server is down every call fails with an error that is not an
// answer, and once it is back the same pool and Store carry on where they
// were: no rotation lost, rotation working again. A watch running when the
// server goes away ends with an error rather than hanging, so that its
// caller stops trusting it, and a new one works once the server is back.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	srv := testenv.Postgres(t, testenv.Options{Own: true})
	pool := newPool(t, srv.URL, nil)
	s := newMigrated(t, pool, "oauth2kit")
	ctx := t.Context()

	base := now()
	tok := token(base, base.Add(time.Hour))
	next := successor(tok, base.Add(time.Minute))
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken() = %v, want nil", err)
	}
	if err := s.RotateRefreshToken(ctx, tok.Hash, next); err != nil {
		t.Fatalf("RotateRefreshToken() = %v, want nil", err)
	}

	rec, watchDone := startWatch(t, s)
	waitAlive(t, rec, watchDone)

	if err := srv.Stop(ctx); err != nil {
		t.Fatalf("Stop() = %v, want nil", err)
	}
	// The server closes its sessions as it stops, which ends the watch at
	// once; one that vanished silently would be noticed by the next ping.
	select {
	case err := <-watchDone:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("WatchRevocations() when the server stopped = %v, want an error saying why", err)
		}
	case <-time.After(watchBound):
		t.Errorf("WatchRevocations() still running %s after the server stopped", watchBound)
	}
	// A bound in case the pool waited on a connection that never answers;
	// the calls are expected to fail long before.
	down, cancel := context.WithTimeout(ctx, time.Minute)
	for name, err := range everyMethod(down, s, next) {
		wantFailed(t, name+" while the server is down", err)
	}
	wantFailed(t, "Migrate while the server is down", s.Migrate(down))
	cancel()

	if err := srv.Start(ctx); err != nil {
		t.Fatalf("Start() = %v, want nil", err)
	}
	waitForServer(t, pool.Ping)

	got, err := s.GetRefreshToken(ctx, tok.Hash)
	if err != nil || !got.ConsumedAt.Equal(next.IssuedAt) {
		t.Errorf("GetRefreshToken(rotated before the restart) = %+v, %v, want consumed at %v", got, err, next.IssuedAt)
	}
	if got, err := s.GetRefreshToken(ctx, next.Hash); err != nil || got.Consumed() {
		t.Errorf("GetRefreshToken(successor) = %+v, %v, want live", got, err)
	}
	if err := s.RotateRefreshToken(ctx, tok.Hash, successor(tok, now())); !errors.Is(err, store.ErrReused) {
		t.Errorf("RotateRefreshToken(rotated before the restart) = %v, want error matching %v", err, store.ErrReused)
	}
	if err := s.RotateRefreshToken(ctx, next.Hash, successor(next, now())); err != nil {
		t.Errorf("RotateRefreshToken(successor) after the restart = %v, want nil", err)
	}

	rec, watchDone = startWatch(t, s)
	waitAlive(t, rec, watchDone)
	want := store.Revocation{GrantID: tok.GrantID, ExpiresAt: now().Add(time.Hour)}
	if err := s.RevokeGrant(ctx, want.GrantID, want.ExpiresAt); err != nil {
		t.Fatalf("RevokeGrant() after the restart = %v, want nil", err)
	}
	waitRevoked(t, rec, watchDone, want)
}

// waitForServer calls ping until it succeeds, a bounded number of times: the
// container reports started before PostgreSQL accepts connections again.
func waitForServer(t *testing.T, ping func(context.Context) error) {
	t.Helper()
	const tries, pause = 120, 500 * time.Millisecond
	var err error
	for range tries {
		if err = ping(t.Context()); err == nil {
			return
		}
		time.Sleep(pause)
	}
	t.Fatalf("Ping() after restarting the server = %v after %d tries, want nil", err, tries)
}
