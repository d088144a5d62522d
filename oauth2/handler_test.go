package oauth2

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
)

func basic(id, secret string) func(*http.Request) {
	return func(r *http.Request) {
		cred := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
}

func TestTokenHandlerClientAuthentication(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) {
		clients, err := NewStaticClients(
			Client{ID: confID, SecretHash: cheapHash(t, confSecret), GrantTypes: []string{GrantPassword}, Scopes: []string{"profile"}},
			Client{ID: "odd id:1", SecretHash: cheapHash(t, "s:e%c r+t"), GrantTypes: []string{GrantPassword}, Scopes: []string{"profile"}},
			Client{ID: pubID, GrantTypes: []string{GrantPassword}, Scopes: []string{"profile"}},
		)
		if err != nil {
			t.Fatal(err)
		}
		c.Clients = clients
	})
	h := f.issuer.TokenHandler()
	grant := url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}}
	withForm := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, vs := range grant {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	tests := []struct {
		name       string
		form       url.Values
		req        func(*http.Request)
		wantStatus int
		wantError  string
		wantBasic  bool
	}{
		{name: "basic", form: grant, req: basic(confID, confSecret), wantStatus: 200},
		{name: "basic with encoded characters", form: grant, req: basic("odd id:1", "s:e%c r+t"), wantStatus: 200},
		{name: "post", form: withForm(url.Values{"client_id": {confID}, "client_secret": {confSecret}}), wantStatus: 200},
		{name: "public", form: withForm(url.Values{"client_id": {pubID}}), wantStatus: 200},
		{name: "basic with matching client_id", form: withForm(url.Values{"client_id": {confID}}), req: basic(confID, confSecret), wantStatus: 200},
		{name: "basic wrong secret", form: grant, req: basic(confID, "wrong"), wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "post wrong secret", form: withForm(url.Values{"client_id": {confID}, "client_secret": {"wrong"}}), wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "no client", form: grant, wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "two methods", form: withForm(url.Values{"client_secret": {confSecret}}), req: basic(confID, confSecret), wantStatus: 400, wantError: "invalid_request"},
		{name: "client_id mismatch", form: withForm(url.Values{"client_id": {pubID}}), req: basic(confID, confSecret), wantStatus: 400, wantError: "invalid_request"},
		{name: "malformed basic", form: grant, req: func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "empty value counts as omitted", form: withForm(url.Values{"client_id": {pubID}, "scope": {""}}), wantStatus: 200},
		{name: "missing grant_type", form: url.Values{"client_id": {pubID}}, wantStatus: 400, wantError: "invalid_request"},
		{name: "malformed scope", form: withForm(url.Values{"client_id": {pubID}, "scope": {"profile  email"}}), wantStatus: 400, wantError: "invalid_scope"},
		{name: "unsupported grant", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {pubID}}, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "grant not allowed", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {pubID}}, wantStatus: 400, wantError: "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mut []func(*http.Request)
			if tt.req != nil {
				mut = append(mut, tt.req)
			}
			w, body := post(t, h, tt.form, mut...)
			if w.Code != tt.wantStatus {
				t.Fatalf("Got status %d, want %d (body %v)", w.Code, tt.wantStatus, body)
			}
			if got, _ := body["error"].(string); got != tt.wantError {
				t.Errorf("Got error %q, want %q", got, tt.wantError)
			}
			if got := w.Header().Get("WWW-Authenticate"); (got != "") != tt.wantBasic || (tt.wantBasic && !strings.HasPrefix(got, "Basic ")) {
				t.Errorf("Got WWW-Authenticate %q, want Basic challenge: %v", got, tt.wantBasic)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Got Cache-Control %q, want no-store", got)
			}
		})
	}
}

func TestHandlerRoutesUnderIssuerPath(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) { c.Issuer = "https://example.test/tenant-a" })
	h := f.issuer.Handler()
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/.well-known/oauth-authorization-server/tenant-a"},
		{http.MethodGet, "/tenant-a/.well-known/jwks.json"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != 200 {
			t.Errorf("%s %s: got status %d, want 200", tt.method, tt.path, w.Code)
		}
	}
	md := f.issuer.Metadata()
	if md.TokenEndpoint != "https://example.test/tenant-a/oauth2/token" || md.Issuer != "https://example.test/tenant-a" {
		t.Errorf("Metadata() = %+v", md)
	}
	w, _ := post(t, h, url.Values{"grant_type": {"password"}, "client_id": {pubID}, "username": {aliceName}, "password": {alicePassword}},
		func(r *http.Request) { r.URL.Path = "/tenant-a/oauth2/token" })
	if w.Code != 200 {
		t.Errorf("POST /tenant-a/oauth2/token: got status %d, want 200 (%s)", w.Code, w.Body.String())
	}
}

func TestRevocationAndIntrospectionHandlers(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	intro := f.issuer.IntrospectionHandler()

	w, body := post(t, intro, url.Values{"token": {tok.AccessToken}}, basic(confID, confSecret))
	if w.Code != 200 || body["active"] != true || body["sub"] != aliceName {
		t.Fatalf("introspect: got %d %v, want active token of alice", w.Code, body)
	}
	w, body = post(t, intro, url.Values{"token": {tok.AccessToken}, "client_id": {pubID}})
	if w.Code != 401 || body["error"] != "invalid_client" {
		t.Errorf("introspect by public client: got %d %v, want 401 invalid_client", w.Code, body)
	}
	w, body = post(t, intro, url.Values{}, basic(confID, confSecret))
	if w.Code != 400 || body["error"] != "invalid_request" {
		t.Errorf("introspect without token: got %d %v, want 400 invalid_request", w.Code, body)
	}

	rev := f.issuer.RevocationHandler()
	w, _ = post(t, rev, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}, basic(confID, confSecret))
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("revoke: got %d %q, want 200 and an empty body", w.Code, w.Body.String())
	}
	w, _ = post(t, intro, url.Values{"token": {tok.AccessToken}}, basic(confID, confSecret))
	if got := strings.TrimSpace(w.Body.String()); got != `{"active":false}` {
		t.Errorf("introspect after revoking the grant: got %q, want {\"active\":false}", got)
	}
	w, _ = post(t, rev, url.Values{"token": {"unknown"}, "token_type_hint": {"something_else"}}, basic(confID, confSecret))
	if w.Code != 200 {
		t.Errorf("revoke unknown token: got %d, want 200", w.Code)
	}
	w, body = post(t, rev, url.Values{}, basic(confID, confSecret))
	if w.Code != 400 || body["error"] != "invalid_request" {
		t.Errorf("revoke without token: got %d %v, want 400 invalid_request", w.Code, body)
	}
}

func TestStoreFailureAnswers503WithoutInternals(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) { c.Store = oauth2test.Down() })
	w, body := post(t, f.issuer.TokenHandler(), url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}}, basic(confID, confSecret))
	if w.Code != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("Got %d %v, want 503 temporarily_unavailable", w.Code, body)
	}
	if strings.Contains(w.Body.String(), "10.0.0.7") || strings.Contains(w.Body.String(), "refused") {
		t.Errorf("Got body %q, which leaks the store error", w.Body.String())
	}
	// A wrong password cannot be counted against brute force while the
	// store is down, so it is not checked either: 503, never a verdict.
	w, body = post(t, f.issuer.TokenHandler(), url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {"wrong"}}, basic(confID, confSecret))
	if w.Code != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("Got(wrong password, store down) %d %v, want 503 temporarily_unavailable", w.Code, body)
	}
	// A mistake decided before the store is reached is still the client's.
	w, body = post(t, f.issuer.TokenHandler(), url.Values{"username": {aliceName}, "password": {"wrong"}}, basic(confID, confSecret))
	if w.Code != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("Got(no grant_type, store down) %d %v, want 400 invalid_request", w.Code, body)
	}
}
