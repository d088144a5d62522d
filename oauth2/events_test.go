package oauth2

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// eventLog collects the records of a JSON slog handler.
type eventLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *eventLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records returns the records whose message is msg.
func (l *eventLog) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func eventFixture(t *testing.T) (*fixture, *eventLog) {
	t.Helper()
	log := &eventLog{}
	f := newFixture(t, func(c *IssuerConfig) {
		c.Logger = slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	return f, log
}

// A reuse attack is one event, with the grant, client and subject, and
// never the token.
func TestEventRefreshTokenReused(t *testing.T) {
	f, log := eventFixture(t)
	first := f.login(t, f.confid)
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); err == nil {
		t.Fatal("RefreshGrant(reused token) succeeded")
	}
	recs := log.records(t, eventRefreshReused)
	if len(recs) != 1 {
		t.Fatalf("Got %d %s events, want 1; log:\n%s", len(recs), eventRefreshReused, log)
	}
	if recs[0]["client_id"] != confID || recs[0]["sub"] != aliceName || recs[0]["grant_id"] == "" || recs[0]["level"] != "WARN" {
		t.Errorf("Got event %v, want WARN with client_id %q, sub %q and a grant_id", recs[0], confID, aliceName)
	}
	if strings.Contains(log.String(), first.RefreshToken) {
		t.Error("Got the refresh token in the log")
	}
}

func TestEventLoginFailedAndThrottled(t *testing.T) {
	f, log := eventFixture(t)
	h := f.issuer.TokenHandler()
	const secretGuess = "hunter2-guess"
	for range DefaultThrottleThreshold {
		post(t, h, url.Values{"grant_type": {"password"}, "client_id": {pubID}, "username": {aliceName}, "password": {secretGuess}}, from("198.51.100.7:1"))
	}
	w, _ := post(t, h, url.Values{"grant_type": {"password"}, "client_id": {pubID}, "username": {aliceName}, "password": {alicePassword}}, from("198.51.100.7:1"))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("Got %d, want 429", w.Code)
	}
	failed := log.records(t, eventLoginFailed)
	if len(failed) != DefaultThrottleThreshold || failed[0]["user"] != aliceName || failed[0]["addr"] != "198.51.100.7" || failed[0]["client_id"] != pubID {
		t.Errorf("Got %d %s events (first %v), want %d with user, addr and client_id", len(failed), eventLoginFailed, failed, DefaultThrottleThreshold)
	}
	throttled := log.records(t, eventThrottled)
	if len(throttled) != 1 || throttled[0]["retry_after"] != float64(1) || throttled[0]["user"] != aliceName {
		t.Errorf("Got %s events %v, want one with user and retry_after 1", eventThrottled, throttled)
	}
	for _, secret := range []string{secretGuess, alicePassword} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("Got the password %q in the log", secret)
		}
	}
}

func TestEventClientAuthFailedAndRevoked(t *testing.T) {
	f, log := eventFixture(t)
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, "wrong-secret"); err == nil {
		t.Fatal("AuthenticateClient(wrong secret) succeeded")
	}
	if recs := log.records(t, eventClientAuthFailed); len(recs) != 1 || recs[0]["client_id"] != confID {
		t.Errorf("Got %s events %v, want one for %q", eventClientAuthFailed, recs, confID)
	}
	tok := f.login(t, f.confid)
	if err := f.issuer.Revoke(t.Context(), f.confid, tok.AccessToken, HintAccessToken); err != nil {
		t.Fatal(err)
	}
	if err := f.issuer.Revoke(t.Context(), f.confid, tok.RefreshToken, HintRefreshToken); err != nil {
		t.Fatal(err)
	}
	recs := log.records(t, eventRevoked)
	if len(recs) != 2 || recs[0]["token_type"] != HintAccessToken || recs[0]["jti"] == "" || recs[1]["token_type"] != HintRefreshToken || recs[1]["grant_id"] == "" {
		t.Errorf("Got %s events %v, want the access token's (jti) then the refresh token's (grant_id)", eventRevoked, recs)
	}
	for _, secret := range []string{"wrong-secret", tok.AccessToken, tok.RefreshToken} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("Got %q in the log", secret)
		}
	}
}

func TestEventSignedOutEverywhere(t *testing.T) {
	f, log := eventFixture(t)
	f.login(t, f.confid)
	f.login(t, f.public)
	if err := f.issuer.RevokeAllSessions(t.Context(), aliceName); err != nil {
		t.Fatal(err)
	}
	recs := log.records(t, eventSignedOutEverywhere)
	if len(recs) != 1 || recs[0]["sub"] != aliceName || recs[0]["sessions"] != float64(2) {
		t.Errorf("Got %s events %v, want one with sub %q and sessions 2", eventSignedOutEverywhere, recs, aliceName)
	}
}
