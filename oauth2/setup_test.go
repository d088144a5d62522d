package oauth2

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// cheap hashes keep tests fast under -race; production uses the defaults.
var cheapArgon2 = Argon2Params{Memory: 64, Time: 1, Threads: 1}

const testIssuer = "https://auth.example.test"

var hashCache sync.Map

func cheapHash(t *testing.T, pw string) string {
	t.Helper()
	if h, ok := hashCache.Load(pw); ok {
		return h.(string)
	}
	h, err := HashPasswordWith(pw, cheapArgon2)
	if err != nil {
		t.Fatalf("HashPasswordWith() error = %v", err)
	}
	hashCache.Store(pw, h)
	return h
}

// fakeClock is a settable clock shared by issuer and verifier.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	issuer   *Issuer
	keys     *KeySet
	store    Store
	clock    *fakeClock
	confid   *Client
	public   *Client
	verifier *Verifier
}

// newFixture builds an Issuer on memstore with a confidential client
// "app"/"app-secret", a public client "spa", a client "pw-only" without the
// refresh grant, and user alice/wonderland allowed profile and email.
func newFixture(t *testing.T, mutate ...func(*IssuerConfig)) *fixture {
	t.Helper()
	key, err := GenerateKey(EdDSA)
	if err != nil {
		t.Fatalf("GenerateKey() error = %v", err)
	}
	keys := NewKeySet(key)
	clients, err := NewStaticClients(
		Client{ID: "app", SecretHash: cheapHash(t, "app-secret"), GrantTypes: []string{GrantPassword, GrantRefreshToken},
			Scopes: []string{"profile", "email", "admin"}, DefaultScopes: []string{"profile"}},
		Client{ID: "spa", GrantTypes: []string{GrantPassword, GrantRefreshToken},
			Scopes: []string{"profile", "email"}, DefaultScopes: []string{"profile", "email"}},
		Client{ID: "pw-only", SecretHash: cheapHash(t, "pw-secret"), GrantTypes: []string{GrantPassword},
			Scopes: []string{"profile"}, DefaultScopes: []string{"profile"}},
	)
	if err != nil {
		t.Fatalf("NewStaticClients() error = %v", err)
	}
	users, err := NewStaticUsers(
		StaticUser{Username: "alice", PasswordHash: cheapHash(t, "wonderland"), Scopes: []string{"profile", "email"}},
		StaticUser{Username: "bob", PasswordHash: cheapHash(t, "builder")},
	)
	if err != nil {
		t.Fatalf("NewStaticUsers() error = %v", err)
	}
	clock := newFakeClock()
	st := memstore.New(memstore.WithClock(clock.Now))
	cfg := IssuerConfig{
		Issuer:          testIssuer,
		Keys:            keys,
		Store:           st,
		Clients:         clients,
		Users:           users,
		ScopesSupported: []string{"profile", "email", "admin"},
		Now:             clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	iss, err := NewIssuer(cfg)
	if err != nil {
		t.Fatalf("NewIssuer() error = %v", err)
	}
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: keys, Revocations: cfg.Store, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewVerifier() error = %v", err)
	}
	confid, _ := clients.LookupClient(t.Context(), "app")
	public, _ := clients.LookupClient(t.Context(), "spa")
	return &fixture{issuer: iss, keys: keys, store: cfg.Store, clock: clock, confid: confid, public: public, verifier: v}
}

func (f *fixture) login(t *testing.T, c *Client, scope ...string) *TokenResponse {
	t.Helper()
	resp, err := f.issuer.PasswordGrant(t.Context(), c, "alice", "wonderland", scope)
	if err != nil {
		t.Fatalf("PasswordGrant() error = %v", err)
	}
	return resp
}

// post sends a form to h and decodes the JSON answer.
func post(t *testing.T, h http.Handler, form url.Values, mutate ...func(*http.Request)) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, m := range mutate {
		m(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("response %q is not JSON: %v", w.Body.String(), err)
		}
	}
	return w, body
}

// failingStore fails every call with errStoreDown, as a store whose server
// is unreachable does.
type failingStore struct{}

var errStoreDown = errors.New("dial tcp 10.0.0.7:6379: connection refused")

func (failingStore) CreateRefreshToken(context.Context, store.RefreshToken) error {
	return errStoreDown
}
func (failingStore) GetRefreshToken(context.Context, []byte) (store.RefreshToken, error) {
	return store.RefreshToken{}, errStoreDown
}
func (failingStore) RotateRefreshToken(context.Context, []byte, store.RefreshToken) error {
	return errStoreDown
}
func (failingStore) RevokeGrant(context.Context, string, time.Time) error       { return errStoreDown }
func (failingStore) RevokeAccessToken(context.Context, string, time.Time) error { return errStoreDown }
func (failingStore) IsRevoked(context.Context, string, string) (bool, error) {
	return false, errStoreDown
}

// activeKey returns the key s signs with now.
func activeKey(t testing.TB, s Signer) *Key {
	t.Helper()
	k, err := s.SigningKey(t.Context())
	if err != nil {
		t.Fatalf("SigningKey() error = %v", err)
	}
	return k
}

// jwksOf returns the JWK Set an Issuer over s publishes.
func jwksOf(t testing.TB, s Signer) jose.JSONWebKeySet {
	t.Helper()
	keys, err := s.Keys(t.Context())
	if err != nil {
		t.Fatalf("Keys() error = %v", err)
	}
	b, err := jwks(keys)
	if err != nil {
		t.Fatalf("jwks() error = %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	return set
}

// newRemote returns a RemoteKeySet for a URL and options a test knows good.
func newRemote(t testing.TB, jwksURL string, opts RemoteKeySetOptions) *RemoteKeySet {
	t.Helper()
	r, err := NewRemoteKeySet(jwksURL, opts)
	if err != nil {
		t.Fatalf("NewRemoteKeySet(%q) error = %v", jwksURL, err)
	}
	return r
}
