package oauth2_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// fuzzNow is the fixed clock of the fuzz targets: tokens minted by one
// fuzzing process (with fixedKey) stay valid in every other.
var fuzzNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func fuzzClock() time.Time { return fuzzNow }

// tokenErrorCodes are the error codes RFC 6749 §5.2 allows a token
// endpoint to answer with.
var tokenErrorCodes = []string{
	"invalid_request", "invalid_client", "invalid_grant",
	"unauthorized_client", "unsupported_grant_type", "invalid_scope",
}

// FuzzTokenRequest drives the token endpoint with arbitrary bodies,
// Content-Types and Authorization headers. Whatever arrives, the endpoint
// must not panic, must not blame itself (5xx) for a client's request, must
// answer an error as RFC 6749 §5.2 JSON, and must only succeed with a token
// its own verifier accepts.
func FuzzTokenRequest(f *testing.F) {
	const form = "application/x-www-form-urlencoded"
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	pw := url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}}
	withClient := func(v url.Values, id, secret string) string {
		v = cloneValues(v)
		v.Set("client_id", id)
		if secret != "" {
			v.Set("client_secret", secret)
		}
		return v.Encode()
	}
	seeds := []struct{ contentType, authorization, body string }{
		{form, basic(confID, confSecret), pw.Encode()},
		{form, basic(confID, confSecret), pw.Encode() + "&scope=profile"},
		{form, basic(confID, confSecret), pw.Encode() + "&scope=profile%20admin%20billing"},
		{form, basic(confID, confSecret), pw.Encode() + "&scope=%22%5C"},
		{form, "", withClient(pw, confID, confSecret)},
		{form, "", withClient(pw, pubID, "")},
		{form, basic(pubID, ""), pw.Encode()},
		{form, basic(pwOnlyID, pwOnlySecret), "grant_type=refresh_token&refresh_token=abc"},
		{form, basic(confID, "wrong"), pw.Encode()},
		{form, basic(confID, confSecret), pw.Encode() + "&client_secret=" + url.QueryEscape(confSecret)},
		{form, basic(confID, confSecret), "grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 43)},
		{form, basic(confID, confSecret), "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fa"},
		{form, basic(confID, confSecret), "grant_type=password&grant_type=password"},
		{form, basic(confID, confSecret), "a=%zz;b=c"},
		{form + "; charset=UTF-8", "Basic !!!", pw.Encode()},
		{form, "Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:%")), pw.Encode()},
		{form, "Bearer abc", withClient(pw, confID, confSecret)},
		{"application/json", "", `{"grant_type":"password"}`},
		{"multipart/form-data; boundary=x", "", "--x--"},
		{"", "", ""},
		{"text/plain; charset=\"", "basic", "\x00\xff"},
	}
	for _, s := range seeds {
		f.Add(s.contentType, s.authorization, s.body)
	}

	fx := newIssuer(f, "https://issuer.example", withKey(fixedKey(f)), withClock(fuzzClock))
	h := fx.issuer.TokenHandler()

	f.Fuzz(func(t *testing.T, contentType, authorization, body string) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "https://issuer.example"+oauth2.TokenPath, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("Got(status) = %d, want < 500 for any request; body %s", rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Got(Cache-Control) = %q, want %q", got, "no-store")
		}
		if rec.Code != http.StatusOK {
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("Got(error body) = %q, not JSON: %v", rec.Body, err)
			}
			if !slices.Contains(tokenErrorCodes, e.Error) {
				t.Errorf("Got(error) = %q (status %d), want one of %v", e.Error, rec.Code, tokenErrorCodes)
			}
			// RFC 6749 §5.2: a client that tried Basic and failed gets 401
			// and a Basic challenge.
			scheme, _, _ := strings.Cut(authorization, " ")
			if e.Error == "invalid_client" && strings.EqualFold(scheme, "Basic") {
				if challenge := rec.Header().Get("WWW-Authenticate"); rec.Code != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Basic ") {
					t.Errorf("Got(invalid_client to Basic) = %d, WWW-Authenticate %q, want 401 with a Basic challenge", rec.Code, challenge)
				}
			}
			return
		}
		var tr oauth2.TokenResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
			t.Fatalf("Got(token response) = %q, not JSON: %v", rec.Body, err)
		}
		if tr.TokenType != "Bearer" {
			t.Errorf("Got(token_type) = %q, want %q", tr.TokenType, "Bearer")
		}
		if _, err := fx.verifier.Verify(t.Context(), tr.AccessToken); err != nil {
			t.Errorf("Verify(issued access token) error = %v, want nil", err)
		}
	})
}

// FuzzVerify feeds Verify arbitrary strings. It must not panic, must
// reject with an error matching ErrInvalidToken (or, when the store cannot
// be asked, ErrRevocationUnavailable), and must never accept a token
// without the claims that identify it.
func FuzzVerify(f *testing.F) {
	fx := newIssuer(f, "https://issuer.example", withKey(fixedKey(f)), withClock(fuzzClock))
	c, err := fx.issuer.AuthenticateClient(f.Context(), confID, confSecret)
	if err != nil {
		f.Fatalf("AuthenticateClient() error = %v", err)
	}
	resp, err := fx.issuer.PasswordGrant(f.Context(), c, aliceName, alicePassword, nil)
	if err != nil {
		f.Fatalf("PasswordGrant() error = %v", err)
	}
	valid := resp.AccessToken
	if _, err := fx.verifier.Verify(f.Context(), valid); err != nil {
		f.Fatalf("Verify(valid seed) error = %v", err)
	}
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString
	header := func(h string) string { return enc([]byte(h)) + "." + parts[1] + "." + parts[2] }
	payload := func(p string) string { return parts[0] + "." + enc([]byte(p)) + "." + parts[2] }
	kid := fixedKey(f).ID()

	for _, s := range []string{
		valid,
		valid[:len(valid)-1],
		valid[:len(valid)/2],
		parts[0] + "." + parts[1],
		parts[0] + "." + parts[1] + ".",
		valid + ".",
		valid + "." + parts[2],
		header(`{"alg":"none","typ":"at+jwt","kid":"` + kid + `"}`),
		header(`{"alg":"HS256","typ":"at+jwt","kid":"` + kid + `"}`),
		header(`{"alg":"EdDSA","typ":"JWT","kid":"` + kid + `"}`),
		header(`{"alg":"EdDSA","typ":"at+jwt","kid":"other"}`),
		header(`{"alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `","crit":["exp"]}`),
		header(`{"alg":"EdDSA","typ":"at+jwt"}`),
		header(`{}`),
		header(`[]`),
		payload(`{"iss":"https://issuer.example","sub":"","aud":"https://issuer.example","exp":1e300,"iat":-1e300,"jti":"x","client_id":"c"}`),
		payload(`{"aud":null,"exp":"soon"}`),
		payload(`null`),
		strings.Replace(valid, parts[1], strings.ToUpper(parts[1]), 1),
		"",
		"..",
		"a.b.c",
		"eyJ.eyJ.sig",
		strings.Repeat("A", oauth2.DefaultMaxTokenSize+1),
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := fx.verifier.Verify(t.Context(), raw)
		if err != nil {
			if claims != nil {
				t.Errorf("Verify() = %+v, %v, want nil claims with an error", claims, err)
			}
			if !errors.Is(err, oauth2.ErrInvalidToken) && !errors.Is(err, oauth2.ErrRevocationUnavailable) {
				t.Errorf("Verify() error = %v, want one matching ErrInvalidToken or ErrRevocationUnavailable", err)
			}
			return
		}
		if claims == nil || claims.Subject == "" || claims.ID == "" {
			t.Errorf("Verify(%q) = %+v, want claims with sub and jti", raw, claims)
		}
	})
}

// FuzzParseScope checks ParseScope against the plainest implementation of
// RFC 6749 §3.3 and Appendix A.4, and checks properties a caller relies on:
// no duplicates, every token a valid scope-token, and FormatScope undoing
// the parse.
func FuzzParseScope(f *testing.F) {
	var many, manyDup []string
	for i := range 300 {
		many = append(many, "s"+strconv.Itoa(i))
		manyDup = append(manyDup, "d"+strconv.Itoa(i%40))
	}
	for _, s := range []string{
		"", " ", "  ", "profile", "profile email", "profile email profile", "b a b c a",
		" profile", "profile ", "profile  email", "profile\temail", "pro\"file", `pro\file`,
		"!", "~", "#[]", "\x7f", "\x00", "profilé", "\xff",
		strings.Join(many, " "), strings.Join(manyDup, " "), strings.Join(manyDup, " ") + " ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := oauth2.ParseScope(s)
		want, wantOK := referenceParseScope(s)
		if ok != wantOK || !slices.Equal(got, want) {
			t.Fatalf("Got(ParseScope(%q)) = %q, %v, want %q, %v", s, got, ok, want, wantOK)
		}
		if !ok {
			return
		}
		seen := make(map[string]bool, len(got))
		for _, tok := range got {
			if seen[tok] {
				t.Errorf("Got(ParseScope(%q)) = %q, want no duplicate of %q", s, got, tok)
			}
			seen[tok] = true
			if !isScopeToken(tok) {
				t.Errorf("Got(ParseScope(%q)) = %q, want only scope-tokens, not %q", s, got, tok)
			}
		}
		formatted := oauth2.FormatScope(got)
		again, ok := oauth2.ParseScope(formatted)
		if !ok || !slices.Equal(again, got) {
			t.Errorf("Got(ParseScope(FormatScope(%q))) = %q, %v, want the same tokens", got, again, ok)
		}
		if len(formatted) > len(s) {
			t.Errorf("Got(len(FormatScope(ParseScope(%q)))) = %d, want at most %d", s, len(formatted), len(s))
		}
	})
}

// referenceParseScope is ParseScope written as plainly as possible,
// regardless of cost.
func referenceParseScope(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	var out []string
	for _, tok := range strings.Split(s, " ") {
		if !isScopeToken(tok) {
			return nil, false
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, true
}

// isScopeToken reports whether tok is a scope-token: 1*NQCHAR, NQCHAR =
// %x21 / %x23-5B / %x5D-7E (RFC 6749 Appendix A.4).
func isScopeToken(tok string) bool {
	if tok == "" {
		return false
	}
	for _, c := range []byte(tok) {
		if !(c == 0x21 || 0x23 <= c && c <= 0x5b || 0x5d <= c && c <= 0x7e) {
			return false
		}
	}
	return true
}
