package oauth2

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
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
