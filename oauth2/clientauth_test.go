package oauth2

import (
	"errors"
	"testing"
	"time"
)

// fillHashSlots takes every password-check slot, so that any check that
// still needs a hash sheds load with 503, and a check answered from the
// cache shows by succeeding.
func fillHashSlots(t *testing.T) {
	t.Helper()
	saved := hashWait
	hashWait = 5 * time.Millisecond
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	t.Cleanup(func() {
		for range cap(hashSlots) {
			<-hashSlots
		}
		hashWait = saved
	})
}

func TestClientAuthCache(t *testing.T) {
	f := newFixture(t)
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, "wrong"); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("AuthenticateClient(wrong) error = %v, want %v", err, ErrInvalidClient)
	}
	fillHashSlots(t)

	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret); err != nil {
		t.Errorf("AuthenticateClient(verified before) error = %v, want success without a hash", err)
	}
	// A failed attempt was not remembered: it needs a hash again.
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, "wrong"); !errors.Is(err, ErrTemporarilyUnavailable) {
		t.Errorf("AuthenticateClient(wrong again) error = %v, want %v (a hash was needed)", err, ErrTemporarilyUnavailable)
	}
	// Past the TTL the secret is checked again.
	f.clock.Advance(DefaultClientAuthCacheTTL + time.Second)
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret); !errors.Is(err, ErrTemporarilyUnavailable) {
		t.Errorf("AuthenticateClient(after the TTL) error = %v, want %v (a hash was needed)", err, ErrTemporarilyUnavailable)
	}
}

// A new secret hash for the client ends what was remembered for the old.
func TestClientAuthCacheFollowsSecretChanges(t *testing.T) {
	c := newClientAuthCache(time.Hour)
	now := time.Now()
	old := &Client{ID: confID, SecretHash: "hash-1"}
	c.remember(old, "s3cret", now)
	if !c.verified(old, "s3cret", now) {
		t.Fatal("verified() = false right after remember")
	}
	if c.verified(&Client{ID: confID, SecretHash: "hash-2"}, "s3cret", now) {
		t.Errorf("verified() = true for a client whose secret hash changed")
	}
	if c.verified(&Client{ID: "other", SecretHash: "hash-1"}, "s3cret", now) {
		t.Errorf("verified() = true for another client with the same secret")
	}
	for i := range 3 * clientAuthCacheSize {
		c.remember(&Client{ID: string(rune('a' + i%26)), SecretHash: "h"}, time.Duration(i).String(), now)
	}
	if n := len(c.entries); n > clientAuthCacheSize {
		t.Errorf("Got %d remembered verifications, want at most %d", n, clientAuthCacheSize)
	}
}

func TestClientAuthCacheDisabled(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) { c.ClientAuthCacheTTL = -1 })
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret); err != nil {
		t.Fatal(err)
	}
	fillHashSlots(t)
	if _, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret); !errors.Is(err, ErrTemporarilyUnavailable) {
		t.Errorf("AuthenticateClient() with the cache off error = %v, want %v (a hash every time)", err, ErrTemporarilyUnavailable)
	}
}
