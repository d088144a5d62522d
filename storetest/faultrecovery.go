package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/faultproxy"
	"github.com/oauth2kit/oauth2kit/store"
)

// testRecovers breaks the backend in each way in turn, with calls in
// flight so that the store's pool holds broken connections, and then
// requires the same store to serve every method again.
func testRecovers(ctx context.Context, t *testing.T, e *faultEnv) {
	for _, f := range []faultproxy.Fault{faultproxy.Refused, faultproxy.Hung, faultproxy.ReplyLost, faultproxy.Slow} {
		fx := newFixture(ctx, t, e.s)
		e.set(t, f)
		// The errors are the *IsAnError requirements' business; these
		// calls are here to leave broken connections behind.
		calls := faultCalls(e.s, fx)
		wait := start(len(calls), func(i int) {
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			_, _ = calls[i].call(cctx)
		})
		wait(ctx, t)
		e.recover(ctx, t, f)
		everyMethodWorks(ctx, t, e.s, f)
		if t.Failed() {
			return
		}
	}
}

// everyMethodWorks calls every method of s and requires each to succeed
// with the right answer within recoverTimeout. A call that fails with an
// error that is no answer is made again, as a caller would: a client's
// pool may take a moment to drop its broken connections and dial again.
// Each step accepts, on a second try, the answer its own first try may
// have caused (a token already created, say).
func everyMethodWorks(ctx context.Context, t *testing.T, s store.Store, after faultproxy.Fault) {
	t.Helper()
	base := now()
	tok := newToken(base)
	next := successor(tok, base.Add(time.Minute))
	grant, jti := newID("grant"), newID("jti")
	type step struct {
		name string
		do   func(ctx context.Context, again bool) error
	}
	// already accepts err on a second try if it is want and the record
	// the first try would have written is there.
	already := func(err error, again bool, want error, there func(ctx context.Context) bool) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			if again && errors.Is(err, want) && there(ctx) {
				return nil
			}
			return err
		}
	}
	steps := []step{
		{"CreateRefreshToken", func(ctx context.Context, again bool) error {
			err := s.CreateRefreshToken(ctx, tok)
			err = already(err, again, store.ErrAlreadyExists, func(ctx context.Context) bool {
				got, err := s.GetRefreshToken(ctx, tok.Hash)
				return err == nil && len(diffToken(got, tok)) == 0
			})(ctx)
			if again && errors.Is(err, store.ErrAlreadyExists) {
				// A first try that failed in transit may have left
				// its hash reserved without storing the token, as
				// package store allows: a caller starts over with a
				// new token, as the rest of the steps do.
				tok = newToken(base)
				next = successor(tok, base.Add(time.Minute))
				return s.CreateRefreshToken(ctx, tok)
			}
			return err
		}},
		{"GetRefreshToken", func(ctx context.Context, _ bool) error {
			got, err := s.GetRefreshToken(ctx, tok.Hash)
			if err == nil && len(diffToken(got, tok)) > 0 {
				return fmt.Errorf("got %s, want %s", tokenString(got), tokenString(tok))
			}
			return err
		}},
		{"RotateRefreshToken", func(ctx context.Context, again bool) error {
			err := s.RotateRefreshToken(ctx, tok.Hash, next)
			err = already(err, again, store.ErrReused, func(ctx context.Context) bool {
				got, err := s.GetRefreshToken(ctx, next.Hash)
				return err == nil && len(diffToken(got, next)) == 0
			})(ctx)
			if again && errors.Is(err, store.ErrAlreadyExists) {
				// The successor's hash reserved by a first try that
				// failed in transit, the old token still live: a
				// caller rotates to another successor.
				next = successor(tok, base.Add(time.Minute))
				return s.RotateRefreshToken(ctx, tok.Hash, next)
			}
			return err
		}},
		{"RevokeGrant", func(ctx context.Context, _ bool) error { return s.RevokeGrant(ctx, grant, base.Add(time.Hour)) }},
		{"RevokeAccessToken", func(ctx context.Context, _ bool) error { return s.RevokeAccessToken(ctx, jti, base.Add(time.Hour)) }},
		{"IsRevoked", func(ctx context.Context, _ bool) error {
			revoked, err := s.IsRevoked(ctx, jti, "")
			if err == nil && !revoked {
				return errors.New("false, want true")
			}
			return err
		}},
	}
	if d, ok := s.(store.ExpiredDeleter); ok {
		steps = append(steps, step{"DeleteExpired", func(ctx context.Context, _ bool) error { _, err := d.DeleteExpired(ctx); return err }})
	}
	if ks, ok := s.(store.KeyStore); ok {
		steps = append(steps, step{"GetKeySet+SwapKeySet", func(ctx context.Context, _ bool) error {
			set, err := ks.GetKeySet(ctx)
			if err != nil {
				return err
			}
			_, err = ks.SwapKeySet(ctx, set.Version, newSigningKeys(1))
			return err
		}})
	}
	if as, ok := s.(store.AttemptStore); ok {
		key := newID("key")
		steps = append(steps,
			step{"AddFailure", func(ctx context.Context, again bool) error {
				got, err := as.AddFailure(ctx, key, base.Add(time.Hour))
				// A first try that failed in transit may have counted.
				if err == nil && got.Failures != 1 && !(again && got.Failures == 2) {
					return fmt.Errorf("got %d failures, want 1", got.Failures)
				}
				return err
			}},
			step{"GetAttempts", func(ctx context.Context, _ bool) error { _, err := as.GetAttempts(ctx, key); return err }},
			step{"ResetAttempts", func(ctx context.Context, _ bool) error { return as.ResetAttempts(ctx, key) }})
	}
	if ss, ok := s.(store.SessionStore); ok {
		sess := newSession(newID("subject"), base)
		listed := func(ctx context.Context) bool {
			got, err := ss.ListSessions(ctx, sess.Subject)
			return err == nil && len(got) == 1
		}
		steps = append(steps,
			step{"CreateSession", func(ctx context.Context, again bool) error {
				return already(ss.CreateSession(ctx, sess), again, store.ErrAlreadyExists, listed)(ctx)
			}},
			step{"TouchSession", func(ctx context.Context, _ bool) error {
				return ss.TouchSession(ctx, sess.Subject, sess.GrantID, base.Add(time.Minute), base.Add(2*time.Hour))
			}},
			step{"ListSessions", func(ctx context.Context, _ bool) error {
				got, err := ss.ListSessions(ctx, sess.Subject)
				if err == nil && len(got) != 1 {
					return fmt.Errorf("%d sessions, want 1", len(got))
				}
				return err
			}},
			step{"DeleteSession", func(ctx context.Context, _ bool) error { return ss.DeleteSession(ctx, sess.Subject, sess.GrantID) }})
	}
	if w, ok := s.(store.RevocationWatcher); ok {
		steps = append(steps, step{"ListRevocations", func(ctx context.Context, _ bool) error {
			got, err := w.ListRevocations(ctx)
			if err == nil {
				if m := missingRevocations(got, []store.Revocation{{GrantID: grant, ExpiresAt: base.Add(time.Hour)}}); len(m) > 0 {
					return fmt.Errorf("lacks %+v", m)
				}
			}
			return err
		}})
	}
	deadline := time.Now().Add(recoverTimeout)
	for _, st := range steps {
		for again := false; ; again = true {
			cctx, cancel := context.WithDeadline(ctx, deadline)
			err := st.do(cctx, again)
			cancel()
			if err == nil {
				break
			}
			if storeSentinel(err) != "" {
				// An answer, and a wrong one: no timing of the suite's.
				t.Errorf("after recovering from %s: %s = %v, want nil: the same store MUST serve every method again", after, st.name, err)
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Errorf("after recovering from %s: %s = %v, want nil: the same store MUST serve every method again within %v of the backend's return; %s", after, st.name, err, recoverTimeout, timingHint())
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if w, ok := s.(store.RevocationWatcher); ok && !t.Failed() {
		rec, stop := watchAgain(ctx, t, w, after)
		r := store.Revocation{JTI: newID("jti"), ExpiresAt: base.Add(time.Hour)}
		mustRevokeAccessToken(ctx, t, s, r.JTI, r.ExpiresAt)
		rec.waitFor(ctx, t, r)
		_ = stop()
	}
}

// watchAgain starts a watch once the backend is back, as watch does, but
// starts it again while it fails before its first Alive, until
// recoverTimeout: the store's client may still be dropping what broke.
func watchAgain(ctx context.Context, t *testing.T, w store.RevocationWatcher, after faultproxy.Fault) (*recorder, func() error) {
	t.Helper()
	deadline := time.Now().Add(recoverTimeout)
	for {
		rec := newRecorder()
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.WatchRevocations(wctx, rec) }()
		select {
		case <-rec.alive:
			return rec, stopWatch(ctx, t, cancel, done)
		case err := <-done:
			cancel()
			if time.Now().After(deadline) {
				t.Fatalf("after recovering from %s, WatchRevocations() = %v before its first Alive, %v after the backend came back; the same store MUST watch again; %s", after, err, recoverTimeout, timingHint())
			}
			time.Sleep(50 * time.Millisecond)
		case <-time.After(time.Until(deadline)):
			cancel()
			t.Fatalf("after recovering from %s, WatchRevocations() had not called Alive %v after the backend came back; %s", after, recoverTimeout, timingHint())
		}
	}
}
