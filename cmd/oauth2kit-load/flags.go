package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// config is the command line, validated.
type config struct {
	baseURL      string // without a trailing slash
	clientID     string
	clientSecret string // empty for a public client
	username     string
	password     string

	mix          []mixWeight
	rate         vegeta.Rate // Freq 0: as fast as the workers go
	duration     time.Duration
	workers      uint64
	maxWorkers   uint64 // 0: vegeta's default (see attackerFor)
	timeout      time.Duration
	pool         int // refresh tokens per pool; 0: sized by poolSizes
	accessTokens int

	json     bool
	progress bool
	force    bool
}

// mixWeight is one kind of request in a -mix and its weight.
type mixWeight struct {
	name   string
	weight int
}

// maxDuration bounds -duration unless -force: a load test that nobody
// stops should not run for an afternoon.
const maxDuration = 10 * time.Minute

// The mix names.
const (
	mixPassword = "password"
	mixRefresh  = "refresh"
	mixMe       = "me"
	mixRevoke   = "revoke"
	// mixPublic is GET /api/ping, a route without authentication: the
	// baseline that me's cost is compared with.
	mixPublic = "public"
	// mixThrottled is a password grant for a username the tool throttled
	// before the run: the cost of refusing a brute-force attempt, which
	// must be one store round trip and no hashing.
	mixThrottled = "throttled"
)

var mixNames = []string{mixPassword, mixRefresh, mixMe, mixRevoke, mixPublic, mixThrottled}

// usageError is a command-line error, already reported with the usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// parseFlags parses args (without the program name). Like the flag
// package, it reports every problem on stderr with the usage; the error
// it returns is a usageError, or flag.ErrHelp for -h.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{
		baseURL:      "http://127.0.0.1:8080",
		clientID:     "demo-client",
		clientSecret: "demo-secret",
		username:     "alice",
		password:     "wonderland",
		mix:          []mixWeight{{mixMe, 1}},
		rate:         vegeta.Rate{Freq: 50, Per: time.Second},
		duration:     10 * time.Second,
		workers:      vegeta.DefaultWorkers,
		timeout:      10 * time.Second,
		accessTokens: 8,
		progress:     isTerminal(stderr),
	}
	fs := flag.NewFlagSet("oauth2kit-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./cmd/oauth2kit-load [flags]\n\n"+
			"Puts a running oauth2kit server under load with vegeta and reports rate,\n"+
			"throughput, success ratio, status codes and latency percentiles per mix.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.Var(&urlFlag{&cfg.baseURL}, "url", "base `URL` of the server; the only one requested")
	fs.StringVar(&cfg.clientID, "client-id", cfg.clientID, "OAuth client `id`")
	fs.StringVar(&cfg.clientSecret, "client-secret", cfg.clientSecret, "client `secret`, sent with HTTP Basic; empty for a public client (client_id in the body)")
	fs.StringVar(&cfg.username, "username", cfg.username, "resource owner's `name` for the password grants")
	fs.StringVar(&cfg.password, "password", cfg.password, "resource owner's `password`")
	fs.Var(&mixFlag{&cfg.mix}, "mix", "kinds of request and their weights: password, refresh, me, revoke, public, throttled, or `name=weight,...` such as me=90,refresh=9,revoke=1")
	fs.Var(&rateFlag{&cfg.rate}, "rate", "requests per second, or `freq/duration` such as 1000/1m; 0 sends as fast as -workers can")
	fs.DurationVar(&cfg.duration, "duration", cfg.duration, "how long to send requests, at most 10m unless -force")
	fs.Uint64Var(&cfg.workers, "workers", cfg.workers, "initial number of concurrent `workers` (all of them with -rate 0)")
	fs.Uint64Var(&cfg.maxWorkers, "max-workers", 0, "maximum number of `workers`; 0 means unbounded with a -rate, -workers with -rate 0")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "timeout of each request")
	fs.IntVar(&cfg.pool, "pool", 0, "refresh `tokens` to prepare for each of the refresh and revoke mixes; 0 sizes them from -rate, -duration and -workers")
	fs.IntVar(&cfg.accessTokens, "access-tokens", cfg.accessTokens, "distinct access `tokens` the me mix cycles through")
	fs.BoolVar(&cfg.json, "json", false, "write the vegeta metrics and the per-mix breakdown as JSON to stdout")
	fs.BoolVar(&cfg.progress, "progress", cfg.progress, "show a live progress line on stderr (default true when stderr is a terminal)")
	fs.BoolVar(&cfg.force, "force", false, "allow a -duration over 10m")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, usageError{err}
	}
	fail := func(err error) (config, error) {
		fmt.Fprintln(fs.Output(), err)
		fs.Usage()
		return config{}, usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return fail(fmt.Errorf("unexpected arguments %q", fs.Args()))
	case cfg.duration <= 0:
		return fail(errors.New("-duration must be positive: the run must end by itself"))
	case cfg.duration > maxDuration && !cfg.force:
		return fail(fmt.Errorf("-duration %v is over %v; add -force if you mean it", cfg.duration, maxDuration))
	case cfg.workers == 0:
		return fail(errors.New("-workers must be at least 1"))
	case cfg.maxWorkers != 0 && cfg.maxWorkers < cfg.workers:
		return fail(fmt.Errorf("-max-workers %d is below -workers %d", cfg.maxWorkers, cfg.workers))
	case cfg.timeout <= 0:
		return fail(errors.New("-timeout must be positive"))
	case cfg.pool < 0:
		return fail(errors.New("-pool must not be negative"))
	case cfg.accessTokens < 1:
		return fail(errors.New("-access-tokens must be at least 1"))
	case cfg.clientID == "":
		return fail(errors.New("-client-id must not be empty"))
	case cfg.rate.Freq == 0 && cfg.pool == 0 && slices.ContainsFunc(cfg.mix, func(m mixWeight) bool { return m.name == mixRevoke }):
		return fail(errors.New("-rate 0 with the revoke mix needs -pool: each revocation consumes a token prepared with a password grant, so say how many to prepare"))
	}
	return cfg, nil
}

// isTerminal reports whether w is a character device such as a terminal,
// without a dependency: a pipe, a file or a buffer is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type urlFlag struct{ p *string }

func (f *urlFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f *urlFlag) Set(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http:// or https:// URL, such as http://127.0.0.1:8080")
	case u.Host == "":
		return errors.New("the URL has no host")
	case u.User != nil:
		return errors.New("the URL must not carry credentials: use -client-id and -client-secret")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("the URL must have no query or fragment")
	}
	*f.p = strings.TrimSuffix(s, "/")
	return nil
}

type mixFlag struct{ p *[]mixWeight }

func (f *mixFlag) String() string {
	if f.p == nil {
		return ""
	}
	return formatMix(*f.p)
}

func (f *mixFlag) Set(s string) error {
	m, err := parseMix(s)
	if err != nil {
		return err
	}
	*f.p = m
	return nil
}

// parseMix parses "me" or "me=90,refresh=9,revoke=1"; a name without a
// weight weighs 1.
func parseMix(s string) ([]mixWeight, error) {
	var mix []mixWeight
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		name, weight, hasWeight := strings.Cut(strings.TrimSpace(item), "=")
		w := 1
		if hasWeight {
			n, err := strconv.Atoi(weight)
			if err != nil || n < 1 || n > 1_000_000 {
				return nil, fmt.Errorf("weight %q of %q is not a whole number from 1 to 1000000", weight, name)
			}
			w = n
		}
		if !slices.Contains(mixNames, name) {
			return nil, fmt.Errorf("unknown mix %q: want %s", name, strings.Join(mixNames, ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("mix %q is named twice", name)
		}
		seen[name] = true
		mix = append(mix, mixWeight{name, w})
	}
	return mix, nil
}

// formatMix is the inverse of parseMix, weights omitted for a single mix.
func formatMix(mix []mixWeight) string {
	if len(mix) == 1 {
		return mix[0].name
	}
	parts := make([]string, len(mix))
	for i, m := range mix {
		parts[i] = m.name + "=" + strconv.Itoa(m.weight)
	}
	return strings.Join(parts, ",")
}

// rateFlag reads a vegeta.Rate as vegeta's own command does: "50",
// "50/s", "1000/1m", or 0 (or "infinity") for no pacing at all.
type rateFlag struct{ p *vegeta.Rate }

func (f *rateFlag) String() string {
	if f.p == nil {
		return ""
	}
	return formatRate(*f.p)
}

func (f *rateFlag) Set(s string) error {
	if s == "infinity" {
		*f.p = vegeta.Rate{}
		return nil
	}
	freq, per, hasPer := strings.Cut(s, "/")
	n, err := strconv.Atoi(freq)
	if err != nil || n < 0 {
		return errors.New("want a number of requests per second, or freq/duration such as 1000/1m")
	}
	if n == 0 {
		*f.p = vegeta.Rate{}
		return nil
	}
	d := time.Second
	if hasPer {
		switch per {
		case "ns", "us", "µs", "ms", "s", "m", "h":
			per = "1" + per
		}
		if d, err = time.ParseDuration(per); err != nil || d <= 0 {
			return fmt.Errorf("bad duration %q after the /", per)
		}
	}
	*f.p = vegeta.Rate{Freq: n, Per: d}
	return nil
}

func formatRate(r vegeta.Rate) string {
	if r.Freq == 0 || r.Per == 0 {
		return "0"
	}
	if r.Per == time.Second {
		return strconv.Itoa(r.Freq)
	}
	return fmt.Sprintf("%d/%v", r.Freq, r.Per)
}

// perSecond is the rate in requests per second, 0 for no pacing.
func perSecond(r vegeta.Rate) float64 {
	if r.Freq == 0 || r.Per == 0 {
		return 0
	}
	return float64(r.Freq) / r.Per.Seconds()
}
