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
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
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
// from the network. It is safe for concurrent use.
type RemoteKeySet struct {
	url  string
	opts RemoteKeySetOptions

	mu        sync.Mutex
	keys      map[string]*jose.JSONWebKey
	fetchedAt time.Time
	lastTry   time.Time
	inflight  chan struct{} // closed when the fetch under way ends
	lastErr   error
}

// NewRemoteKeySet returns a RemoteKeySet for url. Nothing is fetched until
// the first VerificationKey call.
func NewRemoteKeySet(url string, opts RemoteKeySetOptions) *RemoteKeySet {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultJWKSRefreshInterval
	}
	if opts.MinRefetchInterval <= 0 {
		opts.MinRefetchInterval = DefaultJWKSMinRefetch
	}
	return &RemoteKeySet{url: url, opts: opts}
}

// VerificationKey implements KeyResolver.
//
// A known key is returned at once even when the set is due for a refresh,
// which then happens in the background, so verification never stalls on the
// issuer. An unknown kid waits for a fetch (if the rate limit allows one); if
// the JWKS cannot be fetched at all the error wraps ErrKeysUnavailable, not
// ErrUnknownKey, because the token may well be valid.
func (s *RemoteKeySet) VerificationKey(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
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
	}
	s.lastErr = err
	s.inflight = nil
	s.mu.Unlock()
	close(done)
}

func (s *RemoteKeySet) load() (map[string]*jose.JSONWebKey, error) {
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

// parseJWKS keeps the usable signing keys of a JWKS document, each with
// the one algorithm it may verify.
func parseJWKS(body []byte) (map[string]*jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("malformed JWKS: %w", err)
	}
	keys := make(map[string]*jose.JSONWebKey, len(doc.Keys))
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
		k.Algorithm = alg
		keys[k.KeyID] = &k
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
