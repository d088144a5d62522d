package oauth2

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
)

// The application's ErrorHandler answers every refusal, with the status,
// code and cause it needs to decide; the handler behind is never reached.
func TestErrorHandlerTakesOverRefusals(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid, "profile")
	down, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: oauth2test.Down(), Logger: quiet, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		verifier   *Verifier
		auth       string
		scope      string
		wantStatus int
		wantCode   string
		wantErr    error
	}{
		{name: "no token", verifier: f.verifier, wantStatus: 401},
		{name: "malformed", verifier: f.verifier, auth: "Bearer a b", wantStatus: 400, wantCode: "invalid_request"},
		{name: "rejected", verifier: f.verifier, auth: "Bearer not.a.jwt", wantStatus: 401, wantCode: "invalid_token", wantErr: ErrTokenMalformed},
		{name: "scope missing", verifier: f.verifier, auth: "Bearer " + tok.AccessToken, scope: "admin", wantStatus: 403, wantCode: "insufficient_scope"},
		{name: "store down", verifier: down, auth: "Bearer " + tok.AccessToken, wantStatus: 503, wantCode: "temporarily_unavailable", wantErr: ErrRevocationUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *BearerError
			tt.verifier.cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, e *BearerError) {
				got = e
				w.WriteHeader(http.StatusTeapot)
			}
			defer func() { tt.verifier.cfg.ErrorHandler = nil }()
			var h http.Handler
			if tt.scope != "" {
				h = tt.verifier.RequireToken(tt.scope)(http.NotFoundHandler())
			} else {
				h = tt.verifier.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
					t.Errorf("handler reached")
				}))
			}
			r := httptest.NewRequest(http.MethodGet, "/api", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusTeapot {
				t.Errorf("Got(status) = %d, want the ErrorHandler's 418", w.Code)
			}
			if got == nil {
				t.Fatal("Got(ErrorHandler call) = none, want one")
			}
			if got.Status != tt.wantStatus || got.Code != tt.wantCode || (tt.wantErr != nil && !errors.Is(got, tt.wantErr)) {
				t.Errorf("Got(BearerError) = %+v, want status %d, code %q, cause %v", got, tt.wantStatus, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
		wantErr bool
	}{
		{name: "none"},
		{name: "bearer", headers: []string{"Bearer abc.def-ghi_~+/="}, want: "abc.def-ghi_~+/="},
		{name: "scheme case-insensitive", headers: []string{"bEaReR abc"}, want: "abc"},
		{name: "other scheme", headers: []string{"Basic YTpi"}},
		{name: "two headers", headers: []string{"Bearer a", "Bearer b"}, wantErr: true},
		{name: "space in token", headers: []string{"Bearer a b"}, wantErr: true},
		{name: "empty token", headers: []string{"Bearer "}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := BearerToken(r)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("BearerToken() = %q, %v, want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// WriteError is public, so what an ErrorHandler passes it must neither
// panic nor inject parameters into the challenge.
func TestWriteErrorDefends(t *testing.T) {
	v := newFixture(t).verifier
	tests := []struct {
		name       string
		e          *BearerError
		wantStatus int
		wantHeader string
	}{
		{name: "nil", e: nil, wantStatus: 500},
		{name: "zero status", e: &BearerError{}, wantStatus: 500},
		{name: "2xx status", e: &BearerError{Status: 200}, wantStatus: 500},
		{name: "quotes in description", e: &BearerError{Status: 401, Code: "invalid_token", Description: `x", error="other`},
			wantStatus: 401, wantHeader: `Bearer realm="oauth2kit", error="invalid_token", error_description="x\", error=\"other"`},
		{name: "control characters dropped", e: &BearerError{Status: 401, Code: "invalid_token", Description: "a\r\nb"},
			wantStatus: 401, wantHeader: `Bearer realm="oauth2kit", error="invalid_token", error_description="ab"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			v.WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), tt.e)
			if w.Code != tt.wantStatus {
				t.Errorf("Got(status) = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("WWW-Authenticate"); tt.wantHeader != "" && got != tt.wantHeader {
				t.Errorf("Got(WWW-Authenticate) = %s, want %s", got, tt.wantHeader)
			}
		})
	}
}

func TestErrorIsMatchesCodeAndError(t *testing.T) {
	err := newError(ErrInvalidGrant, "d", nil)
	for _, tt := range []struct {
		target error
		want   bool
	}{
		{ErrInvalidGrant, true},
		{&Error{Code: ErrInvalidGrant}, true},
		{&Error{Code: ErrInvalidScope}, false},
		{(*Error)(nil), false},
		{ErrInvalidScope, false},
	} {
		if got := errors.Is(err, tt.target); got != tt.want {
			t.Errorf("errors.Is(invalid_grant, %#v) = %v, want %v", tt.target, got, tt.want)
		}
	}
}
