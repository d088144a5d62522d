package oauth2_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	xoauth2 "golang.org/x/oauth2"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// These tests drive a real HTTP server with golang.org/x/oauth2, the client
// most Go programs would use, so they prove the wire format as well as the
// logic.

func TestE2E_PasswordGrantThenProtectedRoute(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		clientID  string
		secret    string
		style     xoauth2.AuthStyle
		scopes    []string
		wantScope string
	}{
		{name: "confidential/basic", clientID: confID, secret: confSecret, style: xoauth2.AuthStyleInHeader, wantScope: "profile email"},
		{name: "confidential/post", clientID: confID, secret: confSecret, style: xoauth2.AuthStyleInParams, scopes: []string{"profile"}, wantScope: "profile"},
		{name: "public/post", clientID: pubID, style: xoauth2.AuthStyleInParams, wantScope: "profile"},
		{name: "public/basic-empty-secret", clientID: pubID, style: xoauth2.AuthStyleInHeader, scopes: []string{"email", "profile"}, wantScope: "email profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := f.passwordToken(t, f.config(tt.clientID, tt.secret, tt.style, tt.scopes...))
			if tok.TokenType != "Bearer" {
				t.Errorf("Got(token_type) = %q, want %q", tok.TokenType, "Bearer")
			}
			if tok.RefreshToken == "" {
				t.Errorf("Got(refresh_token) = %q, want a token", tok.RefreshToken)
			}
			if got, _ := tok.Extra("scope").(string); got != tt.wantScope {
				t.Errorf("Got(scope) = %q, want %q", got, tt.wantScope)
			}
			if tok.Expiry.IsZero() {
				t.Errorf("Got(Expiry) = zero, want expires_in to be honoured")
			}

			r := f.wantProfileStatus(t, tok.AccessToken, http.StatusOK)
			var got responseJSON
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("decoding %s: %v", r.body, err)
			}
			want := responseJSON{Subject: aliceSubject, Scope: tt.wantScope, ClientID: tt.clientID}
			if got != want {
				t.Errorf("Got(claims at the protected route) = %+v, want %+v", got, want)
			}
		})
	}
}

func TestE2E_PasswordOnlyClientGetsNoRefreshToken(t *testing.T) {
	f := newFixture(t)
	tok := f.passwordToken(t, f.config(pwOnlyID, pwOnlySecret, xoauth2.AuthStyleInHeader))
	if tok.RefreshToken != "" {
		t.Errorf("Got(refresh_token) = %q, want none for a client without the refresh_token grant", tok.RefreshToken)
	}
	f.wantProfileStatus(t, tok.AccessToken, http.StatusOK)
}

// TestE2E_RefreshRotationAndReuse follows RFC 9700 §4.14.2: every refresh
// rotates the refresh token, and presenting a rotated one revokes the grant.
func TestE2E_RefreshRotationAndReuse(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(confID, confSecret, xoauth2.AuthStyleInHeader)
	first := f.passwordToken(t, cfg)

	// An access token past its expiry makes the TokenSource refresh.
	stale := *first
	stale.Expiry = time.Now().Add(-time.Hour)
	ts := cfg.TokenSource(f.ctx(t), &stale)
	second, err := ts.Token()
	if err != nil {
		t.Fatalf("TokenSource.Token() error = %v", err)
	}
	if second.AccessToken == first.AccessToken {
		t.Errorf("Got(refreshed access token) = the old one, want a new one")
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Errorf("Got(refreshed refresh token) = %q, want a new one (old %q)", second.RefreshToken, first.RefreshToken)
	}
	f.wantProfileStatus(t, second.AccessToken, http.StatusOK)

	// The old refresh token again: an attacker's stale copy, or a client's.
	_, err = f.refresh(t, cfg, first)
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("Got(reused refresh token error) = %q, want %q", re.ErrorCode, "invalid_grant")
	}

	// Reuse revoked the whole grant: the newest tokens are dead too.
	_, err = f.refresh(t, cfg, second)
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("Got(newest refresh token error after reuse) = %q, want %q", re.ErrorCode, "invalid_grant")
	}
	r := f.wantProfileStatus(t, second.AccessToken, http.StatusUnauthorized)
	if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("Got(WWW-Authenticate) = %q, want error=\"invalid_token\"", got)
	}
}

// TestE2E_RefreshBoundToClient checks RFC 6749 §6: a refresh token is bound
// to its client, and another client presenting it neither gets tokens nor
// burns the owner's grant.
func TestE2E_RefreshBoundToClient(t *testing.T) {
	f := newFixture(t)
	owner := f.config(confID, confSecret, xoauth2.AuthStyleInHeader)
	tok := f.passwordToken(t, owner)

	thief := f.config(pubID, "", xoauth2.AuthStyleInParams)
	_, err := f.refresh(t, thief, tok)
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("Got(refresh by another client) = %q, want %q", re.ErrorCode, "invalid_grant")
	}
	if _, err := f.refresh(t, owner, tok); err != nil {
		t.Errorf("Got(refresh by the owner afterwards) error = %v, want nil", err)
	}
}

func TestE2E_TokenErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name       string
		clientID   string
		secret     string
		style      xoauth2.AuthStyle
		scopes     []string
		username   string
		password   string
		wantCode   string
		wantStatus int
	}{
		{name: "WrongPassword", clientID: confID, secret: confSecret, style: xoauth2.AuthStyleInHeader,
			username: aliceName, password: "wrong", wantCode: "invalid_grant", wantStatus: http.StatusBadRequest},
		{name: "UnknownUser", clientID: confID, secret: confSecret, style: xoauth2.AuthStyleInParams,
			username: "mallory", password: alicePassword, wantCode: "invalid_grant", wantStatus: http.StatusBadRequest},
		{name: "WrongSecret/basic", clientID: confID, secret: "wrong", style: xoauth2.AuthStyleInHeader,
			username: aliceName, password: alicePassword, wantCode: "invalid_client", wantStatus: http.StatusUnauthorized},
		{name: "WrongSecret/post", clientID: confID, secret: "wrong", style: xoauth2.AuthStyleInParams,
			username: aliceName, password: alicePassword, wantCode: "invalid_client", wantStatus: http.StatusUnauthorized},
		{name: "MissingSecret", clientID: confID, style: xoauth2.AuthStyleInParams,
			username: aliceName, password: alicePassword, wantCode: "invalid_client", wantStatus: http.StatusUnauthorized},
		{name: "UnknownClient", clientID: "nobody", secret: "x", style: xoauth2.AuthStyleInHeader,
			username: aliceName, password: alicePassword, wantCode: "invalid_client", wantStatus: http.StatusUnauthorized},
		{name: "ScopeNotAllowedForClient", clientID: confID, secret: confSecret, style: xoauth2.AuthStyleInHeader,
			scopes: []string{"profile", "billing"}, username: aliceName, password: alicePassword, wantCode: "invalid_scope", wantStatus: http.StatusBadRequest},
		{name: "ScopeUnknownToIssuer", clientID: confID, secret: confSecret, style: xoauth2.AuthStyleInHeader,
			scopes: []string{"telepathy"}, username: aliceName, password: alicePassword, wantCode: "invalid_scope", wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := f.config(tt.clientID, tt.secret, tt.style, tt.scopes...)
			tok, err := cfg.PasswordCredentialsToken(f.ctx(t), tt.username, tt.password)
			if err == nil {
				t.Fatalf("PasswordCredentialsToken() = %v, want error %s", tok, tt.wantCode)
			}
			re := retrieveError(t, err)
			if re.ErrorCode != tt.wantCode {
				t.Errorf("Got(ErrorCode) = %q, want %q", re.ErrorCode, tt.wantCode)
			}
			if re.Response.StatusCode != tt.wantStatus {
				t.Errorf("Got(status) = %d, want %d", re.Response.StatusCode, tt.wantStatus)
			}
			// RFC 9110 §15.5.2: every 401 carries a challenge, and Basic
			// is the scheme the token endpoint takes, however the client
			// sent its credentials.
			challenge := re.Response.Header.Get("WWW-Authenticate")
			wantChallenge := tt.wantStatus == http.StatusUnauthorized
			if got := strings.HasPrefix(challenge, "Basic "); got != wantChallenge {
				t.Errorf("Got(WWW-Authenticate) = %q, want a Basic challenge: %v", challenge, wantChallenge)
			}
		})
	}
}

// TestE2E_WrongSecretBasicRaw checks the invalid_client answer to Basic
// authentication byte for byte, without x/oauth2 in between.
func TestE2E_WrongSecretBasicRaw(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}}
	r := f.postForm(t, oauth2.TokenPath, basicAuth(confID, "not-the-secret"), form)
	if r.status != http.StatusUnauthorized {
		t.Errorf("Got(status) = %d, want %d", r.status, http.StatusUnauthorized)
	}
	if got := r.errorCode(); got != "invalid_client" {
		t.Errorf("Got(error) = %q, want %q", got, "invalid_client")
	}
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
		t.Errorf("Got(WWW-Authenticate) = %q, want a Basic challenge", got)
	}
}

func TestE2E_RefreshScope(t *testing.T) {
	f := newFixture(t)
	tok := f.passwordToken(t, f.config(confID, confSecret, xoauth2.AuthStyleInParams)) // profile email

	refresh := func(t *testing.T, rt, scope string) *response {
		t.Helper()
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		if scope != "" {
			form.Set("scope", scope)
		}
		return f.postForm(t, oauth2.TokenPath, basicAuth(confID, confSecret), form)
	}
	scopeOf := func(t *testing.T, accessToken string) string {
		t.Helper()
		c, err := f.verifier.Verify(t.Context(), accessToken)
		if err != nil {
			t.Fatalf("Verify() error = %v", err)
		}
		return oauth2.FormatScope(c.Scope)
	}

	wider := refresh(t, tok.RefreshToken, "profile email admin")
	if got := wider.errorCode(); got != "invalid_scope" {
		t.Errorf("Got(refresh with a wider scope) = %q (status %d), want %q", got, wider.status, "invalid_scope")
	}

	// The failed attempt consumed nothing: the same token narrows.
	narrow := tokenResponse(t, refresh(t, tok.RefreshToken, "email"))
	if got := scopeOf(t, narrow.AccessToken); got != "email" {
		t.Errorf("Got(scope of the narrowed access token) = %q, want %q", got, "email")
	}
	if narrow.Scope != "email" {
		t.Errorf("Got(scope in the narrowed response) = %q, want %q", narrow.Scope, "email")
	}

	// Narrowing the access token does not narrow the grant.
	full := tokenResponse(t, refresh(t, narrow.RefreshToken, ""))
	if got := scopeOf(t, full.AccessToken); got != "profile email" {
		t.Errorf("Got(scope after a refresh without scope) = %q, want %q", got, "profile email")
	}
}

// TestE2E_Revocation covers RFC 7009 at the revocation endpoint.
func TestE2E_Revocation(t *testing.T) {
	cfg := func(f *fixture) *xoauth2.Config { return f.config(confID, confSecret, xoauth2.AuthStyleInHeader) }
	revoke := func(t *testing.T, f *fixture, token, hint string) {
		t.Helper()
		form := url.Values{"token": {token}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		r := f.postForm(t, oauth2.RevocationPath, basicAuth(confID, confSecret), form)
		if r.status != http.StatusOK {
			t.Fatalf("Got(revocation status) = %d, want 200; body %s", r.status, r.body)
		}
	}

	t.Run("RefreshTokenRevokesGrant", func(t *testing.T) {
		f := newFixture(t)
		tok := f.passwordToken(t, cfg(f))
		revoke(t, f, tok.RefreshToken, oauth2.HintRefreshToken)

		_, err := f.refresh(t, cfg(f), tok)
		if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
			t.Errorf("Got(refresh after revocation) = %q, want %q", re.ErrorCode, "invalid_grant")
		}
		f.wantProfileStatus(t, tok.AccessToken, http.StatusUnauthorized)
	})

	t.Run("AccessTokenRevokesOnlyItself", func(t *testing.T) {
		f := newFixture(t)
		first := f.passwordToken(t, cfg(f))
		sibling, err := f.refresh(t, cfg(f), first) // same grant, another jti
		if err != nil {
			t.Fatalf("refresh error = %v", err)
		}
		revoke(t, f, first.AccessToken, oauth2.HintAccessToken)

		f.wantProfileStatus(t, first.AccessToken, http.StatusUnauthorized)
		f.wantProfileStatus(t, sibling.AccessToken, http.StatusOK)
		if _, err := f.refresh(t, cfg(f), sibling); err != nil {
			t.Errorf("Got(refresh after revoking an access token) error = %v, want nil: the grant lives on", err)
		}
	})

	t.Run("UnknownTokenIs200", func(t *testing.T) {
		f := newFixture(t)
		for _, tok := range []string{"no-such-refresh-token", "eyJhbGciOiJFZERTQSJ9.e30.c2ln"} {
			revoke(t, f, tok, "")
		}
	})

	t.Run("WrongHintStillRevokes", func(t *testing.T) {
		tests := []struct {
			name string
			kind string // which token of the pair is revoked
			hint string
		}{
			{name: "RefreshTokenHintedAsAccess", kind: oauth2.HintRefreshToken, hint: oauth2.HintAccessToken},
			{name: "AccessTokenHintedAsRefresh", kind: oauth2.HintAccessToken, hint: oauth2.HintRefreshToken},
			{name: "UnknownHint", kind: oauth2.HintAccessToken, hint: "id_token"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := newFixture(t)
				tok := f.passwordToken(t, cfg(f))
				token := tok.AccessToken
				if tt.kind == oauth2.HintRefreshToken {
					token = tok.RefreshToken
				}
				revoke(t, f, token, tt.hint)
				f.wantProfileStatus(t, tok.AccessToken, http.StatusUnauthorized)
			})
		}
	})

	t.Run("OtherClientsTokenIsRefused", func(t *testing.T) {
		f := newFixture(t)
		tok := f.passwordToken(t, cfg(f))
		for _, token := range []string{tok.RefreshToken, tok.AccessToken} {
			r := f.postForm(t, oauth2.RevocationPath, postAuth(pubID, ""), url.Values{"token": {token}})
			if got := r.errorCode(); got != "unauthorized_client" {
				t.Errorf("Got(revocation by another client) = %q (status %d), want %q", got, r.status, "unauthorized_client")
			}
		}
		f.wantProfileStatus(t, tok.AccessToken, http.StatusOK)
		if _, err := f.refresh(t, cfg(f), tok); err != nil {
			t.Errorf("Got(refresh by the owner) error = %v, want nil", err)
		}
	})
}

// TestE2E_Introspection covers RFC 7662 at the introspection endpoint.
func TestE2E_Introspection(t *testing.T) {
	introspect := func(t *testing.T, f *fixture, auth clientAuth, token string) *response {
		t.Helper()
		return f.postForm(t, oauth2.IntrospectionPath, auth, url.Values{"token": {token}})
	}
	wantInactive := func(t *testing.T, r *response) {
		t.Helper()
		if r.status != http.StatusOK {
			t.Errorf("Got(introspection status) = %d, want 200", r.status)
		}
		if got := strings.TrimSuffix(string(r.body), "\n"); got != `{"active":false}` {
			t.Errorf("Got(introspection body) = %s, want %s", got, `{"active":false}`)
		}
	}

	t.Run("ActiveAccessToken", func(t *testing.T) {
		f := newFixture(t)
		tok := f.passwordToken(t, f.config(confID, confSecret, xoauth2.AuthStyleInHeader))
		r := introspect(t, f, basicAuth(confID, confSecret), tok.AccessToken)
		if r.status != http.StatusOK {
			t.Fatalf("Got(introspection status) = %d, want 200; body %s", r.status, r.body)
		}
		var got map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("decoding %s: %v", r.body, err)
		}
		want := map[string]any{"active": true, "sub": aliceSubject, "scope": "profile email", "client_id": confID, "iss": f.url, "token_type": "Bearer"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("Got(introspection %s) = %v, want %v", k, got[k], v)
			}
		}
		if exp, _ := got["exp"].(float64); exp < float64(tok.Expiry.Unix()-5) || exp > float64(tok.Expiry.Unix()+5) {
			t.Errorf("Got(introspection exp) = %v, want about %d", got["exp"], tok.Expiry.Unix())
		}
		if jti, _ := got["jti"].(string); jti == "" {
			t.Errorf("Got(introspection jti) = %v, want the token's jti", got["jti"])
		}
	})

	t.Run("ActiveRefreshToken", func(t *testing.T) {
		f := newFixture(t)
		tok := f.passwordToken(t, f.config(confID, confSecret, xoauth2.AuthStyleInHeader))
		r := introspect(t, f, postAuth(confID, confSecret), tok.RefreshToken)
		var got struct {
			Active    bool   `json:"active"`
			TokenType string `json:"token_type"`
			Subject   string `json:"sub"`
			ClientID  string `json:"client_id"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("decoding %s: %v", r.body, err)
		}
		if !got.Active || got.TokenType != "" || got.Subject != aliceSubject || got.ClientID != confID {
			t.Errorf("Got(introspection of a refresh token) = %+v, want active refresh_token of %s for %s", got, aliceSubject, confID)
		}
	})

	t.Run("Inactive", func(t *testing.T) {
		f := newFixture(t)
		cfg := f.config(confID, confSecret, xoauth2.AuthStyleInHeader)
		revoked := f.passwordToken(t, cfg)
		r := f.postForm(t, oauth2.RevocationPath, basicAuth(confID, confSecret), url.Values{"token": {revoked.AccessToken}})
		if r.status != http.StatusOK {
			t.Fatalf("Got(revocation status) = %d, want 200", r.status)
		}
		rotated := f.passwordToken(t, cfg)
		if _, err := f.refresh(t, cfg, rotated); err != nil {
			t.Fatalf("refresh error = %v", err)
		}
		tests := []struct {
			name  string
			token string
		}{
			{name: "RevokedAccessToken", token: revoked.AccessToken},
			{name: "RotatedRefreshToken", token: rotated.RefreshToken},
			{name: "Garbage", token: "garbage"},
			{name: "GarbageJWT", token: "a.b.c"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantInactive(t, introspect(t, f, basicAuth(confID, confSecret), tt.token))
			})
		}
	})

	t.Run("PublicClientRefused", func(t *testing.T) {
		f := newFixture(t)
		tok := f.passwordToken(t, f.config(pubID, "", xoauth2.AuthStyleInParams))
		tests := []struct {
			name string
			auth clientAuth
		}{
			{name: "post", auth: postAuth(pubID, "")},
			{name: "basic", auth: basicAuth(pubID, "")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := introspect(t, f, tt.auth, tok.AccessToken)
				if r.status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
					t.Errorf("Got(introspection by a public client) = %d %q, want 401 %q", r.status, r.errorCode(), "invalid_client")
				}
				// RFC 9110 §15.5.2: every 401 carries a challenge, not only
				// the answer to a client that tried Basic.
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
					t.Errorf("Got(WWW-Authenticate) = %q, want a Basic challenge", got)
				}
			})
		}
	})
}

// TestE2E_BearerChallenges checks the RFC 6750 §3 answers of the protected
// routes.
func TestE2E_BearerChallenges(t *testing.T) {
	f := newFixture(t)
	tok := f.passwordToken(t, f.config(confID, confSecret, xoauth2.AuthStyleInHeader)) // profile email
	tests := []struct {
		name          string
		path          string
		authz         string
		wantStatus    int
		wantChallenge []string // substrings of WWW-Authenticate
		wantNot       []string
	}{
		{name: "NoAuthorization", path: "/api/profile", wantStatus: http.StatusUnauthorized,
			wantChallenge: []string{`Bearer realm="` + realm + `"`}, wantNot: []string{"error="}},
		{name: "OtherScheme", path: "/api/profile", authz: "Basic " + "dXNlcjpwdw==", wantStatus: http.StatusUnauthorized,
			wantChallenge: []string{`Bearer realm="` + realm + `"`}, wantNot: []string{"error="}},
		{name: "GarbageToken", path: "/api/profile", authz: "Bearer garbage", wantStatus: http.StatusUnauthorized,
			wantChallenge: []string{`Bearer realm="` + realm + `"`, `error="invalid_token"`}},
		{name: "TamperedToken", path: "/api/profile", authz: "Bearer " + tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA", wantStatus: http.StatusUnauthorized,
			wantChallenge: []string{`error="invalid_token"`}},
		{name: "MalformedHeader", path: "/api/profile", authz: "Bearer not a token", wantStatus: http.StatusBadRequest,
			wantChallenge: []string{`error="invalid_request"`}},
		{name: "InsufficientScope", path: "/api/admin", authz: "Bearer " + tok.AccessToken, wantStatus: http.StatusForbidden,
			wantChallenge: []string{`Bearer realm="` + realm + `"`, `error="insufficient_scope"`, `scope="admin"`}},
		{name: "Valid", path: "/api/profile", authz: "Bearer " + tok.AccessToken, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.getWithAuthorization(t, tt.path, tt.authz)
			if r.status != tt.wantStatus {
				t.Errorf("Got(status) = %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			challenge := r.header.Get("WWW-Authenticate")
			for _, want := range tt.wantChallenge {
				if !strings.Contains(challenge, want) {
					t.Errorf("Got(WWW-Authenticate) = %q, want it to contain %q", challenge, want)
				}
			}
			for _, not := range tt.wantNot {
				if strings.Contains(challenge, not) {
					t.Errorf("Got(WWW-Authenticate) = %q, want no %q", challenge, not)
				}
			}
		})
	}
}

// TestE2E_TokenEndpointHygiene checks how the token endpoint treats requests
// that are not well-formed token requests: a precise 4xx, never a 5xx, and
// never a cacheable answer.
func TestE2E_TokenEndpointHygiene(t *testing.T) {
	f := newFixture(t)
	conf := url.Values{"client_id": {confID}, "client_secret": {confSecret}}
	pw := "grant_type=password&username=" + aliceName + "&password=" + url.QueryEscape(alicePassword) + "&" + conf.Encode()
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
		wantAllow   string
	}{
		{name: "GET", method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed, wantCode: "invalid_request", wantAllow: "POST"},
		{name: "PUT", method: http.MethodPut, contentType: form, body: pw, wantStatus: http.StatusMethodNotAllowed, wantCode: "invalid_request", wantAllow: "POST"},
		{name: "JSONBody", method: http.MethodPost, contentType: "application/json",
			body: `{"grant_type":"password","username":"alice"}`, wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "NoContentType", method: http.MethodPost, body: pw, wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "RepeatedGrantType", method: http.MethodPost, contentType: form, body: "grant_type=password&" + pw,
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "RepeatedPassword", method: http.MethodPost, contentType: form, body: pw + "&password=other",
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "MalformedForm", method: http.MethodPost, contentType: form, body: pw + "&%zz",
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "TooLarge", method: http.MethodPost, contentType: form, body: pw + "&pad=" + strings.Repeat("a", oauth2.MaxFormBytes),
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "invalid_request"},
		{name: "MissingGrantType", method: http.MethodPost, contentType: form, body: conf.Encode(),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "AuthorizationCode", method: http.MethodPost, contentType: form, body: "grant_type=authorization_code&code=abc&" + conf.Encode(),
			wantStatus: http.StatusBadRequest, wantCode: "unsupported_grant_type"},
		{name: "ClientCredentials", method: http.MethodPost, contentType: form, body: "grant_type=client_credentials&" + conf.Encode(),
			wantStatus: http.StatusBadRequest, wantCode: "unsupported_grant_type"},
		{name: "GrantNotAllowedForClient", method: http.MethodPost, contentType: form,
			body:       "grant_type=refresh_token&refresh_token=whatever&client_id=" + pwOnlyID + "&client_secret=" + pwOnlySecret,
			wantStatus: http.StatusBadRequest, wantCode: "unauthorized_client"},
		{name: "MissingPassword", method: http.MethodPost, contentType: form, body: "grant_type=password&username=alice&" + conf.Encode(),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "MalformedScope", method: http.MethodPost, contentType: form, body: pw + "&scope=" + url.QueryEscape("profile  email"),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope"},
		{name: "UnknownRefreshToken", method: http.MethodPost, contentType: form, body: "grant_type=refresh_token&refresh_token=nope&" + conf.Encode(),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_grant"},
		{name: "NoClient", method: http.MethodPost, contentType: form, body: "grant_type=password&username=alice&password=x",
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "Success", method: http.MethodPost, contentType: form + "; charset=UTF-8", body: pw, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.request(t, tt.method, oauth2.TokenPath, tt.contentType, tt.body)
			if r.status != tt.wantStatus {
				t.Errorf("Got(status) = %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			if got := r.errorCode(); got != tt.wantCode {
				t.Errorf("Got(error) = %q, want %q", got, tt.wantCode)
			}
			if got := r.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Got(Allow) = %q, want %q", got, tt.wantAllow)
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Got(Cache-Control) = %q, want %q", got, "no-store")
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Got(Content-Type) = %q, want %q", got, "application/json")
			}
		})
	}
}

// TestE2E_BasicAndPostTogether checks RFC 6749 §2.3: a client uses one
// authentication method per request.
func TestE2E_BasicAndPostTogether(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}, "client_secret": {confSecret}}
	r := f.postForm(t, oauth2.TokenPath, basicAuth(confID, confSecret), form)
	if r.status != http.StatusBadRequest || r.errorCode() != "invalid_request" {
		t.Errorf("Got(Basic and client_secret together) = %d %q, want 400 %q", r.status, r.errorCode(), "invalid_request")
	}
}

// TestE2E_StoreFailure checks that a broken store is answered with 503
// temporarily_unavailable and a generic description: never a 4xx, which
// would tell the client its credentials were bad, and never the cause.
func TestE2E_StoreFailure(t *testing.T) {
	bs := oauth2test.New(memstore.New())
	f := newFixture(t, withStore(bs))
	cfg := f.config(confID, confSecret, xoauth2.AuthStyleInHeader)
	tok := f.passwordToken(t, cfg)
	bs.Set(oauth2test.Fail)

	checkGeneric := func(t *testing.T, r *response) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("Got(status) = %d, want %d; body %s", r.status, http.StatusServiceUnavailable, r.body)
		}
		if got := r.errorCode(); got != "temporarily_unavailable" {
			t.Errorf("Got(error) = %q, want %q", got, "temporarily_unavailable")
		}
		for _, secret := range []string{"db.internal", "hunter2", "oauth2test", oauth2test.ErrDown.Error()} {
			if strings.Contains(string(r.body), secret) {
				t.Errorf("Got(body) = %s, want nothing of the store's error (%q)", r.body, secret)
			}
		}
	}
	basic := basicAuth(confID, confSecret)
	tests := []struct {
		name string
		path string
		form url.Values
	}{
		{name: "PasswordGrant", path: oauth2.TokenPath, form: url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}}},
		{name: "RefreshGrant", path: oauth2.TokenPath, form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}},
		{name: "RefreshGrantUnknownToken", path: oauth2.TokenPath, form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}},
		{name: "RevokeRefreshToken", path: oauth2.RevocationPath, form: url.Values{"token": {tok.RefreshToken}}},
		{name: "RevokeAccessToken", path: oauth2.RevocationPath, form: url.Values{"token": {tok.AccessToken}}},
		{name: "IntrospectAccessToken", path: oauth2.IntrospectionPath, form: url.Values{"token": {tok.AccessToken}}},
		{name: "IntrospectRefreshToken", path: oauth2.IntrospectionPath, form: url.Values{"token": {tok.RefreshToken}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGeneric(t, f.postForm(t, tt.path, basic, tt.form))
		})
	}

	t.Run("ProtectedRoute", func(t *testing.T) {
		// The resource server fails closed: it cannot tell a revoked token.
		checkGeneric(t, f.getProfile(t, tok.AccessToken))
	})

	t.Run("ClientMistakesStay4xx", func(t *testing.T) {
		// Errors decided before the store is reached keep their codes.
		r := f.postForm(t, oauth2.TokenPath, basicAuth(confID, "wrong"), url.Values{"username": {aliceName}})
		if r.status != http.StatusBadRequest || r.errorCode() != "invalid_request" {
			t.Errorf("Got(no grant_type while the store is down) = %d %q, want 400 %q", r.status, r.errorCode(), "invalid_request")
		}
		// A secret cannot be checked without counting it against brute
		// force: a wrong one is a store failure too, never a verdict.
		checkGeneric(t, f.postForm(t, oauth2.TokenPath, basicAuth(confID, "wrong"), tests[0].form))
	})

	t.Run("RecoversWithTheStore", func(t *testing.T) {
		bs.Set(oauth2test.None)
		t.Cleanup(func() { bs.Set(oauth2test.Fail) })
		f.wantProfileStatus(t, tok.AccessToken, http.StatusOK)
		if _, err := f.refresh(t, cfg, tok); err != nil {
			t.Errorf("Got(refresh once the store is back) error = %v, want nil", err)
		}
	})
}
