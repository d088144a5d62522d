package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

func TestParseFlags(t *testing.T) {
	t.Setenv(kekEnv, "") // TestUnencryptedKeysRefused covers the key
	defaults := config{
		addr:       "127.0.0.1:8080",
		issuer:     "http://127.0.0.1:8080",
		storeURL:   "memory://",
		accessTTL:  15 * time.Minute,
		refreshTTL: 14 * 24 * time.Hour,
		leeway:     30 * time.Second,
		alg:        "EdDSA",

		throttleDelay: time.Second,
	}
	with := func(change func(*config)) config {
		c := defaults
		change(&c)
		return c
	}
	tests := []struct {
		name    string
		args    []string
		want    config
		wantErr string // substring of the error; "" means success
	}{
		{name: "defaults", args: nil, want: defaults},
		{
			name: "issuer defaults from addr",
			args: []string{"-addr", "127.0.0.1:9999"},
			want: with(func(c *config) { c.addr, c.issuer = "127.0.0.1:9999", "http://127.0.0.1:9999" }),
		},
		{
			name: "wildcard addr gives a localhost issuer",
			args: []string{"-addr", ":9000"},
			want: with(func(c *config) { c.addr, c.issuer = ":9000", "http://localhost:9000" }),
		},
		{
			name: "explicit issuer",
			args: []string{"-issuer", "https://auth.example.com/tenant"},
			want: with(func(c *config) { c.issuer, c.issuerSet = "https://auth.example.com/tenant", true }),
		},
		{
			name: "durations",
			args: []string{"-access-ttl", "5m", "-refresh-ttl", "24h", "-leeway", "0"},
			want: with(func(c *config) { c.accessTTL, c.refreshTTL, c.leeway = 5*time.Minute, 24*time.Hour, 0 }),
		},
		{name: "memory store", args: []string{"-store", "memory://"}, want: defaults},
		{name: "alg EdDSA", args: []string{"-alg", "EdDSA"}, want: defaults},
		{name: "refresh grace", args: []string{"-refresh-grace", "10s"}, want: with(func(c *config) { c.refreshGrace = 10 * time.Second })},
		{name: "refresh grace negative", args: []string{"-refresh-grace", "-1s"}, wantErr: "refresh-grace"},
		{name: "throttle delay", args: []string{"-throttle-delay", "1m"}, want: with(func(c *config) { c.throttleDelay = time.Minute })},
		{name: "throttle delay zero", args: []string{"-throttle-delay", "0"}, wantErr: "throttle-delay"},
		{
			name: "trusted proxies",
			args: []string{"-trusted-proxies", "10.0.0.0/8, 192.0.2.7,2001:db8::/32"},
			want: with(func(c *config) {
				c.trustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
			}),
		},
		{name: "trusted proxies malformed", args: []string{"-trusted-proxies", "10.0.0.0/8,proxy.internal"}, wantErr: "proxy.internal"},
		{name: "alg ES256", args: []string{"-alg", "ES256"}, want: with(func(c *config) { c.alg = "ES256" })},
		{name: "alg RS256", args: []string{"-alg", "RS256"}, want: with(func(c *config) { c.alg = "RS256" })},
		// A shared secret would have to be published in the JWKS for
		// anyone to verify with it, and then anyone could sign.
		{name: "alg HS256", args: []string{"-alg", "HS256"}, wantErr: "want EdDSA, ES256 or RS256"},
		{name: "alg garbage", args: []string{"-alg", "none"}, wantErr: "want EdDSA, ES256 or RS256"},
		{name: "alg case matters", args: []string{"-alg", "es256"}, wantErr: "want EdDSA, ES256 or RS256"},
		{name: "alg empty", args: []string{"-alg", ""}, wantErr: "want EdDSA, ES256 or RS256"},

		{
			name: "redis store",
			args: []string{"-store", "redis://localhost:6379/0", "-allow-unencrypted-keys"},
			want: with(func(c *config) { c.storeURL, c.allowUnencryptedKeys = "redis://localhost:6379/0", true }),
		},
		{
			name: "postgres store",
			args: []string{"-store", "postgres://u:p@localhost/oauth2", "-allow-unencrypted-keys"},
			want: with(func(c *config) { c.storeURL, c.allowUnencryptedKeys = "postgres://u:p@localhost/oauth2", true }),
		},
		{name: "bad redis db", args: []string{"-store", "redis://localhost:6379/x"}, wantErr: "bad Redis URL"},
		{name: "bad postgres option", args: []string{"-store", "postgres://localhost/db?sslmode=sometimes"}, wantErr: "bad PostgreSQL URL"},
		{name: "unknown store scheme", args: []string{"-store", "mysql://localhost"}, wantErr: `unsupported store "mysql://"`},
		{name: "store without scheme", args: []string{"-store", "localhost:6379"}, wantErr: "want a URL such as memory://"},
		{name: "memory store with a path", args: []string{"-store", "memory://host/x"}, wantErr: "memory:// takes no host"},
		{name: "negative access ttl", args: []string{"-access-ttl", "-1m"}, wantErr: "-access-ttl: must not be negative"},
		{name: "negative refresh ttl", args: []string{"-refresh-ttl", "-1h"}, wantErr: "-refresh-ttl: must not be negative"},
		{name: "negative leeway", args: []string{"-leeway", "-1s"}, wantErr: "-leeway: must not be negative"},
		{name: "leeway above MaxLeeway", args: []string{"-leeway", "5m1s"}, wantErr: "-leeway: must be at most 5m0s"},
		{name: "zero access ttl", args: []string{"-access-ttl", "0"}, wantErr: "-access-ttl: must be positive"},
		{name: "duration without unit", args: []string{"-leeway", "30"}, wantErr: "want a Go duration"},
		{name: "issuer not http", args: []string{"-issuer", "ftp://example.com"}, wantErr: "want an http:// or https:// URL"},
		{name: "issuer relative", args: []string{"-issuer", "example.com"}, wantErr: "want an http:// or https:// URL"},
		{name: "issuer with query", args: []string{"-issuer", "https://example.com/?a=b"}, wantErr: "no query or fragment"},
		{name: "issuer with fragment", args: []string{"-issuer", "https://example.com/#x"}, wantErr: "no query or fragment"},
		{name: "addr without port", args: []string{"-addr", "127.0.0.1"}, wantErr: "want host:port"},
		{name: "addr with bad port", args: []string{"-addr", "127.0.0.1:99999"}, wantErr: "not a number from 0 to 65535"},
		{name: "unknown flag", args: []string{"-port", "80"}, wantErr: "flag provided but not defined"},
		{name: "positional argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, err := parseFlags(tt.args, &stderr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseFlags(%q) error = %v, want nil", tt.args, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("parseFlags(%q) = %+v, want %+v", tt.args, got, tt.want)
				}
				return
			}
			wantUsageError(t, tt.args, err, stderr.String(), tt.wantErr)
		})
	}
}

// On Redis, PostgreSQL or SQLite the private signing keys leave the process, so
// they must be sealed under a key-encryption key unless the operator says
// otherwise; in memory they never leave it and need neither.
func TestUnencryptedKeysRefused(t *testing.T) {
	kek := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name    string
		env     string // the value of OAUTH2KIT_KEY_ENCRYPTION_KEY; "" means unset
		args    []string
		wantErr string // substring of the error; "" means success
	}{
		{name: "memory by default", args: nil},
		{name: "memory", args: []string{"-store", "memory://"}},
		{name: "redis without a key", args: []string{"-store", "redis://localhost:6379/0"}, wantErr: "set " + kekEnv},
		{name: "rediss without a key", args: []string{"-store", "rediss://localhost:6379/0"}, wantErr: "set " + kekEnv},
		{name: "postgres without a key", args: []string{"-store", "postgres://u:p@localhost/oauth2"}, wantErr: "set " + kekEnv},
		{name: "postgresql without a key", args: []string{"-store", "postgresql://u:p@localhost/oauth2"}, wantErr: "set " + kekEnv},
		{name: "redis with a key", env: kek, args: []string{"-store", "redis://localhost:6379/0"}},
		{name: "postgres with a key", env: kek, args: []string{"-store", "postgres://u:p@localhost/oauth2"}},
		{name: "redis allowed unencrypted", args: []string{"-store", "redis://localhost:6379/0", "-allow-unencrypted-keys"}},
		{name: "postgres allowed unencrypted", args: []string{"-allow-unencrypted-keys", "-store", "postgres://u:p@localhost/oauth2"}},
		{name: "malformed key", env: "c2hvcnQ=", args: []string{"-store", "redis://localhost:6379/0"}, wantErr: kekEnv + " must be 32 bytes"},
		{name: "malformed key on memory", env: "not base64!", args: nil, wantErr: kekEnv + " must be 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(kekEnv, tt.env)
			var stderr bytes.Buffer
			_, err := parseFlags(tt.args, &stderr)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("parseFlags(%q) with %s=%q error = %v, want nil", tt.args, kekEnv, tt.env, err)
				}
				return
			}
			wantUsageError(t, tt.args, err, stderr.String(), tt.wantErr)
			if strings.Contains(tt.wantErr, "set ") && !strings.Contains(err.Error(), "-allow-unencrypted-keys") {
				t.Errorf("parseFlags(%q) error = %v, want it to name -allow-unencrypted-keys too", tt.args, err)
			}
		})
	}
}

// TestRunRefusesUnencryptedKeys checks that the refusal comes before the
// store is even dialled, so nothing can have been written to it: the
// address given refuses connections, and the error must not say so.
func TestRunRefusesUnencryptedKeys(t *testing.T) {
	t.Setenv(kekEnv, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, storeURL := range []string{"redis://" + addr + "/0", "postgres://u:p@" + addr + "/oauth2?sslmode=disable"} {
		var stderr bytes.Buffer
		err := run(t.Context(), []string{"-store", storeURL}, io.Discard, &stderr, nil)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), kekEnv) {
			t.Errorf("run(-store %s) = %v (exit %d), want the refusal naming %s with exit code 2", storeURL, err, exitCode(err), kekEnv)
		}
		if !strings.Contains(stderr.String(), kekEnv) {
			t.Errorf("run(-store %s) stderr = %q, want the refusal", storeURL, stderr.String())
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "success", err: nil, want: 0},
		{name: "help", err: usageError{flag.ErrHelp}, want: 0},
		{name: "usage", err: usageError{errors.New("bad flag")}, want: 2},
		{name: "failure", err: errors.New("listen tcp: address already in use"), want: 1},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestRunHelp(t *testing.T) {
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"-h"}, io.Discard, &stderr, nil)
	if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
		t.Errorf("run(-h) = %v, want flag.ErrHelp with exit code 0", err)
	}
	for _, name := range []string{"-addr", "-issuer", "-store", "-access-ttl", "-refresh-ttl", "-leeway", "-alg", "-allow-unencrypted-keys"} {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("usage does not mention %s:\n%s", name, stderr.String())
		}
	}
}

func TestRunAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(t.Context(), []string{"-addr", ln.Addr().String()}, io.Discard, t.Output(), nil)
	if err == nil || exitCode(err) != 1 {
		t.Errorf("run on a busy address = %v, want an error with exit code 1", err)
	}
}

// testServer is the real server, started by run on a free port.
type testServer struct {
	url    string // http://127.0.0.1:port
	stdout string // what run printed before it was ready
	stop   func() error
}

func startServer(t *testing.T, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var stdout bytes.Buffer
	ready := make(chan string, 1)
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		args := append([]string{"-addr", "127.0.0.1:0"}, args...)
		runErr = run(ctx, args, &stdout, t.Output(), func(addr string) { ready <- addr })
	}()
	t.Cleanup(func() { cancel(); <-done })

	var addr string
	select {
	case addr = <-ready:
	case <-done:
		t.Fatalf("run() = %v before serving", runErr)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready after 30s")
	}
	stop := func() error {
		cancel()
		select {
		case <-done:
			return runErr
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Fatal("run did not return after its context was cancelled")
			return nil
		}
	}
	// ready is called after the commands are printed, so stdout is complete.
	return &testServer{url: "http://" + addr, stdout: stdout.String(), stop: stop}
}

func TestServerEndToEnd(t *testing.T) {
	t.Parallel()
	srv := startServer(t, throttleArgs...)
	client := &http.Client{Timeout: 10 * time.Second}

	for _, want := range []string{
		"'" + srv.url + "/oauth2/token'",
		"'" + srv.url + "/api/me'",
		"'" + srv.url + "/oauth2/revoke'",
		"'" + srv.url + "/oauth2/introspect'",
		"'" + srv.url + "/.well-known/jwks.json'",
		"'" + srv.url + "/.well-known/oauth-authorization-server'",
		"-u demo-client:demo-secret",
	} {
		if !strings.Contains(srv.stdout, want) {
			t.Errorf("printed commands lack %s:\n%s", want, srv.stdout)
		}
	}

	// Password grant for alice through demo-client, authenticated with Basic.
	status, first, _ := tokenRequest(t, client, srv.url, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"},
	})
	if status != http.StatusOK || first.AccessToken == "" || first.RefreshToken == "" {
		t.Fatalf("password grant: status %d, response %+v; want 200 with both tokens", status, first)
	}
	if first.TokenType != "Bearer" || first.Scope != "profile" {
		t.Errorf("password grant: token_type %q, scope %q; want Bearer, profile (the client's default)", first.TokenType, first.Scope)
	}

	if status, body := getMe(t, client, srv.url, first.AccessToken); status != http.StatusOK || body["sub"] != "alice" || body["scope"] != "profile" {
		t.Errorf("GET /api/me = %d %v, want 200 with sub alice, scope profile", status, body)
	}

	// alice may not have admin, though the client may ask for it.
	status, _, code := tokenRequest(t, client, srv.url, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}, "scope": {"admin"},
	})
	if status != http.StatusBadRequest || code != "invalid_scope" {
		t.Errorf("password grant with scope admin: %d %q, want 400 invalid_scope", status, code)
	}

	status, second, _ := tokenRequest(t, client, srv.url, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken},
	})
	if status != http.StatusOK || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh: status %d, response %+v; want 200 with a new refresh token", status, second)
	}
	if status, body := getMe(t, client, srv.url, second.AccessToken); status != http.StatusOK || body["sub"] != "alice" {
		t.Errorf("GET /api/me with the refreshed token = %d %v, want 200 with sub alice", status, body)
	}

	// Revoking the current refresh token revokes the grant, and with it
	// every access token issued under it, the first one included.
	resp := postForm(t, client, srv.url+oauth2.RevocationPath, url.Values{"token": {second.RefreshToken}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("revoke: status %d, want 200", resp.StatusCode)
	}
	for name, tok := range map[string]string{"first": first.AccessToken, "refreshed": second.AccessToken} {
		status, _ := getMe(t, client, srv.url, tok)
		if status != http.StatusUnauthorized {
			t.Errorf("GET /api/me with the %s access token after revocation = %d, want 401", name, status)
		}
	}

	// Step 11 of the walk-through: five wrong passwords from one address,
	// then even the right one waits (a minute here, see throttleArgs).
	for i := range 5 {
		status, _, code := tokenRequest(t, client, srv.url, url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {fmt.Sprintf("guess%d", i+1)},
		})
		if status != http.StatusBadRequest || code != "invalid_grant" {
			t.Fatalf("wrong password %d: %d %q, want 400 invalid_grant", i+1, status, code)
		}
	}
	resp = postForm(t, client, srv.url+oauth2.TokenPath, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"},
	})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Errorf("right password after five wrong ones: %d, Retry-After %q; want 429, 60", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	if err := srv.stop(); err != nil {
		t.Errorf("run() = %v after its context was cancelled, want nil", err)
	}
	if _, err := client.Get(srv.url + oauth2.JWKSPath); err == nil {
		t.Error("server still answers after run returned")
	}
}

// TestServerSigningAlgorithm checks that -alg reaches the tokens the
// running server issues and the JWKS clients verify them with.
func TestServerSigningAlgorithm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantAlg string
		wantKty string
	}{
		{name: "default", args: nil, wantAlg: "EdDSA", wantKty: "OKP"},
		{name: "ES256", args: []string{"-alg", "ES256"}, wantAlg: "ES256", wantKty: "EC"},
		{name: "RS256", args: []string{"-alg", "RS256"}, wantAlg: "RS256", wantKty: "RSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tt.args...)
			client := &http.Client{Timeout: 10 * time.Second}
			status, tok, _ := tokenRequest(t, client, srv.url, url.Values{
				"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"},
			})
			if status != http.StatusOK {
				t.Fatalf("password grant: status %d, want 200", status)
			}
			header := jwsHeader(t, tok.AccessToken)
			if header.Alg != tt.wantAlg {
				t.Errorf("jwsHeader(access token).alg = %q, want %q", header.Alg, tt.wantAlg)
			}
			if status, _ := getMe(t, client, srv.url, tok.AccessToken); status != http.StatusOK {
				t.Errorf("GET /api/me = %d, want 200", status)
			}

			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.url+oauth2.JWKSPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			var jwks struct {
				Keys []struct {
					Kty string `json:"kty"`
					Kid string `json:"kid"`
					Alg string `json:"alg"`
				} `json:"keys"`
			}
			if resp := do(t, client, req); json.Unmarshal(resp.body, &jwks) != nil {
				t.Fatalf("GET %s: %s is not a JWK set", oauth2.JWKSPath, resp.body)
			}
			found := false
			for _, k := range jwks.Keys {
				if k.Kid == header.Kid {
					found = true
					if k.Alg != tt.wantAlg || k.Kty != tt.wantKty {
						t.Errorf("JWKS key %q: alg %q, kty %q; want %q, %q", k.Kid, k.Alg, k.Kty, tt.wantAlg, tt.wantKty)
					}
				}
			}
			if !found {
				t.Errorf("JWKS = %+v, want the key %q the token names", jwks.Keys, header.Kid)
			}
		})
	}
}

type joseHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// jwsHeader decodes the protected header of a compact JWS.
func jwsHeader(t *testing.T, token string) joseHeader {
	t.Helper()
	first, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(first)
	if err != nil {
		t.Fatalf("jwsHeader(%q): %v", token, err)
	}
	var h joseHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("jwsHeader(%q): %s: %v", token, raw, err)
	}
	return h
}

// throttleArgs make the first throttling wait a minute rather than the
// default second: the wait runs from when the fifth failure was counted,
// before its password was checked, and on a loaded machine checking it can
// take longer than a second, so that the next attempt no longer waits.
var throttleArgs = []string{"-throttle-delay", "1m"}

// TestPrintedCommands pastes the printed walk-through into a shell, as a
// user would, and checks each step's answer.
func TestPrintedCommands(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sh", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	srv := startServer(t, throttleArgs...)
	start := strings.Index(srv.stdout, "# 1.")
	if start < 0 {
		t.Fatalf("no numbered steps in:\n%s", srv.stdout)
	}
	cmd := exec.CommandContext(t.Context(), "sh", "-e", "-c", srv.stdout[start:])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running the printed commands: %v\n%s", err, out)
	}
	for _, want := range []string{
		`"scope":"profile email"}`,                   // 1. password grant
		`{"sub":"alice","scope":"profile email"}`,    // 2. /api/me
		`{"error":"invalid_scope"`,                   // 3. admin
		`{"active":true,`,                            // 5. introspection
		"\n200\n",                                    // 6. revocation
		"401 Unauthorized",                           // 7. /api/me after revocation
		`error="invalid_token"`,                      //
		`"crv":"Ed25519"`,                            // 8. JWKS
		`"issuer":"` + srv.url + `"`,                 //    and metadata
		`"token_endpoint":"` + srv.url + `/oauth2/t`, //
		`"client_id":"demo-client"`,                  // 9. sessions: both listed,
		`"client_id":"demo-public"`,                  //
		`"current":true}]`,                           //    the asking one last and current
		"\n204\n401\n",                               // 10. signed out everywhere
		"400 400 400 400 400",                        // 11. brute force
		"429 Too Many Requests",                      //
		"Retry-After: 60",                            //
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output of the printed commands lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "curl:") {
		t.Errorf("curl reported an error:\n%s", out)
	}
}

func TestHandlerRoutes(t *testing.T) {
	cfg := config{issuer: "http://auth.test", accessTTL: time.Minute, refreshTTL: time.Hour}
	h, _, err := newHandler(t.Context(), cfg, memstore.New(), slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantHeader string // a header that must be set, as "Name: value-prefix"
	}{
		{name: "me without a token", method: http.MethodGet, path: "/api/me", wantStatus: 401, wantHeader: "WWW-Authenticate: Bearer"},
		{name: "me with POST", method: http.MethodPost, path: "/api/me", wantStatus: 405, wantHeader: "Allow: GET"},
		{name: "jwks", method: http.MethodGet, path: "/.well-known/jwks.json", wantStatus: 200, wantHeader: "Content-Type: application/jwk-set+json"},
		{name: "metadata", method: http.MethodGet, path: "/.well-known/oauth-authorization-server", wantStatus: 200, wantHeader: "Content-Type: application/json"},
		{name: "token with GET", method: http.MethodGet, path: "/oauth2/token", wantStatus: 405, wantHeader: "Allow: POST"},
		{name: "metrics", method: http.MethodGet, path: "/metrics", wantStatus: 200, wantHeader: "Content-Type: text/plain"},
		{name: "unknown path", method: http.MethodGet, path: "/nope", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.wantStatus)
			}
			if tt.wantHeader != "" {
				name, prefix, _ := strings.Cut(tt.wantHeader, ": ")
				if got := rec.Header().Get(name); !strings.HasPrefix(got, prefix) {
					t.Errorf("%s %s: %s = %q, want prefix %q", tt.method, tt.path, name, got, prefix)
				}
			}
		})
	}
}

func TestEndpointsFollowIssuerPath(t *testing.T) {
	meta := oauth2.Metadata{
		Issuer:        "https://auth.example.com/tenant",
		TokenEndpoint: "https://auth.example.com/tenant/oauth2/token",
	}
	e := endpointsOf(meta)
	if want := "https://auth.example.com/.well-known/oauth-authorization-server/tenant"; e.metadata != want {
		t.Errorf("endpointsOf(%q).metadata = %q, want %q", meta.Issuer, e.metadata, want)
	}
	if want := "https://auth.example.com/api/me"; e.api != want {
		t.Errorf("endpointsOf(%q).api = %q, want %q", meta.Issuer, e.api, want)
	}
	if want := meta.TokenEndpoint; e.token != want {
		t.Errorf("endpointsOf(%q).token = %q, want %q", meta.Issuer, e.token, want)
	}
}

// tokenRequest posts form to the token endpoint as demo-client (Basic) and
// returns the status with either the tokens or the OAuth error code.
func tokenRequest(t *testing.T, client *http.Client, base string, form url.Values) (status int, tok oauth2.TokenResponse, errCode string) {
	t.Helper()
	resp := postForm(t, client, base+oauth2.TokenPath, form)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(resp.body, &tok); err != nil {
			t.Fatalf("token response %s: %v", resp.body, err)
		}
		return resp.StatusCode, tok, ""
	}
	var oauthErr struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(resp.body, &oauthErr); err != nil {
		t.Fatalf("token error response %s: %v", resp.body, err)
	}
	return resp.StatusCode, tok, oauthErr.Error
}

type response struct {
	*http.Response
	body []byte
}

// postForm posts form to u as demo-client, authenticated with HTTP Basic.
func postForm(t *testing.T, client *http.Client, u string, form url.Values) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demoClientID, demoClientSecret)
	return do(t, client, req)
}

// getMe calls /api/me with token and decodes the JSON answer, if any.
func getMe(t *testing.T, client *http.Client, base, token string) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp := do(t, client, req)
	var body map[string]string
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(resp.body, &body); err != nil {
			t.Fatalf("GET /api/me: %s: %v", resp.body, err)
		}
	}
	return resp.StatusCode, body
}

func do(t *testing.T, client *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return response{resp, body}
}

// wantUsageError checks that parseFlags refused args as the flag package
// refuses a bad flag: an error containing wantErr, exit code 2, and the
// error and the usage on stderr.
func wantUsageError(t *testing.T, args []string, err error, stderr, wantErr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("parseFlags(%q) error = %v, want one containing %q", args, err, wantErr)
	}
	if code := exitCode(err); code != 2 {
		t.Errorf("exitCode(%v) = %d, want 2", err, code)
	}
	if !strings.Contains(stderr, wantErr) || !strings.Contains(stderr, "Usage:") {
		t.Errorf("stderr = %q, want the error and the usage", stderr)
	}
}

// TestServerRefreshGrace runs the README's -refresh-grace commands: within
// the window the old refresh token gets the same successor again; once the
// successor is used, the old one is reuse.
func TestServerRefreshGrace(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "-refresh-grace", "1m")
	client := &http.Client{Timeout: 10 * time.Second}
	_, first, _ := tokenRequest(t, client, srv.url, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"},
	})
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}
	_, second, _ := tokenRequest(t, client, srv.url, refresh)
	status, again, code := tokenRequest(t, client, srv.url, refresh)
	if status != http.StatusOK || again.RefreshToken != second.RefreshToken || second.RefreshToken == "" {
		t.Fatalf("old refresh token again within the window: %d %q, refresh token %q; want 200 with %q", status, code, again.RefreshToken, second.RefreshToken)
	}
	if status, _, code := tokenRequest(t, client, srv.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}}); status != http.StatusOK {
		t.Fatalf("successor: %d %q, want 200", status, code)
	}
	if status, _, code := tokenRequest(t, client, srv.url, refresh); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Errorf("old refresh token after its successor was used: %d %q, want 400 invalid_grant", status, code)
	}
}
