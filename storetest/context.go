package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

func testCancelled(ctx context.Context, t *testing.T, s store.Store) {
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	testDeadContext(ctx, t, s, cancelled)
}

func testDeadlineExceeded(ctx context.Context, t *testing.T, s store.Store) {
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	testDeadContext(ctx, t, s, expired)
}

// testDeadContext calls every method with dead, a context that has ended,
// and checks that each fails with an error wrapping dead.Err(). Each call is
// one the store would grant with a live context, so a store that ignores
// its context is caught.
func testDeadContext(ctx context.Context, t *testing.T, s store.Store, dead context.Context) {
	t.Helper()
	calls := deadCalls(ctx, t, s, dead)
	for _, c := range calls {
		err := c.call()
		if !errors.Is(err, dead.Err()) {
			t.Errorf("%s with ended context = %v, want error matching %v", c.name, err, dead.Err())
		}
		if errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s with ended context = %v, want no match for %v: a failed call is not a missing record", c.name, err, store.ErrNotFound)
		}
	}
}

func testCancelledLeavesNoState(ctx context.Context, t *testing.T, s store.Store) {
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	calls := deadCalls(ctx, t, s, cancelled)
	for _, c := range calls {
		// The errors are testDeadContext's business; only state matters here.
		_ = c.call()
	}
	for _, c := range calls {
		if c.check != nil {
			c.check()
		}
	}
}

type deadCall struct {
	name string
	call func() error
	// check, if set, verifies with a live context that the call changed
	// nothing.
	check func()
}

// deadCalls creates a live token in s (using ctx) and returns one call per
// method of s, all using dead.
func deadCalls(ctx context.Context, t *testing.T, s store.Store, dead context.Context) []deadCall {
	t.Helper()
	base := now()
	tok := newToken(base)
	mustCreate(ctx, t, s, tok)
	created := newToken(base)
	next := successor(tok, base.Add(time.Minute))
	jti, grantID := newID("jti"), newID("grant")

	calls := []deadCall{
		{
			name:  fmt.Sprintf("CreateRefreshToken(%x)", created.Hash),
			call:  func() error { return s.CreateRefreshToken(dead, created) },
			check: func() { wantNotFound(ctx, t, s, created.Hash) },
		},
		{
			name: fmt.Sprintf("GetRefreshToken(%x)", tok.Hash),
			call: func() error { _, err := s.GetRefreshToken(dead, tok.Hash); return err },
		},
		{
			name: fmt.Sprintf("RotateRefreshToken(%x)", tok.Hash),
			call: func() error { return s.RotateRefreshToken(dead, tok.Hash, next) },
			check: func() {
				wantToken(ctx, t, s, tok)
				wantNotFound(ctx, t, s, next.Hash)
			},
		},
		{
			name:  fmt.Sprintf("RevokeGrant(%q)", grantID),
			call:  func() error { return s.RevokeGrant(dead, grantID, base.Add(time.Hour)) },
			check: func() { wantRevoked(ctx, t, s, "", grantID, false) },
		},
		{
			name:  fmt.Sprintf("RevokeAccessToken(%q)", jti),
			call:  func() error { return s.RevokeAccessToken(dead, jti, base.Add(time.Hour)) },
			check: func() { wantRevoked(ctx, t, s, jti, "", false) },
		},
		{
			name: "IsRevoked",
			call: func() error { _, err := s.IsRevoked(dead, newID("jti"), newID("grant")); return err },
		},
	}
	if d, ok := s.(store.ExpiredDeleter); ok {
		calls = append(calls, deadCall{
			name: "DeleteExpired",
			call: func() error { _, err := d.DeleteExpired(dead); return err },
		})
	}
	return calls
}

// deadContexts returns two contexts that ended before any call: one
// cancelled and one past its deadline, so that a store that checks for
// one kind of end only is caught.
func deadContexts(ctx context.Context) []context.Context {
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	// Past its deadline when made, so cancelling it does not change its
	// error.
	expired, cancelExpired := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	cancelExpired()
	return []context.Context{cancelled, expired}
}

// wantDeadErr checks that err, returned by call made with dead, wraps the
// context's error and is not read as a missing record.
func wantDeadErr(t *testing.T, call string, dead context.Context, err error) {
	t.Helper()
	if !errors.Is(err, dead.Err()) {
		t.Errorf("%s with ended context = %v, want error matching %v", call, err, dead.Err())
	}
	if errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s with ended context = %v, want no match for %v: a failed call is not a missing record", call, err, store.ErrNotFound)
	}
}
