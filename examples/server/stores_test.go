package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/testenv"
)

// On Redis and PostgreSQL the server keeps everything across its own
// restart (refresh tokens, revocations and signing keys, so access tokens
// issued before still verify), answers 503 while the store is down, and
// recovers when it comes back without being restarted and without losing a
// rotation.
func TestServerOnRealStores(t *testing.T) {
	// As a real deployment would: the server refuses cleartext keys in a
	// store, and restarts must open the keys it sealed before.
	setKeyEncryptionKey(t)
	for _, tc := range []struct {
		name   string
		server func(t *testing.T) *testenv.Server
	}{
		{"redis", func(t *testing.T) *testenv.Server { return testenv.Redis(t, testenv.Options{Own: true}) }},
		{"postgres", func(t *testing.T) *testenv.Server { return testenv.Postgres(t, testenv.Options{Own: true}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.server(t)
			client := &http.Client{Timeout: 20 * time.Second}
			password := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}}
			refresh := func(rt string) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			}

			// Restart the application: everything issued before survives.
			// The issuer is fixed: with -addr :0 it would change with the port.
			args := []string{"-store", db.URL, "-issuer", "http://auth.oauth2kit.test"}
			first := startServer(t, args...)
			status, before, _ := tokenRequest(t, client, first.url, password)
			if status != http.StatusOK {
				t.Fatalf("password grant: status %d, want 200", status)
			}
			if err := first.stop(); err != nil {
				t.Fatalf("stopping the first server: %v", err)
			}
			app := startServer(t, args...)
			if status, body := getMe(t, client, app.url, before.AccessToken); status != http.StatusOK || body["sub"] != "alice" {
				t.Errorf("GET /api/me after a restart with a token issued before = %d %v, want 200 (signing keys kept)", status, body)
			}
			status, cur, _ := tokenRequest(t, client, app.url, refresh(before.RefreshToken))
			if status != http.StatusOK {
				t.Fatalf("refresh after a restart with a token issued before: status %d, want 200", status)
			}

			// The store goes down: 503, never a 4xx that would make a client
			// drop its tokens, and never a 200 for an unchecked token.
			if err := db.Stop(t.Context()); err != nil {
				t.Fatalf("stopping the store: %v", err)
			}
			if status, _, code := tokenRequest(t, client, app.url, refresh(cur.RefreshToken)); status != http.StatusServiceUnavailable || code != "temporarily_unavailable" {
				t.Errorf("refresh while the store is down = %d %q, want 503 temporarily_unavailable", status, code)
			}
			if status, _ := getMe(t, client, app.url, cur.AccessToken); status != http.StatusServiceUnavailable {
				t.Errorf("GET /api/me while the store is down = %d, want 503 (fail closed)", status)
			}

			// It comes back: the same application recovers, and the refresh
			// token that could not be used meanwhile was not consumed.
			if err := db.Start(t.Context()); err != nil {
				t.Fatalf("starting the store again: %v", err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				status, _ := getMe(t, client, app.url, cur.AccessToken)
				if status == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("GET /api/me still %d 60s after the store came back", status)
				}
				time.Sleep(250 * time.Millisecond)
			}
			status, next, _ := tokenRequest(t, client, app.url, refresh(cur.RefreshToken))
			if status != http.StatusOK || next.RefreshToken == "" {
				t.Fatalf("refresh after recovery: status %d, want 200: the rotation was lost", status)
			}
			// The token rotated before the outage is still known as used.
			if status, _, code := tokenRequest(t, client, app.url, refresh(before.RefreshToken)); status != http.StatusBadRequest || code != "invalid_grant" {
				t.Errorf("reusing a rotated token after recovery = %d %q, want 400 invalid_grant", status, code)
			}
		})
	}
}

// setKeyEncryptionKey gives the test a random key-encryption key, as a
// deployment on a persistent store has, for the length of the test.
func setKeyEncryptionKey(t *testing.T) {
	t.Helper()
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	t.Setenv(kekEnv, base64.StdEncoding.EncodeToString(kek))
}
