package oauth2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/store"
)

// throttleFixture is a fixture whose password checks are counted.
func throttleFixture(t *testing.T, mutate ...func(*IssuerConfig)) (*fixture, *countingUsers) {
	t.Helper()
	var users *countingUsers
	f := newFixture(t, append([]func(*IssuerConfig){func(c *IssuerConfig) {
		users = &countingUsers{UserAuthenticator: c.Users}
		c.Users = users
	}}, mutate...)...)
	return f, users
}

func from(addr string) func(*http.Request) {
	return func(r *http.Request) { r.RemoteAddr = addr }
}

func passwordForm(username, password string) url.Values {
	return url.Values{"grant_type": {"password"}, "client_id": {pubID}, "username": {username}, "password": {password}}
}

// wantSlowDown checks a 429 slow_down answer with Retry-After.
func wantSlowDown(t *testing.T, what string, w *http.Response, body map[string]any, retryAfter string) {
	t.Helper()
	if w.StatusCode != http.StatusTooManyRequests || body["error"] != "slow_down" {
		t.Fatalf("Got(%s) = %d %v, want 429 slow_down", what, w.StatusCode, body)
	}
	if got := w.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Got(%s) Retry-After %q, want %q", what, got, retryAfter)
	}
	if got := w.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Got(%s) Cache-Control %q, want no-store", what, got)
	}
}

func TestThrottlePasswordPerAddress(t *testing.T) {
	f, users := throttleFixture(t)
	h := f.issuer.TokenHandler()
	const attacker, other = "198.51.100.7:4000", "203.0.113.9:4000"
	for i := range DefaultThrottleThreshold {
		if w, body := post(t, h, passwordForm(aliceName, "wrong"), from(attacker)); w.Code != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("Got(wrong password %d) = %d %v, want 400 invalid_grant", i+1, w.Code, body)
		}
	}
	checks := int64(users.calls.Load())

	// The right password, a wrong one and an unknown user get the same
	// answer during the wait, and no password is checked.
	var answers []string
	for _, form := range []url.Values{passwordForm(aliceName, alicePassword), passwordForm(aliceName, "wrong")} {
		w, body := post(t, h, form, from(attacker))
		wantSlowDown(t, "attempt during the wait", w.Result(), body, "1")
		answers = append(answers, fmt.Sprint(w.Code, w.Header().Get("Retry-After"), w.Body.String()))
	}
	if answers[0] != answers[1] {
		t.Errorf("Got different answers for a right and a wrong password during the wait: %q", answers)
	}
	if got := int64(users.calls.Load()); got != checks {
		t.Errorf("Got %d password checks during the wait, want none", got-checks)
	}
	// Another address is not held up by this one's failures.
	if w, body := post(t, h, passwordForm(aliceName, alicePassword), from(other)); w.Code != http.StatusOK {
		t.Fatalf("Got(right password from another address) = %d %v, want 200", w.Code, body)
	}

	// Each further failure doubles the wait.
	wait := time.Second
	for _, want := range []string{"2", "4", "8"} {
		f.clock.Advance(wait) // just past the wait, well within the record's life
		wait *= 2
		if w, body := post(t, h, passwordForm(aliceName, "wrong"), from(attacker)); w.Code != http.StatusBadRequest {
			t.Fatalf("Got(wrong password after the wait) = %d %v, want 400", w.Code, body)
		}
		w, body := post(t, h, passwordForm(aliceName, alicePassword), from(attacker))
		wantSlowDown(t, "attempt after another failure", w.Result(), body, want)
	}

	// A success resets the address's count.
	f.clock.Advance(8 * time.Second)
	if w, body := post(t, h, passwordForm(aliceName, alicePassword), from(attacker)); w.Code != http.StatusOK {
		t.Fatalf("Got(right password once the wait is over) = %d %v, want 200", w.Code, body)
	}
	if w, _ := post(t, h, passwordForm(aliceName, "wrong"), from(attacker)); w.Code != http.StatusBadRequest {
		t.Errorf("Got(one wrong password after a success) = %d, want 400: the count starts again", w.Code)
	}
}

func TestThrottleUnknownUserAlike(t *testing.T) {
	f, _ := throttleFixture(t)
	h := f.issuer.TokenHandler()
	var answers []string
	for _, user := range []string{aliceName, "nobody"} {
		for range DefaultThrottleThreshold {
			post(t, h, passwordForm(user, "wrong"), from("198.51.100.7:1"))
		}
		w, body := post(t, h, passwordForm(user, "wrong"), from("198.51.100.7:1"))
		wantSlowDown(t, "user "+user, w.Result(), body, "1")
		answers = append(answers, fmt.Sprint(w.Code, w.Header(), w.Body.String()))
	}
	if answers[0] != answers[1] {
		t.Errorf("Got different answers for a known and an unknown user: %q", answers)
	}
}

func TestThrottleWaitIsCapped(t *testing.T) {
	f, _ := throttleFixture(t, func(c *IssuerConfig) { c.Throttle = ThrottleConfig{Threshold: 1, MaxDelay: 3 * time.Second} })
	h := f.issuer.TokenHandler()
	for range 10 {
		post(t, h, passwordForm(aliceName, "wrong"), from("198.51.100.7:1"))
		f.clock.Advance(3 * time.Second) // past any wait, within the record's life
	}
	post(t, h, passwordForm(aliceName, "wrong"), from("198.51.100.7:1"))
	w, body := post(t, h, passwordForm(aliceName, alicePassword), from("198.51.100.7:1"))
	wantSlowDown(t, "after many failures", w.Result(), body, "3")
	// No lockout for good: the count is forgotten MaxDelay after the wait.
	f.clock.Advance(7 * time.Second)
	if w, body := post(t, h, passwordForm(aliceName, alicePassword), from("198.51.100.7:1")); w.Code != http.StatusOK {
		t.Errorf("Got(after the count expired) = %d %v, want 200", w.Code, body)
	}
}

func TestThrottlePerUserAcrossAddresses(t *testing.T) {
	f, _ := throttleFixture(t, func(c *IssuerConfig) { c.Throttle = ThrottleConfig{Threshold: 100, UserThreshold: 3} })
	h := f.issuer.TokenHandler()
	for i := range 3 {
		post(t, h, passwordForm(aliceName, "wrong"), from(fmt.Sprintf("198.51.100.%d:1", i+1)))
	}
	w, body := post(t, h, passwordForm(aliceName, alicePassword), from("203.0.113.50:1"))
	wantSlowDown(t, "a fourth address", w.Result(), body, "1")
	// The count is per user: others are not held up.
	if w, body := post(t, h, passwordForm("bob", "builder"), from("203.0.113.50:1")); w.Code != http.StatusOK {
		t.Errorf("Got(another user) = %d %v, want 200", w.Code, body)
	}
}

func TestThrottleClientSecret(t *testing.T) {
	f, _ := throttleFixture(t)
	h := f.issuer.TokenHandler()
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
	var answers []string
	for _, id := range []string{confID, "no-such-client"} {
		for i := range DefaultThrottleThreshold {
			if w, body := post(t, h, refresh, basic(id, "wrong")); w.Code != http.StatusUnauthorized {
				t.Fatalf("Got(%s wrong secret %d) = %d %v, want 401", id, i+1, w.Code, body)
			}
		}
		w, body := post(t, h, refresh, basic(id, confSecret))
		wantSlowDown(t, id+" during the wait", w.Result(), body, "1")
		answers = append(answers, fmt.Sprint(w.Code, w.Header(), w.Body.String()))
	}
	if answers[0] != answers[1] {
		t.Errorf("Got different answers for a known and an unknown client: %q", answers)
	}
	// Through AuthenticateClient too (the revocation and introspection
	// endpoints use it); direct calls share the empty address.
	for range DefaultThrottleThreshold {
		_, _ = f.issuer.AuthenticateClient(t.Context(), pwOnlyID, "guess")
	}
	if _, err := f.issuer.AuthenticateClient(t.Context(), pwOnlyID, pwOnlySecret); !isSlowDown(err) {
		t.Errorf("AuthenticateClient(during the wait) error = %v, want %v", err, ErrSlowDown)
	}
	f.clock.Advance(time.Second)
	if _, err := f.issuer.AuthenticateClient(t.Context(), pwOnlyID, pwOnlySecret); err != nil {
		t.Errorf("AuthenticateClient(after the wait) error = %v", err)
	}
}

func isSlowDown(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Code == ErrSlowDown && e.RetryAfter > 0
}

// barrierStore holds the first n GetAttempts calls until all n have read,
// so that n attempts pass the wait check together, as a burst racing on
// many instances does.
type barrierStore struct {
	*memstore.Store
	arrive sync.WaitGroup
	left   atomic.Int64
}

func (s *barrierStore) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	got, err := s.Store.GetAttempts(ctx, keys...)
	if s.left.Add(-1) >= 0 {
		s.arrive.Done()
		s.arrive.Wait()
	}
	return got, err
}

// A burst of concurrent attempts that all passed the wait check gets no
// more password checks than the threshold allows: each attempt is counted
// before its check, and those past the threshold are refused unchecked.
// Every attempt is counted.
func TestThrottleBurstGetsThresholdChecks(t *testing.T) {
	const attempts = 50
	st := &barrierStore{}
	st.arrive.Add(attempts)
	st.left.Store(attempts)
	f, users := throttleFixture(t, func(c *IssuerConfig) {
		st.Store = memstore.New(memstore.WithClock(c.Now))
		c.Store = st
	})
	var wg sync.WaitGroup
	var slowed atomic.Int64
	for range attempts {
		wg.Go(func() {
			if _, err := f.issuer.PasswordGrant(t.Context(), f.public, aliceName, "wrong", nil); isSlowDown(err) {
				slowed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := users.calls.Load(); got > DefaultThrottleThreshold {
		t.Errorf("Got %d password checks from a burst of %d, want at most %d", got, attempts, DefaultThrottleThreshold)
	}
	if got := slowed.Load(); got < attempts-DefaultThrottleThreshold {
		t.Errorf("Got %d attempts refused with slow_down, want at least %d", got, attempts-DefaultThrottleThreshold)
	}
	counters := f.issuer.throttle.passwordCounters(aliceName, "")
	got, err := st.Store.GetAttempts(t.Context(), counters[0].key)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Failures != attempts {
		t.Errorf("Got %d attempts counted for the address, want %d", got[0].Failures, attempts)
	}
}

// While the store cannot count, no credential is checked: the answer then
// tells nothing about the guess.
func TestThrottleUncountableAttemptUnchecked(t *testing.T) {
	var st *oauth2test.Store
	f, users := throttleFixture(t, func(c *IssuerConfig) {
		st = oauth2test.New(c.Store)
		c.Store = st
	})
	h := f.issuer.TokenHandler()
	st.Set(oauth2test.Fail, "AddFailure")
	for _, password := range []string{"guess", alicePassword} {
		if w, body := post(t, h, passwordForm(aliceName, password), from("198.51.100.7:1")); w.Code != http.StatusServiceUnavailable {
			t.Errorf("Got(%q while failures cannot be counted) = %d %v, want 503", password, w.Code, body)
		}
	}
	if got := users.calls.Load(); got != 0 {
		t.Errorf("Got %d password checks while failures could not be counted, want none", got)
	}
}

// A client's successes reset the count for its own address only: an
// attacker elsewhere cannot have their failures erased by the owner's
// traffic, and is stopped by the count from any address.
func TestThrottleOwnerCannotResetAttacker(t *testing.T) {
	f, _ := throttleFixture(t)
	h := f.issuer.TokenHandler()
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
	checked := 0
	for range 20 {
		for range DefaultThrottleThreshold {
			if w, _ := post(t, h, refresh, basic(confID, "guess"), from("198.51.100.7:1")); w.Code == http.StatusUnauthorized {
				checked++
			}
		}
		f.clock.Advance(time.Second)
		post(t, h, refresh, basic(confID, confSecret), from("203.0.113.9:1")) // the owner, elsewhere
	}
	if checked > DefaultThrottleThreshold+4 {
		t.Errorf("Got %d wrong secrets checked in 20 s with the owner active, want about %d", checked, DefaultThrottleThreshold+4)
	}
}

// One host holding a whole IPv6 /64 cannot count afresh from each address.
func TestThrottleIPv6PerPrefix(t *testing.T) {
	f, users := throttleFixture(t, func(c *IssuerConfig) { c.Throttle.UserThreshold = -1 })
	h := f.issuer.TokenHandler()
	for i := range 50 {
		post(t, h, passwordForm(aliceName, "wrong"), from(fmt.Sprintf("[2001:db8::%x]:1", i+1)))
	}
	if got := users.calls.Load(); got > DefaultThrottleThreshold {
		t.Errorf("Got %d password checks from one /64, want at most %d", got, DefaultThrottleThreshold)
	}
}

func TestThrottleClientAddress(t *testing.T) {
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: the peer", nil, "198.51.100.7:1", []string{"203.0.113.1"}, "198.51.100.7"},
		{"untrusted peer: header ignored", []netip.Prefix{proxy}, "198.51.100.7:1", []string{"203.0.113.1"}, "198.51.100.7"},
		{"trusted peer: last untrusted hop", []netip.Prefix{proxy}, "10.0.0.2:1", []string{"203.0.113.1, 198.51.100.9, 10.0.0.5"}, "198.51.100.9"},
		{"several headers", []netip.Prefix{proxy}, "10.0.0.2:1", []string{"203.0.113.1", "198.51.100.9"}, "198.51.100.9"},
		{"only proxies", []netip.Prefix{proxy}, "10.0.0.2:1", []string{"10.0.0.3"}, "10.0.0.3"},
		{"malformed hop stops the walk", []netip.Prefix{proxy}, "10.0.0.2:1", []string{"203.0.113.1, junk"}, "10.0.0.2"},
		{"IPv4-mapped peer", nil, "[::ffff:198.51.100.7]:1", nil, "198.51.100.7"},
		{"IPv6 peer counted by its /64", nil, "[2001:db8:1:2:3:4:5:6]:1", nil, "2001:db8:1:2::/64"},
		{"hop with a port", []netip.Prefix{proxy}, "10.0.0.2:1", []string{"203.0.113.5:41234"}, "203.0.113.5"},
		{"IPv6 hop with a port", []netip.Prefix{proxy}, "10.0.0.2:1", []string{"[2001:db8::1]:443"}, "2001:db8::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := &throttle{cfg: ThrottleConfig{TrustedProxies: tt.trusted}}
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := th.clientAddr(r); got != tt.want {
				t.Errorf("clientAddr() = %q, want %q", got, tt.want)
			}
		})
	}
}

// An attacker who rotates X-Forwarded-For is still counted by its peer
// address when no proxy is trusted.
func TestThrottleIgnoresForwardedForByDefault(t *testing.T) {
	f, _ := throttleFixture(t)
	h := f.issuer.TokenHandler()
	for i := range DefaultThrottleThreshold {
		post(t, h, passwordForm(aliceName, "wrong"), from("198.51.100.7:1"), func(r *http.Request) {
			r.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		})
	}
	w, body := post(t, h, passwordForm(aliceName, alicePassword), from("198.51.100.7:1"), func(r *http.Request) {
		r.Header.Set("X-Forwarded-For", "203.0.113.200")
	})
	wantSlowDown(t, "rotated X-Forwarded-For", w.Result(), body, "1")
}

func TestThrottleNeedsAttemptStore(t *testing.T) {
	f := newFixture(t)
	cfg := f.issuer.cfg
	cfg.Store = storeOnly{f.store}
	if _, err := NewIssuer(cfg); err == nil {
		t.Error("NewIssuer(store without AttemptStore) error = nil, want one naming store.AttemptStore")
	}
	cfg.Throttle.Threshold = -1
	iss, err := NewIssuer(cfg)
	if err != nil {
		t.Fatalf("NewIssuer(throttling off) error = %v", err)
	}
	for range 2 * DefaultThrottleThreshold {
		_, _ = iss.PasswordGrant(t.Context(), f.public, aliceName, "wrong", nil)
	}
	if _, err := iss.PasswordGrant(t.Context(), f.public, aliceName, alicePassword, nil); err != nil {
		t.Errorf("PasswordGrant(throttling off) error = %v", err)
	}
	cfg.Throttle = ThrottleConfig{Delay: -time.Second}
	cfg.Store = f.store
	if _, err := NewIssuer(cfg); err == nil {
		t.Error("NewIssuer(negative Delay) error = nil")
	}
}

// storeOnly hides every capability of the store it wraps.
type storeOnly struct{ store.Store }

// The throttle's own store calls fail closed: a count that cannot be read
// or written is a 503, never a password check.
func TestThrottleStoreDown(t *testing.T) {
	var st *oauth2test.Store
	f, users := throttleFixture(t, func(c *IssuerConfig) {
		st = oauth2test.New(c.Store)
		c.Store = st
	})
	h := f.issuer.TokenHandler()
	st.Set(oauth2test.Fail, "GetAttempts")
	w, body := post(t, h, passwordForm(aliceName, alicePassword), from("198.51.100.7:1"))
	if w.Code != http.StatusServiceUnavailable || int64(users.calls.Load()) != 0 {
		t.Errorf("Got(counts unreadable) = %d %v after %d checks, want 503 and no check", w.Code, body, int64(users.calls.Load()))
	}
	st.Set(oauth2test.None, "GetAttempts")
	st.Set(oauth2test.Fail, "AddFailure")
	if w, body := post(t, h, passwordForm(aliceName, "wrong"), from("198.51.100.7:1")); w.Code != http.StatusServiceUnavailable {
		t.Errorf("Got(failure uncountable) = %d %v, want 503", w.Code, body)
	}
}

// The revocation and introspection endpoints count client-secret failures
// by the client's address too: an attacker's wrong secrets on them do not
// hold up the client calling from elsewhere.
func TestThrottleRevocationEndpointPerAddress(t *testing.T) {
	f, _ := throttleFixture(t)
	h := f.issuer.RevocationHandler()
	form := url.Values{"token": {"x"}}
	for range DefaultThrottleThreshold {
		if w, _ := post(t, h, form, basic(confID, "guess"), from("198.51.100.7:1")); w.Code != http.StatusUnauthorized {
			t.Fatalf("Got(wrong secret) = %d, want 401", w.Code)
		}
	}
	if w, body := post(t, h, form, basic(confID, confSecret), from("198.51.100.7:1")); w.Code != http.StatusTooManyRequests {
		t.Errorf("Got(right secret from the attacker's address) = %d %v, want 429", w.Code, body)
	}
	if w, body := post(t, h, form, basic(confID, confSecret), from("203.0.113.9:1")); w.Code != http.StatusOK {
		t.Errorf("Got(right secret from the client's address) = %d %v, want 200", w.Code, body)
	}
}

// A client secret verified recently is no guess: authenticating with it
// again reads the counts and writes nothing, so a busy client's refreshes
// cost one store read for throttling.
func TestThrottleRememberedSecretWritesNothing(t *testing.T) {
	var st *oauth2test.Store
	f, _ := throttleFixture(t, func(c *IssuerConfig) {
		st = oauth2test.New(c.Store)
		c.Store = st
	})
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret); err != nil {
		t.Fatal(err)
	}
	adds, resets, reads := st.Calls("AddFailure"), st.Calls("ResetAttempts"), st.Calls("GetAttempts")
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret); err != nil {
		t.Fatal(err)
	}
	if got := st.Calls("AddFailure") - adds + st.Calls("ResetAttempts") - resets; got != 0 {
		t.Errorf("Got %d throttle writes for a remembered secret, want 0", got)
	}
	if got := st.Calls("GetAttempts") - reads; got != 1 {
		t.Errorf("Got %d throttle reads for a remembered secret, want 1", got)
	}
	// A wrong secret is still counted, remembered or not.
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, "guess"); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("AuthenticateClient(wrong secret) error = %v", err)
	}
	if st.Calls("AddFailure") == adds {
		t.Error("Got no failure counted for a wrong secret")
	}
}
