package oauth2

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
)

// cheapArgon2 keeps hashing fast under -race (oauth2test's parameters);
// production uses the defaults.
var cheapArgon2 = Argon2Params{Memory: oauth2test.Argon2Memory, Time: oauth2test.Argon2Time, Threads: oauth2test.Argon2Threads}

// The clients and user of the fixture: oauth2test's, under the short names
// the black-box tests use too.
const (
	confID        = oauth2test.ConfidentialID
	confSecret    = oauth2test.ConfidentialSecret
	pubID         = oauth2test.PublicID
	pwOnlyID      = oauth2test.PasswordOnlyID
	pwOnlySecret  = oauth2test.PasswordOnlySecret
	aliceName     = oauth2test.Username
	alicePassword = oauth2test.Password
)

const testIssuer = "https://auth.example.test"

// quiet is the fixtures' logger: the failures tests cause on purpose would
// otherwise go to slog.Default() and bury the output of a failing test.
var quiet = slog.New(slog.DiscardHandler)

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
// confID/confSecret, a public client pubID, a client pwOnlyID without the
// refresh grant, user aliceName/alicePassword allowed profile and email,
// and user bob/builder.
func newFixture(t *testing.T, mutate ...func(*IssuerConfig)) *fixture {
	t.Helper()
	key, err := GenerateKey(EdDSA)
	if err != nil {
		t.Fatalf("GenerateKey() error = %v", err)
	}
	keys := NewKeySet(key)
	clients, err := NewStaticClients(
		Client{ID: confID, SecretHash: cheapHash(t, confSecret), GrantTypes: []string{GrantPassword, GrantRefreshToken},
			Scopes: []string{"profile", "email", "admin"}, DefaultScopes: []string{"profile"}},
		Client{ID: pubID, GrantTypes: []string{GrantPassword, GrantRefreshToken},
			Scopes: []string{"profile", "email"}, DefaultScopes: []string{"profile", "email"}},
		Client{ID: pwOnlyID, SecretHash: cheapHash(t, pwOnlySecret), GrantTypes: []string{GrantPassword},
			Scopes: []string{"profile"}, DefaultScopes: []string{"profile"}},
	)
	if err != nil {
		t.Fatalf("NewStaticClients() error = %v", err)
	}
	users, err := NewStaticUsers(
		StaticUser{Username: aliceName, PasswordHash: cheapHash(t, alicePassword), Scopes: []string{"profile", "email"}},
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
		Logger:          quiet,
		Now:             clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	iss, err := NewIssuer(cfg)
	if err != nil {
		t.Fatalf("NewIssuer() error = %v", err)
	}
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: keys, Revocations: cfg.Store, Logger: quiet, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewVerifier() error = %v", err)
	}
	confid, _ := clients.LookupClient(t.Context(), confID)
	public, _ := clients.LookupClient(t.Context(), pubID)
	return &fixture{issuer: iss, keys: keys, store: cfg.Store, clock: clock, confid: confid, public: public, verifier: v}
}

func (f *fixture) login(t *testing.T, c *Client, scope ...string) *TokenResponse {
	t.Helper()
	resp, err := f.issuer.PasswordGrant(t.Context(), c, aliceName, alicePassword, scope)
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
