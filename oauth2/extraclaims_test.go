package oauth2

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
)

// rolesAndTenant is an ExtraClaims hook adding a JSON array and a string.
func rolesAndTenant(context.Context, AccessTokenInfo) (map[string]any, error) {
	return map[string]any{"roles": []string{"reader", "writer"}, "tenant": "acme"}, nil
}

// withExtraClaims sets hook as the fixture issuer's ExtraClaims.
func withExtraClaims(hook func(context.Context, AccessTokenInfo) (map[string]any, error)) func(*IssuerConfig) {
	return func(c *IssuerConfig) { c.ExtraClaims = hook }
}

// wantCustomClaims checks that c carries the claims rolesAndTenant adds.
func wantCustomClaims(t *testing.T, c *Claims) {
	t.Helper()
	var roles []string
	if ok, err := c.Claim("roles", &roles); !ok || err != nil || !slices.Equal(roles, []string{"reader", "writer"}) {
		t.Errorf(`Got(Claim("roles")) = %q, %v, %v, want ["reader" "writer"], true, nil`, roles, ok, err)
	}
	var tenant string
	if ok, err := c.Claim("tenant", &tenant); !ok || err != nil || tenant != "acme" {
		t.Errorf(`Got(Claim("tenant")) = %q, %v, %v, want "acme", true, nil`, tenant, ok, err)
	}
}

// Both grants call the hook, with what it needs to decide, and Verify gives
// back what it returned.
func TestExtraClaimsReadAfterVerify(t *testing.T) {
	var mu sync.Mutex
	var calls []AccessTokenInfo
	f := newFixture(t, withExtraClaims(func(ctx context.Context, ti AccessTokenInfo) (map[string]any, error) {
		mu.Lock()
		calls = append(calls, ti)
		mu.Unlock()
		return rolesAndTenant(ctx, ti)
	}))
	login := f.login(t, f.confid, "profile", "email")
	refreshed, err := f.issuer.RefreshGrant(t.Context(), f.confid, login.RefreshToken, []string{"profile"})
	if err != nil {
		t.Fatalf("RefreshGrant() error = %v", err)
	}
	var grantID string
	for i, tok := range []*TokenResponse{login, refreshed} {
		c, err := f.verifier.Verify(t.Context(), tok.AccessToken)
		if err != nil {
			t.Fatalf("Verify(token %d) error = %v", i, err)
		}
		wantCustomClaims(t, c)
		grantID = c.GrantID
	}
	want := []AccessTokenInfo{
		{GrantType: GrantPassword, ClientID: confID, Subject: aliceName, Scope: []string{"profile", "email"}, GrantID: grantID},
		{GrantType: GrantRefreshToken, ClientID: confID, Subject: aliceName, Scope: []string{"profile"}, GrantID: grantID},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("Got(ExtraClaims calls) = %+v, want %+v", calls, want)
	}
}

// The hook receives its own copy of the scope: for a user without scopes of
// its own, the password grant grants the client's DefaultScopes.
func TestExtraClaimsScopeIsTheHooksOwn(t *testing.T) {
	f := newFixture(t, withExtraClaims(func(_ context.Context, ti AccessTokenInfo) (map[string]any, error) {
		for i := range ti.Scope {
			ti.Scope[i] = "admin"
		}
		return nil, nil
	}))
	for i := range 2 {
		tok, err := f.issuer.PasswordGrant(t.Context(), f.confid, "bob", "builder", nil)
		if err != nil {
			t.Fatalf("PasswordGrant() error = %v", err)
		}
		if tok.Scope != "profile" {
			t.Errorf("Got(TokenResponse.Scope) of login %d = %q, want %q", i+1, tok.Scope, "profile")
		}
	}
	c, err := f.issuer.cfg.Clients.LookupClient(t.Context(), confID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.DefaultScopes, []string{"profile"}) {
		t.Errorf("Got(Client.DefaultScopes) = %q after the hook, want [profile]", c.DefaultScopes)
	}
}

// A hook must not replace or shadow the SDK's claims, nor give what cannot
// be written as JSON or read back the same: each is a programming error,
// answered with server_error, and never quietly mended.
func TestExtraClaimsRefused(t *testing.T) {
	type refusal struct {
		name    string
		claims  map[string]any
		wantErr error
	}
	tests := []refusal{
		{name: "custom names", claims: map[string]any{"roles": []string{"a"}, "tenant": "acme", "subject": "x", "scopes": "y", "": 1}},
		{name: "nil map", claims: nil},
		{name: "raw JSON", claims: map[string]any{"meta": json.RawMessage(`{"a":[1,2]}`)}},
		{name: "HTML characters in a name", claims: map[string]any{"<a&b>": true}},
		{name: "invalid UTF-8 name", claims: map[string]any{"ro\xffles": 1}, wantErr: ErrServerError},
		{name: "channel", claims: map[string]any{"c": make(chan int)}, wantErr: ErrServerError},
		{name: "function", claims: map[string]any{"f": func() {}}, wantErr: ErrServerError},
		{name: "NaN", claims: map[string]any{"n": math.NaN()}, wantErr: ErrServerError},
		{name: "invalid raw JSON", claims: map[string]any{"meta": json.RawMessage(`{"a":`)}, wantErr: ErrServerError},
		{name: "duplicate name in raw JSON", claims: map[string]any{"meta": json.RawMessage(`{"a":1,"a":2}`)}, wantErr: ErrServerError},
		{name: "too large", claims: map[string]any{"blob": strings.Repeat("x", DefaultMaxTokenSize)}, wantErr: ErrServerError},
	}
	for _, name := range reservedClaims {
		tests = append(tests,
			refusal{name: "reserved " + name, claims: map[string]any{name: "x", "tenant": "acme"}, wantErr: ErrServerError},
			refusal{name: "reserved " + strings.ToUpper(name), claims: map[string]any{strings.ToUpper(name): "x"}, wantErr: ErrServerError},
		)
	}
	// encoding/json folds ſ (U+017F) to s: a resource server decoding
	// with it would read these as sub and scope.
	for _, name := range []string{"ſub", "ſcope", "Client_ID"} {
		tests = append(tests, refusal{name: "reserved " + name, claims: map[string]any{name: "x"}, wantErr: ErrServerError})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, withExtraClaims(func(context.Context, AccessTokenInfo) (map[string]any, error) {
				return tt.claims, nil
			}))
			resp, err := f.issuer.PasswordGrant(t.Context(), f.confid, aliceName, alicePassword, nil)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("PasswordGrant() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			c, err := f.verifier.Verify(t.Context(), resp.AccessToken)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			for name, v := range tt.claims {
				var got json.RawMessage
				want, _ := json.Marshal(v)
				if ok, err := c.Claim(name, &got); !ok || err != nil || !bytes.Equal(got, want) {
					t.Errorf("Got(Claim(%q)) = %s, %v, %v, want %s, true, nil", name, got, ok, err, want)
				}
			}
		})
	}
}

// A failing hook fails the grant; on the refresh grant it leaves the
// refresh token as it was, so that the client's retry is not taken for
// reuse.
func TestExtraClaimsHookError(t *testing.T) {
	errRoles := errors.New("roles database: connection refused")
	tests := []struct {
		name    string
		err     error
		wantErr ErrorCode
	}{
		{name: "plain error", err: errRoles, wantErr: ErrServerError},
		{name: "backend down", err: errors.Join(errRoles, ErrTemporarilyUnavailable), wantErr: ErrTemporarilyUnavailable},
		{name: "reserved name", wantErr: ErrServerError}, // err nil: the hook returns "scope"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var failing sync.Map // grant type -> bool
			f := newFixture(t, withExtraClaims(func(ctx context.Context, ti AccessTokenInfo) (map[string]any, error) {
				if _, fail := failing.Load(ti.GrantType); !fail {
					return rolesAndTenant(ctx, ti)
				}
				if tt.err != nil {
					return nil, tt.err
				}
				return map[string]any{"scope": "admin"}, nil
			}))

			failing.Store(GrantPassword, true)
			if _, err := f.issuer.PasswordGrant(t.Context(), f.confid, aliceName, alicePassword, nil); errorCode(err) != tt.wantErr {
				t.Errorf("PasswordGrant() error = %v, want %v", err, tt.wantErr)
			}
			failing.Delete(GrantPassword)

			login := f.login(t, f.confid)
			failing.Store(GrantRefreshToken, true)
			_, err := f.issuer.RefreshGrant(t.Context(), f.confid, login.RefreshToken, nil)
			if errorCode(err) != tt.wantErr {
				t.Fatalf("RefreshGrant(hook failing) error = %v, want %v", err, tt.wantErr)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("RefreshGrant(hook failing) error = %v, want it to wrap %v", err, tt.err)
			}
			failing.Delete(GrantRefreshToken)

			// The same refresh token still works, once, and its grant lives.
			next, err := f.issuer.RefreshGrant(t.Context(), f.confid, login.RefreshToken, nil)
			if err != nil {
				t.Fatalf("RefreshGrant(retry) error = %v, want the refresh token unconsumed", err)
			}
			c, err := f.verifier.Verify(t.Context(), login.AccessToken)
			if err != nil {
				t.Fatalf("Verify(first access token) error = %v, want the grant alive", err)
			}
			wantCustomClaims(t, c)
			if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, next.RefreshToken, nil); err != nil {
				t.Errorf("RefreshGrant(successor) error = %v", err)
			}
		})
	}
}

// errorCode is the code of err, an *Error; errors.Is would also match a
// code in its cause.
func errorCode(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// The cause of a refused claim reaches IssuerConfig.Logger; the client sees
// a bare server_error.
func TestExtraClaimsRefusalIsLogged(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, withExtraClaims(func(context.Context, AccessTokenInfo) (map[string]any, error) {
		return map[string]any{"client_id": "someone-else"}, nil
	}), func(c *IssuerConfig) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	rec, body := post(t, f.issuer.TokenHandler(), url.Values{
		"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword},
	}, basic(confID, confSecret))
	if rec.Code != http.StatusInternalServerError || body["error"] != "server_error" {
		t.Errorf("Got(token endpoint) = %d %v, want 500 server_error", rec.Code, body)
	}
	if strings.Contains(rec.Body.String(), "client_id") {
		t.Errorf("Got(response body) = %s, want no cause in it", rec.Body)
	}
	if want := `\"client_id\" is a reserved claim`; !strings.Contains(logs.String(), want) {
		t.Errorf("Got(log) = %q, want it to contain %q", logs.String(), want)
	}
}

// Marshalling Claims gives the claims set of the token they came from.
func TestClaimsMarshalJSON(t *testing.T) {
	f := newFixture(t, withExtraClaims(rolesAndTenant))
	tok := f.login(t, f.confid, "profile", "email")
	c, err := f.verifier.Verify(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	got, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal(Claims) error = %v", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var gotSet, wantSet map[string]any
	if err := json.Unmarshal(got, &gotSet); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &wantSet); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotSet, wantSet) {
		t.Errorf("json.Marshal(Claims) = %s, want the token's claims %s", got, payload)
	}
	// And it reads back, through the Verifier's parser, as the same Claims.
	w, err := parseClaims(got)
	if err != nil {
		t.Fatalf("parseClaims(json.Marshal(Claims)) error = %v", err)
	}
	if back := w.claims(); !reflect.DeepEqual(back, c) {
		t.Errorf("parseClaims(json.Marshal(Claims)) = %+v, want %+v", back, c)
	}
}

// A password grant whose access token cannot be issued stores no refresh
// token: nobody would ever hold it.
func TestPasswordGrantFailureStoresNoRefreshToken(t *testing.T) {
	var st *oauth2test.Store
	f := newFixture(t, func(c *IssuerConfig) {
		st = oauth2test.New(c.Store)
		c.Store = st
		c.ExtraClaims = func(context.Context, AccessTokenInfo) (map[string]any, error) {
			return nil, errors.New("directory down")
		}
	})
	if _, err := f.issuer.PasswordGrant(t.Context(), f.confid, aliceName, alicePassword, nil); !errors.Is(err, ErrServerError) {
		t.Fatalf("PasswordGrant() error = %v, want %v", err, ErrServerError)
	}
	if got := st.Calls("CreateRefreshToken"); got != 0 {
		t.Errorf("Got(refresh tokens stored) = %d, want 0", got)
	}
}

// A hook may refuse the client itself, with an *Error of a 4xx status: that
// is the answer, not a server_error.
func TestExtraClaimsHookRefusesClient(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) {
		c.ExtraClaims = func(context.Context, AccessTokenInfo) (map[string]any, error) {
			return nil, fmt.Errorf("tenant lookup: %w", &Error{Code: ErrInvalidGrant, Description: "account disabled", Status: http.StatusBadRequest})
		}
	})
	w, body := post(t, f.issuer.TokenHandler(), url.Values{"grant_type": {"password"}, "client_id": {pubID},
		"username": {aliceName}, "password": {alicePassword}})
	if w.Code != http.StatusBadRequest || body["error"] != "invalid_grant" || body["error_description"] != "account disabled" {
		t.Errorf("Got(token endpoint) = %d %v, want 400 invalid_grant \"account disabled\"", w.Code, body)
	}
}
