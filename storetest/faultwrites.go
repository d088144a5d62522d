package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/faultproxy"
	"github.com/oauth2kit/oauth2kit/store"
)

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
	lostWrites(ctx, t, e, faultproxy.ReplyLost)
}

// testRetryNotMisreported loses one reply only, so that a store that
// retries gets an answer to its retry: that answer MUST NOT turn the
// call's own effect into ErrReused, ErrAlreadyExists or ErrConflict.
func testRetryNotMisreported(ctx context.Context, t *testing.T, e *faultEnv) {
	lostWrites(ctx, t, e, faultproxy.ReplyLostOnce)
}

func lostWrites(ctx context.Context, t *testing.T, e *faultEnv, f faultproxy.Fault) {
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
		if f == faultproxy.ReplyLost && err == nil {
			t.Errorf("with %s, %s = nil, want an error: no reply ever arrived", f, wc.name)
		}
		if took > callTimeout+faultSlack {
			t.Errorf("with %s, %s returned after %v, want within %v (its context's deadline) plus %v; %s", f, wc.name, took.Round(time.Millisecond), callTimeout, faultSlack, timingHint())
		}
		e.recover(ctx, t, f)
		check(ctx, t, err)
	}
}
