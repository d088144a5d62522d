package oauth2

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
)

// servedMetadata GETs the metadata document from f's MetadataHandler.
func servedMetadata(t *testing.T, f *fixture) []byte {
	t.Helper()
	w := httptest.NewRecorder()
	f.issuer.MetadataHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, MetadataPath, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("Got(GET %s status) = %d, want 200", MetadataPath, w.Code)
	}
	return w.Body.Bytes()
}

// emptyArrays returns the JSON paths of the empty arrays in v.
func emptyArrays(path string, v any) []string {
	var found []string
	switch v := v.(type) {
	case []any:
		if len(v) == 0 {
			found = append(found, path)
		}
		for _, e := range v {
			found = append(found, emptyArrays(path+"[]", e)...)
		}
	case map[string]any:
		for k, e := range v {
			found = append(found, emptyArrays(path+"."+k, e)...)
		}
	}
	return found
}

// RFC 8414 §3.2: claims with zero elements MUST be omitted.
func TestMetadataMembers(t *testing.T) {
	always := []string{
		"issuer", "token_endpoint", "jwks_uri",
		"grant_types_supported", "token_endpoint_auth_methods_supported",
		"revocation_endpoint", "revocation_endpoint_auth_methods_supported",
		"introspection_endpoint", "introspection_endpoint_auth_methods_supported",
	}
	tests := []struct {
		name       string
		mutate     func(*IssuerConfig)
		want       []string // member names, exactly
		wantGrants []string
	}{
		{
			name:       "password grant and scopes",
			want:       append([]string{"scopes_supported"}, always...),
			wantGrants: []string{GrantPassword, GrantRefreshToken},
		},
		{
			name:       "no users, no scopes",
			mutate:     func(c *IssuerConfig) { c.Users, c.ScopesSupported = nil, nil },
			want:       always,
			wantGrants: []string{GrantRefreshToken},
		},
		{
			name:       "empty scope list",
			mutate:     func(c *IssuerConfig) { c.ScopesSupported = []string{} },
			want:       always,
			wantGrants: []string{GrantPassword, GrantRefreshToken},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mut []func(*IssuerConfig)
			if tt.mutate != nil {
				mut = append(mut, tt.mutate)
			}
			body := servedMetadata(t, newFixture(t, mut...))

			var members map[string]json.RawMessage
			if err := json.Unmarshal(body, &members); err != nil {
				t.Fatalf("decoding %s: %v", body, err)
			}
			got := slices.Sorted(maps.Keys(members))
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("Got(metadata members) = %v, want %v", got, want)
			}

			var grants []string
			if err := json.Unmarshal(members["grant_types_supported"], &grants); err != nil {
				t.Fatalf("decoding grant_types_supported %s: %v", members["grant_types_supported"], err)
			}
			if !slices.Equal(grants, tt.wantGrants) {
				t.Errorf("Got(grant_types_supported) = %v, want %v", grants, tt.wantGrants)
			}

			var doc any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("decoding %s: %v", body, err)
			}
			if empty := emptyArrays("", doc); len(empty) > 0 {
				t.Errorf("Got(empty arrays in metadata) = %v, want none", empty)
			}
		})
	}
}

// RFC 9110 §15.5.2: a 401 MUST carry a WWW-Authenticate challenge, however
// the client tried (or did not try) to authenticate. Basic is the only HTTP
// authentication scheme these endpoints take (RFC 6749 §5.2).
func TestClientAuthFailureChallenges(t *testing.T) {
	const want = `Basic realm="oauth2kit", charset="UTF-8"`
	f := newFixture(t)
	tok := f.login(t, f.confid)
	with := func(base url.Values, extra ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	grant := url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}}
	token := url.Values{"token": {tok.AccessToken}}
	endpoints := map[string]http.Handler{
		"token":         f.issuer.TokenHandler(),
		"revocation":    f.issuer.RevocationHandler(),
		"introspection": f.issuer.IntrospectionHandler(),
	}
	tests := []struct {
		name       string
		endpoint   string
		form       url.Values
		req        func(*http.Request)
		wantStatus int
	}{
		{name: "token/post wrong secret", endpoint: "token", form: with(grant, "client_id", confID, "client_secret", "wrong"), wantStatus: 401},
		{name: "token/post unknown client", endpoint: "token", form: with(grant, "client_id", "nobody", "client_secret", "x"), wantStatus: 401},
		{name: "token/no credentials", endpoint: "token", form: grant, wantStatus: 401},
		{name: "token/basic wrong secret", endpoint: "token", form: grant, req: basic(confID, "wrong"), wantStatus: 401},
		{name: "token/basic and post", endpoint: "token", form: with(grant, "client_secret", confSecret), req: basic(confID, confSecret), wantStatus: 400},
		{name: "token/unsupported grant", endpoint: "token", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {pubID}}, wantStatus: 400},
		{name: "revocation/post wrong secret", endpoint: "revocation", form: with(token, "client_id", confID, "client_secret", "wrong"), wantStatus: 401},
		{name: "revocation/no credentials", endpoint: "revocation", form: token, wantStatus: 401},
		{name: "revocation/basic wrong secret", endpoint: "revocation", form: token, req: basic(confID, "wrong"), wantStatus: 401},
		{name: "revocation/no token", endpoint: "revocation", form: url.Values{}, req: basic(confID, confSecret), wantStatus: 400},
		{name: "introspection/post wrong secret", endpoint: "introspection", form: with(token, "client_id", confID, "client_secret", "wrong"), wantStatus: 401},
		{name: "introspection/no credentials", endpoint: "introspection", form: token, wantStatus: 401},
		{name: "introspection/basic wrong secret", endpoint: "introspection", form: token, req: basic(confID, "wrong"), wantStatus: 401},
		{name: "introspection/public client by post", endpoint: "introspection", form: with(token, "client_id", pubID), wantStatus: 401},
		{name: "introspection/public client by basic", endpoint: "introspection", form: token, req: basic(pubID, ""), wantStatus: 401},
		{name: "introspection/no token", endpoint: "introspection", form: url.Values{}, req: basic(confID, confSecret), wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mut []func(*http.Request)
			if tt.req != nil {
				mut = append(mut, tt.req)
			}
			w, body := post(t, endpoints[tt.endpoint], tt.form, mut...)
			if w.Code != tt.wantStatus {
				t.Fatalf("Got(status) = %d, want %d (body %v)", w.Code, tt.wantStatus, body)
			}
			wantChallenge := ""
			if tt.wantStatus == http.StatusUnauthorized {
				wantChallenge = want
			}
			if got := w.Header().Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("Got(WWW-Authenticate) = %q, want %q", got, wantChallenge)
			}
		})
	}
}
