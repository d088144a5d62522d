package oauth2

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

func TestSessionsListed(t *testing.T) {
	f := newFixture(t)
	first := f.login(t, f.confid)
	f.clock.Advance(time.Minute)
	second := f.login(t, f.public)
	pwOnly, _ := f.issuer.cfg.Clients.LookupClient(t.Context(), pwOnlyID)
	f.clock.Advance(time.Minute)
	third := f.login(t, pwOnly) // no refresh token: listed all the same

	list, err := f.issuer.Sessions(t.Context(), aliceName)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("Sessions() = %d sessions, want 3", len(list))
	}
	for i, tok := range []*TokenResponse{first, second, third} {
		c, err := f.verifier.Verify(t.Context(), tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if list[i].GrantID != c.GrantID || list[i].ClientID != c.ClientID || list[i].Subject != aliceName {
			t.Errorf("Sessions()[%d] = %+v, want grant %q of client %q", i, list[i], c.GrantID, c.ClientID)
		}
	}
	// A rotation moves "last refreshed" on.
	f.clock.Advance(time.Minute)
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); err != nil {
		t.Fatal(err)
	}
	list, _ = f.issuer.Sessions(t.Context(), aliceName)
	if !list[0].RefreshedAt.Equal(f.clock.Now()) || !list[0].CreatedAt.Before(list[0].RefreshedAt) {
		t.Errorf("Got session %+v after a refresh, want RefreshedAt %v", list[0], f.clock.Now())
	}
	if other, _ := f.issuer.Sessions(t.Context(), "bob"); len(other) != 0 {
		t.Errorf("Sessions(bob) = %v, want none", other)
	}
}

func TestRevokeSession(t *testing.T) {
	f := newFixture(t)
	keep := f.login(t, f.public)
	end := f.login(t, f.confid)
	c, err := f.verifier.Verify(t.Context(), end.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	// bob cannot end alice's session by naming it.
	if err := f.issuer.RevokeSession(t.Context(), "bob", c.GrantID); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("RevokeSession(another subject) error = %v, want %v", err, ErrSessionNotFound)
	}
	if _, err := f.verifier.Verify(t.Context(), end.AccessToken); err != nil {
		t.Fatalf("Verify() after another subject's attempt error = %v", err)
	}
	if err := f.issuer.RevokeSession(t.Context(), aliceName, c.GrantID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(t.Context(), end.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Verify(ended session's token) error = %v, want %v", err, ErrTokenRevoked)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, end.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(ended session) error = %v, want %v", err, ErrInvalidGrant)
	}
	if _, err := f.verifier.Verify(t.Context(), keep.AccessToken); err != nil {
		t.Errorf("Verify(other session's token) error = %v, want nil", err)
	}
	if list, _ := f.issuer.Sessions(t.Context(), aliceName); len(list) != 1 {
		t.Errorf("Sessions() after ending one = %d, want 1", len(list))
	}
	if err := f.issuer.RevokeSession(t.Context(), aliceName, c.GrantID); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("RevokeSession(ended already) error = %v, want %v", err, ErrSessionNotFound)
	}
}

// Signing out everywhere refuses every access token issued before it, the
// cached ones and those of grants without a refresh token included, and
// ends every refresh token; logins after it work.
func TestRevokeAllSessions(t *testing.T) {
	f := newFixture(t)
	pwOnly, _ := f.issuer.cfg.Clients.LookupClient(t.Context(), pwOnlyID)
	toks := []*TokenResponse{f.login(t, f.confid), f.login(t, f.public), f.login(t, pwOnly)}
	for _, tok := range toks {
		if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); err != nil { // now cached
			t.Fatal(err)
		}
	}
	if err := f.issuer.RevokeAllSessions(t.Context(), aliceName); err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks {
		if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("Verify(token %d after signing out everywhere) error = %v, want %v", i, err, ErrTokenRevoked)
		}
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, toks[0].RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(after signing out everywhere) error = %v, want %v", err, ErrInvalidGrant)
	}
	if list, _ := f.issuer.Sessions(t.Context(), aliceName); len(list) != 0 {
		t.Errorf("Sessions() after signing out everywhere = %v, want none", list)
	}
	after := f.login(t, f.confid)
	if _, err := f.verifier.Verify(t.Context(), after.AccessToken); err != nil {
		t.Errorf("Verify(a login after signing out) error = %v", err)
	}
}

// A grant revoked another way (reuse, RFC 7009) leaves the listing too.
func TestRevokedGrantLeavesSessions(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	if err := f.issuer.Revoke(t.Context(), f.confid, tok.RefreshToken, HintRefreshToken); err != nil {
		t.Fatal(err)
	}
	if list, _ := f.issuer.Sessions(t.Context(), aliceName); len(list) != 0 {
		t.Errorf("Sessions() after revoking the grant = %v, want none", list)
	}
}

func TestSessionsUnsupported(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) {
		c.Store = storeOnly{c.Store}
		c.Throttle.Threshold = -1
	})
	if _, err := f.issuer.Sessions(t.Context(), aliceName); !errors.Is(err, ErrSessionsUnsupported) {
		t.Errorf("Sessions(store without SessionStore) error = %v, want %v", err, ErrSessionsUnsupported)
	}
	if err := f.issuer.RevokeAllSessions(t.Context(), aliceName); !errors.Is(err, ErrSessionsUnsupported) {
		t.Errorf("RevokeAllSessions(store without SessionStore) error = %v, want %v", err, ErrSessionsUnsupported)
	}
}

// rotationHookStore runs hook inside the next RotateRefreshToken, before the
// rotation, and can fail TouchSession.
type rotationHookStore struct {
	*memstore.Store
	hook      func()
	failTouch bool
}

func (s *rotationHookStore) RotateRefreshToken(ctx context.Context, old []byte, next store.RefreshToken) error {
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
	return s.Store.RotateRefreshToken(ctx, old, next)
}

func (s *rotationHookStore) TouchSession(ctx context.Context, subject, grantID string, at, exp time.Time) error {
	if s.failTouch {
		return errors.New("touch: i/o timeout")
	}
	return s.Store.TouchSession(ctx, subject, grantID, at, exp)
}

func hookFixture(t *testing.T) (*fixture, *rotationHookStore) {
	t.Helper()
	var st *rotationHookStore
	f := newFixture(t, func(c *IssuerConfig) {
		st = &rotationHookStore{Store: c.Store.(*memstore.Store)}
		c.Store = st
	})
	return f, st
}

// A refresh racing with signing out everywhere stores a successor; the
// grant stays revoked for as long as that successor or any of its
// descendants could live.
func TestSignOutRacingRefreshStaysRevoked(t *testing.T) {
	f, st := hookFixture(t)
	first := f.login(t, f.confid)
	f.clock.Advance(10 * 24 * time.Hour)
	st.hook = func() {
		if err := f.issuer.RevokeAllSessions(context.Background(), aliceName); err != nil {
			t.Error(err)
		}
	}
	second, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
	if err != nil {
		t.Fatal(err) // it passed the revocation check before the sign-out
	}
	f.clock.Advance(4*24*time.Hour + time.Hour) // past the old session's refresh token
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, second.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(successor of a signed-out grant) error = %v, want %v", err, ErrInvalidGrant)
	}
	if _, err := f.verifier.Verify(t.Context(), second.AccessToken); err == nil {
		t.Error("Verify(access token of the racing refresh) succeeded, want refused")
	}
}

// A rotation whose session touch failed is still signed out everywhere.
func TestSignOutAfterFailedTouch(t *testing.T) {
	f, st := hookFixture(t)
	first := f.login(t, f.confid)
	f.clock.Advance(13 * 24 * time.Hour)
	st.failTouch = true
	second, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.failTouch = false
	f.clock.Advance(2 * 24 * time.Hour)
	if err := f.issuer.RevokeAllSessions(t.Context(), aliceName); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, second.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(after signing out everywhere) error = %v, want %v", err, ErrInvalidGrant)
	}
}

// A session is listed, and so signed out, while any verifier's leeway could
// still accept its last access token.
func TestSignOutCoversVerifierLeeway(t *testing.T) {
	f := newFixture(t)
	pwOnly, _ := f.issuer.cfg.Clients.LookupClient(t.Context(), pwOnlyID)
	tok := f.login(t, pwOnly)
	lenient, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.store,
		Leeway: MaxLeeway, Logger: quiet, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultAccessTokenTTL + time.Minute) // expired, within MaxLeeway
	if err := f.issuer.RevokeAllSessions(t.Context(), aliceName); err != nil {
		t.Fatal(err)
	}
	if _, err := lenient.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Verify(leeway %s, after signing out) error = %v, want %v", MaxLeeway, err, ErrTokenRevoked)
	}
}
