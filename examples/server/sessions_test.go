package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// sessionsRequest calls a session route with token.
func sessionsRequest(t *testing.T, client *http.Client, method, u, token string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, client, req)
}

// TestServerSessions lists alice's sessions, ends one, then signs her out
// everywhere, over HTTP as the README shows.
func TestServerSessions(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	client := &http.Client{Timeout: 10 * time.Second}
	login := func() string {
		t.Helper()
		status, tok, code := tokenRequest(t, client, srv.url, url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"},
		})
		if status != http.StatusOK {
			t.Fatalf("login: %d %q", status, code)
		}
		return tok.AccessToken
	}
	first, second, third := login(), login(), login()

	resp := sessionsRequest(t, client, http.MethodGet, srv.url+"/api/sessions", second)
	var list []sessionJSON
	if resp.StatusCode != http.StatusOK || json.Unmarshal(resp.body, &list) != nil || len(list) != 3 {
		t.Fatalf("GET /api/sessions = %d %s, want 200 with 3 sessions", resp.StatusCode, resp.body)
	}
	for i, s := range list {
		if s.Current != (i == 1) || s.ClientID != demoClientID || s.CreatedAt.IsZero() {
			t.Errorf("session %d = %+v, want demo-client's, current only for the second", i, s)
		}
	}
	if resp := sessionsRequest(t, client, http.MethodGet, srv.url+"/api/sessions", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/sessions without a token = %d, want 401", resp.StatusCode)
	}

	// A session that is not one of alice's is not found.
	if resp := sessionsRequest(t, client, http.MethodDelete, srv.url+"/api/sessions/not-a-session", second); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE /api/sessions/not-a-session = %d, want 404", resp.StatusCode)
	}
	// Ending the first session refuses its token, not the others.
	if resp := sessionsRequest(t, client, http.MethodDelete, srv.url+"/api/sessions/"+list[0].ID, second); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /api/sessions/{first} = %d %s, want 204", resp.StatusCode, resp.body)
	}
	if status, _ := getMe(t, client, srv.url, first); status != http.StatusUnauthorized {
		t.Errorf("GET /api/me with the ended session's token = %d, want 401", status)
	}
	if status, _ := getMe(t, client, srv.url, third); status != http.StatusOK {
		t.Errorf("GET /api/me with another session's token = %d, want 200", status)
	}

	// Signing out everywhere refuses every token issued before.
	if resp := sessionsRequest(t, client, http.MethodPost, srv.url+"/api/logout-all", second); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /api/logout-all = %d %s, want 204", resp.StatusCode, resp.body)
	}
	for name, tok := range map[string]string{"second": second, "third": third} {
		if status, _ := getMe(t, client, srv.url, tok); status != http.StatusUnauthorized {
			t.Errorf("GET /api/me with the %s token after signing out everywhere = %d, want 401", name, status)
		}
	}
}
