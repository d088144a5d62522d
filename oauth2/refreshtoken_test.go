package oauth2

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// gatedStore holds each call to the methods a refresh waits on until the
// test releases it, once gating is on, so that a test sees which calls a
// refresh has waiting at once: one round trip's worth.
type gatedStore struct {
	*memstore.Store
	calls chan gatedCall // nil while gating is off
}

type gatedCall struct {
	method  string
	release chan struct{}
}

func (s *gatedStore) hold(method string) {
	if s.calls == nil {
		return
	}
	c := gatedCall{method: method, release: make(chan struct{})}
	s.calls <- c
	<-c.release
}

func (s *gatedStore) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	s.hold("GetRefreshToken")
	return s.Store.GetRefreshToken(ctx, hash)
}

func (s *gatedStore) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	s.hold("IsRevoked")
	return s.Store.IsRevoked(ctx, jti, grantID)
}

func (s *gatedStore) RotateRefreshToken(ctx context.Context, old []byte, next store.RefreshToken) error {
	s.hold("RotateRefreshToken")
	return s.Store.RotateRefreshToken(ctx, old, next)
}

func (s *gatedStore) TouchSession(ctx context.Context, subject, grantID string, at, exp time.Time) error {
	s.hold("TouchSession")
	return s.Store.TouchSession(ctx, subject, grantID, at, exp)
}

func gatedFixture(t *testing.T) (*fixture, *gatedStore) {
	t.Helper()
	var st *gatedStore
	f := newFixture(t, func(c *IssuerConfig) {
		st = &gatedStore{Store: c.Store.(*memstore.Store)}
		c.Store = st
	})
	return f, st
}

// hangGuard only keeps a broken refresh from hanging the test run: a
// correct one makes its next store call at once.
const hangGuard = time.Minute

// awaitRound waits for n held calls, the refresh's next round trip, and
// returns their methods in the order they came.
func awaitRound(t *testing.T, st *gatedStore, n int, done <-chan refreshResult) []gatedCall {
	t.Helper()
	var round []gatedCall
	for len(round) < n {
		select {
		case c := <-st.calls:
			round = append(round, c)
		case r := <-done:
			t.Fatalf("RefreshGrant answered (%v) with %d of the round's %d calls made: %v", r.err, len(round), n, methods(round))
		case <-time.After(hangGuard):
			t.Fatalf("After %s, %d call(s) waiting (%v), want %d at once", hangGuard, len(round), methods(round), n)
		}
	}
	return round
}

func release(calls []gatedCall) {
	for _, c := range calls {
		close(c.release)
	}
}

func methods(calls []gatedCall) []string {
	var m []string
	for _, c := range calls {
		m = append(m, c.method)
	}
	return m
}

type refreshResult struct {
	resp *TokenResponse
	err  error
}

// wantMethods fails unless calls are exactly the methods want, in any order.
func wantMethods(t *testing.T, round int, calls []gatedCall, want ...string) {
	t.Helper()
	got := methods(calls)
	if len(got) != len(want) {
		t.Fatalf("Round trip %d: calls %v, want %v", round, got, want)
	}
	for _, w := range want {
		found := false
		for i, g := range got {
			if g == w {
				got = append(got[:i], got[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("Round trip %d: calls %v, want %v", round, methods(calls), want)
		}
	}
}

// A refresh waits on the store twice: the token and its grant's revocation
// are asked for together, then the rotation and the session's touch. This
// is what puts the refresh grant within two round trips of an in-memory
// store on a networked one.
func TestRefreshGrantWaitsOnTheStoreTwice(t *testing.T) {
	f, st := gatedFixture(t)
	first := f.login(t, f.confid)
	f.clock.Advance(time.Minute)
	r := refreshInRounds(t, f, st, first.RefreshToken,
		[]string{"GetRefreshToken", "IsRevoked"},
		[]string{"RotateRefreshToken", "TouchSession"})
	if r.err != nil {
		t.Fatalf("RefreshGrant() error = %v", r.err)
	}
	list, err := f.issuer.Sessions(t.Context(), aliceName)
	if err != nil || len(list) != 1 || !list[0].RefreshedAt.Equal(f.clock.Now()) {
		t.Errorf("Sessions() after the touch = %+v, %v; want RefreshedAt %v", list, err, f.clock.Now())
	}
}

// refreshInRounds refreshes raw for the confidential client with gating on,
// checks that the store calls come in rounds (the calls of a round waiting
// at once), releases each round, and returns the answer.
func refreshInRounds(t *testing.T, f *fixture, st *gatedStore, raw string, rounds ...[]string) refreshResult {
	t.Helper()
	st.calls = make(chan gatedCall)
	done := make(chan refreshResult, 1)
	go func() {
		resp, err := f.issuer.RefreshGrant(context.Background(), f.confid, raw, nil)
		done <- refreshResult{resp, err}
	}()
	for i, want := range rounds {
		round := awaitRound(t, st, len(want), done)
		wantMethods(t, i+1, round, want...)
		release(round)
	}
	return awaitAnswer(t, st, done)
}

// awaitAnswer waits for the refresh's answer, failing on any further store
// call before it, and turns gating off.
func awaitAnswer(t *testing.T, st *gatedStore, done <-chan refreshResult) refreshResult {
	t.Helper()
	select {
	case r := <-done:
		st.calls = nil
		return r
	case c := <-st.calls:
		t.Fatalf("A call to %s after the rotation, before the answer", c.method)
	case <-time.After(hangGuard):
		t.Fatalf("No answer %s after the rotation", hangGuard)
	}
	panic("unreachable")
}

// A refresh token of the format without the grant's id, as Issuers before
// it gave out, still works: its grant is checked once it is read, and its
// successor names the grant.
func TestRefreshTokenWithoutGrantID(t *testing.T) {
	f, st := gatedFixture(t)
	raw := legacyToken(t, f, "legacy-grant", nil)
	r := refreshInRounds(t, f, st, raw,
		[]string{"GetRefreshToken"}, []string{"IsRevoked"}, []string{"RotateRefreshToken", "TouchSession"})
	if r.err != nil {
		t.Fatalf("RefreshGrant(token without a grant ID) error = %v", r.err)
	}
	if id, ok := tokenGrantID(r.resp.RefreshToken); !ok || id != "legacy-grant" {
		t.Errorf("Successor %q names grant %q (%v), want legacy-grant", r.resp.RefreshToken, id, ok)
	}
	if err := f.store.RevokeGrant(t.Context(), "legacy-grant", f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, r.resp.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(successor, grant revoked) error = %v, want %v", err, ErrInvalidGrant)
	}
}

// With every slot for early checks taken, a refresh checks its grant once
// the token is read, and works all the same.
func TestRefreshWithEarlyChecksFull(t *testing.T) {
	f, st := gatedFixture(t)
	tok := f.login(t, f.confid)
	for range cap(f.issuer.earlyChecks) {
		f.issuer.earlyChecks <- struct{}{}
	}
	r := refreshInRounds(t, f, st, tok.RefreshToken,
		[]string{"GetRefreshToken"}, []string{"IsRevoked"}, []string{"RotateRefreshToken", "TouchSession"})
	if r.err != nil {
		t.Fatalf("RefreshGrant(early checks full) error = %v", r.err)
	}
}

// legacyToken stores a refresh token of grantID for the confidential client
// in the format without the grant's id, with successorKey, and returns it.
func legacyToken(t *testing.T, f *fixture, grantID string, successorKey []byte) string {
	t.Helper()
	secret := make([]byte, refreshTokenBytes)
	rand.Read(secret)
	raw := base64.RawURLEncoding.EncodeToString(secret)
	now := f.clock.Now()
	if err := f.store.CreateRefreshToken(t.Context(), store.RefreshToken{
		Hash: f.issuer.hashToken(raw), GrantID: grantID, ClientID: confID, Subject: aliceName, Scope: []string{"profile"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), GrantExpiresAt: now.Add(24 * time.Hour), SuccessorKey: successorKey,
	}); err != nil {
		t.Fatal(err)
	}
	return raw
}

// The grant ID in a refresh token is the grant's, the grant_id of its
// access tokens, and changing it makes a token nobody holds: it is refused
// without touching the token it was made from.
func TestRefreshTokenNamesItsGrant(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	other := f.login(t, f.confid)
	claims, err := f.verifier.Verify(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := tokenGrantID(tok.RefreshToken); !ok || id != claims.GrantID {
		t.Fatalf("Refresh token %q names grant %q (%v), want the access token's %q", tok.RefreshToken, id, ok, claims.GrantID)
	}
	otherClaims, _ := f.verifier.Verify(t.Context(), other.AccessToken)
	_, secret, _ := strings.Cut(tok.RefreshToken, ".")
	for name, forged := range map[string]string{
		"another grant's id": otherClaims.GrantID + "." + secret,
		"no grant id":        secret,
		"an unknown id":      "AAAAAAAAAAAAAAAAAAAAAA." + secret,
	} {
		if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, forged, nil); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("RefreshGrant(secret with %s) error = %v, want %v", name, err, ErrInvalidGrant)
		}
	}
	next, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil)
	if err != nil {
		t.Fatalf("RefreshGrant(the real token after forgeries) error = %v", err)
	}
	if id, _ := tokenGrantID(next.RefreshToken); id != claims.GrantID {
		t.Errorf("Successor %q names grant %q, want %q", next.RefreshToken, id, claims.GrantID)
	}
}

// A token of a revoked grant is refused however the early check and the
// read come back, and a store that cannot answer the check fails the
// refresh as unavailable, not as if the grant were live.
func TestEarlyGrantCheck(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	claims, _ := f.verifier.Verify(t.Context(), tok.AccessToken)
	if err := f.store.RevokeGrant(t.Context(), claims.GrantID, f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(revoked grant) error = %v, want %v", err, ErrInvalidGrant)
	}

	var down *revocationDownStore
	g := newFixture(t, func(c *IssuerConfig) {
		down = &revocationDownStore{Store: c.Store.(*memstore.Store)}
		c.Store = down
	})
	tok = g.login(t, g.confid)
	down.fail.Store(true)
	if _, err := g.issuer.RefreshGrant(t.Context(), g.confid, tok.RefreshToken, nil); !errors.Is(err, ErrTemporarilyUnavailable) {
		t.Errorf("RefreshGrant(revocation check failing) error = %v, want %v", err, ErrTemporarilyUnavailable)
	}
	// An unknown token is unknown whatever the check of the grant it names
	// says.
	_, secret, _ := strings.Cut(tok.RefreshToken, ".")
	if _, err := g.issuer.RefreshGrant(t.Context(), g.confid, "AAAAAAAAAAAAAAAAAAAAAA."+secret, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(unknown token, check failing) error = %v, want %v", err, ErrInvalidGrant)
	}
	down.fail.Store(false)
	if _, err := g.issuer.RefreshGrant(t.Context(), g.confid, tok.RefreshToken, nil); err != nil {
		t.Errorf("RefreshGrant(after the store recovered) error = %v", err)
	}
}

// revocationDownStore fails IsRevoked while fail is set.
type revocationDownStore struct {
	*memstore.Store
	fail atomic.Bool
}

func (s *revocationDownStore) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	if s.fail.Load() {
		return false, errors.New("is revoked: connection refused")
	}
	return s.Store.IsRevoked(ctx, jti, grantID)
}

// A token rotated by an Issuer from before grant IDs were put in tokens (in
// a rolling upgrade, or just before one) and presented again within the
// grace window gets that Issuer's successor back, as the window promises,
// instead of being taken for reuse.
func TestRefreshGraceAcrossTokenFormats(t *testing.T) {
	for _, named := range []bool{true, false} {
		f := newFixture(t, func(c *IssuerConfig) { c.RefreshGrace = 10 * time.Second })
		key := make([]byte, successorKeyBytes)
		rand.Read(key)
		var raw string
		if named {
			raw = f.login(t, f.confid).RefreshToken
		} else {
			raw = legacyToken(t, f, "legacy-grant", key)
		}
		old := mustRecord(t, f, raw)
		// The earlier Issuer's rotation: its successor is the secret alone.
		bare := base64.RawURLEncoding.EncodeToString(successorSecret(raw, old))
		next := old
		next.Hash, next.IssuedAt, next.ConsumedAt = f.issuer.hashToken(bare), f.clock.Now(), time.Time{}
		if err := f.store.RotateRefreshToken(t.Context(), old.Hash, next); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
		resp, err := f.issuer.RefreshGrant(t.Context(), f.confid, raw, nil)
		if err != nil {
			t.Fatalf("RefreshGrant(named %v, again within the grace window) error = %v, want the earlier successor", named, err)
		}
		if resp.RefreshToken != bare {
			t.Errorf("RefreshGrant(named %v, again) gave %q, want the earlier successor %q", named, resp.RefreshToken, bare)
		}
		if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, bare, nil); err != nil {
			t.Errorf("RefreshGrant(the earlier successor) error = %v", err)
		}
	}
}

func TestTokenGrantID(t *testing.T) {
	long := strings.Repeat("a", maxTokenGrantID)
	for raw, want := range map[string]string{
		"abc.secret":           "abc",
		"a-b_C9.secret":        "a-b_C9",
		long + ".secret":       long,
		"a.b.c":                "a",
		"secretonly":           "",
		".secret":              "",
		"a/b.secret":           "",
		"a b.secret":           "",
		"\u00e9t\u00e9.secret": "",
		long + "a.secret":      "",
		"":                     "",
		"grant.":               "grant",
	} {
		got, ok := tokenGrantID(raw)
		if got != want || ok != (want != "") {
			t.Errorf("tokenGrantID(%q) = %q, %v; want %q", raw, got, ok, want)
		}
	}
	// An id that cannot be embedded gives a token without one.
	if tok := refreshTokenOf("not.embeddable", []byte{1, 2, 3}); tok != "AQID" {
		t.Errorf("refreshTokenOf(id with a dot) = %q, want the secret alone", tok)
	}
}

// A grace-window answer reached after the rotation lost to another one asks
// again whether the grant is revoked: a sign-out between the early check
// and that rotation is seen.
func TestGraceAfterLostRotationSeesSignOut(t *testing.T) {
	var st *rotationHookStore
	f := newFixture(t, func(c *IssuerConfig) {
		st = &rotationHookStore{Store: c.Store.(*memstore.Store)}
		c.Store = st
		c.RefreshGrace = 10 * time.Second
	})
	tok := f.login(t, f.confid)
	f.clock.Advance(time.Second)
	st.hook = func() {
		// The client's own second request rotates the token first, then
		// the user signs out everywhere.
		if _, err := f.issuer.RefreshGrant(context.Background(), f.confid, tok.RefreshToken, nil); err != nil {
			t.Errorf("RefreshGrant(concurrent) error = %v", err)
		}
		if err := f.issuer.RevokeAllSessions(context.Background(), aliceName); err != nil {
			t.Error(err)
		}
	}
	if resp, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(lost the rotation, then signed out) = %v, %v; want %v", resp != nil, err, ErrInvalidGrant)
	}
}

// blockedRevocationStore holds every IsRevoked until release is closed,
// counting the calls.
type blockedRevocationStore struct {
	*memstore.Store
	release chan struct{}
	calls   atomic.Int64
}

func (s *blockedRevocationStore) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	s.calls.Add(1)
	<-s.release
	return s.Store.IsRevoked(ctx, jti, grantID)
}

// Made-up tokens naming a grant, which are answered before their early
// check, leave at most maxEarlyChecks checks running; past that, they
// start none.
func TestEarlyChecksAreBounded(t *testing.T) {
	var st *blockedRevocationStore
	f := newFixture(t, func(c *IssuerConfig) {
		st = &blockedRevocationStore{Store: c.Store.(*memstore.Store), release: make(chan struct{})}
		c.Store = st
	})
	const n = maxEarlyChecks + 50
	for k := range n {
		if _, err := f.issuer.RefreshGrant(t.Context(), f.public, "made-up-"+strconv.Itoa(k)+".secret", nil); !errors.Is(err, ErrInvalidGrant) {
			t.Fatalf("RefreshGrant(made-up token %d) error = %v, want %v", k, err, ErrInvalidGrant)
		}
	}
	if held := len(f.issuer.earlyChecks); held != maxEarlyChecks {
		t.Errorf("After %d made-up tokens, %d background slots held, want all %d", n, held, maxEarlyChecks)
	}
	close(st.release)
	deadline := time.Now().Add(hangGuard)
	for len(f.issuer.earlyChecks) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Slots still held %s after the checks were released", hangGuard)
		}
		time.Sleep(time.Millisecond)
	}
	if got := st.calls.Load(); got != maxEarlyChecks {
		t.Errorf("IsRevoked called %d times for %d made-up tokens, want %d (the bound)", got, n, maxEarlyChecks)
	}
}

// lookupHookStore runs hook before the first GetRefreshToken of a hash
// other than skip once armed.
type lookupHookStore struct {
	*memstore.Store
	skip []byte
	hook func()
}

func (s *lookupHookStore) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	if h := s.hook; h != nil && !bytes.Equal(hash, s.skip) {
		s.hook = nil
		h()
	}
	return s.Store.GetRefreshToken(ctx, hash)
}

// A retry within the grace window asks whether the grant is revoked after
// it found the successor: a sign-out while it looked is seen.
func TestGraceRetrySeesSignOutDuringLookup(t *testing.T) {
	var st *lookupHookStore
	f := newFixture(t, func(c *IssuerConfig) {
		st = &lookupHookStore{Store: c.Store.(*memstore.Store)}
		c.Store = st
		c.RefreshGrace = 10 * time.Second
	})
	tok := f.login(t, f.confid)
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	st.skip = f.issuer.hashToken(tok.RefreshToken)
	st.hook = func() {
		if err := f.issuer.RevokeAllSessions(context.Background(), aliceName); err != nil {
			t.Error(err)
		}
	}
	if resp, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(retry, signed out while the successor was looked up) = %v, %v; want %v", resp != nil, err, ErrInvalidGrant)
	}
}
