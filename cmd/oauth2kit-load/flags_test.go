package main

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestParseFlags(t *testing.T) {
	defaults := config{
		baseURL:      "http://127.0.0.1:8080",
		clientID:     "demo-client",
		clientSecret: "demo-secret",
		username:     "alice",
		password:     "wonderland",
		mix:          []mixWeight{{mixMe, 1}},
		rate:         vegeta.Rate{Freq: 50, Per: time.Second},
		duration:     10 * time.Second,
		workers:      10,
		timeout:      10 * time.Second,
		accessTokens: 8,
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
		{name: "defaults", want: defaults},
		{
			name: "weighted mix",
			args: []string{"-mix", "me=90,refresh=9,revoke=1"},
			want: with(func(c *config) { c.mix = []mixWeight{{mixMe, 90}, {mixRefresh, 9}, {mixRevoke, 1}} }),
		},
		{
			name: "mix without weights",
			args: []string{"-mix", "password,refresh"},
			want: with(func(c *config) { c.mix = []mixWeight{{mixPassword, 1}, {mixRefresh, 1}} }),
		},
		{name: "throttled mix", args: []string{"-mix", "throttled"}, want: with(func(c *config) { c.mix = []mixWeight{{mixThrottled, 1}} })},
		{
			name: "throttled among others",
			args: []string{"-mix", "me=90,password=9,throttled=1"},
			want: with(func(c *config) { c.mix = []mixWeight{{mixMe, 90}, {mixPassword, 9}, {mixThrottled, 1}} }),
		},
		{
			name: "throttled without weights",
			args: []string{"-mix", "throttled,password"},
			want: with(func(c *config) { c.mix = []mixWeight{{mixThrottled, 1}, {mixPassword, 1}} }),
		},
		{name: "throttled named twice", args: []string{"-mix", "throttled=1,throttled=2"}, wantErr: "named twice"},
		{name: "throttled misspelt", args: []string{"-mix", "throttle"}, wantErr: `unknown mix "throttle": want password, refresh, me, revoke, public, throttled`},
		{name: "unknown mix", args: []string{"-mix", "me,introspect"}, wantErr: `unknown mix "introspect"`},
		{name: "mix named twice", args: []string{"-mix", "me=1,me=2"}, wantErr: "named twice"},
		{name: "zero weight", args: []string{"-mix", "me=0"}, wantErr: "not a whole number"},
		{name: "rate per minute", args: []string{"-rate", "600/1m"}, want: with(func(c *config) { c.rate = vegeta.Rate{Freq: 600, Per: time.Minute} })},
		{name: "rate per s", args: []string{"-rate", "20/s"}, want: with(func(c *config) { c.rate = vegeta.Rate{Freq: 20, Per: time.Second} })},
		{name: "unpaced", args: []string{"-rate", "0", "-workers", "8"}, want: with(func(c *config) { c.rate = vegeta.Rate{}; c.workers = 8 })},
		{name: "negative rate", args: []string{"-rate", "-5"}, wantErr: "want a number"},
		{name: "unpaced revoke without -pool", args: []string{"-rate", "0", "-mix", "me,revoke"}, wantErr: "needs -pool"},
		{
			name: "unpaced revoke with -pool",
			args: []string{"-rate", "0", "-mix", "revoke", "-pool", "100"},
			want: with(func(c *config) { c.rate = vegeta.Rate{}; c.mix = []mixWeight{{mixRevoke, 1}}; c.pool = 100 }),
		},
		{name: "zero duration", args: []string{"-duration", "0"}, wantErr: "must be positive"},
		{name: "long duration", args: []string{"-duration", "11m"}, wantErr: "-force"},
		{
			name: "long duration forced",
			args: []string{"-duration", "11m", "-force"},
			want: with(func(c *config) { c.duration = 11 * time.Minute; c.force = true }),
		},
		{name: "no workers", args: []string{"-workers", "0"}, wantErr: "at least 1"},
		{name: "max below workers", args: []string{"-workers", "8", "-max-workers", "4"}, wantErr: "below -workers"},
		{
			name: "url trailing slash",
			args: []string{"-url", "http://localhost:9000/auth/"},
			want: with(func(c *config) { c.baseURL = "http://localhost:9000/auth" }),
		},
		{name: "url with query", args: []string{"-url", "http://localhost:9000/?x=1"}, wantErr: "no query"},
		{name: "url not http", args: []string{"-url", "ftp://localhost"}, wantErr: "http://"},
		{name: "url with credentials", args: []string{"-url", "http://a:b@localhost"}, wantErr: "credentials"},
		{
			name: "public client",
			args: []string{"-client-id", "demo-public", "-client-secret", ""},
			want: with(func(c *config) { c.clientID = "demo-public"; c.clientSecret = "" }),
		},
		{name: "arguments", args: []string{"extra"}, wantErr: "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				var usage usageError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &usage) {
					t.Errorf("parseFlags(%q) error = %v, want a usageError containing %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q) = %v, want nil", tc.args, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseFlags(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"help", flag.ErrHelp, 0},
		{"usage", usageError{errors.New("bad")}, 2},
		{"failures", &failuresError{1, 10}, 1},
		{"other", errors.New("connection refused"), 1},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestSizesFor(t *testing.T) {
	base := config{workers: 10, accessTokens: 8, duration: 10 * time.Second, rate: vegeta.Rate{Freq: 500, Per: time.Second}}
	tests := []struct {
		name string
		mix  []mixWeight
		pool int
		want poolSizes
	}{
		{name: "password needs nothing", mix: []mixWeight{{mixPassword, 1}}, want: poolSizes{}},
		{name: "throttled needs nothing", mix: []mixWeight{{mixThrottled, 1}}, want: poolSizes{}},
		{name: "me", mix: []mixWeight{{mixMe, 1}}, want: poolSizes{access: 8}},
		// 500/s × 1% × 10s × 1.1 + 10 workers.
		{
			name: "weighted",
			mix:  []mixWeight{{mixMe, 90}, {mixRefresh, 9}, {mixRevoke, 1}},
			want: poolSizes{access: 8, refresh: 20, revoke: 65},
		},
		{name: "pool given", mix: []mixWeight{{mixRefresh, 1}, {mixRevoke, 1}}, pool: 7, want: poolSizes{refresh: 7, revoke: 7}},
	}
	for _, tc := range tests {
		cfg := base
		cfg.mix, cfg.pool = tc.mix, tc.pool
		if got := sizesFor(cfg); got != tc.want {
			t.Errorf("sizesFor(%s, pool %d) = %+v, want %+v", formatMix(tc.mix), tc.pool, got, tc.want)
		}
	}
}
