package oauth2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The resource server's credentials at the Issuer, in rsFixture.
const (
	rsClientID = "api"
	rsSecret   = "api-secret"
)

// rsFixture is a resource server that cannot reach the store: its Verifier
// checks revocation through an IntrospectionChecker that asks, over HTTP,
// the introspection endpoint of the fixture's Issuer, on which it is
// registered as client "api" with ResourceServer set.
type rsFixture struct {
	*fixture
	srv      *httptest.Server
	hits     atomic.Int64                 // requests the endpoint received
	fault    atomic.Pointer[http.Handler] // when set, answers instead of the Issuer
	checker  *IntrospectionChecker
	verifier *Verifier
}

// newRSFixture starts the endpoint and builds the checker, after mutate has
// changed its configuration, and a Verifier using it.
func newRSFixture(t *testing.T, mutate ...func(*IntrospectionCheckerConfig)) *rsFixture {
	t.Helper()
	rs := &Client{ID: rsClientID, SecretHash: cheapHash(t, rsSecret), ResourceServer: true}
	f := &rsFixture{fixture: newFixture(t, func(c *IssuerConfig) {
		c.Clients = withClient{ClientRegistry: c.Clients, c: rs}
	})}
	introspect := f.issuer.IntrospectionHandler()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		if h := f.fault.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		introspect.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	cfg := IntrospectionCheckerConfig{
		URL:          f.srv.URL + IntrospectionPath,
		ClientID:     rsClientID,
		ClientSecret: rsSecret,
		HTTPClient:   f.srv.Client(),
		Now:          f.clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	var err error
	if f.checker, err = NewIntrospectionChecker(cfg); err != nil {
		t.Fatalf("NewIntrospectionChecker() error = %v", err)
	}
	f.verifier, err = NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.checker, Now: f.clock.Now})
	if err != nil {
		t.Fatalf("NewVerifier() error = %v", err)
	}
	return f
}

// withClient is a ClientRegistry that knows one client more.
type withClient struct {
	ClientRegistry
	c *Client
}

func (r withClient) LookupClient(ctx context.Context, id string) (*Client, error) {
	if id == r.c.ID {
		cp := *r.c
		return &cp, nil
	}
	return r.ClientRegistry.LookupClient(ctx, id)
}

// answer makes the endpoint answer every request with h until the test ends.
func (f *rsFixture) answer(t *testing.T, h http.HandlerFunc) {
	t.Helper()
	var hh http.Handler = h
	f.fault.Store(&hh)
	t.Cleanup(func() { f.fault.Store(nil) })
}

// verify calls Verify and checks its error: nil, or one matching wantErr.
func (f *rsFixture) verify(t *testing.T, token string, wantErr error) {
	t.Helper()
	_, err := f.verifier.Verify(t.Context(), token)
	if wantErr == nil && err != nil || wantErr != nil && !errors.Is(err, wantErr) {
		t.Fatalf("Verify() error = %v, want %v", err, wantErr)
	}
}

func (f *rsFixture) wantHits(t *testing.T, want int64) {
	t.Helper()
	if got := f.hits.Load(); got != want {
		t.Errorf("Got(introspection requests) = %d, want %d", got, want)
	}
}

func TestIntrospectionChecker_LiveTokenPasses(t *testing.T) {
	f := newRSFixture(t)
	tok := f.login(t, f.confid)
	f.verify(t, tok.AccessToken, nil)
	f.verify(t, tok.AccessToken, nil) // from the cache
	f.wantHits(t, 1)
}

// A revocation reaches the resource server once the answer it remembers
// is older than CacheTTL: that is the propagation bound it documents.
func TestIntrospectionChecker_RevokedAfterCacheTTL(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(tok *TokenResponse) string
	}{
		{name: "AccessToken", revoke: func(tok *TokenResponse) string { return tok.AccessToken }},
		{name: "Grant", revoke: func(tok *TokenResponse) string { return tok.RefreshToken }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRSFixture(t)
			tok := f.login(t, f.confid)
			f.verify(t, tok.AccessToken, nil)
			if err := f.issuer.Revoke(t.Context(), f.confid, tt.revoke(tok), ""); err != nil {
				t.Fatalf("Revoke() error = %v", err)
			}
			f.verify(t, tok.AccessToken, nil) // still within CacheTTL of the answer
			f.wantHits(t, 1)

			f.clock.Advance(DefaultIntrospectionCacheTTL)
			f.verify(t, tok.AccessToken, ErrTokenRevoked)
			f.verify(t, tok.AccessToken, ErrTokenRevoked) // a revoked token stays revoked
			f.wantHits(t, 2)
		})
	}
}

func TestIntrospectionChecker_TokenNeverSeenIsRevokedAtOnce(t *testing.T) {
	f := newRSFixture(t)
	tok := f.login(t, f.confid)
	if err := f.issuer.Revoke(t.Context(), f.confid, tok.AccessToken, HintAccessToken); err != nil {
		t.Fatalf("Revoke() error = %v", err)
	}
	f.verify(t, tok.AccessToken, ErrTokenRevoked)
}

// Whatever keeps the endpoint from vouching for a token, the token is
// refused with 503, never accepted and never called invalid.
func TestIntrospectionChecker_FailsClosed(t *testing.T) {
	oversize := `{"active":true,"pad":"` + strings.Repeat("x", maxIntrospectionBytes) + `"}`
	tests := []struct {
		name    string
		answer  http.HandlerFunc                  // nil: the Issuer answers
		mutate  func(*IntrospectionCheckerConfig) // nil: the right configuration
		closed  bool                              // the endpoint is gone
		wantMsg string                            // in the error
	}{
		{name: "ServerClosed", closed: true, wantMsg: "connect"},
		{name: "Status500", answer: status(http.StatusInternalServerError, `{"error":"server_error"}`), wantMsg: "500 'server_error'"},
		{name: "Status503", answer: status(http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`), wantMsg: "503"},
		{name: "GarbageJSON", answer: status(http.StatusOK, `{"active":tru`), wantMsg: "malformed"},
		{name: "HTMLPage", answer: status(http.StatusOK, `<html>login</html>`), wantMsg: "malformed"},
		{name: "NoActiveMember", answer: status(http.StatusOK, `{"scope":"profile"}`), wantMsg: "no active member"},
		{name: "ActiveNotBoolean", answer: status(http.StatusOK, `{"active":"true"}`), wantMsg: "malformed"},
		{name: "ActiveInOtherCase", answer: status(http.StatusOK, `{"Active":true}`), wantMsg: "no active member"},
		{name: "Oversize", answer: status(http.StatusOK, oversize), wantMsg: "larger than"},
		{name: "Redirect", answer: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example.test/introspect", http.StatusTemporaryRedirect)
		}, wantMsg: "307"},
		{name: "AnotherTokensJTI", answer: status(http.StatusOK, `{"active":true,"jti":"someone-else"}`), wantMsg: "jti"},
		{name: "AnotherSubject", answer: status(http.StatusOK, `{"active":true,"sub":"mallory"}`), wantMsg: "sub"},
		{name: "AnotherClient", answer: status(http.StatusOK, `{"active":true,"client_id":"other"}`), wantMsg: "client_id"},
		{name: "AnotherIssuer", answer: status(http.StatusOK, `{"active":true,"iss":"https://other.example.test"}`), wantMsg: "iss"},
		{name: "WrongSecret", mutate: func(c *IntrospectionCheckerConfig) { c.ClientSecret = "wrong" }, wantMsg: "401 'invalid_client'"},
		{name: "UnknownClient", mutate: func(c *IntrospectionCheckerConfig) { c.ClientID = "nobody" }, wantMsg: "401 'invalid_client'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mutate []func(*IntrospectionCheckerConfig)
			if tt.mutate != nil {
				mutate = append(mutate, tt.mutate)
			}
			f := newRSFixture(t, mutate...)
			tok := f.login(t, f.confid)
			if tt.answer != nil {
				f.answer(t, tt.answer)
			}
			if tt.closed {
				f.srv.Close()
			}

			_, err := f.verifier.Verify(t.Context(), tok.AccessToken)
			if !errors.Is(err, ErrRevocationUnavailable) || errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify() error = %v, want ErrRevocationUnavailable and not ErrInvalidToken", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Verify() error = %q, want it to mention %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), tok.AccessToken) {
				t.Errorf("Verify() error = %q, want it without the token", err)
			}

			r := httptest.NewRequest(http.MethodGet, "/api", nil)
			r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			w := httptest.NewRecorder()
			f.verifier.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Errorf("handler reached although the token could not be checked")
			})).ServeHTTP(w, r)
			if w.Code != http.StatusServiceUnavailable {
				t.Errorf("Got(middleware status) = %d, want 503", w.Code)
			}
		})
	}
}

// status answers every request with code and body.
func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// A failure is not remembered: the next check asks again, and succeeds
// once the endpoint is back.
func TestIntrospectionChecker_RecoversAfterOutage(t *testing.T) {
	f := newRSFixture(t)
	tok := f.login(t, f.confid)
	f.fault.Store(new(http.Handler(status(http.StatusBadGateway, ""))))
	f.verify(t, tok.AccessToken, ErrRevocationUnavailable)
	f.fault.Store(nil)
	f.verify(t, tok.AccessToken, nil)
	f.wantHits(t, 2)
}

// The Verifier's RevocationPolicy decides what a failure means, as it does
// for a store.
func TestIntrospectionChecker_FailOpenPolicy(t *testing.T) {
	f := newRSFixture(t)
	tok := f.login(t, f.confid)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.checker,
		Revocation: RevocationFailOpen, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.answer(t, status(http.StatusInternalServerError, ""))
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Errorf("Verify() with RevocationFailOpen and the endpoint down error = %v, want success", err)
	}
}

// The Verifier's StoreTimeout bounds the request as it bounds a store call.
func TestIntrospectionChecker_BoundedByStoreTimeout(t *testing.T) {
	f := newRSFixture(t)
	tok := f.login(t, f.confid)
	f.answer(t, func(_ http.ResponseWriter, r *http.Request) {
		// The server notices the client gave up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	})
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.checker,
		StoreTimeout: 20 * time.Millisecond, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), tok.AccessToken)
	if !errors.Is(err, ErrRevocationUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify() error = %v, want ErrRevocationUnavailable wrapping context.DeadlineExceeded", err)
	}
}

// The request is the one RFC 7662 §2.1 describes, authenticated as RFC
// 6749 §2.3.1 says, the credentials form-encoded inside Basic.
func TestIntrospectionChecker_Request(t *testing.T) {
	const id, secret = "api:eu west", "s3cr3t+/ :&="
	f := newRSFixture(t, func(c *IntrospectionCheckerConfig) { c.ClientID, c.ClientSecret = id, secret })
	tok := f.login(t, f.confid)
	var got string
	f.answer(t, func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		got = fmt.Sprintf("%s %s %s token=%t hint=%s basic=%s:%s",
			r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.PostFormValue("token") == tok.AccessToken,
			r.PostFormValue("token_type_hint"), u, p)
		status(http.StatusOK, `{"active":true}`)(w, r)
	})
	f.verify(t, tok.AccessToken, nil)
	want := "POST /oauth2/introspect application/x-www-form-urlencoded token=true hint=access_token basic=api%3Aeu+west:s3cr3t%2B%2F+%3A%26%3D"
	if got != want {
		t.Errorf("Got(request) = %q, want %q", got, want)
	}
}

// N+1 distinct tokens leave at most N answers; the oldest goes first.
func TestIntrospectionChecker_CacheIsBounded(t *testing.T) {
	const size = 2
	f := newRSFixture(t, func(c *IntrospectionCheckerConfig) { c.CacheSize = size })
	var toks []string
	for range size + 1 {
		toks = append(toks, f.login(t, f.confid).AccessToken)
	}
	for _, tok := range toks {
		f.verify(t, tok, nil)
		if got := f.cached(); got > size {
			t.Fatalf("Got(cached answers) = %d, want at most %d", got, size)
		}
	}
	f.wantHits(t, size+1)
	f.verify(t, toks[size], nil) // the newest is remembered
	f.wantHits(t, size+1)
	f.verify(t, toks[0], nil) // the oldest was forgotten
	f.wantHits(t, size+2)
	if got := f.cached(); got != size {
		t.Errorf("Got(cached answers) = %d, want %d", got, size)
	}
}

func (f *rsFixture) cached() int {
	f.checker.mu.Lock()
	defer f.checker.mu.Unlock()
	return len(f.checker.answers)
}

func TestIntrospectionChecker_CacheDisabled(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*IntrospectionCheckerConfig)
	}{
		{name: "NegativeTTL", mutate: func(c *IntrospectionCheckerConfig) { c.CacheTTL = -1 }},
		{name: "NegativeSize", mutate: func(c *IntrospectionCheckerConfig) { c.CacheSize = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRSFixture(t, tt.mutate)
			tok := f.login(t, f.confid)
			f.verify(t, tok.AccessToken, nil)
			f.verify(t, tok.AccessToken, nil)
			f.wantHits(t, 2)
		})
	}
}

// An answer is not remembered past the token's expiry, however long
// CacheTTL is.
func TestIntrospectionChecker_CacheEndsAtExpiry(t *testing.T) {
	f := newRSFixture(t, func(c *IntrospectionCheckerConfig) { c.CacheTTL = time.Hour })
	tok := f.login(t, f.confid)
	c, err := f.fixture.verifier.Verify(t.Context(), tok.AccessToken) // the store's verifier: no request
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	c.ExpiresAt = f.clock.Now().Add(time.Second) // as if it were about to expire
	for range 2 {
		if revoked, err := f.checker.IsTokenRevoked(t.Context(), tok.AccessToken, c); revoked || err != nil {
			t.Fatalf("IsTokenRevoked() = %v, %v, want false, nil", revoked, err)
		}
	}
	f.wantHits(t, 1)
	f.clock.Advance(time.Second)
	if _, err := f.checker.IsTokenRevoked(t.Context(), tok.AccessToken, c); err != nil {
		t.Fatalf("IsTokenRevoked() error = %v", err)
	}
	f.wantHits(t, 2)
}

// Without the token there is nothing to introspect: IsRevoked must not
// answer "not revoked".
func TestIntrospectionChecker_IsRevokedNeedsTheToken(t *testing.T) {
	f := newRSFixture(t)
	revoked, err := f.checker.IsRevoked(t.Context(), "jti", "grant")
	if revoked || !errors.Is(err, ErrRevocationUnavailable) {
		t.Errorf("IsRevoked() = %v, %v, want false, ErrRevocationUnavailable", revoked, err)
	}
	if revoked, err := f.checker.IsTokenRevoked(t.Context(), "token", nil); revoked || !errors.Is(err, ErrRevocationUnavailable) {
		t.Errorf("IsTokenRevoked(nil claims) = %v, %v, want false, ErrRevocationUnavailable", revoked, err)
	}
	f.wantHits(t, 0)
}

// Concurrent checks of one token send one request.
func TestIntrospectionChecker_SharesConcurrentChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		rt := &blockingTransport{release: release}
		checker, err := NewIntrospectionChecker(IntrospectionCheckerConfig{
			URL: "https://as.example.test/introspect", ClientID: "api", ClientSecret: "secret",
			HTTPClient: &http.Client{Transport: rt},
		})
		if err != nil {
			t.Fatal(err)
		}
		claims := &Claims{ID: "jti-1", ExpiresAt: time.Now().Add(time.Hour)}
		const checks = 8
		var wg sync.WaitGroup
		for range checks {
			wg.Go(func() {
				if revoked, err := checker.IsTokenRevoked(t.Context(), "the-token", claims); revoked || err != nil {
					t.Errorf("IsTokenRevoked() = %v, %v, want false, nil", revoked, err)
				}
			})
		}
		synctest.Wait() // every check is waiting: one on the request, the rest on it
		close(release)
		wg.Wait()
		if got := rt.requests.Load(); got != 1 {
			t.Errorf("Got(requests) = %d, want 1", got)
		}
	})
}

// A check whose own context ends does not fail the checks waiting for its
// request: they ask again.
func TestIntrospectionChecker_WaitersOutliveTheSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		rt := &blockingTransport{release: release}
		checker, err := NewIntrospectionChecker(IntrospectionCheckerConfig{
			URL: "https://as.example.test/introspect", ClientID: "api", ClientSecret: "secret",
			HTTPClient: &http.Client{Transport: rt},
		})
		if err != nil {
			t.Fatal(err)
		}
		claims := &Claims{ID: "jti-1", ExpiresAt: time.Now().Add(time.Hour)}
		senderCtx, cancel := context.WithCancel(t.Context())
		sent := make(chan error)
		go func() {
			_, err := checker.IsTokenRevoked(senderCtx, "the-token", claims)
			sent <- err
		}()
		synctest.Wait()
		waited := make(chan error)
		go func() {
			_, err := checker.IsTokenRevoked(t.Context(), "the-token", claims)
			waited <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-sent; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRevocationUnavailable) {
			t.Errorf("IsTokenRevoked(cancelled) error = %v, want ErrRevocationUnavailable wrapping context.Canceled", err)
		}
		close(release)
		if err := <-waited; err != nil {
			t.Errorf("IsTokenRevoked(waiting) error = %v, want nil", err)
		}
		if got := rt.requests.Load(); got != 2 {
			t.Errorf("Got(requests) = %d, want 2", got)
		}
	})
}

// blockingTransport answers {"active":true} to every request once release
// is closed, or fails it when its context ends first.
type blockingTransport struct {
	release  chan struct{}
	requests atomic.Int64
}

func (b *blockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b.requests.Add(1)
	select {
	case <-b.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"active":true}`)),
		Request:    r,
	}, nil
}

func TestNewIntrospectionCheckerValidates(t *testing.T) {
	good := IntrospectionCheckerConfig{URL: "https://as.example.test/oauth2/introspect", ClientID: "api", ClientSecret: "secret"}
	tests := []struct {
		name    string
		mutate  func(*IntrospectionCheckerConfig)
		wantErr string
	}{
		{name: "Good", mutate: func(*IntrospectionCheckerConfig) {}},
		{name: "HTTPForLocalDevelopment", mutate: func(c *IntrospectionCheckerConfig) { c.URL = "http://127.0.0.1:8080/oauth2/introspect" }},
		{name: "CacheDisabled", mutate: func(c *IntrospectionCheckerConfig) { c.CacheTTL, c.CacheSize = -1, -1 }},
		{name: "NoURL", mutate: func(c *IntrospectionCheckerConfig) { c.URL = "" }, wantErr: "URL is required"},
		{name: "RelativeURL", mutate: func(c *IntrospectionCheckerConfig) { c.URL = "/oauth2/introspect" }, wantErr: "must be an http(s) URL"},
		{name: "OtherScheme", mutate: func(c *IntrospectionCheckerConfig) { c.URL = "ftp://as.example.test/x" }, wantErr: "must be an http(s) URL"},
		{name: "UserInfo", mutate: func(c *IntrospectionCheckerConfig) { c.URL = "https://u:p@as.example.test/x" }, wantErr: "must be an http(s) URL"},
		{name: "Fragment", mutate: func(c *IntrospectionCheckerConfig) { c.URL = "https://as.example.test/x#y" }, wantErr: "must be an http(s) URL"},
		{name: "Unparsable", mutate: func(c *IntrospectionCheckerConfig) { c.URL = "https://as.example.test/%zz" }, wantErr: "must be an http(s) URL"},
		{name: "NoClientID", mutate: func(c *IntrospectionCheckerConfig) { c.ClientID = "" }, wantErr: "ClientID is required"},
		{name: "NoSecret", mutate: func(c *IntrospectionCheckerConfig) { c.ClientSecret = "" }, wantErr: "ClientSecret is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			_, err := NewIntrospectionChecker(cfg)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("NewIntrospectionChecker() error = %v, want %q", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "oauth2: ") {
				t.Errorf("NewIntrospectionChecker() error = %q, want it to start with \"oauth2: \"", err)
			}
		})
	}
}

// The HTTPClient given is used as it is, never modified, even though the
// checker refuses redirects.
func TestNewIntrospectionCheckerLeavesTheClientAlone(t *testing.T) {
	hc := &http.Client{}
	if _, err := NewIntrospectionChecker(IntrospectionCheckerConfig{URL: "https://as.example.test/x", ClientID: "api", ClientSecret: "s", HTTPClient: hc}); err != nil {
		t.Fatal(err)
	}
	if hc.CheckRedirect != nil {
		t.Errorf("Got(HTTPClient.CheckRedirect) set, want the caller's client unmodified")
	}
}
