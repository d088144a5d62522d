package oauth2

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// redirectingServer serves keys' JWKS at /jwks and redirects /same to
// /jwks, /away to elsewhere, /hop/N down a chain of N same-origin redirects
// ending at /jwks, and /loop to itself.
func redirectingServer(t *testing.T, keys *KeySet, elsewhere string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jwksOf(t, keys))
	})
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/jwks", http.StatusFound)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere, http.StatusFound)
	})
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		next := "/jwks"
		if n > 1 {
			next = "/hop/" + strconv.Itoa(n-1)
		}
		http.Redirect(w, r, next, http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// Two httptest servers listen on different ports, so they are two origins:
// A redirecting to a JWKS on B must not be followed unless the caller's own
// CheckRedirect says so.
func TestRemoteKeySetRedirects(t *testing.T) {
	k, err := GenerateKey(ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys := NewKeySet(k)
	b, bFetches := jwksServer(t, keys)
	a := redirectingServer(t, keys, b.URL)
	followAll := func(*http.Request, []*http.Request) error { return nil }

	tests := []struct {
		name         string
		path         string
		client       *http.Client
		wantErr      error
		wantBFetches int32
	}{
		{name: "same origin", path: "/same"},
		{name: "same origin chain", path: "/hop/5"},
		{name: "same origin loop", path: "/loop", wantErr: ErrKeysUnavailable},
		{name: "same origin, caller's client", path: "/same", client: &http.Client{Timeout: 5 * time.Second}},
		{name: "cross origin", path: "/away", wantErr: ErrKeysUnavailable},
		{name: "cross origin, caller's client", path: "/away", client: &http.Client{Timeout: 5 * time.Second}, wantErr: ErrKeysUnavailable},
		{name: "cross origin, caller's CheckRedirect", path: "/away", client: &http.Client{CheckRedirect: followAll}, wantBFetches: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := bFetches.Load()
			var callersPolicy func(*http.Request, []*http.Request) error
			if tt.client != nil {
				callersPolicy = tt.client.CheckRedirect
			}
			remote := newRemote(t, a.URL+tt.path, RemoteKeySetOptions{Client: tt.client})
			got, err := remote.VerificationKey(t.Context(), k.ID())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Got(VerificationKey() error) = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil || got == nil || got.ID() != k.ID() {
				t.Errorf("Got(VerificationKey()) = %v, %v, want the key %q", got, err, k.ID())
			}
			if n := bFetches.Load() - before; n != tt.wantBFetches {
				t.Errorf("Got(requests to the other origin) = %d, want %d", n, tt.wantBFetches)
			}
			if tt.client != nil && (tt.client.CheckRedirect == nil) != (callersPolicy == nil) {
				t.Errorf("Got(caller's Client.CheckRedirect changed) = true, want the caller's client left alone")
			}
		})
	}
}

// jwkJSON is k's public JWK with its kid replaced.
func jwkJSON(t *testing.T, k *Key, kid string) map[string]any {
	t.Helper()
	raw, err := json.Marshal(k.publicJWK())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["kid"] = kid
	return m
}

func jwksDoc(t *testing.T, keys ...any) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestParseJWKSDuplicateKid(t *testing.T) {
	ec, _ := GenerateKey(ES256)
	ed, _ := GenerateKey(EdDSA)
	secret := map[string]any{"kty": "oct", "kid": "k1", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
	unknownKind := map[string]any{"kty": "weird", "kid": "k1"}
	encryption := jwkJSON(t, ed, "k1")
	encryption["use"] = "enc"
	noKid := jwkJSON(t, ed, "")
	// encoding/json would read "Kid" as the kid (case-insensitive, last
	// wins); go-jose reads "kid" alone. The check must see what go-jose sees.
	// "Kid" must come last for encoding/json to take it, so this entry is
	// written by hand.
	ecJSON, err := json.Marshal(jwkJSON(t, ec, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	decoy := json.RawMessage(strings.TrimSuffix(string(ecJSON), "}") + `,"Kid":"decoy"}`)
	upperOnly := jwkJSON(t, ed, "")
	upperOnly["KID"] = "k1"

	tests := []struct {
		name    string
		body    []byte
		want    []string // kids kept
		wantErr bool
	}{
		{name: "distinct kids", body: jwksDoc(t, jwkJSON(t, ec, "k1"), jwkJSON(t, ed, "k2")), want: []string{"k1", "k2"}},
		{name: "two usable keys share a kid", body: jwksDoc(t, jwkJSON(t, ec, "k1"), jwkJSON(t, ed, "k1")), wantErr: true},
		{name: "the same key twice", body: jwksDoc(t, jwkJSON(t, ec, "k1"), jwkJSON(t, ec, "k1")), wantErr: true},
		{name: "usable key and symmetric key share a kid", body: jwksDoc(t, secret, jwkJSON(t, ec, "k1")), wantErr: true},
		{name: "usable key and unknown kty share a kid", body: jwksDoc(t, jwkJSON(t, ec, "k1"), unknownKind), wantErr: true},
		{name: "usable key and encryption key share a kid", body: jwksDoc(t, jwkJSON(t, ec, "k1"), encryption), wantErr: true},
		{name: "a differently cased member does not hide a duplicate", body: jwksDoc(t, decoy, jwkJSON(t, ed, "k1")), wantErr: true},
		{name: "a differently cased kid is no kid", body: jwksDoc(t, upperOnly, jwkJSON(t, ec, "k1")), want: []string{"k1"}},
		{name: "entries without kid are not duplicates", body: jwksDoc(t, noKid, noKid, jwkJSON(t, ec, "k1")), want: []string{"k1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseJWKS(tt.body)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Got(parseJWKS() error) = %v, want error: %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(got) != len(tt.want) {
				t.Errorf("Got(parseJWKS() kids) = %v, want %v", got, tt.want)
			}
			for _, kid := range tt.want {
				if got[kid] == nil {
					t.Errorf("Got(parseJWKS()[%q]) = nil, want a key", kid)
				}
			}
		})
	}
}

// A document with duplicate kids is a failed fetch: before any good fetch
// the keys are unavailable, and after one the good set stays in use.
func TestRemoteKeySetDuplicateKidIsFetchFailure(t *testing.T) {
	k, _ := GenerateKey(ES256)
	other, _ := GenerateKey(EdDSA)
	good := jwksDoc(t, jwkJSON(t, k, k.ID()))
	dup := jwksDoc(t, jwkJSON(t, k, k.ID()), jwkJSON(t, other, k.ID()), jwkJSON(t, other, "new"))
	var body atomic.Pointer[[]byte]
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(*body.Load())
	}))
	t.Cleanup(srv.Close)

	body.Store(&dup)
	fresh := newRemote(t, srv.URL, RemoteKeySetOptions{})
	if _, err := fresh.VerificationKey(t.Context(), k.ID()); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("Got(VerificationKey() on a duplicate-kid JWKS) error = %v, want %v", err, ErrKeysUnavailable)
	}

	body.Store(&good)
	remote := newRemote(t, srv.URL, RemoteKeySetOptions{MinRefetchInterval: time.Nanosecond})
	if _, err := remote.VerificationKey(t.Context(), k.ID()); err != nil {
		t.Fatalf("Got(VerificationKey()) error = %v, want nil", err)
	}
	body.Store(&dup)
	before := fetches.Load()
	time.Sleep(time.Millisecond) // past MinRefetchInterval
	if _, err := remote.VerificationKey(t.Context(), "new"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Got(VerificationKey(kid only in the duplicate-kid JWKS)) error = %v, want %v", err, ErrUnknownKey)
	}
	if fetches.Load() == before {
		t.Fatalf("Got(no refetch for an unknown kid), want one")
	}
	got, err := remote.VerificationKey(t.Context(), k.ID())
	if err != nil || got.Algorithm() != ES256 {
		t.Errorf("Got(VerificationKey(kid of the good set)) = %v, %v, want the ES256 key still in use", got, err)
	}
}
