package oauth2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A cached token is still checked for expiry and revocation on every use.
func TestCachedTokenStillChecked(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	first, err := f.verifier.Verify(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if f.verifier.cache.len() != 1 {
		t.Fatalf("Got %d cached tokens after one verification, want 1", f.verifier.cache.len())
	}
	again, err := f.verifier.Verify(t.Context(), tok.AccessToken)
	if err != nil || !reflect.DeepEqual(again, first) {
		t.Fatalf("Verify() again = %+v, %v, want %+v", again, err, first)
	}
	if err := f.issuer.Revoke(t.Context(), f.confid, tok.AccessToken, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Verify(cached, then revoked) error = %v, want %v", err, ErrTokenRevoked)
	}

	other := f.login(t, f.confid)
	if _, err := f.verifier.Verify(t.Context(), other.AccessToken); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultAccessTokenTTL + time.Second)
	if _, err := f.verifier.Verify(t.Context(), other.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("Verify(cached, then expired) error = %v, want %v", err, ErrTokenExpired)
	}
}

func TestCacheIsBounded(t *testing.T) {
	const size = 64
	c := newTokenCache(size)
	now := time.Now()
	claims := &Claims{ExpiresAt: now.Add(time.Hour)}
	for i := range 10 * size {
		c.put(fmt.Sprint("token-", i), &verifiedToken{claims: claims}, now)
		if i%3 == 0 { // keep some in use, so eviction has to choose
			c.get(fmt.Sprint("token-", i))
		}
	}
	if got := c.len(); got > size {
		t.Errorf("Got %d cached tokens, want at most %d", got, size)
	}
	// An expired entry goes before a used live one.
	c = newTokenCache(cacheShards) // one entry per shard
	c.put("old", &verifiedToken{claims: &Claims{ExpiresAt: now.Add(-time.Second)}}, now)
	s := c.shard("old")
	var fresh string
	for i := 0; ; i++ {
		if fresh = fmt.Sprint("fresh-", i); c.shard(fresh) == s {
			break
		}
	}
	c.put(fresh, &verifiedToken{claims: claims}, now)
	if c.get("old") != nil || c.get(fresh) == nil {
		t.Errorf("Got the expired entry kept over a new one")
	}
}

func TestCacheDisabled(t *testing.T) {
	f := newFixture(t)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.store, CacheSize: -1, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.login(t, f.confid)
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if v.cache != nil {
		t.Errorf("Got a cache with CacheSize -1")
	}
}

func TestCacheConcurrent(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) {})
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.store, CacheSize: 32, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var toks []string
	for range 40 {
		toks = append(toks, f.login(t, f.public).AccessToken)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(g*7+i)%len(toks)]
				if _, err := v.Verify(t.Context(), tok); err != nil {
					t.Errorf("Verify() error = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := v.cache.len(); got > 32 {
		t.Errorf("Got %d cached tokens, want at most 32", got)
	}
}

// What a caller does to the Claims it got must not reach any other caller:
// the cache hands out copies, never what it holds.
func TestVerifiedClaimsAreTheCallersOwn(t *testing.T) {
	f := newFixture(t, withExtraClaims(rolesAndTenant))
	tok := f.login(t, f.confid, "profile", "email")
	var want *Claims
	for i := range 4 { // the first call verifies and caches, the others hit
		c, err := f.verifier.Verify(t.Context(), tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = c.clone() // what the first caller saw, before it changes it
		} else if !reflect.DeepEqual(c, want) {
			t.Fatalf("Verify() call %d = %+v, want %+v", i+1, c, want)
		}
		wantCustomClaims(t, c)
		// Everything a careless handler might do.
		c.Subject = "mallory"
		c.Scope[0] = "admin"
		c.Audience[0] = "https://evil.test"
		c.Audience = append(c.Audience, "https://evil.test")
		c.Scope = append(c.Scope, "admin")
		var roles []string
		if _, err := c.Claim("roles", &roles); err != nil {
			t.Fatal(err)
		}
		roles[0] = "admin"
		var kept keepingUnmarshaler
		if _, err := c.Claim("tenant", &kept); err != nil {
			t.Fatal(err)
		}
		copy(kept, `"evil"`)
	}
}

// keepingUnmarshaler keeps the bytes it is given, against the advice of
// json.Unmarshaler, so that a test can write to them afterwards.
type keepingUnmarshaler []byte

func (k *keepingUnmarshaler) UnmarshalJSON(b []byte) error {
	*k = b
	return nil
}

// mapResolver is a KeyResolver whose keys a test changes at will.
type mapResolver struct {
	mu   sync.Mutex
	keys map[string]*Key
}

func (r *mapResolver) VerificationKey(_ context.Context, kid string) (*Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}

func (r *mapResolver) set(kid string, k *Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k == nil {
		delete(r.keys, kid)
	} else {
		r.keys[kid] = k
	}
}

// A key that leaves the key set stops its cached tokens at once, as it stops
// tokens never seen; a key replaced under the same kid is used to verify
// the cached token again.
func TestCacheFollowsKeyRemoval(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	active := activeKey(t, f.keys)
	res := &mapResolver{keys: map[string]*Key{active.ID(): active}}
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: res, Revocations: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if v.cache.len() != 1 {
		t.Fatalf("Got %d cached tokens, want 1", v.cache.len())
	}
	res.set(active.ID(), nil)
	if _, err := v.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify(cached, key removed) error = %v, want %v", err, ErrUnknownKey)
	}
	// Another key published under the kid: the signature no longer verifies.
	other, err := GenerateKey(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	res.set(active.ID(), verificationKey(active.ID(), EdDSA, other.Public()))
	if _, err := v.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("Verify(cached, kid now names another key) error = %v, want %v", err, ErrInvalidSignature)
	}
	// The same key back, as a new object (a refetched JWKS): valid again.
	res.set(active.ID(), verificationKey(active.ID(), active.alg, active.Public()))
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Errorf("Verify(cached, same key refetched) error = %v, want nil", err)
	}
}

// The same through a RemoteKeySet: once a reload of the JWKS no longer has
// the key, the cached token is refused.
func TestCacheFollowsRemoteKeyRemoval(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	var removed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := jwksOf(t, f.keys)
		if removed.Load() {
			set.Keys = set.Keys[:0]
			other, _ := GenerateKey(ES256)
			set.Keys = append(set.Keys, other.publicJWK())
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	remote := newRemote(t, srv.URL, RemoteKeySetOptions{RefreshInterval: time.Millisecond, MinRefetchInterval: time.Millisecond})
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: remote, Revocations: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	removed.Store(true)
	// Each Verify of a stale set starts a reload in the background; the
	// first one that completes without the key must end the token.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := v.Verify(t.Context(), tok.AccessToken)
		if errors.Is(err, ErrUnknownKey) {
			return
		}
		if err != nil {
			t.Fatalf("Verify() error = %v, want nil or %v", err, ErrUnknownKey)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Verify() still accepts the cached token after the JWKS dropped its key")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSameKey(t *testing.T) {
	gen := func(alg string) *Key {
		t.Helper()
		k, err := GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// copyOf is the key as a verifier would get it again: HS256 from the
	// same secret, the others through a JWKS.
	copyOf := func(k *Key) *Key {
		t.Helper()
		if k.alg == HS256 {
			return &Key{id: k.id, alg: k.alg, secret: slices.Clone(k.secret)}
		}
		b, err := jwks([]*Key{k})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := parseJWKS(b)
		if err != nil {
			t.Fatal(err)
		}
		return keys[k.id]
	}
	for _, alg := range []string{EdDSA, ES256, RS256, HS256} {
		a, b := gen(alg), gen(alg)
		if !sameKey(a, a) || !sameKey(a, copyOf(a)) {
			t.Errorf("sameKey(%s key, itself or its copy) = false, want true", alg)
		}
		if sameKey(a, b) {
			t.Errorf("sameKey(two %s keys) = true, want false", alg)
		}
		other := copyOf(a)
		other.alg = "other"
		if sameKey(a, other) {
			t.Errorf("sameKey(%s key, same material under another algorithm) = true, want false", alg)
		}
	}
}
