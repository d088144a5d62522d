package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/faultproxy"
	"github.com/oauth2kit/oauth2kit/store"
)

// testWatchEndsOnFailure breaks the connection under a working watch, in
// each way that delivers nothing more (a slow connection that still
// delivers is not a failure the view needs told of), and requires the watch to
// stop calling Alive and to end with an error; once the backend is back, a
// revocation made meanwhile is listed and a new watch delivers.
func testWatchEndsOnFailure(ctx context.Context, t *testing.T, e *faultEnv) {
	w := revocationWatcher(t, e.s)
	for _, f := range []faultproxy.Fault{faultproxy.Refused, faultproxy.Hung, faultproxy.ReplyLost} {
		rec := &aliveLog{first: make(chan struct{})}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.WatchRevocations(wctx, rec) }()
		select {
		case <-rec.first:
		case err := <-done:
			cancel()
			t.Fatalf("WatchRevocations() = %v before its first Alive", err)
		case <-time.After(deliveryTimeout):
			cancel()
			t.Fatalf("WatchRevocations() never called Alive within %v; %s", deliveryTimeout, timingHint())
		}
		e.set(t, f)
		broke := time.Now()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("with %s, WatchRevocations() = nil, want an error saying why the subscription failed", f)
			}
			if name := storeSentinel(err); name != "" {
				t.Errorf("with %s, WatchRevocations() = %v, matching %s, want an error matching no sentinel of package store", f, err, name)
			}
		case <-time.After(watchEndTimeout):
			t.Errorf("with %s, WatchRevocations() had not returned %v after the connection broke, want an error within that, so that a view resubscribes and resynchronises; %s", f, watchEndTimeout, timingHint())
			cancel()
			select {
			case <-done:
			case <-time.After(watchEndTimeout):
				t.Fatalf("with %s, WatchRevocations() had not returned %v after its context was cancelled either", f, watchEndTimeout)
			}
		}
		cancel()
		if late := rec.after(broke.Add(aliveGrace)); late > 0 {
			t.Errorf("with %s, WatchRevocations() called Alive %d times more than %v after the connection broke, want none: Alive says every revocation will be delivered, and none could be", f, late, aliveGrace)
		}
		// While replies are lost, a revocation still reaches the
		// backend: made while the backend was failing and no watch
		// could report it.
		var during string
		if f == faultproxy.ReplyLost {
			during = newID("grant")
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			_ = e.s.RevokeGrant(cctx, during, now().Add(time.Hour))
			cancel()
		}
		e.recover(ctx, t, f)
		if during != "" {
			revoked, err := e.s.IsRevoked(ctx, "", during)
			if err != nil {
				t.Fatalf("after recovering from %s, IsRevoked(%q) = %v, want nil", f, during, err)
			}
			if revoked {
				got, err := w.ListRevocations(ctx)
				if err != nil {
					t.Fatalf("after recovering from %s, ListRevocations() = %v, want nil", f, err)
				}
				if !listsID(got, during) {
					t.Errorf("after recovering from %s, ListRevocations() lacks grant %q, revoked while replies were lost (IsRevoked reports it)", f, during)
				}
			}
		}
		// Made while no watch runs, as between a failed watch and its
		// caller's next one: the caller's list after the next Alive
		// MUST find it.
		missed := store.Revocation{GrantID: newID("grant"), ExpiresAt: now().Add(time.Hour)}
		mustRevokeGrant(ctx, t, e.s, missed.GrantID, missed.ExpiresAt)
		rec2, stop := watchAgain(ctx, t, w, f)
		got, err := w.ListRevocations(ctx)
		if err != nil {
			t.Fatalf("after recovering from %s, ListRevocations() = %v, want nil", f, err)
		}
		if m := missingRevocations(got, []store.Revocation{missed}); len(m) > 0 {
			t.Errorf("after recovering from %s, ListRevocations() lacks %+v, revoked while no watch ran", f, m)
		}
		r := store.Revocation{JTI: newID("jti"), ExpiresAt: now().Add(time.Hour)}
		mustRevokeAccessToken(ctx, t, e.s, r.JTI, r.ExpiresAt)
		rec2.waitFor(ctx, t, r)
		_ = stop()
		if t.Failed() {
			return
		}
	}
}

// aliveLog is a RevocationListener that notes when Alive is called.
type aliveLog struct {
	first chan struct{} // closed at the first Alive
	mu    sync.Mutex
	times []time.Time
}

func (l *aliveLog) Alive() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.times = append(l.times, time.Now())
	if len(l.times) == 1 {
		close(l.first)
	}
}

func (l *aliveLog) Revoked(store.Revocation) {}

// after counts the Alive calls made after at.
func (l *aliveLog) after(at time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, tm := range l.times {
		if tm.After(at) {
			n++
		}
	}
	return n
}

// listsID reports whether list holds a revocation of the grant id.
func listsID(list []store.Revocation, grantID string) bool {
	for _, r := range list {
		if r.GrantID == grantID {
			return true
		}
	}
	return false
}
