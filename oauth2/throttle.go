package oauth2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// Defaults for ThrottleConfig.
const (
	DefaultThrottleThreshold     = 5
	DefaultThrottleUserThreshold = 20
	DefaultThrottleDelay         = time.Second
	DefaultThrottleMaxDelay      = 15 * time.Minute
)

// ThrottleConfig configures how the Issuer slows down brute-force attacks
// on passwords and client secrets (RFC 6749 §4.3.2, §10.10). Failed checks
// are counted in the store, so every instance on it sees the same counts:
// per username and client address, per username from any address, and per
// client id. Once a count reaches its threshold, the next attempt under it
// must wait Delay, doubling with each further failure up to MaxDelay; until
// then the token endpoint answers 429 slow_down with a Retry-After header,
// whether or not the credentials are right, alike for known and unknown
// usernames and client ids, and without running the password hash. Nothing
// is ever locked for good: a count is forgotten MaxDelay after its wait
// ends with no new failure, and a successful password check from an
// address resets that address's count for the username (a successful
// client authentication resets the client id's).
//
// Throttling needs a Store that implements store.AttemptStore (every
// adapter of this module does); NewIssuer refuses any other unless
// Threshold is negative.
type ThrottleConfig struct {
	// Threshold is how many consecutive failures for one username from one
	// address, or for one client id, are answered as usual; 0 means
	// DefaultThrottleThreshold. It may be off: a negative value turns all
	// throttling off.
	Threshold int
	// UserThreshold is the same for one username from any address, against
	// attacks spread over many addresses; 0 means
	// DefaultThrottleUserThreshold, a negative value turns this count off.
	UserThreshold int
	// Delay is the first wait; 0 means DefaultThrottleDelay.
	Delay time.Duration
	// MaxDelay caps the wait; 0 means DefaultThrottleMaxDelay.
	MaxDelay time.Duration
	// TrustedProxies are the addresses of the reverse proxies in front of
	// the server. The client address is the connection's peer, unless the
	// peer is one of these: then it is the last address in
	// X-Forwarded-For that is not. Empty means the header is never read, so
	// a client cannot choose its own address.
	TrustedProxies []netip.Prefix
}

// throttle counts failed credential checks through an AttemptStore.
type throttle struct {
	cfg    ThrottleConfig
	store  store.AttemptStore
	issuer string
	now    func() time.Time
	// timeout bounds each store call.
	timeout time.Duration
}

// newThrottle validates cfg and returns the Issuer's throttle; nil when
// throttling is off.
func newThrottle(cfg ThrottleConfig, st Store, issuer string, now func() time.Time, timeout time.Duration) (*throttle, error) {
	if cfg.Threshold < 0 {
		return nil, nil
	}
	if cfg.Delay < 0 || cfg.MaxDelay < 0 {
		return nil, errors.New("oauth2: ThrottleConfig.Delay and MaxDelay must not be negative")
	}
	as, ok := st.(store.AttemptStore)
	if !ok {
		return nil, fmt.Errorf("oauth2: IssuerConfig.Store %T does not implement store.AttemptStore, which brute-force throttling needs "+
			"(RFC 6749 §4.3.2); use an adapter that does, or set Throttle.Threshold to -1 to go without", st)
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThrottleThreshold
	}
	if cfg.UserThreshold == 0 {
		cfg.UserThreshold = DefaultThrottleUserThreshold
	}
	if cfg.Delay == 0 {
		cfg.Delay = DefaultThrottleDelay
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = DefaultThrottleMaxDelay
	}
	if cfg.MaxDelay < cfg.Delay {
		return nil, fmt.Errorf("oauth2: ThrottleConfig.MaxDelay %s is below Delay %s", cfg.MaxDelay, cfg.Delay)
	}
	return &throttle{cfg: cfg, store: as, issuer: issuer, now: now, timeout: timeout}, nil
}

// counter is one throttled count: its store key and its threshold.
type counter struct {
	key       string
	threshold int
}

// key derives the store key of a count from its kind and what it counts:
// a digest, so that the store holds neither usernames nor addresses, bound
// to the issuer like refresh tokens are. Usernames are folded to lower
// case, so that "Alice" and "alice" cannot be two counts for one user.
func (t *throttle) key(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(t.issuer))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// passwordCounters are the counts of a password attempt for username from
// addr (empty when unknown: direct callers of PasswordGrant then share one
// address).
func (t *throttle) passwordCounters(username, addr string) []counter {
	user := strings.ToLower(username)
	cs := []counter{{key: t.key("password", user, addr), threshold: t.cfg.Threshold}}
	if t.cfg.UserThreshold > 0 {
		cs = append(cs, counter{key: t.key("user", user), threshold: t.cfg.UserThreshold})
	}
	return cs
}

// clientCounter is the count of failed secret checks for a client id.
func (t *throttle) clientCounter(clientID string) counter {
	return counter{key: t.key("client", clientID), threshold: t.cfg.Threshold}
}

// wait is how long an attempt must wait after a record of failures at the
// threshold given: none below it, Delay at it, doubling with each failure
// past it, at most MaxDelay.
func (t *throttle) wait(a store.Attempts, threshold int) time.Duration {
	if a.Failures < threshold {
		return 0
	}
	d := t.cfg.Delay
	for range a.Failures - threshold {
		if d >= t.cfg.MaxDelay {
			break
		}
		d *= 2
	}
	return min(d, t.cfg.MaxDelay)
}

// prefetched are attempt records read ahead, by key, so that the checks of
// one request cost one store round trip.
type prefetched map[string]store.Attempts

type prefetchedKey struct{}

// check returns an error if an attempt under any of cs must still wait: a
// slow_down *Error carrying the longest wait, or the store's failure. It
// also returns the records, for done.
func (t *throttle) check(ctx context.Context, cs []counter) ([]store.Attempts, error) {
	recs := make([]store.Attempts, len(cs))
	var missing []string
	if pre, ok := ctx.Value(prefetchedKey{}).(prefetched); ok {
		for i, c := range cs {
			r, ok := pre[c.key]
			if !ok {
				missing = append(missing, c.key)
			}
			recs[i] = r
		}
	} else {
		for _, c := range cs {
			missing = append(missing, c.key)
		}
	}
	if len(missing) > 0 {
		sctx, cancel := context.WithTimeout(ctx, t.timeout)
		got, err := t.store.GetAttempts(sctx, missing...)
		cancel()
		if err != nil {
			return nil, storeError(fmt.Errorf("reading failed attempts: %w", err))
		}
		if len(got) != len(missing) {
			return nil, storeError(fmt.Errorf("reading failed attempts: %d records for %d keys", len(got), len(missing)))
		}
		byKey := make(map[string]store.Attempts, len(missing))
		for i, k := range missing {
			byKey[k] = got[i]
		}
		for i, c := range cs {
			if r, ok := byKey[c.key]; ok {
				recs[i] = r
			}
		}
	}
	now := t.now()
	var retry time.Duration
	for i, c := range cs {
		if until := recs[i].Last.Add(t.wait(recs[i], c.threshold)); now.Before(until) {
			retry = max(retry, until.Sub(now))
		}
	}
	if retry > 0 {
		return nil, slowDown(retry)
	}
	return recs, nil
}

// prefetch reads the records of cs in one round trip and returns ctx
// carrying them, or the error check would return for them.
func (t *throttle) prefetch(ctx context.Context, cs []counter) (context.Context, error) {
	recs, err := t.check(ctx, cs)
	if err != nil {
		return ctx, err
	}
	pre := make(prefetched, len(cs))
	for i, c := range cs {
		pre[c.key] = recs[i]
	}
	return context.WithValue(ctx, prefetchedKey{}, pre), nil
}

// failed records a failed check under each of cs. The record lives until
// MaxDelay after the wait it now imposes ends.
func (t *throttle) failed(ctx context.Context, cs []counter, recs []store.Attempts) error {
	// A client that gave up must not leave its failure uncounted.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
	defer cancel()
	now := t.now()
	for i, c := range cs {
		next := recs[i]
		next.Failures++
		exp := now.Add(t.wait(next, c.threshold) + t.cfg.MaxDelay)
		if _, err := t.store.AddFailure(ctx, c.key, exp); err != nil {
			return storeError(fmt.Errorf("counting a failed attempt: %w", err))
		}
	}
	return nil
}

// succeeded resets the count of c after a successful check, when it had
// failures: most successes cost no write.
func (t *throttle) succeeded(ctx context.Context, c counter, rec store.Attempts) {
	if rec.Failures == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
	defer cancel()
	// A reset that fails leaves a count that expires by itself; the
	// credentials were right, so the request is not failed for it.
	_ = t.store.ResetAttempts(ctx, c.key)
}

// slowDown is the answer to an attempt that must wait.
func slowDown(wait time.Duration) *Error {
	e := newError(ErrSlowDown, "too many failed attempts; retry later", nil)
	// Retry-After counts whole seconds: round up, so that a client that
	// obeys it is never refused again for waiting too little.
	e.RetryAfter = wait.Truncate(time.Second)
	if e.RetryAfter < wait {
		e.RetryAfter += time.Second
	}
	return e
}

// clientAddr returns the address of the client that sent r, reading
// X-Forwarded-For only when the peer is a trusted proxy.
func (t *throttle) clientAddr(r *http.Request) string {
	peer := peerAddr(r)
	if !peer.IsValid() || !t.trusted(peer) {
		return addrString(peer, r.RemoteAddr)
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: what lies before it cannot be trusted
		}
		a = a.Unmap()
		if !t.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func (t *throttle) trusted(a netip.Addr) bool {
	for _, p := range t.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the IP address of r's connection.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func addrString(a netip.Addr, fallback string) string {
	if a.IsValid() {
		return a.String()
	}
	return fallback
}

type clientAddrKey struct{}

// clientAddrFrom is the client address the token handler put in ctx, or
// "" for a direct call.
func clientAddrFrom(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}
