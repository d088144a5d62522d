package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// testRecovers breaks the backend in each way in turn, with calls in
// flight so that the store's pool holds broken connections, and then
// requires the same store to serve every method again.
func testRecovers(ctx context.Context, t *testing.T, e *faultEnv) {
	for _, f := range []fault{refused, hung, replyLost, slow} {
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
func everyMethodWorks(ctx context.Context, t *testing.T, s store.Store, after fault) {
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
			return already(err, again, store.ErrAlreadyExists, func(ctx context.Context) bool {
				got, err := s.GetRefreshToken(ctx, tok.Hash)
				return err == nil && len(diffToken(got, tok)) == 0
			})(ctx)
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
			return already(err, again, store.ErrReused, func(ctx context.Context) bool {
				got, err := s.GetRefreshToken(ctx, next.Hash)
				return err == nil && len(diffToken(got, next)) == 0
			})(ctx)
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
					return fmt.Errorf("Failures %d, want 1", got.Failures)
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
			if storeSentinel(err) != "" || time.Now().After(deadline) || ctx.Err() != nil {
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
func watchAgain(ctx context.Context, t *testing.T, w store.RevocationWatcher, after fault) (*recorder, func() error) {
	t.Helper()
	deadline := time.Now().Add(recoverTimeout)
	for {
		rec := newRecorder()
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.WatchRevocations(wctx, rec) }()
		select {
		case <-rec.alive:
			var once sync.Once
			var err error
			stop := func() error {
				once.Do(func() {
					cancel()
					select {
					case err = <-done:
					case <-ctx.Done():
						err = errors.New("storetest: WatchRevocations did not return after its context was cancelled")
					}
				})
				return err
			}
			t.Cleanup(func() { _ = stop() })
			return rec, stop
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

// writeCase is one write whose reply the suite loses: prepare stores what
// it needs and returns the call, and check tells, once the backend is back,
// whether the call took effect whole, not at all, or in part.
type writeCase struct {
	name    string
	prepare func(ctx context.Context, t *testing.T) (call func(ctx context.Context) error, check func(ctx context.Context, t *testing.T, callErr error))
}

// outcome is what a check found a write to have done.
type outcome int

const (
	nothing outcome = iota
	whole
	partial
)

// judge fails t unless o is whole or nothing, and whole if the call
// returned nil.
func judge(t *testing.T, call string, callErr error, o outcome, state string) {
	t.Helper()
	switch {
	case o == partial:
		t.Errorf("%s = %v with its reply lost; once the backend was back the store held %s, want all of the write or none of it", call, callErr, state)
	case o == nothing && callErr == nil:
		t.Errorf("%s = nil with its reply lost; once the backend was back the store held %s, want the write done: it reported success", call, state)
	}
}

// writeCases returns a case for every write method s has.
func writeCases(s store.Store) []writeCase {
	var cases []writeCase
	add := func(name string, prepare func(ctx context.Context, t *testing.T) (func(ctx context.Context) error, func(ctx context.Context, t *testing.T, callErr error))) {
		cases = append(cases, writeCase{name, prepare})
	}
	add("CreateRefreshToken", func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
		tok := newToken(now())
		return func(ctx context.Context) error { return s.CreateRefreshToken(ctx, tok) },
			func(ctx context.Context, t *testing.T, callErr error) {
				got, err := s.GetRefreshToken(ctx, tok.Hash)
				o := whole
				switch {
				case errors.Is(err, store.ErrNotFound):
					o = nothing
				case err != nil:
					t.Fatalf("GetRefreshToken(%x) after recovery = %v, want nil or ErrNotFound", tok.Hash, err)
				case len(diffToken(got, tok)) > 0:
					o = partial
				}
				judge(t, fmt.Sprintf("CreateRefreshToken(%x)", tok.Hash), callErr, o, tokenString(got))
			}
	})
	add("RotateRefreshToken", func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
		base := now()
		old := newToken(base)
		mustCreate(ctx, t, s, old)
		next := successor(old, base.Add(time.Minute))
		return func(ctx context.Context) error { return s.RotateRefreshToken(ctx, old.Hash, next) },
			func(ctx context.Context, t *testing.T, callErr error) {
				gotOld, err := s.GetRefreshToken(ctx, old.Hash)
				if err != nil {
					t.Fatalf("GetRefreshToken(old %x) after recovery = %v, want nil", old.Hash, err)
				}
				gotNext, err := s.GetRefreshToken(ctx, next.Hash)
				stored := err == nil
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("GetRefreshToken(next %x) after recovery = %v, want nil or ErrNotFound", next.Hash, err)
				}
				o := partial
				switch {
				case stored && len(diffToken(gotOld, consumed(old, next.IssuedAt))) == 0 && len(diffToken(gotNext, next)) == 0:
					o = whole
				case !stored && len(diffToken(gotOld, old)) == 0:
					o = nothing
				}
				judge(t, fmt.Sprintf("RotateRefreshToken(%x, next %x)", old.Hash, next.Hash), callErr, o,
					fmt.Sprintf("old %s and next %s (stored %v)", tokenString(gotOld), tokenString(gotNext), stored))
			}
	})
	revoke := func(name string, jti bool) {
		add(name, func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
			id, exp := newID("id"), now().Add(time.Hour)
			return func(ctx context.Context) error {
					if jti {
						return s.RevokeAccessToken(ctx, id, exp)
					}
					return s.RevokeGrant(ctx, id, exp)
				}, func(ctx context.Context, t *testing.T, callErr error) {
					j, g := id, ""
					if !jti {
						j, g = "", id
					}
					revoked, err := s.IsRevoked(ctx, j, g)
					if err != nil {
						t.Fatalf("IsRevoked(%q, %q) after recovery = %v, want nil", j, g, err)
					}
					o := nothing
					if revoked {
						o = whole
					}
					judge(t, fmt.Sprintf("%s(%q)", name, id), callErr, o, fmt.Sprintf("IsRevoked = %v", revoked))
				}
		})
	}
	revoke("RevokeGrant", false)
	revoke("RevokeAccessToken", true)
	if ks, ok := s.(store.KeyStore); ok {
		add("SwapKeySet", func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
			cur, err := ks.GetKeySet(ctx)
			if err != nil {
				t.Fatalf("GetKeySet() = %v, want nil", err)
			}
			keys := newSigningKeys(2)
			var got int64
			return func(ctx context.Context) error {
					v, err := ks.SwapKeySet(ctx, cur.Version, keys)
					got = v
					return err
				}, func(ctx context.Context, t *testing.T, callErr error) {
					set, err := ks.GetKeySet(ctx)
					if err != nil {
						t.Fatalf("GetKeySet() after recovery = %v, want nil", err)
					}
					o := partial
					switch {
					case set.Version == cur.Version && sameKeyIDs(set.Keys, cur.Keys):
						o = nothing
					case set.Version != cur.Version && sameKeyIDs(set.Keys, keys) && (callErr != nil || got == set.Version):
						o = whole
					}
					judge(t, fmt.Sprintf("SwapKeySet(%d) (returned version %d)", cur.Version, got), callErr, o,
						fmt.Sprintf("version %d with keys %s", set.Version, keysString(set.Keys)))
				}
		})
	}
	if as, ok := s.(store.AttemptStore); ok {
		twoFailures := func(ctx context.Context, t *testing.T) string {
			key := newID("key")
			for range 2 {
				if _, err := as.AddFailure(ctx, key, now().Add(time.Hour)); err != nil {
					t.Fatalf("AddFailure(%q) = %v, want nil", key, err)
				}
			}
			return key
		}
		failures := func(ctx context.Context, t *testing.T, key string) int {
			got, err := as.GetAttempts(ctx, key)
			if err != nil || len(got) != 1 {
				t.Fatalf("GetAttempts(%q) after recovery = %v, %v, want one record", key, got, err)
			}
			return got[0].Failures
		}
		add("AddFailure", func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
			key := twoFailures(ctx, t)
			var got store.Attempts
			return func(ctx context.Context) error {
					var err error
					got, err = as.AddFailure(ctx, key, now().Add(time.Hour))
					return err
				}, func(ctx context.Context, t *testing.T, callErr error) {
					n := failures(ctx, t, key)
					o := partial
					switch {
					case n == 2:
						o = nothing
					case n == 3 && (callErr != nil || got.Failures == 3):
						o = whole
					}
					judge(t, fmt.Sprintf("AddFailure(%q) on 2 failures (returned Failures %d)", key, got.Failures), callErr, o,
						fmt.Sprintf("%d failures (want 2 or 3: counted once or not at all)", n))
				}
		})
		add("ResetAttempts", func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
			key := twoFailures(ctx, t)
			return func(ctx context.Context) error { return as.ResetAttempts(ctx, key) },
				func(ctx context.Context, t *testing.T, callErr error) {
					n := failures(ctx, t, key)
					o := partial
					switch n {
					case 2:
						o = nothing
					case 0:
						o = whole
					}
					judge(t, fmt.Sprintf("ResetAttempts(%q) on 2 failures", key), callErr, o, fmt.Sprintf("%d failures", n))
				}
		})
	}
	if ss, ok := s.(store.SessionStore); ok {
		listed := func(ctx context.Context, t *testing.T, sess store.Session) (store.Session, bool) {
			got, err := ss.ListSessions(ctx, sess.Subject)
			if err != nil {
				t.Fatalf("ListSessions(%q) after recovery = %v, want nil", sess.Subject, err)
			}
			i := slices.IndexFunc(got, func(g store.Session) bool { return g.GrantID == sess.GrantID })
			if i < 0 {
				return store.Session{}, false
			}
			return got[i], true
		}
		add("CreateSession", func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
			sess := newSession(newID("subject"), now())
			return func(ctx context.Context) error { return ss.CreateSession(ctx, sess) },
				func(ctx context.Context, t *testing.T, callErr error) {
					_, ok := listed(ctx, t, sess)
					o := nothing
					if ok {
						o = whole
					}
					judge(t, fmt.Sprintf("CreateSession(%s)", sess.GrantID), callErr, o, fmt.Sprintf("the session listed: %v", ok))
				}
		})
		add("TouchSession", func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
			sess := newSession(newID("subject"), now())
			mustCreateSession(ctx, t, ss, sess)
			at, exp := sess.RefreshedAt.Add(time.Minute), sess.ExpiresAt.Add(time.Hour)
			return func(ctx context.Context) error { return ss.TouchSession(ctx, sess.Subject, sess.GrantID, at, exp) },
				func(ctx context.Context, t *testing.T, callErr error) {
					got, ok := listed(ctx, t, sess)
					if !ok {
						t.Fatalf("ListSessions(%q) after recovery lacks %s, which TouchSession must not remove", sess.Subject, sess.GrantID)
					}
					o := partial
					switch {
					case got.RefreshedAt.Equal(sess.RefreshedAt) && got.ExpiresAt.Equal(sess.ExpiresAt):
						o = nothing
					case got.RefreshedAt.Equal(at) && got.ExpiresAt.Equal(exp):
						o = whole
					}
					judge(t, fmt.Sprintf("TouchSession(%s)", sess.GrantID), callErr, o,
						fmt.Sprintf("RefreshedAt %v, ExpiresAt %v", got.RefreshedAt, got.ExpiresAt))
				}
		})
		add("DeleteSession", func(ctx context.Context, t *testing.T) (func(context.Context) error, func(context.Context, *testing.T, error)) {
			sess := newSession(newID("subject"), now())
			mustCreateSession(ctx, t, ss, sess)
			return func(ctx context.Context) error { return ss.DeleteSession(ctx, sess.Subject, sess.GrantID) },
				func(ctx context.Context, t *testing.T, callErr error) {
					_, ok := listed(ctx, t, sess)
					o := whole
					if ok {
						o = nothing
					}
					judge(t, fmt.Sprintf("DeleteSession(%s)", sess.GrantID), callErr, o, fmt.Sprintf("the session listed: %v", ok))
				}
		})
	}
	return cases
}

func sameKeyIDs(a, b []store.SigningKey) bool {
	return slices.EqualFunc(a, b, func(x, y store.SigningKey) bool { return x.ID == y.ID && string(x.Private) == string(y.Private) })
}

// testLostWrite loses the reply to every write in turn, for as long as the
// write's call lasts, then checks what it left once the backend is back.
func testLostWrite(ctx context.Context, t *testing.T, e *faultEnv) {
	lostWrites(ctx, t, e, replyLost)
}

// testRetryNotMisreported loses one reply only, so that a store that
// retries gets an answer to its retry: that answer MUST NOT turn the
// call's own effect into ErrReused, ErrAlreadyExists or ErrConflict.
func testRetryNotMisreported(ctx context.Context, t *testing.T, e *faultEnv) {
	lostWrites(ctx, t, e, replyLostOnce)
}

func lostWrites(ctx context.Context, t *testing.T, e *faultEnv, f fault) {
	for _, wc := range writeCases(e.s) {
		// The same write once with the backend healthy, so that the
		// connection the lost one most likely goes out on has done it
		// before: a driver that prepares a statement the first time it
		// runs it would otherwise lose the reply to the preparation, and
		// the write would never reach the server.
		warm, _ := wc.prepare(ctx, t)
		if err := warm(ctx); err != nil {
			t.Fatalf("%s with the backend healthy = %v, want nil", wc.name, err)
		}
		call, check := wc.prepare(ctx, t)
		e.set(t, f)
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		start := time.Now()
		err := call(cctx)
		took := time.Since(start)
		cancel()
		if name := storeSentinel(err); name != "" {
			t.Errorf("with %s, %s = %v, matching %s, want nil or an error matching no sentinel of package store: the backend's answer was lost, so the store does not know it", f, wc.name, err, name)
		}
		if f == replyLost && err == nil {
			t.Errorf("with %s, %s = nil, want an error: no reply ever arrived", f, wc.name)
		}
		if took > callTimeout+faultSlack {
			t.Errorf("with %s, %s returned after %v, want within %v (its context's deadline) plus %v; %s", f, wc.name, took.Round(time.Millisecond), callTimeout, faultSlack, timingHint())
		}
		e.recover(ctx, t, f)
		check(ctx, t, err)
	}
}

// testWatchEndsOnFailure breaks the connection under a working watch, in
// each way that delivers nothing more (a slow connection that still
// delivers is not a failure the view needs told of), and requires the watch to
// stop calling Alive and to end with an error; once the backend is back, a
// revocation made meanwhile is listed and a new watch delivers.
func testWatchEndsOnFailure(ctx context.Context, t *testing.T, e *faultEnv) {
	w := revocationWatcher(t, e.s)
	for _, f := range []fault{refused, hung, replyLost} {
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
			<-done
		}
		cancel()
		if late := rec.after(broke.Add(aliveGrace)); late > 0 {
			t.Errorf("with %s, WatchRevocations() called Alive %d times more than %v after the connection broke, want none: Alive says every revocation will be delivered, and none could be", f, late, aliveGrace)
		}
		e.recover(ctx, t, f)
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
