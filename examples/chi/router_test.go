package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// server starts the example's router on a test server and returns its
// base URL.
func server(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	h, err := newRouter(base)
	if err != nil {
		t.Fatalf("newRouter() error = %v", err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return base
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; a non-nil form is POSTed with the demo client's
// credentials (client_secret_basic), and a non-empty bearer is sent as the
// access token.
func do(t *testing.T, method, u string, form url.Values, bearer string) *response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatalf("NewRequest() error = %v", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(demoClientID, demoClientSecret)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s error = %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s %s: %v", method, u, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

// decode unmarshals r's body into v after checking its status.
func decode(t *testing.T, what string, r *response, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("Got(%s status) = %d, want 200; body %s", what, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s %s: %v", what, r.body, err)
	}
}

// TestIssuerUnderPrefix follows the issuer's metadata, fetched where RFC
// 8414 §3.1 puts it for an issuer URL with a path, through every endpoint
// it names and the chi route the Verifier protects.
func TestIssuerUnderPrefix(t *testing.T) {
	base := server(t)
	issuerURL := base + issuerPath

	var md oauth2.Metadata
	decode(t, "GET "+metadataPath, do(t, http.MethodGet, base+oauth2.MetadataPath+"/auth", nil, ""), &md)
	if md.Issuer != issuerURL {
		t.Fatalf("Got(metadata issuer) = %q, want %q", md.Issuer, issuerURL)
	}
	for name, u := range map[string]string{
		"token_endpoint":         md.TokenEndpoint,
		"jwks_uri":               md.JWKSURI,
		"introspection_endpoint": md.IntrospectionEndpoint,
		"revocation_endpoint":    md.RevocationEndpoint,
	} {
		if !strings.HasPrefix(u, issuerURL+"/") {
			t.Errorf("Got(metadata %s) = %q, want it under %q", name, u, issuerURL)
		}
	}

	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	decode(t, "GET jwks_uri", do(t, http.MethodGet, md.JWKSURI, nil, ""), &jwks)
	if len(jwks.Keys) != 1 {
		t.Errorf("Got(len(jwks_uri keys)) = %d, want 1", len(jwks.Keys))
	}

	var tok oauth2.TokenResponse
	decode(t, "POST token_endpoint", do(t, http.MethodPost, md.TokenEndpoint,
		url.Values{"grant_type": {"password"}, "username": {demoUsername}, "password": {demoPassword}}, ""), &tok)

	var who struct{ Sub, Scope string }
	decode(t, "GET /api/me", do(t, http.MethodGet, base+"/api/me", nil, tok.AccessToken), &who)
	if who.Sub != demoUsername || who.Scope != "profile" {
		t.Errorf("Got(GET /api/me) = %+v, want sub %q and scope profile", who, demoUsername)
	}

	if got := introspect(t, md.IntrospectionEndpoint, tok.AccessToken); !got {
		t.Errorf("Got(introspection_endpoint active) = %v, want true", got)
	}
	if r := do(t, http.MethodPost, md.RevocationEndpoint, url.Values{"token": {tok.RefreshToken}}, ""); r.status != http.StatusOK {
		t.Fatalf("Got(POST revocation_endpoint status) = %d, want 200; body %s", r.status, r.body)
	}
	if got := introspect(t, md.IntrospectionEndpoint, tok.AccessToken); got {
		t.Errorf("Got(introspection_endpoint active after revocation) = %v, want false", got)
	}
	r := do(t, http.MethodGet, base+"/api/me", nil, tok.AccessToken)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("Got(GET /api/me after revocation) = %d %q, want 401 invalid_token", r.status, r.header.Get("WWW-Authenticate"))
	}
}

// introspect reports whether the endpoint at u says token is active.
func introspect(t *testing.T, u, token string) bool {
	t.Helper()
	var in oauth2.Introspection
	decode(t, "POST introspection_endpoint", do(t, http.MethodPost, u, url.Values{"token": {token}}, ""), &in)
	return in.Active
}

// The router answers only where the issuer and the application serve.
func TestRoutes(t *testing.T) {
	base := server(t)
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{name: "Metadata", method: http.MethodGet, path: metadataPath, want: http.StatusOK},
		{name: "JWKS", method: http.MethodGet, path: issuerPath + oauth2.JWKSPath, want: http.StatusOK},
		// RFC 8414 §3.1: not after the issuer's path, nor at the root.
		{name: "MetadataInsidePrefix", method: http.MethodGet, path: issuerPath + oauth2.MetadataPath, want: http.StatusNotFound},
		{name: "MetadataAtRoot", method: http.MethodGet, path: oauth2.MetadataPath, want: http.StatusNotFound},
		{name: "TokenWithoutPrefix", method: http.MethodPost, path: oauth2.TokenPath, want: http.StatusNotFound},
		{name: "UnknownUnderPrefix", method: http.MethodGet, path: issuerPath + "/nope", want: http.StatusNotFound},
		{name: "TokenNeedsPost", method: http.MethodGet, path: issuerPath + oauth2.TokenPath, want: http.StatusMethodNotAllowed},
		{name: "APINeedsAToken", method: http.MethodGet, path: "/api/me", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := do(t, tt.method, base+tt.path, nil, ""); r.status != tt.want {
				t.Errorf("Got(%s %s status) = %d, want %d; body %s", tt.method, tt.path, r.status, tt.want, r.body)
			}
		})
	}
}
