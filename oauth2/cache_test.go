package oauth2

import (
	"errors"
	"fmt"
	"sync"
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
	if err != nil || again != first {
		t.Fatalf("Verify() again = %p, %v, want the cached claims %p", again, err, first)
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
		c.put(fmt.Sprint("token-", i), claims, now)
		if i%3 == 0 { // keep some in use, so eviction has to choose
			c.get(fmt.Sprint("token-", i))
		}
	}
	if got := c.len(); got > size {
		t.Errorf("Got %d cached tokens, want at most %d", got, size)
	}
	// An expired entry goes before a used live one.
	c = newTokenCache(cacheShards) // one entry per shard
	c.put("old", &Claims{ExpiresAt: now.Add(-time.Second)}, now)
	s := c.shard("old")
	var fresh string
	for i := 0; ; i++ {
		if fresh = fmt.Sprint("fresh-", i); c.shard(fresh) == s {
			break
		}
	}
	c.put(fresh, claims, now)
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
	a, _ := v.Verify(t.Context(), tok.AccessToken)
	b, _ := v.Verify(t.Context(), tok.AccessToken)
	if v.cache != nil || a == b {
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
