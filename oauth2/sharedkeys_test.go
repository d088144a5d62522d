package oauth2

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

func sharedKeys(t *testing.T, cfg SharedKeysConfig) *SharedKeySet {
	t.Helper()
	ks, err := NewSharedKeySet(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewSharedKeySet() error = %v", err)
	}
	return ks
}

// signWith issues a token signed by keys, as an instance would.
func signWith(t *testing.T, keys *SharedKeySet, st Store, clock *fakeClock) string {
	t.Helper()
	f := newFixture(t, func(c *IssuerConfig) { c.Keys = keys; c.Store = st; c.Now = clock.Now })
	return f.login(t, f.confid).AccessToken
}

func verifierFor(t *testing.T, keys *SharedKeySet, st Store, clock *fakeClock) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: keys, Revocations: st, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSharedKeySetCreatedOnce(t *testing.T) {
	st := memstore.New()
	const n = 16
	sets := make([]*SharedKeySet, n)
	var wg sync.WaitGroup
	for i := range sets {
		wg.Go(func() {
			sets[i] = sharedKeys(t, SharedKeysConfig{Store: st, Algorithm: ES256, AllowUnencryptedKeys: true})
		})
	}
	wg.Wait()
	stored, _ := st.GetKeySet(t.Context())
	if stored.Version != 1 || len(stored.Keys) != 1 {
		t.Fatalf("Got stored version %d with %d keys, want the set created once (version 1, 1 key)", stored.Version, len(stored.Keys))
	}
	for i, s := range sets {
		if activeKey(t, s) == nil || activeKey(t, s).ID() != stored.Keys[0].ID || activeKey(t, s).Algorithm() != ES256 {
			t.Errorf("instance %d: Got active key %v, want %q", i, activeKey(t, s), stored.Keys[0].ID)
		}
	}
}

// What one instance signs, another verifies, and so does a restarted one.
func TestSharedKeySetAcrossInstancesAndRestart(t *testing.T) {
	st := memstore.New()
	clock := newFakeClock()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	cfg := SharedKeysConfig{Store: st, KeyEncryptionKey: kek, Now: clock.Now}
	a := sharedKeys(t, cfg)
	tok := signWith(t, a, st, clock)
	b := sharedKeys(t, cfg)
	restarted := sharedKeys(t, cfg)
	for name, ks := range map[string]*SharedKeySet{"other instance": b, "restarted": restarted} {
		if _, err := verifierFor(t, ks, st, clock).Verify(t.Context(), tok); err != nil {
			t.Errorf("%s: Verify() error = %v", name, err)
		}
	}
}

func TestSharedKeySetRotatesOnceAndKeepsRetiredKeys(t *testing.T) {
	st := memstore.New()
	clock := newFakeClock()
	cfg := SharedKeysConfig{Store: st, RotateAfter: time.Hour, RetainFor: 20 * time.Minute, ReloadInterval: time.Minute, AllowUnencryptedKeys: true, Now: clock.Now}
	sets := []*SharedKeySet{sharedKeys(t, cfg), sharedKeys(t, cfg), sharedKeys(t, cfg), sharedKeys(t, cfg)}
	first := activeKey(t, sets[0]).ID()
	clock.Advance(55 * time.Minute)
	old := signWith(t, sets[0], st, clock) // live until 70 min

	clock.Advance(6 * time.Minute)
	var wg sync.WaitGroup
	for _, s := range sets {
		wg.Go(func() {
			if err := s.Sync(t.Context()); err != nil {
				t.Errorf("Sync() error = %v", err)
			}
		})
	}
	wg.Wait()
	stored, _ := st.GetKeySet(t.Context())
	if stored.Version != 2 || len(stored.Keys) != 2 || stored.Keys[1].ID != first {
		t.Fatalf("Got stored version %d keys %d, want one rotation (version 2, new key then %q)", stored.Version, len(stored.Keys), first)
	}
	for i, s := range sets {
		if activeKey(t, s).ID() != stored.Keys[0].ID {
			t.Errorf("instance %d: Got active %q, want %q", i, activeKey(t, s).ID(), stored.Keys[0].ID)
		}
		// A token signed by the retired key before the rotation still verifies...
		if _, err := verifierFor(t, s, st, clock).Verify(t.Context(), old); err != nil {
			t.Errorf("instance %d: Verify(token of the retired key) error = %v", i, err)
		}
	}
	// ...until retention and the reload interval have passed; then the
	// next rotation drops it from the store.
	clock.Advance(cfg.RetainFor + cfg.ReloadInterval + DefaultAccessTokenTTL + DefaultRetireGrace + time.Second)
	if _, err := sets[1].VerificationKey(t.Context(), first); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("VerificationKey(retired past retention) error = %v, want %v", err, ErrUnknownKey)
	}
	clock.Advance(time.Hour)
	if err := sets[2].Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	stored, _ = st.GetKeySet(t.Context())
	for _, k := range stored.Keys {
		if k.ID == first {
			t.Errorf("Got retired key %q still stored past its retention", first)
		}
	}
}

// An instance that has not reloaded yet verifies a token signed with a key
// another instance just rotated in: the unknown kid triggers a reload.
func TestSharedKeySetReloadsOnUnknownKid(t *testing.T) {
	st := memstore.New()
	clock := newFakeClock()
	cfg := SharedKeysConfig{Store: st, RotateAfter: time.Hour, ReloadInterval: 24 * time.Hour, RetainFor: 25 * time.Hour, AllowUnencryptedKeys: true, Now: clock.Now}
	a, b := sharedKeys(t, cfg), sharedKeys(t, cfg)
	clock.Advance(2 * time.Hour)
	if err := a.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	tok := signWith(t, a, st, clock)
	if _, err := verifierFor(t, b, st, clock).Verify(t.Context(), tok); err != nil {
		t.Errorf("Verify() on a stale instance error = %v, want a reload and success", err)
	}
	if activeKey(t, b).ID() != activeKey(t, a).ID() {
		t.Errorf("Got stale instance active %q, want %q after reload", activeKey(t, b).ID(), activeKey(t, a).ID())
	}
}

func TestSharedKeySetEncryptsPrivateKeys(t *testing.T) {
	st := memstore.New()
	kek := bytes.Repeat([]byte{7}, 32)
	sharedKeys(t, SharedKeysConfig{Store: st, KeyEncryptionKey: kek})
	stored, _ := st.GetKeySet(t.Context())
	private := stored.Keys[0].Private
	if private[0] != sealedGCM {
		t.Fatalf("Got stored format byte %#x, want %#x (encrypted)", private[0], sealedGCM)
	}
	for i := 1; i < len(private); i++ {
		if _, err := x509.ParsePKCS8PrivateKey(private[i:]); err == nil {
			t.Fatalf("Got a parseable PKCS #8 key inside the stored bytes at offset %d: not encrypted", i)
		}
	}

	tests := []struct {
		name   string
		cfg    SharedKeysConfig
		mutate func(*store.SigningKey)
	}{
		{name: "wrong key-encryption key", cfg: SharedKeysConfig{Store: st, KeyEncryptionKey: bytes.Repeat([]byte{8}, 32)}},
		{name: "no key-encryption key", cfg: SharedKeysConfig{Store: st, AllowUnencryptedKeys: true}},
		{name: "retirement date moved", cfg: SharedKeysConfig{Store: st, KeyEncryptionKey: kek}, mutate: func(k *store.SigningKey) { k.CreatedAt = k.CreatedAt.Add(24 * time.Hour) }},
		{name: "record moved to another kid", cfg: SharedKeysConfig{Store: st, KeyEncryptionKey: kek}, mutate: func(k *store.SigningKey) { k.ID = "other" }},
		{name: "plaintext key planted", cfg: SharedKeysConfig{Store: st, KeyEncryptionKey: kek}, mutate: func(k *store.SigningKey) {
			planted, _ := GenerateKey(EdDSA)
			der, _ := x509.MarshalPKCS8PrivateKey(planted.private)
			k.ID, k.Algorithm, k.Private = planted.ID(), EdDSA, append([]byte{sealedPlain}, der...)
		}},
		{name: "ciphertext altered", cfg: SharedKeysConfig{Store: st, KeyEncryptionKey: kek}, mutate: func(k *store.SigningKey) { k.Private[len(k.Private)-1] ^= 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mutate != nil {
				cur, _ := st.GetKeySet(t.Context())
				keys := append([]store.SigningKey(nil), cur.Keys...)
				keys[0].Private = bytes.Clone(keys[0].Private)
				tt.mutate(&keys[0])
				fresh := memstore.New()
				if _, err := fresh.SwapKeySet(t.Context(), 0, keys); err != nil {
					t.Fatal(err)
				}
				tt.cfg.Store = fresh
			}
			if _, err := NewSharedKeySet(t.Context(), tt.cfg); err == nil {
				t.Errorf("NewSharedKeySet() error = nil, want an error")
			}
		})
	}
	if _, err := NewSharedKeySet(t.Context(), SharedKeysConfig{Store: st, KeyEncryptionKey: []byte("short")}); err == nil {
		t.Errorf("NewSharedKeySet(short KEK) error = nil, want an error")
	}
}

func TestIssuerRejectsShortKeyRetention(t *testing.T) {
	st := memstore.New()
	keys := sharedKeys(t, SharedKeysConfig{Store: st, RetainFor: 20 * time.Minute, AllowUnencryptedKeys: true})
	f := newFixture(t)
	cfg := f.issuer.cfg
	cfg.Keys, cfg.AccessTokenTTL = keys, time.Hour
	if _, err := NewIssuer(cfg); err == nil {
		t.Errorf("NewIssuer() with RetainFor shorter than the access token TTL error = nil, want an error")
	}
	cfg.AccessTokenTTL = 10 * time.Minute
	if _, err := NewIssuer(cfg); err != nil {
		t.Errorf("NewIssuer() error = %v", err)
	}
}

func TestSharedKeySetRequiresEncryptionOrConsent(t *testing.T) {
	if _, err := NewSharedKeySet(t.Context(), SharedKeysConfig{Store: memstore.New()}); err == nil {
		t.Errorf("NewSharedKeySet(no KEK, no consent) error = nil, want an error")
	}
}

// Whoever can write the store but lacks the key-encryption key must not be
// able to bring back a retired key, by reordering the set or replaying an
// older one.
func TestSharedKeySetRefusesResurrectedKeys(t *testing.T) {
	st := memstore.New()
	clock := newFakeClock()
	kek := bytes.Repeat([]byte{9}, 32)
	cfg := SharedKeysConfig{Store: st, KeyEncryptionKey: kek, RotateAfter: time.Hour, Now: clock.Now}
	ks := sharedKeys(t, cfg)
	old, _ := st.GetKeySet(t.Context())
	clock.Advance(2 * time.Hour)
	if err := ks.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	cur, _ := st.GetKeySet(t.Context())

	// Replay the set from before the rotation.
	if _, err := st.SwapKeySet(t.Context(), cur.Version, old.Keys); err != nil {
		t.Fatal(err)
	}
	if err := ks.Sync(t.Context()); err == nil && activeKey(t, ks).ID() == old.Keys[0].ID {
		t.Errorf("Sync() over a replayed older set made the retired key %q active again", old.Keys[0].ID)
	}
	// Put the retired key first.
	cur2, _ := st.GetKeySet(t.Context())
	swapped := []store.SigningKey{cur.Keys[1], cur.Keys[0]}
	if _, err := st.SwapKeySet(t.Context(), cur2.Version, swapped); err != nil {
		t.Fatal(err)
	}
	fresh, err := NewSharedKeySet(t.Context(), cfg)
	if err == nil {
		t.Errorf("NewSharedKeySet() over a reordered set = %v, want an error", activeKey(t, fresh).ID())
	}
}
