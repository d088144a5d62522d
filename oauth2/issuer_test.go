package oauth2

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
)

func TestPasswordGrantScope(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		client    *Client
		user      string
		password  string
		scope     []string
		wantScope []string
		wantErr   error
	}{
		{name: "default scope", client: f.confid, user: aliceName, password: alicePassword, wantScope: []string{"profile"}},
		{name: "narrower than allowed", client: f.confid, user: aliceName, password: alicePassword, scope: []string{"email"}, wantScope: []string{"email"}},
		{name: "beyond user", client: f.confid, user: aliceName, password: alicePassword, scope: []string{"admin"}, wantErr: ErrInvalidScope},
		{name: "beyond client", client: f.public, user: "bob", password: "builder", scope: []string{"admin"}, wantErr: ErrInvalidScope},
		{name: "unknown scope", client: f.confid, user: "bob", password: "builder", scope: []string{"root"}, wantErr: ErrInvalidScope},
		{name: "unrestricted user", client: f.confid, user: "bob", password: "builder", scope: []string{"admin"}, wantScope: []string{"admin"}},
		{name: "wrong password", client: f.confid, user: aliceName, password: "looking-glass", wantErr: ErrInvalidGrant},
		{name: "unknown user", client: f.confid, user: "mallory", password: alicePassword, wantErr: ErrInvalidGrant},
		{name: "empty password", client: f.confid, user: aliceName, password: "", wantErr: ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.issuer.PasswordGrant(t.Context(), tt.client, tt.user, tt.password, tt.scope)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("PasswordGrant() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("PasswordGrant() error = %v", err)
			}
			c, err := f.verifier.Verify(t.Context(), resp.AccessToken)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if !slices.Equal(c.Scope, tt.wantScope) || resp.Scope != FormatScope(tt.wantScope) {
				t.Errorf("Got scope %q (response %q), want %q", c.Scope, resp.Scope, tt.wantScope)
			}
			if c.Subject != tt.user || c.ClientID != tt.client.ID || c.GrantID == "" || c.ID == "" {
				t.Errorf("Got claims %+v, want sub %q client_id %q and grant and jti set", c, tt.user, tt.client.ID)
			}
			if resp.RefreshToken == "" || resp.TokenType != "Bearer" || resp.ExpiresIn != int64(DefaultAccessTokenTTL/time.Second) {
				t.Errorf("Got response %+v, want a Bearer token with a refresh token and expires_in %d", resp, int64(DefaultAccessTokenTTL/time.Second))
			}
		})
	}
}

func TestPasswordGrantWithoutRefreshGrant(t *testing.T) {
	f := newFixture(t)
	c, err := f.issuer.AuthenticateClient(t.Context(), pwOnlyID, pwOnlySecret)
	if err != nil {
		t.Fatalf("AuthenticateClient() error = %v", err)
	}
	resp, err := f.issuer.PasswordGrant(t.Context(), c, aliceName, alicePassword, nil)
	if err != nil {
		t.Fatalf("PasswordGrant() error = %v", err)
	}
	if resp.RefreshToken != "" {
		t.Errorf("Got refresh token %q for a client without the refresh grant, want none", resp.RefreshToken)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), c, "anything", nil); !errors.Is(err, ErrUnauthorizedClient) {
		t.Errorf("RefreshGrant() error = %v, want %v", err, ErrUnauthorizedClient)
	}
}

func TestAuthenticateClient(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, id, secret string
		wantErr          error
	}{
		{name: "confidential", id: confID, secret: confSecret},
		{name: "public", id: pubID},
		{name: "wrong secret", id: confID, secret: "nope", wantErr: ErrInvalidClient},
		{name: "missing secret", id: confID, wantErr: ErrInvalidClient},
		{name: "secret for public client", id: pubID, secret: "x", wantErr: ErrInvalidClient},
		{name: "unknown client", id: "ghost", wantErr: ErrInvalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.issuer.AuthenticateClient(t.Context(), tt.id, tt.secret)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("AuthenticateClient(%q) error = %v, want %v", tt.id, err, tt.wantErr)
			}
			if err == nil && c.ID != tt.id {
				t.Errorf("AuthenticateClient(%q) = %q", tt.id, c.ID)
			}
		})
	}
}

func TestRefreshRotates(t *testing.T) {
	f := newFixture(t)
	first := f.login(t, f.confid, "profile", "email")
	second, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
	if err != nil {
		t.Fatalf("RefreshGrant() error = %v", err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("Got refresh token %q, want a fresh one", second.RefreshToken)
	}
	a, _ := f.verifier.Verify(t.Context(), first.AccessToken)
	b, err := f.verifier.Verify(t.Context(), second.AccessToken)
	if err != nil {
		t.Fatalf("Verify(new access token) error = %v", err)
	}
	if a.GrantID != b.GrantID || !slices.Equal(b.Scope, []string{"profile", "email"}) {
		t.Errorf("Got grant %q scope %q, want grant %q scope [profile email]", b.GrantID, b.Scope, a.GrantID)
	}
	// The successor works; the old one is now reuse.
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, second.RefreshToken, nil); err != nil {
		t.Fatalf("RefreshGrant(successor) error = %v", err)
	}
}

func TestRefreshReuseRevokesGrant(t *testing.T) {
	f := newFixture(t)
	first := f.login(t, f.confid)
	second, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
	if err != nil {
		t.Fatalf("RefreshGrant() error = %v", err)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("RefreshGrant(reused) error = %v, want %v", err, ErrInvalidGrant)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, second.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(successor after reuse) error = %v, want %v", err, ErrInvalidGrant)
	}
	for _, tok := range []string{first.AccessToken, second.AccessToken} {
		if _, err := f.verifier.Verify(t.Context(), tok); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("Verify(access token of the reused grant) error = %v, want %v", err, ErrTokenRevoked)
		}
	}
	// Another grant of the same user is untouched.
	other := f.login(t, f.confid)
	if _, err := f.verifier.Verify(t.Context(), other.AccessToken); err != nil {
		t.Errorf("Verify(other grant) error = %v", err)
	}
}

func TestRefreshConcurrentUseRevokesGrant(t *testing.T) {
	f := newFixture(t)
	first := f.login(t, f.confid)
	const n = 64
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		winners []*TokenResponse
		errs    []error
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			winners = append(winners, resp)
		}()
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("Got %d successful refreshes of one token, want exactly 1", len(winners))
	}
	for _, err := range errs {
		if !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("Got error %v, want %v", err, ErrInvalidGrant)
		}
	}
	// The losers were reuse: the winner's tokens are revoked with the grant.
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, winners[0].RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("RefreshGrant(winner's token) error = %v, want %v", err, ErrInvalidGrant)
	}
	if _, err := f.verifier.Verify(t.Context(), winners[0].AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Verify(winner's access token) error = %v, want %v", err, ErrTokenRevoked)
	}
}

func TestRefreshOtherClientDoesNotBurnToken(t *testing.T) {
	f := newFixture(t)
	first := f.login(t, f.confid)
	if _, err := f.issuer.RefreshGrant(t.Context(), f.public, first.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("RefreshGrant(other client) error = %v, want %v", err, ErrInvalidGrant)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); err != nil {
		t.Errorf("RefreshGrant(owner after foreign attempt) error = %v, want success", err)
	}
}

func TestRefreshScope(t *testing.T) {
	f := newFixture(t)
	first := f.login(t, f.confid, "profile", "email")
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, []string{"admin"}); !errors.Is(err, ErrInvalidScope) {
		t.Fatalf("RefreshGrant(wider scope) error = %v, want %v", err, ErrInvalidScope)
	}
	narrow, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, []string{"email"})
	if err != nil {
		t.Fatalf("RefreshGrant(narrower scope) error = %v (a rejected wider scope must not consume the token)", err)
	}
	if c, _ := f.verifier.Verify(t.Context(), narrow.AccessToken); !slices.Equal(c.Scope, []string{"email"}) {
		t.Errorf("Got access token scope %q, want [email]", c.Scope)
	}
	// RFC 6749 §6: the new refresh token keeps the original scope.
	full, err := f.issuer.RefreshGrant(t.Context(), f.confid, narrow.RefreshToken, nil)
	if err != nil {
		t.Fatalf("RefreshGrant() error = %v", err)
	}
	if c, _ := f.verifier.Verify(t.Context(), full.AccessToken); !slices.Equal(c.Scope, []string{"profile", "email"}) {
		t.Errorf("Got access token scope %q after a narrowed refresh, want the grant's [profile email]", c.Scope)
	}
}

func TestRefreshLifetimes(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*IssuerConfig)
		steps   []time.Duration // advance the clock, then refresh
		failsAt int             // index of the step that must fail; -1 for none
	}{
		{name: "within refresh ttl", cfg: func(c *IssuerConfig) { c.RefreshTokenTTL = time.Hour },
			steps: []time.Duration{50 * time.Minute, 50 * time.Minute}, failsAt: -1},
		{name: "refresh ttl passed", cfg: func(c *IssuerConfig) { c.RefreshTokenTTL = time.Hour },
			steps: []time.Duration{61 * time.Minute}, failsAt: 0},
		{name: "idle ttl passed", cfg: func(c *IssuerConfig) { c.RefreshTokenTTL = 10 * time.Hour; c.RefreshIdleTTL = time.Hour },
			steps: []time.Duration{30 * time.Minute, 61 * time.Minute}, failsAt: 1},
		{name: "absolute lifetime", cfg: func(c *IssuerConfig) { c.RefreshTokenTTL = time.Hour; c.GrantMaxLifetime = 2 * time.Hour },
			steps: []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, failsAt: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg)
			tok := f.login(t, f.confid)
			for i, d := range tt.steps {
				f.clock.Advance(d)
				next, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil)
				if i == tt.failsAt {
					if !errors.Is(err, ErrInvalidGrant) {
						t.Fatalf("step %d: RefreshGrant() error = %v, want %v", i, err, ErrInvalidGrant)
					}
					return
				}
				if err != nil {
					t.Fatalf("step %d: RefreshGrant() error = %v", i, err)
				}
				tok = next
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	t.Run("RefreshTokenRevokesGrant", func(t *testing.T) {
		f := newFixture(t)
		tok := f.login(t, f.confid)
		if err := f.issuer.Revoke(t.Context(), f.confid, tok.RefreshToken, ""); err != nil {
			t.Fatalf("Revoke() error = %v", err)
		}
		if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("RefreshGrant(revoked) error = %v, want %v", err, ErrInvalidGrant)
		}
		if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("Verify(access token of revoked grant) error = %v, want %v", err, ErrTokenRevoked)
		}
	})
	t.Run("AccessTokenOnly", func(t *testing.T) {
		f := newFixture(t)
		tok := f.login(t, f.confid)
		sibling, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil)
		if err != nil {
			t.Fatalf("RefreshGrant() error = %v", err)
		}
		// The hint is wrong on purpose: it only orders the lookups.
		if err := f.issuer.Revoke(t.Context(), f.confid, tok.AccessToken, HintRefreshToken); err != nil {
			t.Fatalf("Revoke() error = %v", err)
		}
		if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("Verify(revoked) error = %v, want %v", err, ErrTokenRevoked)
		}
		if _, err := f.verifier.Verify(t.Context(), sibling.AccessToken); err != nil {
			t.Errorf("Verify(sibling) error = %v, want success", err)
		}
		if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, sibling.RefreshToken, nil); err != nil {
			t.Errorf("RefreshGrant() after access token revocation error = %v, want success", err)
		}
	})
	t.Run("UnknownTokenIsNoError", func(t *testing.T) {
		f := newFixture(t)
		for _, tok := range []string{"no-such-token", "a.b.c", "x"} {
			if err := f.issuer.Revoke(t.Context(), f.confid, tok, ""); err != nil {
				t.Errorf("Revoke(%q) error = %v, want nil", tok, err)
			}
		}
	})
	t.Run("OtherClientRefused", func(t *testing.T) {
		f := newFixture(t)
		tok := f.login(t, f.confid)
		for _, raw := range []string{tok.RefreshToken, tok.AccessToken} {
			if err := f.issuer.Revoke(t.Context(), f.public, raw, ""); !errors.Is(err, ErrUnauthorizedClient) {
				t.Errorf("Revoke(by other client) error = %v, want %v", err, ErrUnauthorizedClient)
			}
		}
		if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); err != nil {
			t.Errorf("Verify() after refused revocation error = %v", err)
		}
	})
	t.Run("StoreFailure", func(t *testing.T) {
		f := newFixture(t, func(c *IssuerConfig) { c.Store = oauth2test.Down() })
		if err := f.issuer.Revoke(t.Context(), f.confid, "opaque", ""); !errors.Is(err, ErrTemporarilyUnavailable) || !errors.Is(err, oauth2test.ErrDown) {
			t.Errorf("Revoke() error = %v, want %v wrapping the store error", err, ErrTemporarilyUnavailable)
		}
	})
}

func TestIntrospect(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid, "email")
	in, err := f.issuer.Introspect(t.Context(), f.confid, tok.AccessToken, "")
	if err != nil {
		t.Fatalf("Introspect(access) error = %v", err)
	}
	if !in.Active || in.Subject != aliceName || in.Scope != "email" || in.ClientID != confID || in.TokenType != "Bearer" || in.ExpiresAt == 0 {
		t.Errorf("Introspect(access) = %+v", in)
	}
	in, err = f.issuer.Introspect(t.Context(), f.confid, tok.RefreshToken, HintAccessToken)
	if err != nil {
		t.Fatalf("Introspect(refresh) error = %v", err)
	}
	if !in.Active || in.Subject != aliceName || in.Scope != "email" || in.TokenType != "" {
		t.Errorf("Introspect(refresh) = %+v", in)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil); err != nil {
		t.Fatalf("RefreshGrant() error = %v", err)
	}
	for name, raw := range map[string]string{"consumed": tok.RefreshToken, "unknown": "nope", "garbage jwt": "a.b.c"} {
		in, err := f.issuer.Introspect(t.Context(), f.confid, raw, "")
		if err != nil || !reflect.DeepEqual(*in, Introspection{}) {
			t.Errorf("Introspect(%s) = %+v, %v, want inactive", name, in, err)
		}
	}
	f.clock.Advance(DefaultAccessTokenTTL + time.Second)
	if in, _ := f.issuer.Introspect(t.Context(), f.confid, tok.AccessToken, ""); in.Active {
		t.Errorf("Introspect(expired access token) = %+v, want inactive", in)
	}
}

func TestStoreFailureIsTemporarilyUnavailable(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) { c.Store = oauth2test.Down() })
	_, err := f.issuer.PasswordGrant(t.Context(), f.confid, aliceName, alicePassword, nil)
	if !errors.Is(err, ErrTemporarilyUnavailable) || !errors.Is(err, oauth2test.ErrDown) {
		t.Errorf("PasswordGrant() error = %v, want %v wrapping the store error", err, ErrTemporarilyUnavailable)
	}
	_, err = f.issuer.RefreshGrant(t.Context(), f.confid, "whatever", nil)
	if !errors.Is(err, ErrTemporarilyUnavailable) {
		t.Errorf("RefreshGrant() error = %v, want %v", err, ErrTemporarilyUnavailable)
	}
}

func TestNewIssuerValidates(t *testing.T) {
	f := newFixture(t)
	good := f.issuer.cfg
	tests := []struct {
		name   string
		mutate func(*IssuerConfig)
	}{
		{"no issuer", func(c *IssuerConfig) { c.Issuer = "" }},
		{"no keys", func(c *IssuerConfig) { c.Keys = nil }},
		{"key set without an active key", func(c *IssuerConfig) { c.Keys = NewKeySet(nil) }},
		{"signing key that only verifies", func(c *IssuerConfig) {
			k := activeKey(t, f.keys)
			c.Keys = NewKeySet(verificationKey(k.ID(), k.Algorithm(), k.Public()))
		}},
		{"no store", func(c *IssuerConfig) { c.Store = nil }},
		{"no clients", func(c *IssuerConfig) { c.Clients = nil }},
		{"negative ttl", func(c *IssuerConfig) { c.AccessTokenTTL = -time.Second }},
		{"negative leeway", func(c *IssuerConfig) { c.Leeway = -time.Second }},
		{"leeway above MaxLeeway", func(c *IssuerConfig) { c.Leeway = MaxLeeway + time.Second }},
		{"issuer not a URL", func(c *IssuerConfig) { c.Issuer = "not a url at all" }},
		{"issuer ftp", func(c *IssuerConfig) { c.Issuer = "ftp://x" }},
		{"issuer with query", func(c *IssuerConfig) { c.Issuer = "https://x/a?b=c" }},
		{"issuer with fragment", func(c *IssuerConfig) { c.Issuer = "https://x/a#b" }},
		{"issuer with pattern braces", func(c *IssuerConfig) { c.Issuer = "http://x/{a" }},
		{"issuer with user info", func(c *IssuerConfig) { c.Issuer = "https://u:p@x" }},
		// ServeMux redirects a request for an unclean path to the clean
		// one, so Handler could never serve these issuers' endpoints.
		{"issuer path with dot-dot", func(c *IssuerConfig) { c.Issuer = "https://x/a/../b" }},
		{"issuer path with dot", func(c *IssuerConfig) { c.Issuer = "https://x/a/./b" }},
		{"issuer path ending in dot-dot", func(c *IssuerConfig) { c.Issuer = "https://x/a/.." }},
		{"issuer path with escaped dots", func(c *IssuerConfig) { c.Issuer = "https://x/%2E%2E/b" }},
		{"issuer path with empty segment", func(c *IssuerConfig) { c.Issuer = "https://x/a//b" }},
		{"issuer path of two slashes", func(c *IssuerConfig) { c.Issuer = "https://x//" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			if _, err := NewIssuer(cfg); err == nil {
				t.Errorf("NewIssuer() error = nil, want an error")
			}
		})
	}
}

// Issuer URLs with and without a path, with and without a trailing slash,
// are all served by Handler.
func TestNewIssuerAcceptsIssuerPaths(t *testing.T) {
	good := newFixture(t).issuer.cfg
	for _, issuer := range []string{
		"https://x", "https://x/", "https://x/auth", "https://x/auth/", "https://x/tenants/acme",
		"https://x/tenants%2Facme", "https://x/a.b/..c", "http://localhost:8080/auth",
	} {
		cfg := good
		cfg.Issuer = issuer
		if _, err := NewIssuer(cfg); err != nil {
			t.Errorf("NewIssuer(Issuer: %q) error = %v, want nil", issuer, err)
		}
	}
}

// Unknown clients are checked against a dummy hash of the real hashes'
// cost, so that response time does not reveal which client ids exist.
func TestUnknownClientChecksDummyOfSameCost(t *testing.T) {
	f := newFixture(t)
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.AuthenticateClient(t.Context(), "ghost", "guess"); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("AuthenticateClient(unknown) error = %v, want %v", err, ErrInvalidClient)
	}
	d := f.issuer.dummySecret.Load()
	if d == nil || !strings.HasPrefix(*d, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("Got dummy hash %v, want one with the cost of the client hashes (m=64,t=1,p=1)", d)
	}
}

// RFC 7662 §4: a client must not learn about other clients' tokens, except
// a resource server about the access tokens presented to it.
func TestIntrospectionIsScopedToTheCaller(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	other := &Client{ID: "other", SecretHash: "x"}
	rs := &Client{ID: "api", SecretHash: "x", ResourceServer: true}
	tests := []struct {
		name       string
		caller     *Client
		token      string
		wantActive bool
	}{
		{"own access token", f.confid, tok.AccessToken, true},
		{"own refresh token", f.confid, tok.RefreshToken, true},
		{"other client's access token", other, tok.AccessToken, false},
		{"other client's refresh token", other, tok.RefreshToken, false},
		{"resource server, access token", rs, tok.AccessToken, true},
		{"resource server, refresh token", rs, tok.RefreshToken, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := f.issuer.Introspect(t.Context(), tt.caller, tt.token, "")
			if err != nil {
				t.Fatalf("Introspect() error = %v", err)
			}
			if in.Active != tt.wantActive || (!in.Active && !reflect.DeepEqual(*in, Introspection{})) {
				t.Errorf("Introspect() = %+v, want active %v (and nothing else when inactive)", in, tt.wantActive)
			}
		})
	}
}

// A revocation made while verifiers would still accept the token within
// their leeway must take effect, and outlive that window.
func TestRevokeInsideLeeway(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) { c.Leeway = time.Minute })
	tok := f.login(t, f.confid)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.store, Leeway: time.Minute, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultAccessTokenTTL + 30*time.Second) // expired, but inside the leeway
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Fatalf("Verify() inside the leeway error = %v, want success", err)
	}
	if err := f.issuer.Revoke(t.Context(), f.confid, tok.AccessToken, HintAccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Verify() after revocation inside the leeway error = %v, want %v", err, ErrTokenRevoked)
	}
}

func TestRefreshWhoseReplyWasLost(t *testing.T) {
	f := newFixture(t)
	// The rotation commits, and its reply is lost.
	lost := oauth2test.New(f.store)
	lost.Set(oauth2test.LoseReply, "RotateRefreshToken")
	f.issuer.cfg.Store = lost
	first := f.login(t, f.confid)
	second, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil)
	if err != nil {
		t.Fatalf("RefreshGrant() error = %v, want success: the rotation committed", err)
	}
	// The successor the client got is the one stored: it works, and the
	// grant was not revoked.
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, second.RefreshToken, nil); err != nil {
		t.Errorf("RefreshGrant(successor) error = %v", err)
	}
}

// Two Issuers with different identifiers on one store do not share refresh
// tokens: to the other issuer a token is unknown, so it can neither redeem,
// revoke nor burn it, and the issuer that issued it still can.
func TestRefreshTokenBoundToIssuer(t *testing.T) {
	var cfg IssuerConfig
	f := newFixture(t, func(c *IssuerConfig) { cfg = *c })
	cfg.Issuer = "https://other-tenant.example.test"
	other, err := NewIssuer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok := f.login(t, f.confid)

	if _, err := other.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("other.RefreshGrant() error = %v, want %v", err, ErrInvalidGrant)
	}
	if in, err := other.Introspect(t.Context(), f.confid, tok.RefreshToken, HintRefreshToken); err != nil || in.Active {
		t.Errorf("other.Introspect() = %+v, %v, want inactive", in, err)
	}
	if err := other.Revoke(t.Context(), f.confid, tok.RefreshToken, HintRefreshToken); err != nil {
		t.Errorf("other.Revoke() error = %v, want nil (an unknown token, RFC 7009 §2.2)", err)
	}
	next, err := f.issuer.RefreshGrant(t.Context(), f.confid, tok.RefreshToken, nil)
	if err != nil {
		t.Fatalf("RefreshGrant() by the issuing issuer after the other's attempts error = %v, want success", err)
	}
	if _, err := f.verifier.Verify(t.Context(), next.AccessToken); err != nil {
		t.Errorf("Verify(new access token) error = %v: the grant must not have been revoked", err)
	}
}

// unavailableKeys is a KeyResolver whose backing store is down.
type unavailableKeys struct{}

func (unavailableKeys) VerificationKey(context.Context, string) (*Key, error) {
	return nil, fmt.Errorf("%w: key store down", ErrKeysUnavailable)
}

// When the issuer cannot load its keys, it cannot tell its own access
// tokens from others': revoking one must not answer 200 having done nothing,
// and introspection must not call an active token inactive. Both are 503.
func TestKeysUnavailableIsNotInactive(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	f.issuer.verifier.cfg.Keys = unavailableKeys{}
	f.issuer.verifier.cache = nil // the token was never verified by it anyway

	if err := f.issuer.Revoke(t.Context(), f.confid, tok.AccessToken, HintAccessToken); !errors.Is(err, ErrTemporarilyUnavailable) {
		t.Errorf("Revoke(access token, keys unavailable) error = %v, want %v", err, ErrTemporarilyUnavailable)
	}
	if in, err := f.issuer.Introspect(t.Context(), f.confid, tok.AccessToken, HintAccessToken); !errors.Is(err, ErrTemporarilyUnavailable) {
		t.Errorf("Introspect(access token, keys unavailable) = %+v, %v, want %v", in, err, ErrTemporarilyUnavailable)
	}
}
