package oauth2_test

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

// TestHandler_Mounts serves an issuer in each of the ways Issuer.Handler's
// doc describes, and follows its metadata, fetched where RFC 8414 §3.1 puts
// it, to every endpoint it names.
func TestHandler_Mounts(t *testing.T) {
	// atRoot mounts the whole Handler at the root of the server.
	atRoot := func(mux *http.ServeMux, iss *oauth2.Issuer, _ string) {
		mux.Handle("/", iss.Handler())
	}
	// underPrefix routes only the issuer's path and its metadata location
	// to the Handler, leaving the rest of the server to the application.
	underPrefix := func(mux *http.ServeMux, iss *oauth2.Issuer, prefix string) {
		h := iss.Handler()
		mux.Handle(prefix+"/", h)
		mux.Handle(oauth2.MetadataPath+prefix, h)
		mux.Handle("/", http.NotFoundHandler()) // the application's own routes
	}
	// behindStripPrefix stands for a proxy that strips the issuer's path
	// before the application sees the request: Handler would find nothing
	// there, so the endpoints' own handlers are mounted at the bare paths.
	behindStripPrefix := func(mux *http.ServeMux, iss *oauth2.Issuer, prefix string) {
		inner := http.NewServeMux()
		inner.Handle(oauth2.TokenPath, iss.TokenHandler())
		inner.Handle(oauth2.RevocationPath, iss.RevocationHandler())
		inner.Handle(oauth2.IntrospectionPath, iss.IntrospectionHandler())
		inner.Handle(oauth2.JWKSPath, iss.JWKSHandler())
		mux.Handle(prefix+"/", http.StripPrefix(prefix, inner))
		mux.Handle(oauth2.MetadataPath+prefix, iss.MetadataHandler())
	}
	tests := []struct {
		name       string
		issuerPath string // appended to the server's URL
		mount      func(mux *http.ServeMux, iss *oauth2.Issuer, prefix string)
	}{
		{name: "NoPathAtRoot", mount: atRoot},
		{name: "PathAtRoot", issuerPath: "/auth", mount: atRoot},
		{name: "PathUnderPrefix", issuerPath: "/auth", mount: underPrefix},
		{name: "NestedPathUnderPrefix", issuerPath: "/tenants/acme", mount: underPrefix},
		{name: "TrailingSlash", issuerPath: "/auth/", mount: underPrefix},
		{name: "PathBehindStripPrefix", issuerPath: "/auth", mount: behindStripPrefix},
		// A path segment holding an escaped slash is one segment, not two.
		{name: "EscapedSlashAtRoot", issuerPath: "/tenants%2Facme", mount: atRoot},
		{name: "NonASCIIPathAtRoot", issuerPath: "/t%C3%A9nant", mount: atRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(nil)
			base := "http://" + srv.Listener.Addr().String()
			f := newIssuer(t, base, withIssuerPath(tt.issuerPath))
			f.srv = srv
			prefix := strings.TrimSuffix(tt.issuerPath, "/")
			mux := http.NewServeMux()
			tt.mount(mux, f.issuer, prefix)
			srv.Config.Handler = mux
			srv.Start()
			t.Cleanup(srv.Close)

			// §3.1: the well-known segment goes between the host and the
			// issuer's path, from which a trailing slash is removed.
			md := fetchMetadata(t, f, base+oauth2.MetadataPath+prefix)
			followMetadata(t, f, md)
		})
	}
}

// fetchMetadata GETs the metadata document at u and checks that it names
// the issuer it was fetched for (RFC 8414 §3.3).
func fetchMetadata(t *testing.T, f *fixture, u string) oauth2.Metadata {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("NewRequest() error = %v", err)
	}
	r := f.do(t, req)
	if r.status != http.StatusOK {
		t.Fatalf("Got(GET %s status) = %d, want 200; body %s", u, r.status, r.body)
	}
	var md oauth2.Metadata
	if err := json.Unmarshal(r.body, &md); err != nil {
		t.Fatalf("decoding metadata %s: %v", r.body, err)
	}
	if md.Issuer != f.url {
		t.Fatalf("Got(metadata issuer) = %q, want %q", md.Issuer, f.url)
	}
	return md
}

// followMetadata uses every endpoint md names, over HTTP: it fetches the
// keys, gets a token, verifies it, introspects it, revokes it and
// introspects it again.
func followMetadata(t *testing.T, f *fixture, md oauth2.Metadata) {
	t.Helper()
	base := strings.TrimSuffix(f.url, "/")
	for name, got := range map[string]string{
		"token_endpoint":         md.TokenEndpoint,
		"jwks_uri":               md.JWKSURI,
		"introspection_endpoint": md.IntrospectionEndpoint,
		"revocation_endpoint":    md.RevocationEndpoint,
	} {
		if !strings.HasPrefix(got, base+"/") {
			t.Errorf("Got(metadata %s) = %q, want it under the issuer %q", name, got, f.url)
		}
	}

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, md.JWKSURI, nil)
	if err != nil {
		t.Fatalf("NewRequest() error = %v", err)
	}
	if r := f.do(t, req); r.status != http.StatusOK || !strings.Contains(string(r.body), `"keys"`) {
		t.Errorf("Got(GET jwks_uri) = %d %s, want 200 and a JWK Set", r.status, r.body)
	}

	auth := basicAuth(confID, confSecret)
	tok := tokenResponse(t, postTo(t, f, md.TokenEndpoint, auth, url.Values{
		"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword},
	}))
	if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Errorf("Verify(token from token_endpoint) error = %v", err)
	}
	if got := introspectActive(t, f, md.IntrospectionEndpoint, tok.AccessToken); !got {
		t.Errorf("Got(introspection_endpoint active) = %v, want true", got)
	}
	if r := postTo(t, f, md.RevocationEndpoint, auth, url.Values{"token": {tok.RefreshToken}}); r.status != http.StatusOK {
		t.Errorf("Got(POST revocation_endpoint status) = %d, want 200; body %s", r.status, r.body)
	}
	if got := introspectActive(t, f, md.IntrospectionEndpoint, tok.AccessToken); got {
		t.Errorf("Got(introspection_endpoint active after revocation) = %v, want false", got)
	}
}

// introspectActive asks the introspection endpoint at u about token, as
// the confidential client that holds it.
func introspectActive(t *testing.T, f *fixture, u, token string) bool {
	t.Helper()
	r := postTo(t, f, u, basicAuth(confID, confSecret), url.Values{"token": {token}})
	if r.status != http.StatusOK {
		t.Fatalf("Got(POST %s status) = %d, want 200; body %s", u, r.status, r.body)
	}
	var in oauth2.Introspection
	if err := json.Unmarshal(r.body, &in); err != nil {
		t.Fatalf("decoding introspection %s: %v", r.body, err)
	}
	return in.Active
}

// postTo POSTs form to the URL u, authenticated by auth.
func postTo(t *testing.T, f *fixture, u string, auth clientAuth, form url.Values) *response {
	t.Helper()
	form = cloneValues(form)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, nil)
	if err != nil {
		t.Fatalf("NewRequest() error = %v", err)
	}
	auth(req, form)
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(t, req)
}
