package oauth2

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestGenerateKeySignsAndVerifies(t *testing.T) {
	for _, alg := range []string{EdDSA, ES256, RS256, HS256} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, func(c *IssuerConfig) {
				k, err := GenerateKey(alg)
				if err != nil {
					t.Fatalf("GenerateKey(%s) error = %v", alg, err)
				}
				if err := c.Keys.(*KeySet).Rotate(k); err != nil {
					t.Fatal(err)
				}
			})
			tok := f.login(t, f.confid)
			if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); err != nil {
				t.Errorf("Verify() error = %v", err)
			}
			jwks := jwksOf(t, f.keys)
			published := false
			for _, k := range jwks.Keys {
				if k.KeyID == activeKey(t, f.keys).ID() {
					published = true
					if k.Algorithm != alg || k.Use != "sig" || !k.IsPublic() {
						t.Errorf("Got JWK alg %q use %q public %v, want %s sig public", k.Algorithm, k.Use, k.IsPublic(), alg)
					}
				}
			}
			if published != (alg != HS256) {
				t.Errorf("Got active %s key published = %v, want %v", alg, published, alg != HS256)
			}
		})
	}
}

func TestNewKeyRejects(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tests := []struct {
		name string
		alg  string
		key  any
	}{
		{"short HMAC secret", HS256, make([]byte, 31)},
		{"small RSA key", RS256, small},
		{"wrong curve", ES256, p384},
		{"wrong type", EdDSA, p384},
		{"unsupported alg", "PS256", small},
		{"none", "none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKey("k", tt.alg, tt.key); err == nil {
				t.Errorf("NewKey(%s, %T) error = nil, want an error", tt.alg, tt.key)
			}
		})
	}
}

// Lookups walk the retired keys without the lock while rotations and JWKS
// reads prune them: run under -race, this fails if pruning writes into the
// slice readers hold.
func TestKeySetConcurrentLookupPruneRotate(t *testing.T) {
	first, _ := GenerateKey(EdDSA)
	keys := NewKeySet(first)
	var ids []string
	for range 8 {
		k, _ := GenerateKey(EdDSA)
		k.lastExp.Store(time.Now().Add(time.Hour).Unix())
		ids = append(ids, k.ID())
		if err := keys.Rotate(k); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				for _, id := range ids[:len(ids)-1] {
					if _, err := keys.VerificationKey(t.Context(), id); err != nil {
						t.Errorf("VerificationKey(%q) error = %v while it is retired but in use", id, err)
						return
					}
				}
				_, _ = keys.VerificationKey(t.Context(), "unknown")
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			_ = jwksOf(t, keys)
		}
	})
	wg.Go(func() {
		for range 20 {
			k, _ := GenerateKey(HS256) // unused since: pruned at once
			_ = keys.Rotate(k)
		}
	})
	wg.Wait()
}

func TestKeySetRetiresKeysAfterTheirTokensExpire(t *testing.T) {
	f := newFixture(t)
	clock := f.clock
	f.keys.ring.now = clock.Now
	old := activeKey(t, f.keys)
	tok := f.login(t, f.confid)

	next, err := GenerateKey(ES256)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Rotate(next); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Fatalf("Verify(token of retired key) error = %v, want success", err)
	}
	if got := len(jwksOf(t, f.keys).Keys); got != 2 {
		t.Errorf("Got %d keys in JWKS after rotation, want 2", got)
	}
	fresh := f.login(t, f.confid)
	if c, err := f.verifier.Verify(t.Context(), fresh.AccessToken); err != nil || c == nil {
		t.Fatalf("Verify(token of new key) error = %v", err)
	}

	// Past the old key's last token and the grace period, it is dropped.
	clock.Advance(DefaultAccessTokenTTL + DefaultRetireGrace + time.Second)
	if _, err := f.keys.VerificationKey(t.Context(), old.ID()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("VerificationKey(retired) error = %v, want %v", err, ErrUnknownKey)
	}
	if got := len(jwksOf(t, f.keys).Keys); got != 1 {
		t.Errorf("Got %d keys in JWKS, want 1", got)
	}
}
