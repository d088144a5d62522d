package oauth2

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
)

// Defaults for RemoteKeySet.
const (
	DefaultJWKSRefreshInterval = 15 * time.Minute
	DefaultJWKSMinRefetch      = 10 * time.Second
	maxJWKSBytes               = 1 << 20
)

// RemoteKeySetOptions tune a RemoteKeySet.
type RemoteKeySetOptions struct {
	// Client fetches the JWKS; nil means a client with a 10 s timeout.
	// Redirects are followed only within the origin (scheme, host and
	// port) of the JWKS URL, at most 10 as http.Client does by default,
	// unless Client has a CheckRedirect of its own: then that decides. The
	// Client given is not modified.
	Client *http.Client
	// RefreshInterval is how long a fetched set is used before it is
	// fetched again; 0 means DefaultJWKSRefreshInterval.
	RefreshInterval time.Duration
	// MinRefetchInterval limits fetches caused by unknown kids, so tokens
	// with made-up kids cannot make the verifier hammer the issuer; 0 means
	// DefaultJWKSMinRefetch.
	MinRefetchInterval time.Duration
}

// RemoteKeySet is a KeyResolver over a JWKS URL (an issuer's jwks_uri). It
// caches the set, refetches it when a token names an unknown kid (at most
// once per MinRefetchInterval) and when it is older than RefreshInterval.
// Symmetric keys in the document are ignored: a shared secret is never taken
// from the network. A document in which two keys share a kid is refused
// whole, like any failed fetch: the set fetched before, if any, stays in use.
// It is safe for concurrent use.
type RemoteKeySet struct {
	url  string
	opts RemoteKeySetOptions

	// fresh is the set while it is younger than RefreshInterval, read
	// without the lock: every cached verification asks for its key again,
	// so the common case must not contend.
	fresh atomic.Pointer[fetchedKeys]

	mu        sync.Mutex
	keys      map[string]*Key
	fetchedAt time.Time
	lastTry   time.Time
	inflight  chan struct{} // closed when the fetch under way ends
	lastErr   error
}

// fetchedKeys is one fetched set, never modified.
type fetchedKeys struct {
	keys map[string]*Key
	at   time.Time
}

// NewRemoteKeySet returns a RemoteKeySet for jwksURL, an http or https URL.
// Nothing is fetched until the first VerificationKey call.
func NewRemoteKeySet(jwksURL string, opts RemoteKeySetOptions) (*RemoteKeySet, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oauth2: JWKS URL %q is not an http(s) URL with a host", jwksURL)
	}
	if opts.RefreshInterval < 0 || opts.MinRefetchInterval < 0 {
		return nil, errors.New("oauth2: RemoteKeySetOptions intervals must not be negative")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Client.CheckRedirect == nil {
		c := *opts.Client // the caller's client may be shared; leave it as it is
		c.CheckRedirect = sameOriginRedirect
		opts.Client = &c
	}
	if opts.RefreshInterval == 0 {
		opts.RefreshInterval = DefaultJWKSRefreshInterval
	}
	if opts.MinRefetchInterval == 0 {
		opts.MinRefetchInterval = DefaultJWKSMinRefetch
	}
	return &RemoteKeySet{url: jwksURL, opts: opts}, nil
}

// VerificationKey implements KeyResolver.
//
// A known key is returned at once even when the set is due for a refresh,
// which then happens in the background, so verification never stalls on the
// issuer. An unknown kid waits for a fetch (if the rate limit allows one); if
// the JWKS cannot be fetched at all the error wraps ErrKeysUnavailable, not
// ErrUnknownKey, because the token may well be valid.
func (s *RemoteKeySet) VerificationKey(ctx context.Context, kid string) (*Key, error) {
	if f := s.fresh.Load(); f != nil && time.Since(f.at) <= s.opts.RefreshInterval {
		if k, ok := f.keys[kid]; ok {
			return k, nil
		}
	}
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		k, known := s.keys[kid]
		stale := time.Since(s.fetchedAt) > s.opts.RefreshInterval
		mayFetch := time.Since(s.lastTry) >= s.opts.MinRefetchInterval
		if known {
			if stale && mayFetch && s.inflight == nil {
				s.startFetchLocked()
			}
			s.mu.Unlock()
			return k, nil
		}
		if attempt > 0 || (!mayFetch && s.inflight == nil) {
			err, everFetched := s.lastErr, !s.fetchedAt.IsZero()
			s.mu.Unlock()
			if err != nil && !everFetched {
				return nil, fmt.Errorf("%w: fetching JWKS: %v", ErrKeysUnavailable, err)
			}
			return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
		}
		wait := s.inflight
		if wait == nil {
			wait = s.startFetchLocked()
		}
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for JWKS: %w", ErrKeysUnavailable, ctx.Err())
		}
	}
}

// startFetchLocked starts a fetch and returns the channel closed when it
// ends.
func (s *RemoteKeySet) startFetchLocked() chan struct{} {
	wait := make(chan struct{})
	s.inflight = wait
	s.lastTry = time.Now()
	go s.fetch(wait)
	return wait
}

// fetch loads the set and wakes the waiters. It runs detached from any one
// request's context, so a caller giving up does not fail the others.
func (s *RemoteKeySet) fetch(done chan struct{}) {
	keys, err := s.load()
	s.mu.Lock()
	if err == nil {
		s.keys = keys
		s.fetchedAt = time.Now()
		s.fresh.Store(&fetchedKeys{keys: keys, at: s.fetchedAt})
	}
	s.lastErr = err
	s.inflight = nil
	s.mu.Unlock()
	close(done)
}

func (s *RemoteKeySet) load() (map[string]*Key, error) {
	req, err := http.NewRequest(http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, err
	}
	return parseJWKS(body)
}

// sameOriginRedirect is an http.Client CheckRedirect that refuses to leave
// the origin of the first request: the keys must come from the host the
// JWKS URL names, not from wherever a compromised or misconfigured path on
// it points.
func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 { // http.Client's own default limit
		return errors.New("stopped after 10 redirects")
	}
	if from, to := origin(via[0].URL), origin(req.URL); from != to {
		return fmt.Errorf("refusing redirect from %s to another origin, %s", from, to)
	}
	return nil
}

// origin is the RFC 6454 origin of u, with the default port made explicit
// so that https://h and https://h:443 compare equal.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// parseJWKS keeps the usable signing keys of a JWKS document, each with
// the one algorithm it may verify.
func parseJWKS(body []byte) (map[string]*Key, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	// go-jose's JSON package, as for every key below: names compare exactly
	// and may not repeat, so that this check and go-jose read the same kids.
	if err := josejson.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("malformed JWKS: %w", err)
	}
	// RFC 7517 §4.5: kids SHOULD be distinct. When two entries share one we
	// cannot know which key the issuer meant, so the whole document is
	// refused. Every entry with a kid counts, even one skipped below as
	// unusable: keeping the usable one would still be guessing.
	seen := make(map[string]bool, len(doc.Keys))
	for _, raw := range doc.Keys {
		var id struct {
			KeyID string `json:"kid"`
		}
		_ = josejson.Unmarshal(raw, &id) // an entry go-jose cannot read has no kid
		if id.KeyID == "" {
			continue
		}
		if seen[id.KeyID] {
			return nil, fmt.Errorf("JWKS has more than one key with kid %q", id.KeyID)
		}
		seen[id.KeyID] = true
	}
	keys := make(map[string]*Key, len(doc.Keys))
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // a key of a kind we do not know must not hide the others
		}
		if k.KeyID == "" || (k.Use != "" && k.Use != "sig") || !k.IsPublic() {
			continue
		}
		alg, ok := publicKeyAlgorithm(k.Key)
		if !ok || (k.Algorithm != "" && k.Algorithm != alg) {
			continue
		}
		keys[k.KeyID] = verificationKey(k.KeyID, alg, k.Key)
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return keys, nil
}

// publicKeyAlgorithm is the one algorithm the SDK accepts for a public key
// of this type.
func publicKeyAlgorithm(key any) (string, bool) {
	switch k := key.(type) {
	case ed25519.PublicKey:
		return EdDSA, true
	case *ecdsa.PublicKey:
		return ES256, k.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return RS256, k.N.BitLen() >= minRSAKeyBits
	default:
		return "", false
	}
}
