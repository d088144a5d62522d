package oauth2

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Signing algorithms the SDK issues and accepts.
const (
	EdDSA = "EdDSA"
	ES256 = "ES256"
	RS256 = "RS256"
	HS256 = "HS256"
)

// supportedAlgorithms is what the parser admits at all; which one a given
// token may use is then fixed by the key its kid names.
var supportedAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256, jose.HS256}

const (
	minHMACKeyBytes = 32   // RFC 7518 §3.2: a key at least as long as the hash output
	minRSAKeyBits   = 2048 // RFC 7518 §3.3
)

// Key is one signing key: its key id, its algorithm, and what signs with
// it, which is either a private key held in memory or a crypto.Signer whose
// private half lives elsewhere (a KMS, an HSM). The public half of an
// asymmetric key (EdDSA, ES256, RS256) is published in the JWKS; an HS256
// key is a shared secret and never is. A Key a KeyResolver returns may be
// public only: it verifies and cannot sign.
//
// A Key is safe for concurrent use, and what its methods return never
// changes.
type Key struct {
	id     string
	alg    string
	public crypto.PublicKey // nil for HS256
	secret []byte           // HS256 only
	signer jose.Signer      // nil for a key that only verifies
	// private is the in-memory private key NewKey was given (nil for a
	// crypto.Signer of another kind), so that a shared key set can store it.
	private any

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

// GenerateKey creates a fresh in-memory key for alg (EdDSA, ES256, RS256
// with 2048 bits, or HS256 with 32 random bytes). Its key id is the RFC 7638
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

// NewKey makes a Key of key, which is either a []byte secret of at least
// 32 bytes for HS256, or any crypto.Signer whose public key fits alg: an
// Ed25519 key for EdDSA, an ECDSA key on P-256 for ES256, an RSA key of at
// least 2048 bits for RS256. The private keys of crypto/ed25519,
// crypto/ecdsa and crypto/rsa are crypto.Signers, and so are the signers
// KMS and HSM client libraries provide: NewKey only ever calls their Public
// and Sign methods, Sign with a SHA-256 digest (a whole message for
// Ed25519), and turns an ECDSA signature from its ASN.1 form into the one
// JWS uses (RFC 7518 §3.4). An empty kid is replaced by the RFC 7638
// thumbprint of the public key (random for HS256).
func NewKey(kid, alg string, key any) (*Key, error) {
	k := &Key{id: kid, alg: alg}
	if alg == HS256 {
		b, ok := key.([]byte)
		if !ok {
			return nil, fmt.Errorf("oauth2: HS256 needs a []byte secret, got %T", key)
		}
		if len(b) < minHMACKeyBytes {
			return nil, fmt.Errorf("oauth2: HS256 secret has %d bytes, want at least %d", len(b), minHMACKeyBytes)
		}
		k.secret = slices.Clone(b)
		k.private = k.secret
	} else {
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("oauth2: %s needs a crypto.Signer, got %T", alg, key)
		}
		k.public = s.Public()
		if err := fitsAlgorithm(alg, k.public); err != nil {
			return nil, err
		}
		switch key.(type) {
		case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey:
			k.private = key
		}
	}
	if k.id == "" {
		id, err := k.thumbprint()
		if err != nil {
			return nil, err
		}
		k.id = id
	}
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	var sk jose.SigningKey
	if alg == HS256 {
		sk = jose.SigningKey{Algorithm: jose.HS256, Key: k.secret}
		opts = opts.WithHeader(jose.HeaderKey("kid"), k.id)
	} else {
		// go-jose names the kid from the opaque signer's public key.
		sk = jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: &cryptoSigner{key: k, signer: key.(crypto.Signer)}}
	}
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		return nil, fmt.Errorf("oauth2: creating %s signer: %w", alg, err)
	}
	k.signer = signer
	return k, nil
}

// fitsAlgorithm checks that pub is a public key alg may sign with.
func fitsAlgorithm(alg string, pub crypto.PublicKey) error {
	switch alg {
	case EdDSA, ES256, RS256:
	default:
		return fmt.Errorf("oauth2: unsupported signing algorithm %q", alg)
	}
	if got, ok := publicKeyAlgorithm(pub); !ok || got != alg {
		switch alg {
		case EdDSA:
			return fmt.Errorf("oauth2: EdDSA needs an Ed25519 key, got a public key of type %T", pub)
		case ES256:
			return fmt.Errorf("oauth2: ES256 needs an ECDSA key on P-256, got a public key of type %T", pub)
		default:
			return fmt.Errorf("oauth2: RS256 needs an RSA key of at least %d bits, got a public key of type %T", minRSAKeyBits, pub)
		}
	}
	return nil
}

// verificationKey returns a Key that only verifies: a public key from a
// JWKS.
func verificationKey(kid, alg string, pub crypto.PublicKey) *Key {
	return &Key{id: kid, alg: alg, public: pub}
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

// Public returns the public key that verifies what k signs: an
// ed25519.PublicKey, an *ecdsa.PublicKey or an *rsa.PublicKey. It is nil
// for an HS256 key, whose secret is never published.
func (k *Key) Public() crypto.PublicKey { return k.public }

// verifier is what checks a signature of k: the public key, or the HS256
// secret.
func (k *Key) verifier() any {
	if k.alg == HS256 {
		return k.secret
	}
	return k.public
}

// publicJWK is the key as published in a JWKS: the public half, with kid,
// alg and use. Not meaningful for HS256.
func (k *Key) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.public, KeyID: k.id, Algorithm: k.alg, Use: "sig"}
}

// sign signs payload, remembering exp so the key outlives every token it
// signed.
func (k *Key) sign(payload []byte, exp time.Time) (string, error) {
	if k.signer == nil {
		return "", fmt.Errorf("oauth2: key %q only verifies", k.id)
	}
	for {
		prev := k.lastExp.Load()
		if exp.Unix() <= prev || k.lastExp.CompareAndSwap(prev, exp.Unix()) {
			break
		}
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oauth2: signing access token with key %q: %w", k.id, err)
	}
	return jws.CompactSerialize()
}

// cryptoSigner lets go-jose sign through a crypto.Signer, whose private key
// it never sees.
type cryptoSigner struct {
	key    *Key
	signer crypto.Signer
}

func (c *cryptoSigner) Public() *jose.JSONWebKey {
	jwk := c.key.publicJWK()
	return &jwk
}

func (c *cryptoSigner) Algs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(c.key.alg)}
}

func (c *cryptoSigner) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if string(alg) != c.key.alg {
		return nil, fmt.Errorf("key is %s, asked to sign %s", c.key.alg, alg)
	}
	if alg == jose.EdDSA {
		return c.signer.Sign(rand.Reader, payload, crypto.Hash(0))
	}
	digest := sha256.Sum256(payload)
	sig, err := c.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil || alg != jose.ES256 {
		return sig, err
	}
	return jwsECDSA(sig, 32)
}

// jwsECDSA turns an ASN.1 ECDSA signature into the fixed-size R || S of
// RFC 7518 §3.4.
func jwsECDSA(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) > 0 {
		return nil, errors.New("ECDSA signer returned a signature that is not ASN.1 DER")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, errors.New("ECDSA signer returned a signature out of range")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}

// KeyResolver finds the key that verifies a token with the given kid. The
// returned key's Algorithm is the only algorithm accepted for that kid.
// Implementations return an error wrapping ErrUnknownKey for a kid they do
// not know, and one wrapping ErrKeysUnavailable when they cannot tell.
// *KeySet, *SharedKeySet and *RemoteKeySet implement it.
type KeyResolver interface {
	VerificationKey(ctx context.Context, kid string) (*Key, error)
}

// Signer is what an Issuer signs access tokens with: the key that signs
// now, and every key whose tokens may still be live, which the Issuer
// publishes in its JWKS and verifies its own tokens with. *KeySet (keys
// rotated by this process) and *SharedKeySet (keys shared by every
// instance through a store) implement it; a Signer of your own, say one
// over keys a KMS rotates, may too. A Signer that also implements
// KeyResolver is asked for the keys of the tokens the Issuer verifies
// (introspection, revocation); otherwise they are looked up in Keys.
type Signer interface {
	// SigningKey returns the key that signs the next token. It must be
	// among the keys Keys returns from then on, until every token it
	// signed has expired.
	SigningKey(ctx context.Context) (*Key, error)
	// Keys returns the keys that verify tokens still live, the signing key
	// first.
	Keys(ctx context.Context) ([]*Key, error)
}

// DefaultRetireGrace is how long a retired key outlives the last token it
// signed, to cover verifiers that allow clock skew: MaxLeeway.
const DefaultRetireGrace = MaxLeeway

// keyRing is one active key and the retired keys that still verify tokens
// they signed: what KeySet and SharedKeySet have in common.
type keyRing struct {
	mu      sync.RWMutex
	active  *Key
	retired []*Key // replaced, never modified: lookup walks it without the lock
	grace   time.Duration
	now     func() time.Time
}

func (r *keyRing) signingKey() (*Key, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.active == nil {
		return nil, errNoKey
	}
	return r.active, nil
}

// pruneLocked drops retired keys whose last token is past its expiry and
// grace period.
func (r *keyRing) pruneLocked() {
	now := r.now()
	var kept []*Key
	for _, k := range r.retired {
		if k.inUse(now, r.grace) {
			kept = append(kept, k)
		}
	}
	r.retired = kept
}

func (r *keyRing) keys() []*Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked()
	if r.active == nil {
		return slices.Clone(r.retired)
	}
	return append([]*Key{r.active}, r.retired...)
}

func (r *keyRing) lookup(kid string) *Key {
	r.mu.RLock()
	active, retired := r.active, r.retired
	r.mu.RUnlock()
	if active != nil && active.id == kid {
		return active
	}
	now := r.now()
	for _, k := range retired {
		if k.id == kid && k.inUse(now, r.grace) {
			return k
		}
	}
	return nil
}

// KeySet is a Signer over keys held by this process: one active key, and
// the retired keys that still verify the tokens they signed. A retired key
// stays in the set, and in the JWKS, until every token it signed has
// expired plus DefaultRetireGrace; then it is dropped. It is safe for
// concurrent use.
//
// Every instance of an authorization server needs the same keys: give each
// the same Keys, or share them through a store with NewSharedKeySet.
type KeySet struct {
	ring keyRing
}

// NewKeySet returns a key set whose active key is active. A set without an
// active key verifies nothing and cannot back an Issuer.
func NewKeySet(active *Key) *KeySet {
	return &KeySet{ring: keyRing{active: active, grace: DefaultRetireGrace, now: time.Now}}
}

// SigningKey implements Signer.
func (s *KeySet) SigningKey(context.Context) (*Key, error) { return s.ring.signingKey() }

// Keys implements Signer.
func (s *KeySet) Keys(context.Context) ([]*Key, error) { return s.ring.keys(), nil }

// Rotate makes next the active key. The previous active key is retired: it
// keeps verifying until the tokens it signed have expired.
func (s *KeySet) Rotate(next *Key) error {
	if next == nil || next.signer == nil {
		return errors.New("oauth2: Rotate needs a key that signs (from GenerateKey or NewKey)")
	}
	r := &s.ring
	r.mu.Lock()
	defer r.mu.Unlock()
	retired := slices.Clone(r.retired)
	if r.active != nil {
		retired = append(retired, r.active)
	}
	r.active, r.retired = next, retired
	r.pruneLocked()
	return nil
}

// VerificationKey implements KeyResolver.
func (s *KeySet) VerificationKey(_ context.Context, kid string) (*Key, error) {
	if k := s.ring.lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// signerKeys resolves kids among the keys of a Signer that is not a
// KeyResolver itself.
type signerKeys struct{ s Signer }

func (r signerKeys) VerificationKey(ctx context.Context, kid string) (*Key, error) {
	keys, err := r.s.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	for _, k := range keys {
		if k != nil && k.id == kid {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// resolverOf returns the KeyResolver for the tokens s signed.
func resolverOf(s Signer) KeyResolver {
	if r, ok := s.(KeyResolver); ok {
		return r
	}
	return signerKeys{s}
}

// jwks returns the JWK Set (RFC 7517) of the public keys of keys; HS256
// secrets are never included.
func jwks(keys []*Key) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		if k != nil && k.alg != HS256 && k.public != nil {
			set.Keys = append(set.Keys, k.publicJWK())
		}
	}
	return json.Marshal(set)
}

var errNoKey = errors.New("oauth2: key set has no active key")
