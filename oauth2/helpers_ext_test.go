package oauth2_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	xoauth2 "golang.org/x/oauth2"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// quiet is the fixtures' logger: the failures tests cause on purpose would
// otherwise go to slog.Default() and bury the output of a failing test.
var quiet = slog.New(slog.DiscardHandler)

// fastArgon2 keeps password hashing cheap in tests and examples (oauth2test's
// parameters); real deployments use HashPassword, whose
// DefaultArgon2Params are deliberately expensive.
var fastArgon2 = oauth2.Argon2Params{Memory: oauth2test.Argon2Memory, Time: oauth2test.Argon2Time, Threads: oauth2test.Argon2Threads}

// The clients and user every test server knows: oauth2test's, under the
// short names these tests use.
const (
	confID        = oauth2test.ConfidentialID
	confSecret    = oauth2test.ConfidentialSecret
	pubID         = oauth2test.PublicID
	pwOnlyID      = oauth2test.PasswordOnlyID
	pwOnlySecret  = oauth2test.PasswordOnlySecret
	aliceName     = oauth2test.Username
	alicePassword = oauth2test.Password
	aliceSubject  = oauth2test.Subject

	// realm is the realm of the protected routes' Bearer challenges.
	realm = "example-api"
)

// supportedScopes is what the issuer publishes; "billing" is known to the
// issuer but allowed to no client.
var supportedScopes = []string{"profile", "email", "admin", "billing"}

// fixture is an issuer and a resource server behind one httptest server:
// the issuer's endpoints at their default paths, and two protected routes,
// /api/profile (scope profile) and /api/admin (scope admin), which answer
// with the verified claims as JSON.
type fixture struct {
	srv      *httptest.Server
	url      string // the issuer identifier, srv.URL plus the issuer path
	issuer   *oauth2.Issuer
	verifier *oauth2.Verifier
	keys     *oauth2.KeySet
	store    oauth2.Store
}

// fixtureOption changes how newFixture or newIssuer builds its pieces.
type fixtureOption func(*fixtureConfig)

type fixtureConfig struct {
	alg        string
	key        *oauth2.Key
	signer     oauth2.Signer
	store      oauth2.Store
	issuerPath string
	now        func() time.Time
}

// withAlg makes the issuer sign with a fresh key for alg.
func withAlg(alg string) fixtureOption { return func(c *fixtureConfig) { c.alg = alg } }

// withKey makes the issuer sign with k.
func withKey(k *oauth2.Key) fixtureOption { return func(c *fixtureConfig) { c.key = k } }

// withSigner makes s the issuer's Keys; the protected routes verify with
// its signing key.
func withSigner(s oauth2.Signer) fixtureOption { return func(c *fixtureConfig) { c.signer = s } }

// withStore replaces the memstore the issuer and verifier use.
func withStore(s oauth2.Store) fixtureOption { return func(c *fixtureConfig) { c.store = s } }

// withIssuerPath appends path to the server URL to form the issuer identifier.
func withIssuerPath(p string) fixtureOption { return func(c *fixtureConfig) { c.issuerPath = p } }

// withClock makes the issuer, verifier and store read time from now.
func withClock(now func() time.Time) fixtureOption { return func(c *fixtureConfig) { c.now = now } }

// responseJSON is the JSON a protected route answers with.
type responseJSON struct {
	Subject  string `json:"sub"`
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
}

// newFixture starts a test server with an issuer and protected routes.
func newFixture(tb testing.TB, opts ...fixtureOption) *fixture {
	tb.Helper()
	srv := httptest.NewUnstartedServer(nil)
	// The issuer identifier has to be known before the handler exists; the
	// unstarted server already holds its listener, so its address is final.
	base := "http://" + srv.Listener.Addr().String()
	f := newIssuer(tb, base, opts...)
	f.srv = srv

	mux := http.NewServeMux()
	mux.Handle("/", f.issuer.Handler())
	claimsHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := oauth2.ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims in context", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(responseJSON{Subject: c.Subject, Scope: oauth2.FormatScope(c.Scope), ClientID: c.ClientID})
	})
	mux.Handle("/api/profile", f.verifier.RequireToken("profile")(claimsHandler))
	mux.Handle("/api/admin", f.verifier.RequireToken("admin")(claimsHandler))
	srv.Config.Handler = mux
	srv.Start()
	tb.Cleanup(srv.Close)
	if srv.URL != base {
		tb.Fatalf("Got(httptest server URL) = %q, want %q", srv.URL, base)
	}
	return f
}

// newIssuer builds an issuer for issuerBase (plus any withIssuerPath) and a
// verifier for its tokens, without a server.
func newIssuer(tb testing.TB, issuerBase string, opts ...fixtureOption) *fixture {
	tb.Helper()
	cfg := fixtureConfig{alg: oauth2.EdDSA}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	key := cfg.key
	if cfg.signer != nil {
		var err error
		if key, err = cfg.signer.SigningKey(context.Background()); err != nil {
			tb.Fatalf("SigningKey() error = %v", err)
		}
	}
	if key == nil {
		var err error
		key, err = oauth2.GenerateKey(cfg.alg)
		if err != nil {
			tb.Fatalf("GenerateKey(%q) error = %v", cfg.alg, err)
		}
	}
	keys := oauth2.NewKeySet(key)
	var signer oauth2.Signer = keys
	if cfg.signer != nil {
		signer = cfg.signer
	}
	st := cfg.store
	if st == nil {
		st = memstore.New(memstore.WithClock(cfg.now))
	}
	clients, err := oauth2.NewStaticClients(
		oauth2.Client{
			ID:            confID,
			SecretHash:    hashFast(tb, confSecret),
			GrantTypes:    []string{oauth2.GrantPassword, oauth2.GrantRefreshToken},
			Scopes:        []string{"profile", "email", "admin"},
			DefaultScopes: []string{"profile", "email"},
		},
		oauth2.Client{
			ID:            pubID,
			GrantTypes:    []string{oauth2.GrantPassword, oauth2.GrantRefreshToken},
			Scopes:        []string{"profile", "email"},
			DefaultScopes: []string{"profile"},
		},
		oauth2.Client{
			ID:            pwOnlyID,
			SecretHash:    hashFast(tb, pwOnlySecret),
			GrantTypes:    []string{oauth2.GrantPassword},
			Scopes:        []string{"profile"},
			DefaultScopes: []string{"profile"},
		},
	)
	if err != nil {
		tb.Fatalf("NewStaticClients() error = %v", err)
	}
	users, err := oauth2.NewStaticUsers(oauth2.StaticUser{
		Username:     aliceName,
		PasswordHash: hashFast(tb, alicePassword),
		Subject:      aliceSubject,
	})
	if err != nil {
		tb.Fatalf("NewStaticUsers() error = %v", err)
	}
	issuerURL := issuerBase + cfg.issuerPath
	iss, err := oauth2.NewIssuer(oauth2.IssuerConfig{
		Issuer:          issuerURL,
		Keys:            signer,
		Store:           st,
		Clients:         clients,
		Users:           users,
		ScopesSupported: supportedScopes,
		Logger:          quiet,
		Now:             cfg.now,
	})
	if err != nil {
		tb.Fatalf("NewIssuer() error = %v", err)
	}
	v, err := oauth2.NewVerifier(oauth2.VerifierConfig{
		Issuer:      issuerURL,
		Audience:    issuerURL,
		Keys:        keys,
		Revocations: st,
		Realm:       realm,
		Logger:      quiet,
		Now:         cfg.now,
	})
	if err != nil {
		tb.Fatalf("NewVerifier() error = %v", err)
	}
	return &fixture{url: issuerURL, issuer: iss, verifier: v, keys: keys, store: st}
}

// hashFast hashes pw with fastArgon2.
func hashFast(tb testing.TB, pw string) string {
	tb.Helper()
	h, err := oauth2.HashPasswordWith(pw, fastArgon2)
	if err != nil {
		tb.Fatalf("HashPasswordWith() error = %v", err)
	}
	return h
}

// config returns an x/oauth2 client configuration for this server.
func (f *fixture) config(clientID, secret string, style xoauth2.AuthStyle, scopes ...string) *xoauth2.Config {
	return &xoauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		Endpoint:     xoauth2.Endpoint{TokenURL: f.url + oauth2.TokenPath, AuthStyle: style},
		Scopes:       scopes,
	}
}

// ctx returns the test's context carrying the server's HTTP client, which
// x/oauth2 uses for its requests.
func (f *fixture) ctx(tb testing.TB) context.Context {
	tb.Helper()
	return context.WithValue(tb.Context(), xoauth2.HTTPClient, f.srv.Client())
}

// passwordToken runs the password grant for alice and fails the test on error.
func (f *fixture) passwordToken(tb testing.TB, cfg *xoauth2.Config) *xoauth2.Token {
	tb.Helper()
	tok, err := cfg.PasswordCredentialsToken(f.ctx(tb), aliceName, alicePassword)
	if err != nil {
		tb.Fatalf("PasswordCredentialsToken(%s) error = %v", cfg.ClientID, err)
	}
	return tok
}

// refresh redeems tok's refresh token through a TokenSource, as a client
// whose access token expired would.
func (f *fixture) refresh(tb testing.TB, cfg *xoauth2.Config, tok *xoauth2.Token) (*xoauth2.Token, error) {
	tb.Helper()
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Hour)
	return cfg.TokenSource(f.ctx(tb), &stale).Token()
}

// response is what a raw request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorCode returns the "error" member of a JSON error body, or "".
func (r *response) errorCode() string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error
}

// clientAuth adds client credentials to a raw request.
type clientAuth func(r *http.Request, form url.Values)

// basicAuth authenticates with client_secret_basic, form-encoding both
// parts first as RFC 6749 §2.3.1 requires.
func basicAuth(id, secret string) clientAuth {
	return func(r *http.Request, _ url.Values) {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
}

// postAuth authenticates with client_secret_post, or as a public client
// when secret is empty.
func postAuth(id, secret string) clientAuth {
	return func(_ *http.Request, form url.Values) {
		form.Set("client_id", id)
		if secret != "" {
			form.Set("client_secret", secret)
		}
	}
}

// postForm POSTs form to the issuer endpoint at path (e.g. oauth2.TokenPath).
func (f *fixture) postForm(tb testing.TB, path string, auth clientAuth, form url.Values) *response {
	tb.Helper()
	form = cloneValues(form)
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodPost, f.url+path, nil)
	if err != nil {
		tb.Fatalf("NewRequest() error = %v", err)
	}
	auth(req, form)
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(tb, req)
}

// request sends a request with the method, body and Content-Type given to
// the issuer endpoint at path.
func (f *fixture) request(tb testing.TB, method, path, contentType, body string) *response {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, f.url+path, strings.NewReader(body))
	if err != nil {
		tb.Fatalf("NewRequest() error = %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return f.do(tb, req)
}

// getWithAuthorization GETs the route at path of the server, with the
// Authorization header authz unless it is empty.
func (f *fixture) getWithAuthorization(tb testing.TB, path, authz string) *response {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		tb.Fatalf("NewRequest() error = %v", err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return f.do(tb, req)
}

// getProfile GETs /api/profile with accessToken as the bearer token.
func (f *fixture) getProfile(tb testing.TB, accessToken string) *response {
	tb.Helper()
	return f.getWithAuthorization(tb, "/api/profile", "Bearer "+accessToken)
}

func (f *fixture) do(tb testing.TB, req *http.Request) *response {
	tb.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s error = %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading the body of %s %s: %v", req.Method, req.URL.Path, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}
}

// tokenResponse decodes a successful token response.
func tokenResponse(tb testing.TB, r *response) oauth2.TokenResponse {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("Got(token endpoint status) = %d, want 200; body %s", r.status, r.body)
	}
	var tr oauth2.TokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil {
		tb.Fatalf("decoding token response %s: %v", r.body, err)
	}
	return tr
}

// retrieveError returns err as an *xoauth2.RetrieveError, failing the test
// if it is not one.
func retrieveError(tb testing.TB, err error) *xoauth2.RetrieveError {
	tb.Helper()
	var re *xoauth2.RetrieveError
	if !errors.As(err, &re) {
		tb.Fatalf("Got(error) = %v (%T), want *oauth2.RetrieveError", err, err)
	}
	return re
}

// wantProfileStatus GETs /api/profile with accessToken and checks the status.
func (f *fixture) wantProfileStatus(tb testing.TB, accessToken string, want int) *response {
	tb.Helper()
	r := f.getProfile(tb, accessToken)
	if r.status != want {
		tb.Errorf("Got(GET /api/profile status) = %d, want %d; WWW-Authenticate %q, body %s",
			r.status, want, r.header.Get("WWW-Authenticate"), r.body)
	}
	return r
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// fixedKey returns an EdDSA key derived from a constant seed, so that every
// process of a fuzzing run signs and verifies with the same key.
func fixedKey(tb testing.TB) *oauth2.Key {
	tb.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "oauth2kit fuzzing key seed 0001")
	k, err := oauth2.NewKey("fuzz-key", oauth2.EdDSA, ed25519.NewKeyFromSeed(seed))
	if err != nil {
		tb.Fatalf("NewKey() error = %v", err)
	}
	return k
}

// newRemote returns a RemoteKeySet for a URL and options a test knows good.
func newRemote(t testing.TB, jwksURL string, opts oauth2.RemoteKeySetOptions) *oauth2.RemoteKeySet {
	t.Helper()
	r, err := oauth2.NewRemoteKeySet(jwksURL, opts)
	if err != nil {
		t.Fatalf("NewRemoteKeySet(%q) error = %v", jwksURL, err)
	}
	return r
}
