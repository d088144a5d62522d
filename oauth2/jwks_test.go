package oauth2

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a KeySet's JWKS and counts fetches.
func jwksServer(t *testing.T, keys *KeySet) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(jwksOf(t, keys))
	}))
	t.Cleanup(srv.Close)
	return srv, &fetches
}

func TestRemoteKeySetRefetchesOnUnknownKid(t *testing.T) {
	first, err := GenerateKey(ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys := NewKeySet(first)
	srv, fetches := jwksServer(t, keys)
	remote := newRemote(t, srv.URL, RemoteKeySetOptions{MinRefetchInterval: time.Hour})

	k, err := remote.VerificationKey(t.Context(), first.ID())
	if err != nil || k.Algorithm() != ES256 {
		t.Fatalf("VerificationKey() = %v, %v, want the ES256 key", k, err)
	}
	// Many unknown kids at once, and again later: one fetch, rate-limited.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := remote.VerificationKey(t.Context(), "made-up"); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("VerificationKey(made-up) error = %v, want %v", err, ErrUnknownKey)
			}
		}()
	}
	wg.Wait()
	if got := fetches.Load(); got != 1 {
		t.Errorf("Got %d fetches, want 1: unknown kids within MinRefetchInterval must not refetch", got)
	}
	if _, err := remote.VerificationKey(t.Context(), first.ID()); err != nil {
		t.Errorf("VerificationKey(known) error = %v", err)
	}
}

func TestRemoteKeySetPicksUpRotation(t *testing.T) {
	first, _ := GenerateKey(EdDSA)
	keys := NewKeySet(first)
	srv, fetches := jwksServer(t, keys)
	remote := newRemote(t, srv.URL, RemoteKeySetOptions{MinRefetchInterval: time.Millisecond})
	if _, err := remote.VerificationKey(t.Context(), first.ID()); err != nil {
		t.Fatal(err)
	}
	next, _ := GenerateKey(RS256)
	if err := keys.Rotate(next); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // past MinRefetchInterval
	k, err := remote.VerificationKey(t.Context(), next.ID())
	if err != nil || k.Algorithm() != RS256 {
		t.Fatalf("VerificationKey(rotated) = %v, %v, want the RS256 key", k, err)
	}
	if got := fetches.Load(); got != 2 {
		t.Errorf("Got %d fetches, want 2", got)
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	ec, _ := GenerateKey(ES256)
	body, _ := json.Marshal(map[string]any{"keys": []any{
		ec.publicJWK(),
		map[string]any{"kty": "oct", "kid": "secret", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
		map[string]any{"kty": "EC", "kid": "enc", "use": "enc", "crv": "P-256", "x": "x", "y": "y"},
		map[string]any{"kty": "weird", "kid": "w"},
	}})
	keys, err := parseJWKS(body)
	if err != nil {
		t.Fatalf("parseJWKS() error = %v", err)
	}
	if len(keys) != 1 || keys[ec.ID()] == nil {
		t.Errorf("parseJWKS() kept %v, want only %q", keys, ec.ID())
	}
	if _, err := parseJWKS([]byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`)); err == nil {
		t.Errorf("parseJWKS(only a symmetric key) error = nil, want an error")
	}
}

func TestRemoteKeySetFetchFailureIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	remote := newRemote(t, srv.URL, RemoteKeySetOptions{})
	_, err := remote.VerificationKey(t.Context(), "any")
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerificationKey() error = %v, want %v and not an invalid token", err, ErrKeysUnavailable)
	}

	// Behind the middleware that is a 503: the token may be fine.
	f := newFixture(t)
	tok := f.login(t, f.confid)
	// And the operator is told why.
	var logs bytes.Buffer
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: remote, Revocation: RevocationUnchecked,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	w := httptest.NewRecorder()
	v.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("Got status %d with the JWKS unreachable, want 503", w.Code)
	}
	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "verification keys unavailable") || !strings.Contains(got, "502") {
		t.Errorf("Got(log) = %q, want an error naming the unavailable keys and the JWKS answer", got)
	}
}

// A known key is served from the cache while a due refresh runs in the
// background: verification must not wait on the issuer. If it did, this
// test would block until the cleanup releases the server.
func TestRemoteKeySetServesStaleKeyWhileRefreshing(t *testing.T) {
	k, _ := GenerateKey(ES256)
	keys := NewKeySet(k)
	release := make(chan struct{})
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) > 1 {
			<-release
		}
		_ = json.NewEncoder(w).Encode(jwksOf(t, keys))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	remote := newRemote(t, srv.URL, RemoteKeySetOptions{RefreshInterval: time.Nanosecond, MinRefetchInterval: time.Nanosecond})
	if _, err := remote.VerificationKey(t.Context(), k.ID()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond) // the set is now stale
	for range 3 {
		if _, err := remote.VerificationKey(t.Context(), k.ID()); err != nil {
			t.Fatalf("VerificationKey(known, stale) error = %v", err)
		}
	}
	if got := fetches.Load(); got > 2 {
		t.Errorf("Got %d fetches, want at most one refresh in flight", got)
	}
}
