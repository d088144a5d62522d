package oauth2

import (
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// An independent JWT library, given our JWKS, reads the custom claims of
// our tokens as the application returned them, beside the SDK's own.
func TestInterop_JWXReadsExtraClaims(t *testing.T) {
	f := newFixture(t, withExtraClaims(rolesAndTenant))
	jwks := httptest.NewServer(f.issuer.JWKSHandler())
	t.Cleanup(jwks.Close)
	tok := f.login(t, f.confid, "profile")

	set, err := jwk.Fetch(t.Context(), jwks.URL, jwk.WithHTTPClient(jwks.Client()))
	if err != nil {
		t.Fatalf("jwk.Fetch() error = %v", err)
	}
	parsed, err := jwt.Parse([]byte(tok.AccessToken),
		jwt.WithKeySet(set),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(f.clock.Now)),
		jwt.WithIssuer(testIssuer),
		jwt.WithAudience(testIssuer),
	)
	if err != nil {
		t.Fatalf("jwt.Parse() error = %v", err)
	}
	var roles []any
	if err := parsed.Get("roles", &roles); err != nil || !reflect.DeepEqual(roles, []any{"reader", "writer"}) {
		t.Errorf(`Got(jwx Get("roles")) = %v, %v, want [reader writer]`, roles, err)
	}
	var tenant string
	if err := parsed.Get("tenant", &tenant); err != nil || tenant != "acme" {
		t.Errorf(`Got(jwx Get("tenant")) = %q, %v, want "acme"`, tenant, err)
	}
	var scope, clientID string
	if err := parsed.Get("scope", &scope); err != nil || scope != "profile" {
		t.Errorf(`Got(jwx Get("scope")) = %q, %v, want "profile"`, scope, err)
	}
	if err := parsed.Get("client_id", &clientID); err != nil || clientID != confID {
		t.Errorf(`Got(jwx Get("client_id")) = %q, %v, want %q`, clientID, err, confID)
	}
}
