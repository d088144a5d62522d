package oauth2

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/oauth2kit/oauth2kit/store"
)

// Defaults for SharedKeysConfig.
const (
	DefaultKeyRotateAfter    = 90 * 24 * time.Hour
	DefaultKeyReloadInterval = time.Minute
	minKeyReloadGap          = time.Second
)

// SharedKeysConfig configures a key set shared through a store, so that
// every instance of an authorization server signs with the same active key
// and verifies what the others signed, and a restart keeps the keys.
type SharedKeysConfig struct {
	// Store keeps the key set: a store.Store adapter that implements
	// store.KeyStore.
	Store store.KeyStore
	// Algorithm is the algorithm of the keys generated; empty means the
	// default, EdDSA.
	Algorithm string
	// KeyEncryptionKey, when set, must be 32 bytes: private keys are stored
	// encrypted with AES-256-GCM under it and never reach the store in the
	// clear, and a key in the store that is not sealed under it is refused.
	// Keep it out of the store (an environment secret, a KMS).
	KeyEncryptionKey []byte
	// AllowUnencryptedKeys permits a nil KeyEncryptionKey. Then anyone who
	// can read the store can sign tokens, and anyone who can write it can
	// choose the signing key: acceptable for memstore and tests, rarely
	// elsewhere.
	AllowUnencryptedKeys bool
	// RotateAfter is the age at which the active key is replaced (by the
	// first instance to notice, once); 0 means DefaultKeyRotateAfter. It may
	// be off: a negative value means never.
	RotateAfter time.Duration
	// RetainFor is how long a retired key keeps verifying after its
	// retirement: at least the access token lifetime plus the verifiers'
	// leeway plus ReloadInterval (NewIssuer checks). 0 means
	// DefaultAccessTokenTTL plus DefaultRetireGrace.
	RetainFor time.Duration
	// ReloadInterval is how often an instance rereads the set to pick up
	// another instance's rotation; 0 means DefaultKeyReloadInterval.
	ReloadInterval time.Duration
	// Logger receives an oauth2.key_rotated event (attributes kid, alg) from
	// the instance that rotates; nil means slog.Default().
	Logger *slog.Logger
	// MeterProvider counts the oauth2.key_rotated events in
	// oauth2kit_security_events_total, as the Issuer counts its own; nil
	// means otel's global provider.
	MeterProvider metric.MeterProvider
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// SharedKeySet is a Signer whose keys every instance of an authorization
// server shares through a store, so that all of them sign with the same
// active key and verify what the others signed, and a restart keeps the
// keys. It rotates on its own (SharedKeysConfig.RotateAfter): the first
// instance to notice creates the new key, once, and the others adopt it.
// It is safe for concurrent use.
type SharedKeySet struct {
	ring   keyRing
	cfg    SharedKeysConfig
	aead   cipher.AEAD // nil without a key-encryption key
	events *eventCounter

	mu          sync.Mutex      // serialises syncs
	retiredSeen map[string]bool // under mu: kids this process saw retired
	lastSync    atomic.Int64
	lastReload  atomic.Int64
	syncing     atomic.Bool
}

// NewSharedKeySet loads the key set from cfg.Store, creating it if no
// instance has yet and rotating it if its active key is older than
// cfg.RotateAfter. Concurrent instances agree through the store's
// compare-and-swap: one creates or rotates, the others adopt its result.
func NewSharedKeySet(ctx context.Context, cfg SharedKeysConfig) (*SharedKeySet, error) {
	if cfg.Store == nil {
		return nil, errors.New("oauth2: SharedKeysConfig.Store is required")
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = EdDSA
	}
	if cfg.RetainFor < 0 || cfg.ReloadInterval < 0 {
		return nil, errors.New("oauth2: SharedKeysConfig.RetainFor and ReloadInterval must not be negative")
	}
	if cfg.RotateAfter == 0 {
		cfg.RotateAfter = DefaultKeyRotateAfter
	}
	if cfg.RetainFor == 0 {
		cfg.RetainFor = DefaultAccessTokenTTL + DefaultRetireGrace
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = DefaultKeyReloadInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if _, err := GenerateKey(cfg.Algorithm); err != nil {
		return nil, err
	}
	events, err := newEventCounter(cfg.MeterProvider)
	if err != nil {
		return nil, fmt.Errorf("oauth2: SharedKeysConfig.MeterProvider: %w", err)
	}
	s := &SharedKeySet{cfg: cfg, retiredSeen: make(map[string]bool), events: events}
	s.ring = keyRing{grace: DefaultRetireGrace, now: cfg.Now}
	if cfg.KeyEncryptionKey == nil && !cfg.AllowUnencryptedKeys {
		return nil, errors.New("oauth2: SharedKeysConfig needs a KeyEncryptionKey (or AllowUnencryptedKeys)")
	}
	if cfg.KeyEncryptionKey != nil {
		if len(cfg.KeyEncryptionKey) != 32 {
			return nil, fmt.Errorf("oauth2: SharedKeysConfig.KeyEncryptionKey has %d bytes, want 32", len(cfg.KeyEncryptionKey))
		}
		block, err := aes.NewCipher(cfg.KeyEncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("oauth2: key-encryption key: %w", err)
		}
		if s.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("oauth2: key-encryption key: %w", err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// SigningKey implements Signer. When the set was last read longer ago than
// ReloadInterval, it also starts a reread in the background, so that
// signing picks up another instance's rotation without waiting on the
// store.
func (s *SharedKeySet) SigningKey(context.Context) (*Key, error) {
	s.maybeSync()
	return s.ring.signingKey()
}

// Keys implements Signer.
func (s *SharedKeySet) Keys(context.Context) ([]*Key, error) { return s.ring.keys(), nil }

// VerificationKey implements KeyResolver. Asked for a kid it does not
// know, it rereads the store, since another instance may have rotated;
// such rereads are rate-limited, because anyone can send a made-up kid.
func (s *SharedKeySet) VerificationKey(ctx context.Context, kid string) (*Key, error) {
	if k := s.ring.lookup(kid); k != nil {
		return k, nil
	}
	if s.mayReload() {
		ctx, cancel := context.WithTimeout(ctx, DefaultStoreTimeout)
		defer cancel()
		if err := s.Sync(ctx); err != nil {
			return nil, fmt.Errorf("%w: reloading the key set for kid %q: %w", ErrKeysUnavailable, kid, err)
		}
		if k := s.ring.lookup(kid); k != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// Sync rereads the key set from its store, creating or rotating it when
// due. It is called by NewSharedKeySet, on unknown kids, and in the
// background every ReloadInterval while the Issuer signs; call it yourself
// to rotate on a schedule of your own.
func (s *SharedKeySet) Sync(ctx context.Context) error {
	sk := s
	sk.mu.Lock()
	defer sk.mu.Unlock()
	for range 8 {
		set, err := sk.cfg.Store.GetKeySet(ctx)
		if err != nil {
			return fmt.Errorf("oauth2: loading the key set: %w", err)
		}
		now := sk.cfg.Now()
		// Check the set before building on it: rotating a tampered set
		// would write the tampering back, sealed.
		if err := sk.check(set); err != nil {
			return err
		}
		if sk.due(set, now) {
			keys, err := sk.rotated(set, now)
			if err != nil {
				return err
			}
			v, err := sk.cfg.Store.SwapKeySet(ctx, set.Version, keys)
			if errors.Is(err, store.ErrConflict) {
				continue // another instance created or rotated it: adopt theirs
			}
			if err != nil {
				return fmt.Errorf("oauth2: storing the key set: %w", err)
			}
			set = store.SigningKeySet{Version: v, Keys: keys}
			logger := sk.cfg.Logger
			if logger == nil {
				logger = slog.Default()
			}
			sk.events.log(ctx, logger, slog.LevelInfo, eventKeyRotated, slog.String("kid", keys[0].ID), slog.String("alg", keys[0].Algorithm))
		}
		if err := s.install(set, now); err != nil {
			return err
		}
		sk.lastSync.Store(now.UnixNano())
		return nil
	}
	return errors.New("oauth2: the stored key set kept changing while being loaded")
}

// check refuses a stored set that is malformed or tampered with: only the
// first key may be unretired, every seal must open (it authenticates the
// dates), and a key this process once saw retired never becomes active
// again, so a stale or replayed set cannot bring back a rotated-out key.
func (sk *SharedKeySet) check(set store.SigningKeySet) error {
	for i, rec := range set.Keys {
		if (i == 0) != rec.RetiredAt.IsZero() {
			return fmt.Errorf("oauth2: stored key set is malformed: key %d (%q) retired at %v", i, rec.ID, rec.RetiredAt)
		}
		if i == 0 && sk.retiredSeen[rec.ID] {
			return fmt.Errorf("oauth2: stored key set makes the retired key %q active again", rec.ID)
		}
		if sk.aead != nil {
			if _, err := sk.open(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// due reports whether the stored set needs a new active key.
func (sk *SharedKeySet) due(set store.SigningKeySet, now time.Time) bool {
	if len(set.Keys) == 0 {
		return true
	}
	return sk.cfg.RotateAfter > 0 && !now.Before(set.Keys[0].CreatedAt.Add(sk.cfg.RotateAfter))
}

// rotated returns set with a new active key, the old one retired now, and
// retired keys past their retention dropped.
func (sk *SharedKeySet) rotated(set store.SigningKeySet, now time.Time) ([]store.SigningKey, error) {
	k, err := GenerateKey(sk.cfg.Algorithm)
	if err != nil {
		return nil, err
	}
	active := store.SigningKey{ID: k.id, Algorithm: k.alg, CreatedAt: now.Truncate(time.Microsecond)}
	if active.Private, err = sk.seal(active, k.private); err != nil {
		return nil, err
	}
	keys := []store.SigningKey{active}
	for i, old := range set.Keys {
		if i == 0 {
			// Retiring changes what the seal authenticates: reseal.
			private, err := sk.open(old)
			if err != nil {
				return nil, err
			}
			old.RetiredAt = now.Truncate(time.Microsecond)
			if old.Private, err = sk.seal(old, private); err != nil {
				return nil, err
			}
		}
		if now.Before(old.RetiredAt.Add(sk.cfg.RetainFor)) {
			keys = append(keys, old)
		}
	}
	return keys, nil
}

// install makes the stored set the in-memory one, reusing the Key values
// already loaded so that what they signed here is still tracked.
func (s *SharedKeySet) install(set store.SigningKeySet, now time.Time) error {
	sk, r := s, &s.ring
	r.mu.RLock()
	loaded := make(map[string]*Key, len(r.retired)+1)
	for _, k := range append([]*Key{r.active}, r.retired...) {
		if k != nil {
			loaded[k.id] = k
		}
	}
	r.mu.RUnlock()

	var active *Key
	var retired []*Key
	for i, rec := range set.Keys {
		k := loaded[rec.ID]
		if k == nil {
			private, err := sk.open(rec)
			if err != nil {
				return err
			}
			if k, err = NewKey(rec.ID, rec.Algorithm, private); err != nil {
				return fmt.Errorf("oauth2: stored key %q: %w", rec.ID, err)
			}
		}
		if i == 0 {
			active = k
			continue
		}
		sk.retiredSeen[rec.ID] = true
		k.keepUntil.Store(rec.RetiredAt.Add(sk.cfg.RetainFor + sk.cfg.ReloadInterval).Unix())
		if k.inUse(now, r.grace) {
			retired = append(retired, k)
		}
	}
	// Keys this instance still has live tokens for stay, even if another
	// instance already dropped them from the store.
	for id, k := range loaded {
		if (active == nil || id != active.id) && !containsKey(retired, id) && k.inUse(now, r.grace) {
			retired = append(retired, k)
		}
	}
	r.mu.Lock()
	r.active, r.retired = active, retired
	r.mu.Unlock()
	return nil
}

func containsKey(keys []*Key, id string) bool {
	for _, k := range keys {
		if k.id == id {
			return true
		}
	}
	return false
}

// maybeSync starts a background Sync when the last one is older than the
// reload interval, so that signing picks up another instance's rotation
// without waiting on the store.
func (s *SharedKeySet) maybeSync() {
	sk := s
	if sk.cfg.Now().UnixNano()-sk.lastSync.Load() < int64(sk.cfg.ReloadInterval) {
		return
	}
	if !sk.syncing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer sk.syncing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), DefaultStoreTimeout)
		defer cancel()
		_ = s.Sync(ctx) // a failure keeps the keys already loaded; the next signing retries
	}()
}

// mayReload rate-limits the reloads triggered by unknown kids, which
// anyone can send.
func (sk *SharedKeySet) mayReload() bool {
	now := sk.cfg.Now().UnixNano()
	last := sk.lastReload.Load()
	return now-last >= int64(minKeyReloadGap) && sk.lastReload.CompareAndSwap(last, now)
}

// Sealed private keys start with a format byte.
const (
	sealedPlain = 0x00
	sealedGCM   = 0x01
)

// seal encodes a private key (PKCS #8, or the raw HS256 secret) and
// encrypts it when a key-encryption key is configured. Everything stored
// beside it (kid, algorithm, creation and retirement dates) is
// authenticated with it, so without the key-encryption key a stored key can
// be neither moved under another id or algorithm nor re-dated to stay
// active or keep verifying longer.
func (sk *SharedKeySet) seal(rec store.SigningKey, private any) ([]byte, error) {
	var plain []byte
	if b, ok := private.([]byte); ok {
		plain = b
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(private)
		if err != nil {
			return nil, fmt.Errorf("oauth2: encoding key %q: %w", rec.ID, err)
		}
		plain = der
	}
	if sk.aead == nil {
		return append([]byte{sealedPlain}, plain...), nil
	}
	nonce := make([]byte, sk.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("oauth2: sealing key %q: %w", rec.ID, err)
	}
	out := append([]byte{sealedGCM}, nonce...)
	return sk.aead.Seal(out, nonce, plain, sealedData(rec)), nil
}

// sealedData is what a seal authenticates besides the key itself.
func sealedData(rec store.SigningKey) []byte {
	return fmt.Appendf(nil, "oauth2kit-key-v1\x00%s\x00%s\x00%d\x00%d",
		rec.Algorithm, rec.ID, unixMicro(rec.CreatedAt), unixMicro(rec.RetiredAt))
}

func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// open reverses seal.
func (sk *SharedKeySet) open(rec store.SigningKey) (any, error) {
	if len(rec.Private) == 0 {
		return nil, fmt.Errorf("oauth2: stored key %q has no key material", rec.ID)
	}
	plain := rec.Private[1:]
	switch rec.Private[0] {
	case sealedPlain:
		// With a key-encryption key, a plaintext record can only have been
		// written by someone without it: accepting it would let anyone who
		// can write the store choose the signing key.
		if sk.aead != nil {
			return nil, fmt.Errorf("oauth2: stored key %q is not encrypted, but a KeyEncryptionKey is configured", rec.ID)
		}
	case sealedGCM:
		if sk.aead == nil {
			return nil, fmt.Errorf("oauth2: stored key %q is encrypted and no KeyEncryptionKey is configured", rec.ID)
		}
		ns := sk.aead.NonceSize()
		if len(plain) < ns {
			return nil, fmt.Errorf("oauth2: stored key %q is truncated", rec.ID)
		}
		var err error
		plain, err = sk.aead.Open(nil, plain[:ns], plain[ns:], sealedData(rec))
		if err != nil {
			return nil, fmt.Errorf("oauth2: stored key %q does not decrypt with the configured KeyEncryptionKey", rec.ID)
		}
	default:
		return nil, fmt.Errorf("oauth2: stored key %q has an unknown format", rec.ID)
	}
	if rec.Algorithm == HS256 {
		return plain, nil
	}
	private, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, fmt.Errorf("oauth2: stored key %q: %w", rec.ID, err)
	}
	return private, nil
}
