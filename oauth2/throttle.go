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
// per username (or client id) and client address, and per username (or
// client id) from any address. Once a count reaches its threshold, the next
// attempt under it must wait Delay, doubling with each further failure up
// to MaxDelay; until then the token endpoint answers 429 slow_down with a
// Retry-After header, whether or not the credentials are right, alike for
// known and unknown usernames and client ids, and without running the
// password hash. An attempt is counted on its per-address count before its
// credential is checked, so an attempt the store cannot count is never
// checked, and a burst of concurrent attempts gets no more checks than the
// count allows. Nothing is ever locked for good: a count is forgotten
// MaxDelay after its wait ends with no new failure, and a success from an
// address resets that address's count (never the count from any address,
// which the owner's own logins must not erase).
//
// IPv6 clients are counted per /64, the block one host is usually given.
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
	// UserThreshold is the same for one username, or one client id, from
	// any address, against attacks spread over many addresses; 0 means
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

// counters are the counts an attempt to prove identity (a username or a
// client id, of the kind given) from addr is under: first the count for
// that identity from that address, which a success resets, then, unless
// UserThreshold is negative, the count for the identity from anywhere,
// which a success does not reset, so that the owner's own logins cannot
// erase an attacker's failures. addr is empty for a direct call.
func (t *throttle) counters(kind, identity, addr string) []counter {
	cs := []counter{{key: t.key(kind, identity, addr), threshold: t.cfg.Threshold}}
	if t.cfg.UserThreshold > 0 {
		cs = append(cs, counter{key: t.key(kind+"-any", identity), threshold: t.cfg.UserThreshold})
	}
	return cs
}

// passwordCounters are the counts of a password attempt for username.
// Usernames are folded to lower case, so that "Alice" and "alice" cannot be
// two counts for one user.
func (t *throttle) passwordCounters(username, addr string) []counter {
	return t.counters("password", strings.ToLower(username), addr)
}

// clientCounters are the counts of a client-secret attempt for clientID.
func (t *throttle) clientCounters(clientID, addr string) []counter {
	return t.counters("client", clientID, addr)
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

// attempt is a credential check the throttle let through: its counts, as
// read before it, with a failure already reserved on the first.
type attempt struct {
	cs   []counter
	recs []store.Attempts
}

// begin lets an attempt under cs through, or refuses it (slow_down, or the
// store's failure). It counts the attempt as a failure on its per-address
// count before the credential is checked: an attempt the store cannot
// count is never checked, and of a burst of concurrent attempts only as
// many are checked as the count allows, however they interleave.
func (t *throttle) begin(ctx context.Context, cs []counter) (*attempt, error) {
	recs, err := t.check(ctx, cs)
	if err != nil {
		return nil, err
	}
	return t.reserve(ctx, cs, recs)
}

// reserve is begin after check: it counts the attempt on its per-address
// count, given the records check read.
func (t *throttle) reserve(ctx context.Context, cs []counter, recs []store.Attempts) (*attempt, error) {
	c, prev := cs[0], recs[0]
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
	got, err := t.store.AddFailure(sctx, c.key, t.expiry(prev, c.threshold))
	cancel()
	if err != nil {
		return nil, storeError(fmt.Errorf("counting an attempt: %w", err))
	}
	// Below the threshold every attempt may try; past it, one attempt each
	// time a wait has ended. Anything more raced past check with others.
	if got.Failures > max(c.threshold, prev.Failures+1) {
		return nil, slowDown(t.wait(got, c.threshold))
	}
	return &attempt{cs: cs, recs: recs}, nil
}

// expiry is when a count whose record was prev, with one more failure, may
// be forgotten: MaxDelay after the wait it then imposes ends.
func (t *throttle) expiry(prev store.Attempts, threshold int) time.Time {
	prev.Failures++
	return t.now().Add(t.wait(prev, threshold) + t.cfg.MaxDelay)
}

// failed records a failed check on the attempt's other counts (its first
// was counted by begin).
func (t *throttle) failed(ctx context.Context, a *attempt) error {
	// A client that gave up must not leave its failure uncounted.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
	defer cancel()
	for i, c := range a.cs[1:] {
		if _, err := t.store.AddFailure(ctx, c.key, t.expiry(a.recs[i+1], c.threshold)); err != nil {
			return storeError(fmt.Errorf("counting a failed attempt: %w", err))
		}
	}
	return nil
}

// succeeded resets the attempt's per-address count, the failure begin
// reserved included.
func (t *throttle) succeeded(ctx context.Context, a *attempt) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
	defer cancel()
	// A reset that fails leaves a count that expires by itself; the
	// credentials were right, so the request is not failed for it.
	_ = t.store.ResetAttempts(ctx, a.cs[0].key)
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

// clientAddr returns the address of the client that sent r, as its counts
// name it, reading X-Forwarded-For only when the peer is a trusted proxy.
func (t *throttle) clientAddr(r *http.Request) string {
	peer := peerAddr(r)
	if !peer.IsValid() || !t.trusted(peer) {
		return addrString(peer, r.RemoteAddr)
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break // a malformed hop: what lies before it cannot be trusted
		}
		if !t.trusted(a) {
			return addrString(a, "")
		}
		peer = a
	}
	return addrString(peer, "")
}

// parseHop reads one X-Forwarded-For entry: an address, or an address and
// a port as some proxies write it.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
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

// addrString names a client address for its counts: an IPv4 address
// itself, an IPv6 one by its /64, since one host commonly holds a whole
// /64 and could otherwise count afresh from each of its addresses.
func addrString(a netip.Addr, fallback string) string {
	switch {
	case !a.IsValid():
		return fallback
	case a.Is6():
		return netip.PrefixFrom(a, 64).Masked().String()
	default:
		return a.String()
	}
}

type clientAddrKey struct{}

// clientAddrFrom is the client address the token handler put in ctx, or
// "" for a direct call.
func clientAddrFrom(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}
