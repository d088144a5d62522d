package oauth2

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// countingStore counts the IsRevoked calls that reach the store.
type countingStore struct {
	*memstore.Store
	calls atomic.Int32
}

func (s *countingStore) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	s.calls.Add(1)
	return s.Store.IsRevoked(ctx, jti, grantID)
}

func newView(t *testing.T, cfg RevocationViewConfig) *RevocationView {
	t.Helper()
	v, err := NewRevocationView(cfg)
	if err != nil {
		t.Fatalf("NewRevocationView() error = %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// eventually polls cond until it holds or the test's context ends.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatalf("never: %s", what)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func TestRevocationViewAnswersFromMemory(t *testing.T) {
	st := &countingStore{Store: memstore.New()}
	if err := st.RevokeGrant(t.Context(), "before", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	v := newView(t, RevocationViewConfig{Store: st})
	eventually(t, "the view is trusted", v.Trusted)

	// What was revoked before the view started came with the resync...
	if revoked, err := v.IsRevoked(t.Context(), "", "before"); err != nil || !revoked {
		t.Errorf("IsRevoked(grant revoked before) = %v, %v, want true", revoked, err)
	}
	// ...what is revoked now is pushed.
	if err := st.RevokeAccessToken(t.Context(), "after", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new revocation reaches the view", func() bool {
		r, _ := v.IsRevoked(t.Context(), "after", "")
		return r
	})
	before := st.calls.Load()
	for range 100 {
		if revoked, _ := v.IsRevoked(t.Context(), "live", "live"); revoked {
			t.Fatal("IsRevoked(live) = true")
		}
	}
	if got := st.calls.Load() - before; got != 0 {
		t.Errorf("Got %d store lookups from a trusted view, want 0", got)
	}
}

// silentStore's subscription calls Alive once and then goes quiet, as a
// connection that died without an error does.
type silentStore struct{ *countingStore }

func (s silentStore) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	h.Alive()
	<-ctx.Done()
	return ctx.Err()
}

func TestRevocationViewStopsTrustingAQuietSubscription(t *testing.T) {
	st := silentStore{&countingStore{Store: memstore.New()}}
	clock := newFakeClock()
	v := newView(t, RevocationViewConfig{Store: st, MaxStaleness: time.Second, Now: clock.Now})
	eventually(t, "the view is trusted", v.Trusted)
	clock.Advance(2 * time.Second)
	if v.Trusted() {
		t.Fatalf("Got a trusted view %s after its last sign of life, want untrusted past MaxStaleness", 2*time.Second)
	}
	if _, err := v.IsRevoked(t.Context(), "j", "g"); err != nil {
		t.Fatal(err)
	}
	if st.calls.Load() == 0 {
		t.Errorf("Got no store lookup from a stale view, want the store asked")
	}
}

// flakyStore's subscription fails after its first sign of life, while
// revocations keep being made; the view must pick them up by resyncing.
type flakyStore struct {
	*memstore.Store
	attempts atomic.Int32
}

func (s *flakyStore) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	if s.attempts.Add(1) == 1 {
		h.Alive()
		_ = s.RevokeGrant(ctx, "missed", time.Now().Add(time.Hour)) // made while the subscription dies
		return errors.New("connection reset")
	}
	return s.Store.WatchRevocations(ctx, h)
}

func TestRevocationViewResyncsAfterFailure(t *testing.T) {
	st := &flakyStore{Store: memstore.New()}
	v := newView(t, RevocationViewConfig{Store: st})
	eventually(t, "the view resubscribes and is trusted", func() bool { return st.attempts.Load() >= 2 && v.Trusted() })
	if revoked, err := v.IsRevoked(t.Context(), "", "missed"); err != nil || !revoked {
		t.Errorf("IsRevoked(revoked while the subscription was down) = %v, %v, want true after resync", revoked, err)
	}
}

func TestVerifierWithRevocationView(t *testing.T) {
	f := newFixture(t)
	v := newView(t, RevocationViewConfig{Store: f.store})
	eventually(t, "the view is trusted", v.Trusted)
	verifier, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: v, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.login(t, f.confid)
	if _, err := verifier.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := f.issuer.Revoke(t.Context(), f.confid, tok.RefreshToken, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the grant revocation reaches the verifier", func() bool {
		_, err := verifier.Verify(t.Context(), tok.AccessToken)
		return errors.Is(err, ErrTokenRevoked)
	})
}

// neverAliveStore subscribes but never proves alive, and its IsRevoked
// hangs: a view over it must still bound the fallback call itself, since
// the verifier adds no timer for views.
type neverAliveStore struct{ *memstore.Store }

func (neverAliveStore) WatchRevocations(ctx context.Context, _ store.RevocationListener) error {
	<-ctx.Done()
	return ctx.Err()
}

func (neverAliveStore) IsRevoked(ctx context.Context, _, _ string) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

func TestRevocationViewBoundsItsFallback(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	view := newView(t, RevocationViewConfig{Store: neverAliveStore{memstore.New()}, StoreTimeout: 20 * time.Millisecond})
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: view, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrRevocationUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify() through an untrusted view over a hung store error = %v, want ErrRevocationUnavailable wrapping context.DeadlineExceeded", err)
	}
}
