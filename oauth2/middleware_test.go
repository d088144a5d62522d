package oauth2

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
)

func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid, "profile")
	revoked := f.login(t, f.confid, "profile")
	if err := f.issuer.Revoke(t.Context(), f.confid, revoked.AccessToken, ""); err != nil {
		t.Fatal(err)
	}
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFromContext(r.Context())
		if !ok {
			t.Errorf("ClaimsFromContext() found no claims behind the middleware")
		}
		_, _ = w.Write([]byte(c.Subject))
	})
	profile := f.verifier.RequireToken("profile")(me)
	admin := f.verifier.RequireToken("admin", "profile")(me)
	// RequireScope stacked under Middleware.
	stacked := f.verifier.Middleware(f.verifier.RequireScope("admin")(me))
	bare := f.verifier.RequireScope("profile")(me)

	tests := []struct {
		name       string
		handler    http.Handler
		auth       []string
		wantStatus int
		wantChal   string // exact WWW-Authenticate, "" for none
		wantBody   string
	}{
		{name: "valid", handler: profile, auth: []string{"Bearer " + tok.AccessToken}, wantStatus: 200, wantBody: aliceName},
		{name: "scheme is case-insensitive", handler: profile, auth: []string{"bearer " + tok.AccessToken}, wantStatus: 200, wantBody: aliceName},
		{name: "no token", handler: profile, wantStatus: 401, wantChal: `Bearer realm="oauth2kit"`},
		{name: "other scheme", handler: profile, auth: []string{"Basic YTpi"}, wantStatus: 401, wantChal: `Bearer realm="oauth2kit"`},
		{name: "garbage token", handler: profile, auth: []string{"Bearer abc.def.ghi"}, wantStatus: 401,
			wantChal: `Bearer realm="oauth2kit", error="invalid_token", error_description="malformed access token"`},
		{name: "revoked", handler: profile, auth: []string{"Bearer " + revoked.AccessToken}, wantStatus: 401,
			wantChal: `Bearer realm="oauth2kit", error="invalid_token", error_description="access token revoked"`},
		{name: "empty bearer", handler: profile, auth: []string{"Bearer "}, wantStatus: 400,
			wantChal: `Bearer realm="oauth2kit", error="invalid_request", error_description="malformed bearer token"`},
		{name: "bad characters", handler: profile, auth: []string{"Bearer a,b"}, wantStatus: 400,
			wantChal: `Bearer realm="oauth2kit", error="invalid_request", error_description="malformed bearer token"`},
		{name: "two headers", handler: profile, auth: []string{"Bearer " + tok.AccessToken, "Bearer x"}, wantStatus: 400,
			wantChal: `Bearer realm="oauth2kit", error="invalid_request", error_description="more than one Authorization header"`},
		{name: "insufficient scope", handler: admin, auth: []string{"Bearer " + tok.AccessToken}, wantStatus: 403,
			wantChal: `Bearer realm="oauth2kit", error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin profile"`},
		{name: "RequireScope under Middleware", handler: stacked, auth: []string{"Bearer " + tok.AccessToken}, wantStatus: 403,
			wantChal: `Bearer realm="oauth2kit", error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin"`},
		{name: "RequireScope without Middleware", handler: bare, auth: []string{"Bearer " + tok.AccessToken}, wantStatus: 401, wantChal: `Bearer realm="oauth2kit"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/me", nil)
			for _, a := range tt.auth {
				r.Header.Add("Authorization", a)
			}
			w := httptest.NewRecorder()
			tt.handler.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Errorf("Got status %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body.String())
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wantChal {
				t.Errorf("Got WWW-Authenticate %q, want %q", got, tt.wantChal)
			}
			if tt.wantBody != "" && w.Body.String() != tt.wantBody {
				t.Errorf("Got body %q, want %q", w.Body.String(), tt.wantBody)
			}
		})
	}
}

func TestMiddlewareExpired(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	f.clock.Advance(DefaultAccessTokenTTL + time.Second)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	w := httptest.NewRecorder()
	f.verifier.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
	want := `Bearer realm="oauth2kit", error="invalid_token", error_description="access token expired"`
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != want {
		t.Errorf("Got %d %q, want 401 %q", w.Code, w.Header().Get("WWW-Authenticate"), want)
	}
}

// A store that cannot be reached must not let a possibly revoked token in,
// and must not be reported as the client's fault.
func TestMiddlewareFailsClosed(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: oauth2test.Down(), Logger: quiet, Realm: "api"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	w := httptest.NewRecorder()
	v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Errorf("handler reached although revocation could not be checked")
	})).ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("Got status %d, want 503", w.Code)
	}
	var body errorBody
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if body.Error != "temporarily_unavailable" || strings.Contains(w.Body.String(), "10.0.0.7") {
		t.Errorf("Got body %q, want temporarily_unavailable without internals", w.Body.String())
	}
}

func TestRequirePanicsOnMalformedScope(t *testing.T) {
	f := newFixture(t)
	defer func() {
		if recover() == nil {
			t.Errorf("Require(`a\"b`) did not panic; a quote would corrupt the challenge header")
		}
	}()
	f.verifier.RequireToken(`a"b`)
}
