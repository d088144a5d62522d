package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The same parameters for every peer, so that the figures compare the
// libraries rather than their configurations.
const (
	issuerURL      = "http://bench.example"
	clientID       = "bench-client" // confidential: client_secret_basic
	clientSecret   = "bench-secret"
	publicClientID = "bench-public" // public: client_id in the body, no secret
	otherClientID  = "bench-other"  // another confidential client, same secret
	username       = "alice"
	password       = "wonderland"
	scope          = "profile"
	accessTokenTTL = 15 * time.Minute
	refreshTTL     = 14 * 24 * time.Hour
	// hashCost is the bcrypt cost of the client secret and the user's
	// password on every peer. fosite compares client secrets with bcrypt
	// only, so bcrypt it is everywhere. Even the minimum cost is about a
	// millisecond, most of a confidential client's refresh, which is why
	// BenchmarkRefreshGrantPublicClient exists.
	hashCost = bcrypt.MinCost
)

// peer is one library serving the two endpoints the workloads use, behind
// an in-process HTTP server.
type peer struct {
	tokenURL string       // POST: password and refresh_token grants
	apiURL   string       // GET: protected route needing scope "profile"
	client   *http.Client // keeps connections alive to this server only
}

// peerSetup builds a peer and registers its teardown with tb.Cleanup.
type peerSetup struct {
	name string
	new  func(tb testing.TB, o options) *peer
}

// options are test hooks; the benchmarks use none.
type options struct {
	// afterRefreshRead, when set, is called by the peer's token store each
	// time it has read a refresh token's record, before the library acts
	// on what it read. Tests use it to make concurrent refreshes of one
	// token interleave the way network latency to a real store would.
	afterRefreshRead func()
}

// hook calls afterRefreshRead if it is set.
func (o options) hook() {
	if o.afterRefreshRead != nil {
		o.afterRefreshRead()
	}
}

// peers lists the libraries in the order benchstat shows them; oauth2kit
// first, so the ratios are relative to it.
var peers = []peerSetup{
	{"oauth2kit", newOAuth2kit},
	{"gooauth2", newGoOAuth2},
	{"fosite", newFosite},
}

// serve starts h on a loopback listener and returns a peer talking to it.
func serve(tb testing.TB, h http.Handler, tokenPath, apiPath string) *peer {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	// Enough idle connections for the parallel benchmarks, so that every
	// request reuses a kept-alive connection instead of dialling.
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	tb.Cleanup(tr.CloseIdleConnections)
	return &peer{
		tokenURL: srv.URL + tokenPath,
		apiURL:   srv.URL + apiPath,
		client:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}
}

// bcryptHash hashes secret at hashCost.
func bcryptHash(tb testing.TB, secret string) string {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), hashCost)
	if err != nil {
		tb.Fatal(err)
	}
	return string(h)
}

// tokens is the part of a token response (RFC 6749 §5.1) the workloads use.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// postToken sends a token request as client id, with client_secret_basic
// credentials, or with client_id in the body when secret is empty (a public
// client). It returns the status and the decoded body, failing tb on a
// transport error.
func (p *peer) postToken(tb testing.TB, id, secret string, form url.Values) (int, tokens) {
	tb.Helper()
	status, t, err := p.tryToken(id, secret, form)
	if err != nil {
		tb.Fatal(err)
	}
	return status, t
}

// tryToken is postToken for any goroutine: it returns transport and
// decoding errors. It reads the body to the end so the connection is reused.
func (p *peer) tryToken(id, secret string, form url.Values) (int, tokens, error) {
	var t tokens
	if secret == "" {
		form = maps.Clone(form)
		form.Set("client_id", id)
	}
	req, err := http.NewRequest(http.MethodPost, p.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, t, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, t, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, t, err
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return resp.StatusCode, t, fmt.Errorf("token endpoint answered %d with %q: %w", resp.StatusCode, body, err)
	}
	return resp.StatusCode, t, nil
}

// passwordGrant logs alice in through the confidential client.
func (p *peer) passwordGrant(tb testing.TB) tokens {
	tb.Helper()
	return p.passwordGrantAs(tb, clientID, clientSecret)
}

// passwordGrantAs logs alice in through client id.
func (p *peer) passwordGrantAs(tb testing.TB, id, secret string) tokens {
	tb.Helper()
	status, t := p.postToken(tb, id, secret, url.Values{
		"grant_type": {"password"}, "username": {username}, "password": {password}, "scope": {scope},
	})
	if status != http.StatusOK || t.AccessToken == "" || t.RefreshToken == "" {
		tb.Fatalf("password grant: status %d, error %q, access token %t, refresh token %t",
			status, t.Error, t.AccessToken != "", t.RefreshToken != "")
	}
	return t
}

// refresh redeems rt with the given client credentials.
func (p *peer) refresh(tb testing.TB, id, secret, rt string) (int, tokens) {
	tb.Helper()
	return p.postToken(tb, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// get calls the protected route with access token at and returns the
// status, reading the body to the end. It returns an error rather than
// failing tb, since the parallel benchmark calls it off the test goroutine.
func (p *peer) get(at string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, p.apiURL, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// mustGet is get for the test goroutine.
func (p *peer) mustGet(tb testing.TB, at string) int {
	tb.Helper()
	status, err := p.get(at)
	if err != nil {
		tb.Fatal(err)
	}
	return status
}

// protectedOK is the protected route's own handler on every peer: 200 and
// a tiny body, once the library has let the request through.
func protectedOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok\n")
}

// hasScope reports whether the space-separated list granted holds want.
func hasScope(granted, want string) bool {
	for s := range strings.FieldsSeq(granted) {
		if s == want {
			return true
		}
	}
	return false
}
