package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// holdingThrottle throttles for an hour from the first wait on, so that
// priming needs no waiting: the threshold's wrong passwords are enough.
var holdingThrottle = oauth2.ThrottleConfig{Delay: time.Hour, MaxDelay: time.Hour}

// Every request of the throttled mix is answered 429 slow_down after one
// store round trip, with no password or client secret checked and no
// failure counted, through either kind of client and beside other mixes.
func TestThrottledMix(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "public client", args: []string{"-mix", "throttled", "-client-id", testPublicClient, "-client-secret", ""}},
		{name: "confidential client", args: []string{"-mix", "throttled"}},
		{name: "among other mixes", args: []string{"-mix", "me=2,password=1,throttled=1"}},
		{name: "unpaced", args: []string{"-mix", "throttled", "-rate", "0", "-workers", "4", "-duration", "500ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, counts := startServer(t, serverOptions{throttle: holdingThrottle})
			rep, _, err := runLoad(t, srv, tc.args...)
			if err != nil {
				t.Fatalf("run() = %v, want nil", err)
			}
			if rep.Errors != 0 {
				t.Errorf("errors = %d, want none: %+v", rep.Errors, rep.Mixes)
			}
			th := rep.Prepared.Throttle
			if th == nil {
				t.Fatal("prepared.throttle is missing")
			}
			if th.Username != throttledUsername || th.WrongPasswords != oauth2.DefaultThrottleThreshold || th.Waits != 0 || th.RetryAfter < th.Needed {
				t.Errorf("prepared.throttle = %+v, want %s throttled by %d wrong passwords with no wait, Retry-After at least the needed",
					*th, throttledUsername, oauth2.DefaultThrottleThreshold)
			}
			var m *mixReport
			for i := range rep.Mixes {
				if rep.Mixes[i].Name == mixThrottled {
					m = &rep.Mixes[i]
				}
			}
			if m == nil {
				t.Fatalf("no throttled mix in %+v", rep.Mixes)
			}
			if m.ExpectedStatus != http.StatusTooManyRequests || m.Requests == 0 || m.OK != m.Requests || m.Success != 1 || m.Throughput <= 0 {
				t.Errorf("throttled: expected %d, %d requests, %d ok, success %v, throughput %v; want 429 and all of at least one ok",
					m.ExpectedStatus, m.Requests, m.OK, m.Success, m.Throughput)
			}
			if got := m.Metrics.StatusCodes["429"]; got != int(m.Requests) {
				t.Errorf("throttled: status codes %v, want all %d of them 429", m.Metrics.StatusCodes, m.Requests)
			}
			if len(m.Metrics.Errors) != 0 {
				t.Errorf("throttled: vegeta's errors = %q, want none: a 429 is this mix's success", m.Metrics.Errors)
			}
			if got := counts.requests.Load(); got != int64(m.Requests) {
				t.Fatalf("the server saw %d throttled requests, the report %d", got, m.Requests)
			}
			if got := counts.getAttempts.Load(); got != int64(m.Requests) {
				t.Errorf("GetAttempts calls = %d for %d throttled requests, want one each", got, m.Requests)
			}
			if got := counts.passwordChecks.Load() + counts.clientLookups.Load() + counts.addFailures.Load(); got != 0 {
				t.Errorf("for throttled requests: %d password checks, %d client lookups, %d failures counted; want none",
					counts.passwordChecks.Load(), counts.clientLookups.Load(), counts.addFailures.Load())
			}
		})
	}
}

func TestThrottledTextReport(t *testing.T) {
	srv, _ := startServer(t, serverOptions{throttle: holdingThrottle})
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{
		"-url", srv.URL, "-client-id", testPublicClient, "-client-secret", "",
		"-mix", "throttled", "-rate", "100", "-duration", "1s",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run() = %v, want nil\n%s", err, stderr.Bytes())
	}
	out := stdout.String()
	for _, want := range []string{
		"throttled load-throttled in ", "5 wrong passwords, 0 waits sat out; Retry-After 3600s, the run needs 12s",
		"\nthrottled ", "100.00%", "429:", "429 slow_down for throttled", "errors: none",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the text report has no %q:\n%s", want, out)
		}
	}
}

// The tool measures nothing when the throttle cannot be set up.
func TestThrottledRefusesToStart(t *testing.T) {
	tests := []struct {
		name     string
		throttle oauth2.ThrottleConfig
		args     []string
		wantErr  string
	}{
		{
			name:     "throttling off",
			throttle: oauth2.ThrottleConfig{Threshold: -1},
			wantErr:  "were answered 400 invalid_grant, never 429 slow_down",
		},
		{
			name:    "wrong client secret",
			args:    []string{"-client-secret", "not-" + testClientSecret},
			wantErr: "answered 401 Unauthorized: invalid_client",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, counts := startServer(t, serverOptions{throttle: tc.throttle})
			rep, _, err := runLoad(t, srv, append([]string{"-mix", "throttled"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "throttling load-throttled") {
				t.Errorf("run() = %v, want an error about throttling load-throttled containing %q", err, tc.wantErr)
			}
			if rep != nil {
				t.Errorf("report = %+v, want none: nothing was measured", rep)
			}
			if got := counts.requests.Load(); got != 0 {
				t.Errorf("the attack sent %d throttled requests, want none", got)
			}
		})
	}
}

// fakeClock is the server's clock in TestPrimeThrottle, which the primer
// moves instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestPrimeThrottle(t *testing.T) {
	tests := []struct {
		name     string
		throttle oauth2.ThrottleConfig
		duration time.Duration
		again    bool // prime a second time, right after a first
		want     throttlePrep
		waited   time.Duration
		wantErr  string
	}{
		{
			// The run needs 20 s + 10 s of -timeout + 1 s: 5 wrong
			// passwords start a wait of 1 s, and each wait sat out and
			// failure after it doubles it, up to 32 s.
			name:     "defaults, a 20-second run",
			duration: 20 * time.Second,
			want:     throttlePrep{WrongPasswords: 10, Waits: 5, RetryAfter: 32, Needed: 31},
			waited:   31 * time.Second,
		},
		{
			name:     "defaults, again right after",
			duration: 20 * time.Second,
			again:    true,
			want:     throttlePrep{RetryAfter: 32, Needed: 31},
		},
		{
			name:     "defaults, a 10-minute run reaches the cap",
			duration: 10 * time.Minute,
			want:     throttlePrep{WrongPasswords: 15, Waits: 10, RetryAfter: 900, Needed: 611},
			waited:   1023 * time.Second,
		},
		{
			name:     "a higher threshold",
			throttle: oauth2.ThrottleConfig{Threshold: 8},
			duration: 20 * time.Second,
			want:     throttlePrep{WrongPasswords: 13, Waits: 5, RetryAfter: 32, Needed: 31},
			waited:   31 * time.Second,
		},
		{
			name:     "defaults, a run longer than the cap",
			duration: 20 * time.Minute,
			wantErr:  "stopped growing at 15m0s",
		},
		{
			name:     "a cap below the run",
			throttle: oauth2.ThrottleConfig{MaxDelay: 20 * time.Second},
			duration: 20 * time.Second,
			wantErr:  "stopped growing at 20s",
		},
		{
			name:     "throttling off",
			throttle: oauth2.ThrottleConfig{Threshold: -1},
			duration: 20 * time.Second,
			wantErr:  "never 429 slow_down",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Now()}
			srv, _ := startServer(t, serverOptions{throttle: tc.throttle, now: clock.now})
			cfg := config{baseURL: srv.URL, clientID: testPublicClient, duration: tc.duration, timeout: 10 * time.Second}
			var waited time.Duration
			prime := func() (throttlePrep, error) {
				t.Helper()
				p := newPrimer(cfg)
				waited = 0
				p.wait = func(_ context.Context, d time.Duration) error {
					waited += d
					clock.advance(d)
					return nil
				}
				return p.prime(t.Context())
			}
			if tc.again {
				if _, err := prime(); err != nil {
					t.Fatalf("prime() = %v, want nil", err)
				}
			}
			got, err := prime()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("prime() = %+v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("prime() = %v, want nil", err)
			}
			tc.want.Username = throttledUsername
			got.Seconds = 0
			if got != tc.want {
				t.Errorf("prime() = %+v, want %+v", got, tc.want)
			}
			if waited != tc.waited {
				t.Errorf("prime() waited %v, want %v", waited, tc.waited)
			}
		})
	}
}

// A throttled request succeeds only when answered 429 slow_down.
func TestThrottledJudgement(t *testing.T) {
	cfg := config{baseURL: "http://x", clientID: "c", mix: []mixWeight{{mixThrottled, 1}}}
	m := buildMixes(cfg, preparedTokens{}, nil)[0]
	tests := []struct {
		name        string
		code        uint16
		body        string
		wantProblem string // "" for a success
	}{
		{name: "slow_down", code: 429, body: `{"error":"slow_down","error_description":"too many failed attempts; retry later"}`},
		{name: "429 of another kind", code: 429, body: `{"error":"rate_limited"}`, wantProblem: "429 Too Many Requests: rate_limited, want error slow_down"},
		{name: "429 of a proxy", code: 429, body: "slow down", wantProblem: "429 Too Many Requests: slow down, want error slow_down"},
		{name: "let through", code: 400, body: `{"error":"invalid_grant"}`, wantProblem: "400 Bad Request: invalid_grant: the throttle let a password check through"},
		{name: "a token", code: 200, body: `{"access_token":"x"}`, wantProblem: "200 OK: a token was issued for load-throttled"},
		{name: "busy", code: 503, body: `{"error":"temporarily_unavailable"}`, wantProblem: "503 Service Unavailable: temporarily_unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector([]*mix{m})
			res := &vegeta.Result{URL: m.url, Code: tc.code, Body: []byte(tc.body), Headers: http.Header{}, Timestamp: time.Now(), Latency: time.Millisecond}
			if tc.code >= 400 { // as vegeta does
				res.Error = fmt.Sprintf("%d %s", tc.code, http.StatusText(int(tc.code)))
			}
			c.add(res)
			rep := c.report(cfg, prepared{}, "")
			var problems []string
			for _, e := range rep.Mixes[0].FirstErrors {
				problems = append(problems, e.Message)
			}
			if tc.wantProblem == "" {
				if rep.OK != 1 || len(problems) != 0 || len(rep.Metrics.Errors) != 0 {
					t.Errorf("ok = %d, errors %q (vegeta's %q); want a success", rep.OK, problems, rep.Metrics.Errors)
				}
				return
			}
			if rep.OK != 0 || len(problems) != 1 || problems[0] != tc.wantProblem {
				t.Errorf("ok = %d, errors %q; want a failure %q", rep.OK, problems, tc.wantProblem)
			}
		})
	}
}
