package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// throttledUsername is the resource owner of the throttled mix: a name of
// the tool's own, so that throttling it locks no one out and leaves the
// password grants for -username alone. oauth2kit throttles a username it
// does not know exactly as a known one, so the server needs no such user.
const throttledUsername = "load-throttled"

// throttledPassword is the password of every throttled request. It is
// wrong, so that a request the throttle lets through is answered 400
// invalid_grant and shows in the report.
const throttledPassword = "not-the-password"

// maxWrongPasswords is how many wrong passwords in a row priming sends
// without a 429 before it gives up: ten times oauth2kit's default
// threshold, so that a server that does not throttle is found out after a
// few seconds of hashing.
const maxWrongPasswords = 50

// maxThrottleWaits bounds the waits priming sits out. Each failure after
// one doubles the next wait, so 20 take any delay of a millisecond or more
// past oauth2kit's default cap of 15 minutes.
const maxThrottleWaits = 20

// throttlePrep is what priming did, for the report.
type throttlePrep struct {
	Username string `json:"username"`
	// WrongPasswords counts the attempts answered 400 invalid_grant: the
	// failures that built up the wait.
	WrongPasswords int `json:"wrong_passwords"`
	// Waits counts the waits sat out, each followed by a failure that
	// doubled the next one.
	Waits int `json:"waits"`
	// RetryAfter is the wait the server asked for when priming ended, and
	// Needed what the run needed (see throttleNeeded), in seconds.
	RetryAfter float64 `json:"retry_after"`
	Needed     float64 `json:"needed"`
	Seconds    float64 `json:"seconds"`
}

// throttleNeeded is how long the throttle must hold once primed: until the
// last request of the run reaches the server, which is -duration plus at
// most -timeout (a request slower than that is an error anyway), plus a
// second since Retry-After is rounded up to whole seconds.
func throttleNeeded(cfg config) time.Duration {
	return cfg.duration + cfg.timeout + time.Second
}

// primer throttles throttledUsername before the run with wrong passwords.
// oauth2kit answers a throttled attempt 429 slow_down without counting it,
// so a wait grows only by sitting it out and failing once more, which
// doubles it: priming alternates the two until the server's Retry-After
// covers throttleNeeded. That costs about as long as the wait it buys (1 +
// 2 + ... + 16 s for the 32 s a 20-second run needs, with oauth2kit's
// defaults), which is why it stops there rather than at the server's cap.
// A second run soon after finds the username still throttled and primes
// at once or after a shorter wait.
type primer struct {
	cfg  config
	hc   *http.Client
	need time.Duration
	// wait sits out a throttle; tests move a fake clock instead.
	wait func(ctx context.Context, d time.Duration) error

	// For the progress line.
	wrong      atomic.Int64
	retryAfter atomic.Int64 // of the last 429, in nanoseconds
}

func newPrimer(cfg config) *primer {
	return &primer{
		cfg: cfg,
		hc: &http.Client{
			Timeout:       cfg.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		need: throttleNeeded(cfg),
		wait: sleep,
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// status is the progress line of priming.
func (p *primer) status() string {
	return fmt.Sprintf("throttling %s: %d wrong passwords, Retry-After %v (the run needs %v)",
		throttledUsername, p.wrong.Load(), time.Duration(p.retryAfter.Load()), p.need)
}

// prime throttles throttledUsername until the server asks it to wait at
// least p.need. It fails if the server never answers 429 slow_down (its
// throttling is off), if the wait stops growing short of p.need (the
// server's cap is below what the run needs), or on any unexpected answer.
func (p *primer) prime(ctx context.Context) (throttlePrep, error) {
	start := time.Now()
	prep := throttlePrep{Username: throttledUsername, Needed: p.need.Seconds()}
	body := client{p.cfg.clientID, p.cfg.clientSecret}.form(passwordForm(throttledUsername, throttledPassword))
	var (
		inARow     int           // wrong passwords answered 400 since the last 429
		lastWait   time.Duration // the last wait sat out
		failedOnce bool          // a failure came after lastWait
	)
	for {
		code, h, b, err := postToken(ctx, p.hc, p.cfg, body, http.StatusServiceUnavailable)
		if err != nil {
			return prep, err
		}
		switch e := oauthError(b); {
		case code == http.StatusBadRequest && e == "invalid_grant":
			p.wrong.Add(1)
			prep.WrongPasswords++
			inARow++
			failedOnce = true
			if inARow == maxWrongPasswords {
				return prep, fmt.Errorf("%d wrong passwords in a row for %s were answered 400 invalid_grant, never 429 slow_down: "+
					"the server does not throttle password attempts (or only after more failures), so the throttled mix would measure password checks",
					maxWrongPasswords, throttledUsername)
			}
			continue
		case code == http.StatusTooManyRequests && e == "slow_down":
		default:
			return prep, fmt.Errorf("a wrong password for %s was answered %s; want 400 invalid_grant, or 429 slow_down once throttled",
				throttledUsername, describeResponse(code, h, b))
		}

		secs, err := strconv.Atoi(h.Get("Retry-After"))
		if err != nil || secs < 1 {
			return prep, fmt.Errorf("429 slow_down with Retry-After %q, want a number of seconds", h.Get("Retry-After"))
		}
		retryAfter := time.Duration(secs) * time.Second
		p.retryAfter.Store(int64(retryAfter))
		prep.RetryAfter = retryAfter.Seconds()
		if retryAfter >= p.need {
			prep.Seconds = time.Since(start).Seconds()
			return prep, nil
		}
		// After a wait and a failure the wait doubles, give or take the
		// rounding up of Retry-After; if it did not, it is at the cap.
		if failedOnce && lastWait > 0 && retryAfter < 2*lastWait-time.Second {
			return prep, fmt.Errorf("the server's wait for %s stopped growing at %v (Retry-After), shorter than the %v the run needs "+
				"(-duration, plus -timeout for the last request, plus a second): shorten -duration or -timeout", throttledUsername, retryAfter, p.need)
		}
		if prep.Waits == maxThrottleWaits {
			return prep, fmt.Errorf("after %d waits the server's wait for %s is %v (Retry-After), still shorter than the %v the run needs",
				maxThrottleWaits, throttledUsername, retryAfter, p.need)
		}
		if err := p.wait(ctx, retryAfter); err != nil {
			return prep, err
		}
		prep.Waits++
		lastWait, failedOnce, inARow = retryAfter, false, 0
	}
}

// oauthError is the error code of an OAuth error response (RFC 6749
// §5.2), or "".
func oauthError(body []byte) string {
	var e struct {
		Code string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Code
}
