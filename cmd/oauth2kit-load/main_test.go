package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/oauth2"
	"github.com/oauth2kit/oauth2kit/store"
)

const (
	testClientID     = "load-client"
	testClientSecret = "load-secret"
	testPublicClient = "load-public"
	testUsername     = "alice"
	testPassword     = "wonderland"
)

// newServer starts the demo server's routes built with the SDK, as the
// README's embedding example does, on hashes cheap enough for a test.
// seen, if any, is called with every request first.
func newServer(t *testing.T, seen ...func(*http.Request)) *httptest.Server {
	t.Helper()
	srv, _ := startServer(t, serverOptions{seen: seen})
	return srv
}

// serverOptions are what a test server changes from the demo's settings.
type serverOptions struct {
	throttle oauth2.ThrottleConfig
	now      func() time.Time // nil: time.Now
	seen     []func(*http.Request)
}

// throttledKey marks the context of a request of the throttled mix sent
// by the attack (vegeta names its attack in X-Vegeta-Attack), so that
// what the server does for those alone is counted, not the priming.
type throttledKey struct{}

func isThrottled(ctx context.Context) bool { return ctx.Value(throttledKey{}) != nil }

// serverCounts is what the server did for the throttled mix's requests.
type serverCounts struct {
	requests       atomic.Int64
	getAttempts    atomic.Int64 // store round trips reading attempt counts
	addFailures    atomic.Int64
	passwordChecks atomic.Int64
	clientLookups  atomic.Int64 // a client secret check starts with one
}

// startServer is newServer with options, and the counts of the throttled
// mix's requests.
func startServer(t *testing.T, opts serverOptions) (*httptest.Server, *serverCounts) {
	t.Helper()
	counts := &serverCounts{}
	mux := http.NewServeMux()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, f := range opts.seen {
			f(r)
		}
		if r.Header.Get("X-Vegeta-Attack") != "" && r.URL.Path == tokenPath {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if strings.Contains(string(body), "username="+throttledUsername) {
				counts.requests.Add(1)
				r = r.WithContext(context.WithValue(r.Context(), throttledKey{}, true))
			}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	now := opts.now
	if now == nil {
		now = time.Now
	}
	cheap := oauth2.Argon2Params{Memory: oauth2test.Argon2Memory, Time: oauth2test.Argon2Time, Threads: oauth2test.Argon2Threads}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	secretHash, err := oauth2.HashPasswordWith(testClientSecret, cheap)
	must(err)
	passwordHash, err := oauth2.HashPasswordWith(testPassword, cheap)
	must(err)
	key, err := oauth2.GenerateKey(oauth2.EdDSA)
	must(err)
	keys := oauth2.NewKeySet(key)
	st := countingStore{memstore.New(memstore.WithClock(now)), counts}
	grants := []string{oauth2.GrantPassword, oauth2.GrantRefreshToken}
	clients, err := oauth2.NewStaticClients(
		oauth2.Client{ID: testClientID, SecretHash: secretHash, GrantTypes: grants, Scopes: []string{"profile", "email"}},
		oauth2.Client{ID: testPublicClient, GrantTypes: grants, Scopes: []string{"profile", "email"}},
	)
	must(err)
	users, err := oauth2.NewStaticUsers(oauth2.StaticUser{Username: testUsername, PasswordHash: passwordHash, Scopes: []string{"profile", "email"}})
	must(err)
	issuer, err := oauth2.NewIssuer(oauth2.IssuerConfig{
		Issuer:   srv.URL,
		Keys:     keys,
		Store:    st,
		Clients:  countingClients{clients, counts},
		Users:    countingUsers{users, counts},
		Throttle: opts.throttle,
		Now:      now,
	})
	must(err)
	verifier, err := oauth2.NewVerifier(oauth2.VerifierConfig{Issuer: srv.URL, Audience: srv.URL, Keys: keys, Revocations: st, Now: now})
	must(err)

	mux.Handle("GET /api/me", verifier.RequireToken("profile")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := oauth2.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, `{"sub":%q}`, claims.Subject)
	})))
	mux.HandleFunc("GET /api/ping", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"ok":true}`)
	})
	mux.Handle("/", issuer.Handler())
	return srv, counts
}

// countingStore, countingClients and countingUsers count the calls made
// for the throttled mix's requests.
type countingStore struct {
	*memstore.Store
	counts *serverCounts
}

func (s countingStore) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	if isThrottled(ctx) {
		s.counts.getAttempts.Add(1)
	}
	return s.Store.GetAttempts(ctx, keys...)
}

func (s countingStore) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	if isThrottled(ctx) {
		s.counts.addFailures.Add(1)
	}
	return s.Store.AddFailure(ctx, key, expiresAt)
}

type countingClients struct {
	oauth2.ClientRegistry
	counts *serverCounts
}

func (c countingClients) LookupClient(ctx context.Context, id string) (*oauth2.Client, error) {
	if isThrottled(ctx) {
		c.counts.clientLookups.Add(1)
	}
	return c.ClientRegistry.LookupClient(ctx, id)
}

type countingUsers struct {
	oauth2.UserAuthenticator
	counts *serverCounts
}

func (u countingUsers) Authenticate(ctx context.Context, username, password string) (*oauth2.User, error) {
	if isThrottled(ctx) {
		u.counts.passwordChecks.Add(1)
	}
	return u.UserAuthenticator.Authenticate(ctx, username, password)
}

// runLoad runs the tool against srv for a second at 100 requests/s with
// -json and the arguments given, and returns the decoded report, the raw
// output and run's error.
func runLoad(t *testing.T, srv *httptest.Server, args ...string) (*report, []byte, error) {
	t.Helper()
	all := append([]string{
		"-url", srv.URL, "-client-id", testClientID, "-client-secret", testClientSecret,
		"-rate", "100", "-duration", "1s", "-json",
	}, args...)
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), all, &stdout, &stderr)
	if stdout.Len() == 0 {
		return nil, nil, err
	}
	var rep report
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("the -json output does not parse: %v\n%s", jerr, stdout.Bytes())
	}
	return &rep, stdout.Bytes(), err
}

func TestMixes(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name string
		args []string
		want map[string]int // weights of the mixes expected in the report
	}{
		{name: "me", args: []string{"-mix", "me"}, want: map[string]int{"me": 1}},
		{name: "password", args: []string{"-mix", "password"}, want: map[string]int{"password": 1}},
		{name: "refresh", args: []string{"-mix", "refresh"}, want: map[string]int{"refresh": 1}},
		{name: "revoke", args: []string{"-mix", "revoke"}, want: map[string]int{"revoke": 1}},
		{name: "public", args: []string{"-mix", "public"}, want: map[string]int{"public": 1}},
		{
			name: "weighted",
			args: []string{"-mix", "me=7,refresh=2,revoke=1"},
			want: map[string]int{"me": 7, "refresh": 2, "revoke": 1},
		},
		{
			name: "public client, all four",
			args: []string{"-mix", "me=4,password=2,refresh=3,revoke=1", "-client-id", testPublicClient, "-client-secret", ""},
			want: map[string]int{"me": 4, "password": 2, "refresh": 3, "revoke": 1},
		},
		{
			// Fewer chains than refreshes in flight can be: the pool's
			// waiting and refilling are exercised.
			name: "refresh, unpaced on two chains",
			args: []string{"-mix", "refresh", "-rate", "0", "-workers", "4", "-pool", "2", "-duration", "500ms"},
			want: map[string]int{"refresh": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, _, err := runLoad(t, srv, tc.args...)
			if err != nil {
				t.Fatalf("run() = %v, want nil", err)
			}
			if rep.Success != 1 || rep.Errors != 0 {
				t.Errorf("success = %v with %d errors, want 1 and 0; errors: %+v", rep.Success, rep.Errors, rep.Mixes)
			}
			if rep.Throughput <= 0 || rep.Metrics.Throughput <= 0 {
				t.Errorf("throughput = %v (vegeta's %v), want > 0", rep.Throughput, rep.Metrics.Throughput)
			}
			if rep.Metrics.StatusCodes["200"] != int(rep.Requests) {
				t.Errorf("status codes = %v, want all %d of them 200", rep.Metrics.StatusCodes, rep.Requests)
			}
			if len(rep.Mixes) != len(tc.want) {
				t.Fatalf("mixes = %d, want %d", len(rep.Mixes), len(tc.want))
			}
			var sum uint64
			totalWeight := 0
			for _, m := range rep.Mixes {
				totalWeight += m.Weight
			}
			for _, m := range rep.Mixes {
				if w, ok := tc.want[m.Name]; !ok || m.Weight != w {
					t.Errorf("mix %q has weight %d, want %d", m.Name, m.Weight, w)
				}
				if m.Requests == 0 || m.Success != 1 || m.OK != m.Requests || m.Errors != 0 {
					t.Errorf("mix %s: %d requests, %d ok, %d errors, success %v; want all of at least one ok: %+v",
						m.Name, m.Requests, m.OK, m.Errors, m.Success, m.FirstErrors)
				}
				if m.Metrics.Requests != m.Requests {
					t.Errorf("mix %s: vegeta counted %d requests, the report %d", m.Name, m.Metrics.Requests, m.Requests)
				}
				// The weighted round-robin is exact up to the requests of
				// one round.
				if share := float64(rep.Requests) * float64(m.Weight) / float64(totalWeight); float64(m.Requests) < share-2 || float64(m.Requests) > share+2 {
					t.Errorf("mix %s: %d of %d requests, want about %.1f by its weight", m.Name, m.Requests, rep.Requests, share)
				}
				sum += m.Requests
			}
			if sum != rep.Requests || rep.Requests != rep.Metrics.Requests {
				t.Errorf("the mixes' requests add up to %d, the report has %d and vegeta %d", sum, rep.Requests, rep.Metrics.Requests)
			}
		})
	}
}

// The JSON output carries vegeta's Metrics as vegeta writes them, for the
// run and for each mix.
func TestJSONFields(t *testing.T) {
	srv := newServer(t)
	_, out, err := runLoad(t, srv, "-mix", "me=3,refresh=1")
	if err != nil {
		t.Fatalf("run() = %v, want nil", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"url", "mix", "rate", "duration", "prepared", "requests", "ok", "errors", "success", "throughput", "metrics", "mixes"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("the JSON report has no %q", key)
		}
	}
	checkMetrics := func(where string, v any) {
		t.Helper()
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: metrics = %T, want an object", where, v)
		}
		for _, key := range []string{"latencies", "requests", "rate", "throughput", "success", "status_codes", "errors", "duration", "wait"} {
			if _, ok := m[key]; !ok {
				t.Errorf("%s: vegeta metrics have no %q", where, key)
			}
		}
		lat, _ := m["latencies"].(map[string]any)
		for _, key := range []string{"50th", "90th", "99th", "max"} {
			if v, ok := lat[key].(float64); !ok || v <= 0 {
				t.Errorf("%s: latencies[%q] = %v, want a positive number of nanoseconds", where, key, lat[key])
			}
		}
	}
	checkMetrics("run", doc["metrics"])
	mixes, _ := doc["mixes"].([]any)
	if len(mixes) != 2 {
		t.Fatalf("mixes = %v, want 2", doc["mixes"])
	}
	for _, v := range mixes {
		m, _ := v.(map[string]any)
		for _, key := range []string{"name", "weight", "expected_status", "requests", "ok", "errors", "success", "rate", "throughput", "pool_waits", "first_errors"} {
			if _, ok := m[key]; !ok {
				t.Errorf("mix %v has no %q", m["name"], key)
			}
		}
		checkMetrics(fmt.Sprintf("mix %v", m["name"]), m["metrics"])
	}
}

func TestTextReport(t *testing.T) {
	srv := newServer(t)
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{
		"-url", srv.URL, "-client-id", testClientID, "-client-secret", testClientSecret,
		"-mix", "me=9,refresh=1", "-rate", "100", "-duration", "1s",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run() = %v, want nil\n%s", err, stderr.Bytes())
	}
	out := stdout.String()
	for _, want := range []string{"MIX", "P50", "P90", "P99", "MAX", "\nme ", "\nrefresh ", "\nall ", "100.00%", "200:", "errors: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("the text report has no %q:\n%s", want, out)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing: it is not a terminal", stderr.Bytes())
	}
}

// The tool reports failures, it does not hide them.
func TestFailuresAreReported(t *testing.T) {
	srv := newServer(t)

	t.Run("wrong password", func(t *testing.T) {
		rep, _, err := runLoad(t, srv, "-mix", "password", "-password", "not-"+testPassword)
		var failures *failuresError
		if !errors.As(err, &failures) {
			t.Fatalf("run() = %v, want a *failuresError", err)
		}
		if rep == nil {
			t.Fatal("no report written")
		}
		if rep.Errors == 0 || rep.Errors != rep.Requests || rep.Success != 0 || rep.Throughput != 0 {
			t.Errorf("errors = %d of %d, success %v, throughput %v; want every request failed", rep.Errors, rep.Requests, rep.Success, rep.Throughput)
		}
		if failures.failed != rep.Errors {
			t.Errorf("failuresError counts %d failures, the report %d", failures.failed, rep.Errors)
		}
		m := rep.Mixes[0]
		if len(m.FirstErrors) == 0 || !strings.Contains(m.FirstErrors[0].Message, "400 Bad Request: invalid_grant") {
			t.Errorf("first errors = %+v, want 400 invalid_grant", m.FirstErrors)
		}
		if rep.Metrics.StatusCodes["400"] == 0 || len(rep.Metrics.Errors) == 0 {
			t.Errorf("vegeta metrics: status codes %v, errors %v; want the 400s", rep.Metrics.StatusCodes, rep.Metrics.Errors)
		}
	})

	t.Run("wrong password while preparing", func(t *testing.T) {
		rep, _, err := runLoad(t, srv, "-mix", "me", "-password", "not-"+testPassword)
		if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("run() = %v, want the invalid_grant of the preparation", err)
		}
		if rep != nil {
			t.Errorf("report = %+v, want none: nothing was measured", rep)
		}
	})

	t.Run("revoke pool exhausted", func(t *testing.T) {
		rep, _, err := runLoad(t, srv, "-mix", "revoke", "-pool", "5")
		if err == nil || !strings.Contains(err.Error(), "exhausted") {
			t.Errorf("run() = %v, want an exhausted pool", err)
		}
		if rep == nil {
			t.Fatal("no report written")
		}
		if rep.Stopped == "" || rep.Requests != 5 || rep.OK != 5 {
			t.Errorf("stopped %q after %d requests (%d ok), want stopped after the 5 prepared", rep.Stopped, rep.Requests, rep.OK)
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		// Interrupted once the attack is under way: /api/me is called by
		// the attack only.
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		srv := newServer(t, func(r *http.Request) {
			if r.URL.Path == mePath {
				cancel()
			}
		})
		var stdout, stderr bytes.Buffer
		err := run(ctx, []string{"-url", srv.URL, "-client-id", testClientID, "-client-secret", testClientSecret,
			"-mix", "me=1,refresh=1", "-duration", "1m", "-json"}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("run() = %v, want interrupted", err)
		}
		var rep report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("no JSON report after an interruption: %v", err)
		}
		if rep.Stopped != "interrupted" || rep.Errors != 0 {
			t.Errorf("stopped %q with %d errors, want interrupted with none", rep.Stopped, rep.Errors)
		}
	})
}

// Any status but the expected one is a failure, even those vegeta counts
// as successes.
func TestCollectorJudgesStatus(t *testing.T) {
	m := &mix{name: mixMe, weight: 1, expect: http.StatusOK}
	c := newCollector([]*mix{m})
	now := time.Now()
	for _, res := range []*vegeta.Result{
		{URL: "http://x/api/me#me", Code: 200, Timestamp: now, Latency: time.Millisecond},
		{URL: "http://x/api/me#me", Code: 302, Timestamp: now, Latency: time.Millisecond, Headers: http.Header{}},
		{URL: "http://x/api/me#me", Code: 401, Timestamp: now, Latency: time.Millisecond, Error: "401 Unauthorized",
			Headers: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}},
		{URL: "http://x/api/me#me", Code: 0, Timestamp: now, Latency: time.Millisecond, Error: `Get "http://x/api/me#me": connection refused`},
		{URL: "", Error: "pool exhausted"}, // a targeter failure: no request
	} {
		c.add(res)
	}
	rep := c.report(config{mix: []mixWeight{{mixMe, 1}}}, prepared{}, "")
	if rep.Requests != 4 || rep.OK != 1 || rep.Errors != 3 {
		t.Fatalf("requests, ok, errors = %d, %d, %d; want 4, 1, 3", rep.Requests, rep.OK, rep.Errors)
	}
	want := []string{
		"302 Found",
		`401 Unauthorized: WWW-Authenticate: Bearer error="invalid_token"`,
		`Get "http://x/api/me": connection refused`,
	}
	var got []string
	for _, e := range rep.Mixes[0].FirstErrors {
		got = append(got, e.Message)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("first errors = %q, want %q", got, want)
	}
}

func TestSchedulerWeights(t *testing.T) {
	mixes := []*mix{{name: mixMe, weight: 90}, {name: mixRefresh, weight: 9}, {name: mixRevoke, weight: 1}}
	s := newScheduler(mixes)
	got := map[string]int{}
	run := 0 // the longest run of one mix other than me
	prev, streak := "", 0
	for range 1000 {
		name := s.pick().name
		got[name]++
		if name == prev {
			streak++
		} else {
			prev, streak = name, 1
		}
		if name != mixMe {
			run = max(run, streak)
		}
	}
	if got[mixMe] != 900 || got[mixRefresh] != 90 || got[mixRevoke] != 10 {
		t.Errorf("picks = %v, want me 900, refresh 90, revoke 10", got)
	}
	if run > 1 {
		t.Errorf("refresh or revoke picked %d times in a row, want them spread out", run)
	}
}

func TestTokenPool(t *testing.T) {
	t.Run("chained hands out each token once", func(t *testing.T) {
		const chains, uses = 3, 300
		var seed []string
		for i := range chains {
			seed = append(seed, fmt.Sprintf("t%d-0", i))
		}
		p := newTokenPool("refresh", true, seed, time.Minute, nil)
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
			wg   sync.WaitGroup
		)
		for range 8 {
			wg.Go(func() {
				for range uses / 8 {
					flight, tok, err := p.take()
					if err != nil {
						t.Errorf("take() = %v", err)
						return
					}
					mu.Lock()
					if seen[tok] {
						t.Errorf("token %s handed out twice", tok)
					}
					seen[tok] = true
					mu.Unlock()
					p.settle(flight, tok+"'") // its successor
				}
			})
		}
		wg.Wait()
	})
	t.Run("chained takes back a token the server did not use", func(t *testing.T) {
		p := newTokenPool("refresh", true, []string{"a"}, time.Minute, nil)
		flight, _, err := p.take()
		if err != nil {
			t.Fatal(err)
		}
		p.putBack(flight)
		p.settle(flight, "b") // a second landing of one flight is ignored
		if _, tok, err := p.take(); tok != "a" || err != nil {
			t.Errorf("take() after putBack = %q, %v; want a, nil", tok, err)
		}
	})
	t.Run("chained is exhausted when every chain failed", func(t *testing.T) {
		p := newTokenPool("refresh", true, []string{"a", "b"}, time.Minute, nil)
		var flights []uint64
		for range 2 {
			flight, _, err := p.take()
			if err != nil {
				t.Fatal(err)
			}
			flights = append(flights, flight)
		}
		done := make(chan error, 1)
		go func() { _, _, err := p.take(); done <- err }()
		p.settle(flights[0], "")
		p.settle(flights[1], "")
		var exhausted *exhaustedError
		if err := <-done; !errors.As(err, &exhausted) {
			t.Errorf("take() after every chain failed = %v, want *exhaustedError", err)
		}
		if p.waits.Load() > 1 {
			t.Errorf("waits = %d, want at most 1", p.waits.Load())
		}
	})
	t.Run("chained waits at most maxWait", func(t *testing.T) {
		p := newTokenPool("refresh", true, []string{"a"}, time.Millisecond, nil)
		if _, _, err := p.take(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.take(); !errors.Is(err, errNoToken) {
			t.Errorf("take() with every token in flight = %v, want errNoToken", err)
		}
	})
	t.Run("chained stops waiting when stopped", func(t *testing.T) {
		stop := make(chan struct{})
		p := newTokenPool("refresh", true, []string{"a"}, time.Minute, stop)
		if _, _, err := p.take(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		if _, _, err := p.take(); !errors.Is(err, errStopped) {
			t.Errorf("take() on a stopped pool = %v, want errStopped", err)
		}
	})
	t.Run("unchained only shrinks", func(t *testing.T) {
		p := newTokenPool("revoke", false, []string{"a", "b"}, time.Minute, nil)
		for range 2 {
			if _, _, err := p.take(); err != nil {
				t.Fatal(err)
			}
		}
		var exhausted *exhaustedError
		if _, _, err := p.take(); !errors.As(err, &exhausted) {
			t.Errorf("take() on an empty revoke pool = %v, want *exhaustedError", err)
		}
	})
}

// The refresh mix keeps a chain going on a success, retries the same token
// after a 503, ends the chain on anything else, and counts a request it
// could not make for want of a token as a failure.
func TestRefreshChain(t *testing.T) {
	cfg := config{baseURL: "http://x", clientID: "c", timeout: time.Millisecond, mix: []mixWeight{{mixRefresh, 1}}}
	m := buildMixes(cfg, preparedTokens{refresh: []string{"first"}}, nil)[0]
	c := newCollector([]*mix{m})
	var tgt vegeta.Target
	send := func() string {
		t.Helper()
		if err := m.target(&tgt); err != nil {
			t.Fatalf("target() = %v", err)
		}
		return string(tgt.Body)
	}
	answer := func(code uint16, body string) {
		c.add(&vegeta.Result{URL: tgt.URL, Method: tgt.Method, Code: code, Body: []byte(body), Timestamp: time.Now(), Headers: http.Header{}})
	}

	if body := send(); !strings.Contains(body, "refresh_token=first") {
		t.Fatalf("first body = %q, want the seed", body)
	}
	answer(200, `{"access_token":"x","refresh_token":"second"}`)
	if body := send(); !strings.Contains(body, "refresh_token=second") {
		t.Fatalf("body after a success = %q, want the successor", body)
	}
	answer(503, `{"error":"temporarily_unavailable"}`)
	if body := send(); !strings.Contains(body, "refresh_token=second") {
		t.Fatalf("body after a 503 = %q, want the same token again", body)
	}
	// Still in flight: the next target cannot get a token in time.
	var next vegeta.Target
	if err := m.target(&next); err != nil || next.Method != noTokenMethod {
		t.Fatalf("target() with the only chain in flight = %v, %q; want a NO TOKEN target", err, next.Method)
	}
	if _, err := next.Request(); err == nil {
		t.Fatal("the NO TOKEN target makes a request, want it refused before any traffic")
	}
	c.add(&vegeta.Result{URL: next.URL, Method: next.Method, Error: "net/http: invalid method", Timestamp: time.Now()})
	answer(400, `{"error":"invalid_grant"}`)
	if err := m.target(&next); err == nil {
		t.Error("target() after the only chain failed = nil, want the pool exhausted")
	}

	rep := c.report(cfg, prepared{}, "")
	if rep.Requests != 4 || rep.OK != 1 || rep.Errors != 3 {
		t.Errorf("requests, ok, errors = %d, %d, %d; want 4, 1, 3", rep.Requests, rep.OK, rep.Errors)
	}
	var msgs []string
	for _, e := range rep.Mixes[0].FirstErrors {
		msgs = append(msgs, e.Message)
	}
	if got := strings.Join(msgs, "\n"); !strings.Contains(got, "503") || !strings.Contains(got, "not sent: no refresh token") || !strings.Contains(got, "invalid_grant") {
		t.Errorf("first errors = %q, want the 503, the request not sent and the invalid_grant", msgs)
	}
}
