package oauth2

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

func graceFixture(t *testing.T, grace time.Duration) *fixture {
	t.Helper()
	return newFixture(t, func(c *IssuerConfig) { c.RefreshGrace = grace })
}

// 100 concurrent refreshes of one token all succeed within the grace
// window, and all get the same successor: no second chain is started.
func TestRefreshGraceConcurrent(t *testing.T) {
	f := graceFixture(t, 10*time.Second)
	first := f.login(t, f.confid)
	const n = 100
	resps := make([]*TokenResponse, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { resps[i], errs[i] = f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil) })
	}
	wg.Wait()
	successors := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("RefreshGrant() call %d error = %v, want success within the grace window", i, err)
		}
		successors[resps[i].RefreshToken] = true
		if _, err := f.verifier.Verify(t.Context(), resps[i].AccessToken); err != nil {
			t.Errorf("Verify(access token of call %d) error = %v", i, err)
		}
	}
	if len(successors) != 1 {
		t.Fatalf("Got %d distinct successors, want 1", len(successors))
	}
	// The one successor works, and the grant was never revoked.
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, resps[0].RefreshToken, nil); err != nil {
		t.Errorf("RefreshGrant(the successor) error = %v", err)
	}
}

// Without a grace window (the default) the second use is reuse.
func TestRefreshGraceOffByDefault(t *testing.T) {
	f := newFixture(t)
	first := f.login(t, f.confid)
	second, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("RefreshGrant(again, no grace) error = %v, want %v", err, ErrInvalidGrant)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, second.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(successor after reuse) error = %v, want %v: the grant is revoked", err, ErrInvalidGrant)
	}
}

func TestRefreshGraceEnds(t *testing.T) {
	tests := []struct {
		name string
		// after runs between the rotation and the second presentation.
		after func(t *testing.T, f *fixture, successor string)
	}{
		{"successor used", func(t *testing.T, f *fixture, successor string) {
			if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, successor, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"window passed", func(t *testing.T, f *fixture, _ string) { f.clock.Advance(10 * time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := graceFixture(t, 10*time.Second)
			first := f.login(t, f.confid)
			second, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
			if err != nil {
				t.Fatal(err)
			}
			again, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
			if err != nil || again.RefreshToken != second.RefreshToken {
				t.Fatalf("RefreshGrant(again, within the window) = %v, %v, want the same successor", again, err)
			}
			tt.after(t, f, second.RefreshToken)
			if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
				t.Fatalf("RefreshGrant(old token, %s) error = %v, want %v", tt.name, err, ErrInvalidGrant)
			}
			// Reuse revoked the grant: the latest token is dead too.
			if _, err := f.verifier.Verify(t.Context(), again.AccessToken); !errors.Is(err, ErrTokenRevoked) {
				t.Errorf("Verify(access token of the grant) error = %v, want %v", err, ErrTokenRevoked)
			}
		})
	}
}

// Another client presenting the token gets nothing, within the window too.
func TestRefreshGraceSameClientOnly(t *testing.T) {
	f := graceFixture(t, 10*time.Second)
	first := f.login(t, f.public)
	if _, err := f.issuer.RefreshGrant(t.Context(), f.public, first.RefreshToken, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(another client) error = %v, want %v", err, ErrInvalidGrant)
	}
}

// The store never holds the successor in a form that can be redeemed: the
// consumed token's record carries the grant's key, and neither it nor any
// other field is the successor.
func TestRefreshGraceSuccessorNotStored(t *testing.T) {
	f := graceFixture(t, 10*time.Second)
	first := f.login(t, f.confid)
	second, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := f.store.GetRefreshToken(t.Context(), f.issuer.hashToken(first.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	rec := string(old.Hash) + string(old.SuccessorKey) + old.GrantID + old.ClientID + old.Subject + strings.Join(old.Scope, " ")
	if len(old.SuccessorKey) != successorKeyBytes || strings.Contains(rec, second.RefreshToken) {
		t.Errorf("Got consumed record %+v, want a %d-byte key and no trace of the successor", old, successorKeyBytes)
	}
	// Without the old token, the key yields nothing: the successor is
	// derived from both.
	if other, _, _ := f.issuer.successorToken("another token", old); other == second.RefreshToken {
		t.Error("Got the successor from another token and the key")
	}
}

func TestRefreshGraceNegativeRefused(t *testing.T) {
	f := newFixture(t)
	cfg := f.issuer.cfg
	cfg.RefreshGrace = -time.Second
	if _, err := NewIssuer(cfg); err == nil {
		t.Error("NewIssuer(negative RefreshGrace) error = nil")
	}
}

// A grant whose key is missing or too short (an old record, or an adapter
// that returns an empty key for none) gets random successors and no grace:
// a successor derived from a guessable key could be computed by anyone who
// holds the old token.
func TestRefreshGraceNeedsAFullKey(t *testing.T) {
	f := graceFixture(t, 10*time.Second)
	first := f.login(t, f.confid)
	old, err := f.store.GetRefreshToken(t.Context(), f.issuer.hashToken(first.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range [][]byte{nil, {}, old.SuccessorKey[:successorKeyBytes-1]} {
		weak := old
		weak.SuccessorKey = key
		a, _, _ := f.issuer.successorToken(first.RefreshToken, weak)
		b, _, _ := f.issuer.successorToken(first.RefreshToken, weak)
		if a == b {
			t.Errorf("successorToken(key of %d bytes) gave %q twice, want random successors", len(key), a)
		}
	}
	a, _, _ := f.issuer.successorToken(first.RefreshToken, old)
	b, _, _ := f.issuer.successorToken(first.RefreshToken, old)
	if a != b {
		t.Errorf("successorToken(full key) gave %q and %q, want the same derived successor", a, b)
	}
}

// Under strict rotation successors are random, so that two concurrent
// presentations of one token can never both end with the same successor.
func TestStrictRotationRandomSuccessors(t *testing.T) {
	f := newFixture(t)
	first := f.login(t, f.confid)
	old, err := f.store.GetRefreshToken(t.Context(), f.issuer.hashToken(first.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := f.issuer.successorToken(first.RefreshToken, old)
	b, _, _ := f.issuer.successorToken(first.RefreshToken, old)
	if a == b {
		t.Errorf("successorToken() without a grace window gave %q twice, want random successors", a)
	}
}

// inFlightRotation is a store whose rotations are seen half done: a
// concurrent rotation holds the successor's hash but has not consumed the
// old token yet, as redisstore's claim-then-rotate shows a second caller.
type inFlightRotation struct {
	Store
	wg sync.WaitGroup
}

func (s *inFlightRotation) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	s.wg.Go(func() {
		time.Sleep(20 * time.Millisecond) // the other caller's rotation, finishing later
		_ = s.Store.RotateRefreshToken(context.Background(), oldHash, next)
	})
	return fmt.Errorf("in flight: %w", store.ErrAlreadyExists)
}

// A presentation that meets another rotation of the same token in flight
// waits for it and gets the same successor, within the grace window.
func TestRefreshGraceWaitsForRotationInFlight(t *testing.T) {
	var st *inFlightRotation
	f := newFixture(t, func(c *IssuerConfig) {
		c.RefreshGrace = 10 * time.Second
		c.Throttle.Threshold = -1 // the wrapper hides store.AttemptStore; no password is tried here
		st = &inFlightRotation{Store: c.Store}
		c.Store = st
	})
	first := f.login(t, f.confid)
	resp, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
	st.wg.Wait()
	if err != nil {
		t.Fatalf("RefreshGrant(rotation in flight) error = %v, want the successor", err)
	}
	want, _, _ := f.issuer.successorToken(first.RefreshToken, mustRecord(t, f, first.RefreshToken))
	if resp.RefreshToken != want {
		t.Errorf("Got refresh token %q, want the successor %q", resp.RefreshToken, want)
	}
}

func mustRecord(t *testing.T, f *fixture, raw string) store.RefreshToken {
	t.Helper()
	rt, err := f.store.GetRefreshToken(t.Context(), f.issuer.hashToken(raw))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// lostRotationStore leaves the successor's hash claimed by a first rotation
// that failed in transit, as the store contract allows an adapter to.
type lostRotationStore struct {
	*memstore.Store
	mu      sync.Mutex
	claimed map[string]bool
	failed  bool
}

func (s *lostRotationStore) RotateRefreshToken(ctx context.Context, old []byte, next store.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed[string(next.Hash)] {
		rt, err := s.Store.GetRefreshToken(ctx, old)
		if err != nil {
			return err
		}
		if rt.Consumed() {
			return store.ErrReused
		}
		return fmt.Errorf("claimed: %w", store.ErrAlreadyExists)
	}
	if !s.failed {
		s.failed = true
		s.claimed[string(next.Hash)] = true
		return errors.New("read tcp: i/o timeout")
	}
	return s.Store.RotateRefreshToken(ctx, old, next)
}

// With a grace window, a rotation lost in transit does not break the
// grant: the retry finds its derived successor's hash claimed by nobody
// rotating, and rotates to a random successor.
func TestRefreshGraceLostRotationRecovers(t *testing.T) {
	for _, grace := range []time.Duration{0, 10 * time.Second} {
		t.Run(fmt.Sprint(grace), func(t *testing.T) {
			var st *lostRotationStore
			f := newFixture(t, func(c *IssuerConfig) {
				c.RefreshGrace = grace
				c.StoreTimeout = 200 * time.Millisecond
				st = &lostRotationStore{Store: c.Store.(*memstore.Store), claimed: map[string]bool{}}
				c.Store = st
			})
			first := f.login(t, f.confid)
			if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); err == nil {
				t.Fatal("RefreshGrant(rotation lost in transit) succeeded, want a store error")
			}
			f.clock.Advance(time.Minute)
			next, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
			if err != nil {
				t.Fatalf("RefreshGrant(retry) error = %v, want success", err)
			}
			if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, next.RefreshToken, nil); err != nil {
				t.Errorf("RefreshGrant(the successor) error = %v", err)
			}
		})
	}
}
