package oauth2

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	josejson "github.com/go-jose/go-jose/v4/json"
)

// DefaultIntrospectionCacheTTL is how long an IntrospectionChecker
// remembers an answer unless configured otherwise, and so how long a token
// revoked at the authorization server may still be accepted.
const DefaultIntrospectionCacheTTL = 5 * time.Second

// maxIntrospectionBytes bounds the introspection response read. An answer
// about one token is a few hundred bytes; anything near this is not one.
const maxIntrospectionBytes = 64 << 10

// TokenRevocationChecker is a RevocationChecker that needs the token
// itself, not only its jti and grant, to tell whether it is revoked, as an
// IntrospectionChecker does. When VerifierConfig.Revocations implements
// it, the Verifier calls IsTokenRevoked instead of IsRevoked.
type TokenRevocationChecker interface {
	RevocationChecker
	// IsTokenRevoked reports whether token, whose signature and claims c
	// the Verifier has checked, is revoked. It must neither modify nor keep
	// c.
	IsTokenRevoked(ctx context.Context, token string, c *Claims) (bool, error)
}

// IntrospectionCheckerConfig configures an IntrospectionChecker.
type IntrospectionCheckerConfig struct {
	// URL is the authorization server's introspection endpoint (RFC 7662
	// §2): the introspection_endpoint of its metadata, which for an Issuer
	// is its issuer URL followed by IntrospectionPath. It must be an https
	// URL (http for local development).
	URL string
	// ClientID is the resource server's client id at the authorization
	// server, which it authenticates with (client_secret_basic). Register
	// it with the Issuer as a confidential Client with ResourceServer set:
	// any other client is told that the tokens of other clients are
	// inactive, so they would all be refused.
	ClientID string
	// ClientSecret is the secret of ClientID.
	ClientSecret string
	// HTTPClient sends the requests; nil means a client with a 10 s
	// timeout. Redirects are not followed, so that the token and the
	// secret go to URL only: a redirect is an error like any answer other
	// than 200, unless HTTPClient has a CheckRedirect of its own. The
	// client given is not modified.
	HTTPClient *http.Client
	// CacheTTL is how long an answer, active or not, is remembered, never
	// past the token's expiry. It bounds how long a token revoked at the
	// authorization server is still accepted here. 0 means
	// DefaultIntrospectionCacheTTL; a negative value disables the cache, so
	// that every check asks the endpoint.
	CacheTTL time.Duration
	// CacheSize is how many answers are remembered; past it, the oldest is
	// forgotten first. 0 means DefaultCacheSize; a negative value disables
	// the cache.
	CacheSize int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// IntrospectionChecker is a TokenRevocationChecker that asks the
// authorization server's introspection endpoint (RFC 7662) whether a token
// is still active, for a resource server that cannot reach the store the
// revocations are written to. Pass it as VerifierConfig.Revocations; the
// Verifier's StoreTimeout bounds each request.
//
// It fails closed: a transport error, an answer other than 200, a body
// that is not an introspection response or is larger than 64 KiB, or an
// active answer about another token (its jti, sub, client_id or iss
// differing from the token's) is an error wrapping ErrRevocationUnavailable,
// which the Verifier's RevocationPolicy then decides on; an inactive
// answer is "revoked". Answers are remembered for CacheTTL, keyed by a
// SHA-256 digest of the token, and concurrent checks of one token share one
// request. It is safe for concurrent use.
type IntrospectionChecker struct {
	cfg IntrospectionCheckerConfig

	mu       sync.Mutex
	answers  map[[sha256.Size]byte]introspectionAnswer // nil when the cache is disabled
	order    [][sha256.Size]byte                       // keys of answers, oldest first from next
	next     int
	inflight map[[sha256.Size]byte]*introspectionCall
}

// introspectionAnswer is what the endpoint said about a token, and until
// when to believe it.
type introspectionAnswer struct {
	revoked bool
	until   time.Time
}

// introspectionCall is one request under way, which checks of the same
// token wait for instead of sending their own.
type introspectionCall struct {
	done    chan struct{} // closed when the fields below are set
	revoked bool
	err     error
	// abandoned is set when the request failed because the context of the
	// check that sent it ended: the checks waiting for it ask again.
	abandoned bool
}

// NewIntrospectionChecker validates cfg and returns an IntrospectionChecker.
// Nothing is sent until the first check.
func NewIntrospectionChecker(cfg IntrospectionCheckerConfig) (*IntrospectionChecker, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return nil, errors.New("oauth2: IntrospectionCheckerConfig.URL is required")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "":
		return nil, fmt.Errorf("oauth2: IntrospectionCheckerConfig.URL %q must be an http(s) URL with a host and no user info or fragment", cfg.URL)
	case cfg.ClientID == "":
		return nil, errors.New("oauth2: IntrospectionCheckerConfig.ClientID is required")
	case cfg.ClientSecret == "":
		// RFC 7662 §2.1: the endpoint must authenticate its callers, and an
		// Issuer lets only confidential clients introspect.
		return nil, errors.New("oauth2: IntrospectionCheckerConfig.ClientSecret is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.HTTPClient.CheckRedirect == nil {
		c := *cfg.HTTPClient // the caller's client may be shared; leave it as it is
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		cfg.HTTPClient = &c
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultIntrospectionCacheTTL
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &IntrospectionChecker{cfg: cfg, inflight: make(map[[sha256.Size]byte]*introspectionCall)}
	if cfg.CacheTTL > 0 && cfg.CacheSize > 0 {
		c.answers = make(map[[sha256.Size]byte]introspectionAnswer)
	}
	return c, nil
}

// IsRevoked implements RevocationChecker. Introspection needs the token
// itself, so it never answers "not revoked": it returns an error wrapping
// ErrRevocationUnavailable. The Verifier calls IsTokenRevoked instead.
func (c *IntrospectionChecker) IsRevoked(context.Context, string, string) (bool, error) {
	return false, fmt.Errorf("%w: an IntrospectionChecker needs the token: call IsTokenRevoked", ErrRevocationUnavailable)
}

// IsTokenRevoked implements TokenRevocationChecker: it reports whether the
// introspection endpoint says token is not active, from the cache when it
// was asked within CacheTTL. Errors wrap ErrRevocationUnavailable.
func (c *IntrospectionChecker) IsTokenRevoked(ctx context.Context, token string, claims *Claims) (bool, error) {
	if claims == nil {
		return false, fmt.Errorf("%w: IsTokenRevoked needs the token's claims", ErrRevocationUnavailable)
	}
	key := sha256.Sum256([]byte(token))
	for {
		c.mu.Lock()
		if a, ok := c.answers[key]; ok && c.cfg.Now().Before(a.until) {
			c.mu.Unlock()
			return a.revoked, nil
		}
		call, joined := c.inflight[key]
		if !joined {
			call = &introspectionCall{done: make(chan struct{})}
			c.inflight[key] = call
		}
		c.mu.Unlock()

		if !joined {
			return c.send(ctx, key, call, token, claims)
		}
		select {
		case <-call.done:
			if !call.abandoned {
				return call.revoked, call.err
			}
		case <-ctx.Done():
			return false, fmt.Errorf("%w: introspection: %w", ErrRevocationUnavailable, ctx.Err())
		}
	}
}

// send asks the endpoint about token for call, remembers a good answer and
// hands the outcome to the checks waiting for it.
func (c *IntrospectionChecker) send(ctx context.Context, key [sha256.Size]byte, call *introspectionCall, token string, claims *Claims) (bool, error) {
	// The answer is as old as the question: CacheTTL counts from here.
	asked := c.cfg.Now()
	revoked, err := c.introspect(ctx, token, claims)
	c.mu.Lock()
	delete(c.inflight, key)
	if err == nil {
		c.remember(key, introspectionAnswer{revoked: revoked, until: minTime(asked.Add(c.cfg.CacheTTL), claims.ExpiresAt)})
	}
	call.revoked, call.err = revoked, err
	call.abandoned = err != nil && ctx.Err() != nil
	c.mu.Unlock()
	close(call.done)
	return revoked, err
}

// remember stores a, forgetting the oldest answer when the cache is full.
// Every key in answers is in order exactly once, so the cache never holds
// more than CacheSize answers. Called with c.mu held.
func (c *IntrospectionChecker) remember(key [sha256.Size]byte, a introspectionAnswer) {
	if c.answers == nil {
		return
	}
	if _, ok := c.answers[key]; !ok {
		if len(c.order) < c.cfg.CacheSize {
			c.order = append(c.order, key)
		} else {
			delete(c.answers, c.order[c.next])
			c.order[c.next] = key
			c.next = (c.next + 1) % len(c.order)
		}
	}
	c.answers[key] = a
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// introspectionResponse is the part of an RFC 7662 §2.2 response the
// checker reads.
type introspectionResponse struct {
	Active   *bool  `json:"active"` // required; a pointer tells absent from false
	ID       string `json:"jti"`
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Issuer   string `json:"iss"`
}

// introspect sends one RFC 7662 §2.1 request about token and reads the
// answer. Every failure wraps ErrRevocationUnavailable; none of them
// carries the token.
func (c *IntrospectionChecker) introspect(ctx context.Context, token string, claims *Claims) (bool, error) {
	unavailable := func(format string, args ...any) error {
		return fmt.Errorf("%w: introspection: %s", ErrRevocationUnavailable, fmt.Sprintf(format, args...))
	}
	form := url.Values{"token": {token}, "token_type_hint": {HintAccessToken}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return false, unavailable("%v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
	req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// Keep the context's error matchable: the Verifier's StoreTimeout
		// shows up as context.DeadlineExceeded.
		return false, fmt.Errorf("%w: introspection: %w", ErrRevocationUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBytes+1))
	if err != nil {
		return false, fmt.Errorf("%w: introspection: reading the response: %w", ErrRevocationUnavailable, err)
	}
	if len(body) > maxIntrospectionBytes {
		return false, unavailable("response larger than %d bytes", maxIntrospectionBytes)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if josejson.Unmarshal(body, &e) == nil && e.Error != "" {
			return false, unavailable("endpoint answered %d %s", resp.StatusCode, strconvQuote(e.Error))
		}
		return false, unavailable("endpoint answered %d", resp.StatusCode)
	}
	var in introspectionResponse
	if err := josejson.Unmarshal(body, &in); err != nil {
		return false, unavailable("malformed response: %v", err)
	}
	if in.Active == nil {
		return false, unavailable("response has no active member")
	}
	if !*in.Active {
		return true, nil
	}
	// An active answer must be about this token: one about another means a
	// misrouted request or a confused server, and vouches for nothing.
	for _, m := range []struct{ name, got, want string }{
		{"jti", in.ID, claims.ID},
		{"sub", in.Subject, claims.Subject},
		{"client_id", in.ClientID, claims.ClientID},
		{"iss", in.Issuer, claims.Issuer},
	} {
		if m.got != "" && m.got != m.want {
			return false, unavailable("the response's %s is not the token's", m.name)
		}
	}
	return false, nil
}
