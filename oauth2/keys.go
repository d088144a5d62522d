package oauth2

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Signing algorithms the SDK issues and accepts.
const (
	EdDSA = string(jose.EdDSA)
	ES256 = string(jose.ES256)
	RS256 = string(jose.RS256)
	HS256 = string(jose.HS256)
)

// supportedAlgorithms is what the parser admits at all; which one a given
// token may use is then fixed by the key its kid names.
var supportedAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256, jose.HS256}

const (
	minHMACKeyBytes = 32   // RFC 7518 §3.2: a key at least as long as the hash output
	minRSAKeyBits   = 2048 // RFC 7518 §3.3
)

// Key is a signing key with its key id and algorithm. Asymmetric keys
// (EdDSA, ES256, RS256) are published in the JWKS; an HS256 key is a shared
// secret and never is.
type Key struct {
	id     string
	alg    string
	key    any // crypto.Signer or []byte
	signer jose.Signer
	verify *jose.JSONWebKey // shared and never modified

	// lastExp is the latest exp (Unix seconds) of any token this key signed,
	// so a retired key is kept exactly as long as it is needed.
	lastExp atomic.Int64
	// keepUntil is, for a key retired by another instance, until when the
	// tokens that instance signed with it may still be live (Unix seconds).
	keepUntil atomic.Int64
}

// inUse reports whether a retired key may still have live tokens at now.
func (k *Key) inUse(now time.Time, grace time.Duration) bool {
	return now.Before(time.Unix(k.lastExp.Load(), 0).Add(grace)) || now.Unix() < k.keepUntil.Load()
}

// GenerateKey creates a fresh key for alg (EdDSA, ES256, RS256 with 2048
// bits, or HS256 with 32 random bytes). Its key id is the RFC 7638
// thumbprint of the public key (random for HS256).
func GenerateKey(alg string) (*Key, error) {
	var k any
	var err error
	switch alg {
	case EdDSA:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		k, err = rsa.GenerateKey(rand.Reader, minRSAKeyBits)
	case HS256:
		b := make([]byte, minHMACKeyBytes)
		_, err = rand.Read(b)
		k = b
	default:
		return nil, fmt.Errorf("oauth2: unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth2: generating %s key: %w", alg, err)
	}
	return NewKey("", alg, k)
}

// NewKey wraps an existing private key: an ed25519.PrivateKey for EdDSA, an
// *ecdsa.PrivateKey on P-256 for ES256, an *rsa.PrivateKey of at least 2048
// bits for RS256, or a []byte of at least 32 bytes for HS256. An empty kid is
// replaced by the key's RFC 7638 thumbprint (random for HS256).
func NewKey(kid, alg string, private any) (*Key, error) {
	switch alg {
	case EdDSA:
		if _, ok := private.(ed25519.PrivateKey); !ok {
			return nil, fmt.Errorf("oauth2: EdDSA needs an ed25519.PrivateKey, got %T", private)
		}
	case ES256:
		k, ok := private.(*ecdsa.PrivateKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("oauth2: ES256 needs a P-256 *ecdsa.PrivateKey, got %T", private)
		}
	case RS256:
		k, ok := private.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("oauth2: RS256 needs an *rsa.PrivateKey, got %T", private)
		}
		if k.N.BitLen() < minRSAKeyBits {
			return nil, fmt.Errorf("oauth2: RS256 key has %d bits, want at least %d", k.N.BitLen(), minRSAKeyBits)
		}
	case HS256:
		b, ok := private.([]byte)
		if !ok {
			return nil, fmt.Errorf("oauth2: HS256 needs a []byte secret, got %T", private)
		}
		if len(b) < minHMACKeyBytes {
			return nil, fmt.Errorf("oauth2: HS256 secret has %d bytes, want at least %d", len(b), minHMACKeyBytes)
		}
		private = append([]byte(nil), b...)
	default:
		return nil, fmt.Errorf("oauth2: unsupported signing algorithm %q", alg)
	}
	k := &Key{id: kid, alg: alg, key: private}
	if k.id == "" {
		id, err := k.thumbprint()
		if err != nil {
			return nil, err
		}
		k.id = id
	}
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader(jose.HeaderKey("kid"), k.id)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: private}, opts)
	if err != nil {
		return nil, fmt.Errorf("oauth2: creating %s signer: %w", alg, err)
	}
	k.signer = signer
	if alg == HS256 {
		k.verify = &jose.JSONWebKey{Key: private, KeyID: k.id, Algorithm: alg, Use: "sig"}
	} else {
		jwk := k.publicJWK()
		k.verify = &jwk
	}
	return k, nil
}

func (k *Key) thumbprint() (string, error) {
	if k.alg == HS256 {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("oauth2: generating key id: %w", err)
		}
		return base64.RawURLEncoding.EncodeToString(b), nil
	}
	jwk := k.publicJWK()
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("oauth2: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// ID returns the key id, the kid header of the tokens the key signs.
func (k *Key) ID() string { return k.id }

// Algorithm returns the key's signing algorithm.
func (k *Key) Algorithm() string { return k.alg }

// publicJWK is the key as published in a JWKS: the public half, with kid,
// alg and use. Not meaningful for HS256.
func (k *Key) publicJWK() jose.JSONWebKey {
	var pub any
	if s, ok := k.key.(crypto.Signer); ok {
		pub = s.Public()
	}
	return jose.JSONWebKey{Key: pub, KeyID: k.id, Algorithm: k.alg, Use: "sig"}
}

// sign signs payload, remembering exp so the key outlives every token it
// signed.
func (k *Key) sign(payload []byte, exp time.Time) (string, error) {
	for {
		prev := k.lastExp.Load()
		if exp.Unix() <= prev || k.lastExp.CompareAndSwap(prev, exp.Unix()) {
			break
		}
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oauth2: signing access token: %w", err)
	}
	return jws.CompactSerialize()
}

// KeyResolver finds the key that verifies a token with the given kid. The
// returned key's Algorithm is the only algorithm accepted for that kid;
// callers must not modify the returned key.
// Implementations return an error wrapping ErrUnknownKey for a kid they do
// not know.
type KeyResolver interface {
	VerificationKey(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}

// KeySet holds one active signing key and the retired keys that still
// verify tokens they signed. It is safe for concurrent use.
//
// A retired key stays in the set, and in the JWKS, until every token it
// signed has expired plus a grace period that covers verifiers' clock
// leeway; then it is dropped.
type KeySet struct {
	mu      sync.RWMutex
	active  *Key
	retired []*Key
	grace   time.Duration
	now     func() time.Time

	// stored is set for a key set shared through a store.KeyStore.
	stored *storedKeys
}

// DefaultRetireGrace is how long a retired key outlives the last token it
// signed, to cover verifiers that allow clock skew: MaxLeeway.
const DefaultRetireGrace = MaxLeeway

// NewKeySet returns a key set whose active key is active. A set without an
// active key verifies nothing and cannot back an Issuer.
func NewKeySet(active *Key) *KeySet {
	return &KeySet{active: active, grace: DefaultRetireGrace, now: time.Now}
}

// Active returns the key that signs new tokens.
func (s *KeySet) Active() *Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.active
}

// Rotate makes next the active key. The previous active key is retired: it
// keeps verifying until the tokens it signed have expired. A key set shared
// through a store refuses: it rotates through SharedKeysConfig.RotateAfter,
// so that every instance agrees.
func (s *KeySet) Rotate(next *Key) error {
	if s.stored != nil {
		return errors.New("oauth2: a shared key set rotates through SharedKeysConfig.RotateAfter, not Rotate")
	}
	if next == nil {
		return errors.New("oauth2: Rotate(nil)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A new slice: readers may still be walking the old one (see lookup).
	retired := slices.Clone(s.retired)
	if s.active != nil {
		retired = append(retired, s.active)
	}
	s.active, s.retired = next, retired
	s.pruneLocked()
	return nil
}

// pruneLocked drops retired keys whose last token is past its expiry and
// grace period. It builds a new slice rather than compacting in place,
// because lookup walks the old one without the lock.
func (s *KeySet) pruneLocked() {
	now := s.now()
	var kept []*Key
	for _, k := range s.retired {
		if k.inUse(now, s.grace) {
			kept = append(kept, k)
		}
	}
	s.retired = kept
}

// Keys returns the active key followed by the retired keys still in use.
func (s *KeySet) Keys() []*Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	if s.active == nil {
		return slices.Clone(s.retired)
	}
	return append([]*Key{s.active}, s.retired...)
}

// VerificationKey implements KeyResolver. A key set shared through a store
// reloads it when asked for a kid it does not know, since another instance
// may have rotated; reloads are rate-limited.
func (s *KeySet) VerificationKey(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	if s.stored != nil && s.stored.mayReload() {
		ctx, cancel := context.WithTimeout(ctx, DefaultStoreTimeout)
		defer cancel()
		if err := s.Sync(ctx); err != nil {
			return nil, fmt.Errorf("%w: reloading the key set for kid %q: %w", ErrKeysUnavailable, kid, err)
		}
		if k := s.lookup(kid); k != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

func (s *KeySet) lookup(kid string) *jose.JSONWebKey {
	s.mu.RLock()
	active, retired := s.active, s.retired
	s.mu.RUnlock()
	if active != nil && active.id == kid {
		return active.verify
	}
	now := s.now()
	for _, k := range retired {
		if k.id == kid && k.inUse(now, s.grace) {
			return k.verify
		}
	}
	return nil
}

// JWKS returns the public keys to publish: every asymmetric key in the set.
// HS256 secrets are never included.
func (s *KeySet) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range s.Keys() {
		if k.alg != HS256 {
			set.Keys = append(set.Keys, k.publicJWK())
		}
	}
	if set.Keys == nil {
		set.Keys = []jose.JSONWebKey{}
	}
	return set
}

var errNoKey = errors.New("oauth2: key set has no active key")
