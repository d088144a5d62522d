package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// On SQLite the server keeps everything in one file across its own restart,
// with no server to run: refresh tokens, and the signing keys, so access
// tokens issued before the restart still verify after it.
func TestServerOnSQLiteSurvivesRestart(t *testing.T) {
	setKeyEncryptionKey(t)
	client := &http.Client{Timeout: 20 * time.Second}
	password := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}}

	// The issuer is fixed: with -addr :0 it would change with the port.
	args := []string{"-store", "sqlite://" + filepath.Join(t.TempDir(), "oauth2kit.db"), "-issuer", "http://auth.oauth2kit.test"}
	first := startServer(t, args...)
	if !strings.Contains(first.stdout, "tokens survive a restart") {
		t.Errorf("banner = %q, want it to say tokens survive a restart", first.stdout)
	}
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
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {before.RefreshToken}}
	status, after, _ := tokenRequest(t, client, app.url, refresh)
	if status != http.StatusOK {
		t.Fatalf("refresh after a restart with a token issued before: status %d, want 200", status)
	}
	if status, _ := getMe(t, client, app.url, after.AccessToken); status != http.StatusOK {
		t.Errorf("GET /api/me with the refreshed access token = %d, want 200", status)
	}
}

func TestSQLiteStoreURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		url     string
		want    string
		wantErr bool
	}{
		{name: "relative", url: "sqlite://oauth2kit.db", want: "oauth2kit.db"},
		{name: "relative dir", url: "sqlite://data/oauth2kit.db", want: "data/oauth2kit.db"},
		{name: "absolute", url: "sqlite:///var/lib/oauth2kit.db", want: "/var/lib/oauth2kit.db"},
		{name: "no path", url: "sqlite://", wantErr: true},
		{name: "options", url: "sqlite://x.db?_pragma=foo", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sqlitePath(tc.url)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("sqlitePath(%q) = %q, %v, want %q (error: %v)", tc.url, got, err, tc.want, tc.wantErr)
			}
			if err := checkStoreURL(tc.url); (err != nil) != tc.wantErr {
				t.Errorf("checkStoreURL(%q) = %v, want error: %v", tc.url, err, tc.wantErr)
			}
		})
	}
}
