package oauth2

import (
	"context"
	"crypto"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DefaultMaxTokenSize bounds the length of an access token Verify will
// parse, so an oversized header cannot make every request expensive.
const DefaultMaxTokenSize = 8 << 10

// RevocationChecker is the part of a Store the Verifier needs: a Store, a
// *RevocationView or an *IntrospectionChecker implements it. A checker that
// needs the token itself implements TokenRevocationChecker too.
type RevocationChecker interface {
	IsRevoked(ctx context.Context, jti, grantID string) (bool, error)
}

// RevocationPolicy says how a Verifier treats revocation.
type RevocationPolicy int

const (
	// RevocationFailClosed rejects revoked tokens, and tokens whose
	// revocation status cannot be read (ErrRevocationUnavailable; 503 from
	// the middleware).
	RevocationFailClosed RevocationPolicy = iota
	// RevocationFailOpen rejects revoked tokens but accepts a token whose
	// revocation status cannot be read because the store failed. It trades
	// the guarantee that a revoked token is refused for availability while
	// the store is down.
	RevocationFailOpen
	// RevocationUnchecked accepts revoked tokens until they expire, for a
	// resource server that can reach neither the store nor the
	// authorization server's introspection endpoint (IntrospectionChecker).
	// Revocations must be nil.
	RevocationUnchecked
)

// String returns the name of the policy.
func (p RevocationPolicy) String() string {
	switch p {
	case RevocationFailClosed:
		return "RevocationFailClosed"
	case RevocationFailOpen:
		return "RevocationFailOpen"
	case RevocationUnchecked:
		return "RevocationUnchecked"
	default:
		return fmt.Sprintf("RevocationPolicy(%d)", int(p))
	}
}

// MaxLeeway is the largest clock skew a Verifier or an Issuer tolerates.
// Revocations are kept that long past the expiry of the tokens they concern,
// and so are the retired keys of a KeySet (DefaultRetireGrace).
const MaxLeeway = 5 * time.Minute

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Issuer is the required iss claim.
	Issuer string
	// Audience is the identifier of this resource server; the aud claim
	// must contain it.
	Audience string
	// Keys resolves a token's kid to its verification key: a *KeySet, a
	// *RemoteKeySet, or your own.
	Keys KeyResolver
	// Revocations is checked for the token's jti and grant: the Store, a
	// *RevocationView over it, or, for a resource server that cannot reach
	// the store, an *IntrospectionChecker, which asks the authorization
	// server about the token itself (see TokenRevocationChecker). It is
	// required unless Revocation is RevocationUnchecked, and must then be
	// nil.
	Revocations RevocationChecker
	// Revocation is what Verify does about revocation; the zero value is
	// RevocationFailClosed.
	Revocation RevocationPolicy
	// Leeway is the clock skew tolerated on exp, nbf and iat; 0 means the
	// default, none. It is at most MaxLeeway: revocations are kept for
	// MaxLeeway past a token's expiry, so a verifier more lenient than that
	// would accept a revoked token again.
	Leeway time.Duration
	// StoreTimeout bounds the revocation lookup (a store call, or an
	// IntrospectionChecker's request), so a hung store answers 503 rather
	// than holding requests; 0 means DefaultStoreTimeout. A RevocationView
	// bounds its own store calls (RevocationViewConfig).
	StoreTimeout time.Duration
	// CacheSize is how many verified tokens are remembered, so that a
	// token presented again skips parsing and signature verification (its
	// expiry and revocation are still checked on every use). 0 means
	// DefaultCacheSize; a negative value disables the cache.
	CacheSize int
	// MaxTokenSize is the longest token accepted, in bytes; 0 means
	// DefaultMaxTokenSize.
	MaxTokenSize int
	// Realm is the realm of the WWW-Authenticate challenges the middleware
	// sends; empty means "oauth2kit".
	Realm string
	// ErrorHandler, when set, answers every request the middleware refuses
	// (400, 401, 403, 503), in place of the default, Verifier.WriteError:
	// the application decides the body, the headers and the status. It may
	// call WriteError for the cases it leaves as they are.
	ErrorHandler func(http.ResponseWriter, *http.Request, *BearerError)
	// Logger receives why the middleware could not check a token (503: the
	// revocation store or the keys unreachable) at error level, and every
	// other refusal at debug level; nil means slog.Default().
	Logger *slog.Logger
	// MeterProvider makes the Verifier's metric (see Metrics and traces in
	// the package doc); nil means otel's global provider, which records
	// nothing until the application installs an SDK, before or after
	// NewVerifier.
	MeterProvider metric.MeterProvider
	// TracerProvider makes the Verifier's spans, which it records only
	// inside a span that records (a traced request); nil means otel's
	// global provider, as for MeterProvider.
	TracerProvider trace.TracerProvider
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verifier checks JWT access tokens (RFC 9068) and guards HTTP handlers
// with them (RFC 6750). It is safe for concurrent use.
type Verifier struct {
	cfg   VerifierConfig
	cache *tokenCache // nil when disabled
	tel   *verifierTelemetry

	// selfBounded is set when Revocations bounds its own store calls (a
	// RevocationView, which mostly answers from memory), so Verify adds no
	// timer of its own on the hot path.
	selfBounded bool
	// byToken is Revocations when it needs the token itself.
	byToken TokenRevocationChecker
}

// selfBoundedChecker is a RevocationChecker that puts a timeout on every
// store call it makes itself.
type selfBoundedChecker interface {
	RevocationChecker
	boundsStoreCalls()
}

// DefaultCacheSize is the default number of verified tokens a Verifier
// remembers (a few megabytes at typical token sizes), and of answers an
// IntrospectionChecker remembers.
const DefaultCacheSize = 4096

// NewVerifier validates cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("oauth2: VerifierConfig.Issuer is required")
	case cfg.Audience == "":
		return nil, errors.New("oauth2: VerifierConfig.Audience is required")
	case cfg.Keys == nil:
		return nil, errors.New("oauth2: VerifierConfig.Keys is required")
	case cfg.Revocation < RevocationFailClosed || cfg.Revocation > RevocationUnchecked:
		return nil, fmt.Errorf("oauth2: VerifierConfig.Revocation %v is not a RevocationPolicy", cfg.Revocation)
	case cfg.Revocation == RevocationUnchecked && cfg.Revocations != nil:
		return nil, errors.New("oauth2: VerifierConfig.Revocations is set but Revocation is RevocationUnchecked")
	case cfg.Revocation != RevocationUnchecked && cfg.Revocations == nil:
		return nil, errors.New("oauth2: VerifierConfig.Revocations is required (or set Revocation to RevocationUnchecked)")
	case cfg.Leeway < 0 || cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("oauth2: VerifierConfig.Leeway %s is outside [0, MaxLeeway = %s]", cfg.Leeway, MaxLeeway)
	case cfg.StoreTimeout < 0:
		return nil, fmt.Errorf("oauth2: VerifierConfig.StoreTimeout %s is negative", cfg.StoreTimeout)
	case cfg.MaxTokenSize < 0:
		return nil, fmt.Errorf("oauth2: VerifierConfig.MaxTokenSize %d is negative", cfg.MaxTokenSize)
	case strings.ContainsAny(cfg.Realm, "\"\\"):
		return nil, errors.New("oauth2: VerifierConfig.Realm must not contain quotes or backslashes")
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.MaxTokenSize == 0 {
		cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	if cfg.Realm == "" {
		cfg.Realm = "oauth2kit"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tel, err := newVerifierTelemetry(cfg.MeterProvider, cfg.TracerProvider)
	if err != nil {
		return nil, fmt.Errorf("oauth2: VerifierConfig.MeterProvider: %w", err)
	}
	v := &Verifier{cfg: cfg, tel: tel}
	_, v.selfBounded = cfg.Revocations.(selfBoundedChecker)
	v.byToken, _ = cfg.Revocations.(TokenRevocationChecker)
	switch {
	case cfg.CacheSize == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newTokenCache(cfg.CacheSize)
	}
	return v, nil
}

// Verify checks raw and returns its claims. The error wraps one of the
// ErrToken..., ErrInvalid..., ErrUnknownKey, ErrAlgorithmMismatch,
// ErrMissingClaim values (all of which match ErrInvalidToken), or
// ErrRevocationUnavailable or ErrKeysUnavailable when a store or the JWKS
// could not be asked.
//
// The returned Claims are the caller's own: changing them affects no other
// caller, whatever the cache holds.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	ctx, span := v.tel.startVerify(ctx)
	c, err := v.verify(ctx, raw)
	v.tel.verified(ctx, span, c, err)
	return c, err
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Claims, error) {
	c, err := v.signedClaims(ctx, raw)
	if err != nil {
		return nil, err
	}
	if err := v.checkTimes(c); err != nil {
		return nil, err
	}
	if err := v.checkRevoked(ctx, raw, c); err != nil {
		return nil, err
	}
	return c, nil
}

// signedClaims returns the verified signed claims of raw, from the cache
// when it was verified before with a key the resolver still returns.
func (v *Verifier) signedClaims(ctx context.Context, raw string) (*Claims, error) {
	if v.cache == nil {
		t, err := v.verifySignedClaims(ctx, raw)
		if err != nil {
			return nil, err
		}
		return t.claims, nil
	}
	if hit := v.cache.get(raw); hit != nil {
		// Ask for the key on every hit: a key removed from the set (a JWKS
		// refetched without it, a shared set that dropped it) must stop its
		// cached tokens as it stops new ones.
		key, err := v.key(ctx, hit.kid)
		if err != nil {
			return nil, err
		}
		if sameKey(key, hit.key) {
			return hit.claims.clone(), nil
		}
	}
	t, err := v.verifySignedClaims(ctx, raw)
	if err != nil {
		return nil, err
	}
	if now := v.cfg.Now(); now.Before(t.claims.ExpiresAt.Add(v.cfg.Leeway)) {
		// The cache keeps a copy that no caller ever holds.
		v.cache.put(raw, &verifiedToken{claims: t.claims.clone(), kid: t.kid, key: t.key}, now)
	}
	return t.claims, nil
}

// verifySignedClaims checks everything that does not depend on the clock or
// the store: shape, typ, key, algorithm, signature, required claims, iss
// and aud.
func (v *Verifier) verifySignedClaims(ctx context.Context, raw string) (*verifiedToken, error) {
	if len(raw) > v.cfg.MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTokenTooLarge, len(raw), v.cfg.MaxTokenSize)
	}
	jws, err := jose.ParseSignedCompact(raw, supportedAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokenMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrTokenMalformed)
	}
	hdr := jws.Signatures[0].Protected
	// RFC 9068 §4: typ must be at+jwt; media types compare case-insensitively
	// and the "application/" prefix may be present (RFC 7515 §4.1.9).
	typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, fmt.Errorf("%w: got %q", ErrTokenType, typ)
	}
	if hdr.KeyID == "" {
		return nil, fmt.Errorf("%w: no kid header", ErrUnknownKey)
	}
	key, err := v.key(ctx, hdr.KeyID)
	if err != nil {
		return nil, err
	}
	// The key, not the token, decides the algorithm: a token cannot
	// downgrade to another algorithm or turn a public key into an HMAC secret.
	if hdr.Algorithm != key.alg {
		return nil, fmt.Errorf("%w: token says %q, key %q is %q", ErrAlgorithmMismatch, hdr.Algorithm, key.id, key.alg)
	}
	payload, err := jws.Verify(key.verifier())
	if err != nil {
		return nil, ErrInvalidSignature
	}
	w, err := parseClaims(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrTokenMalformed, err)
	}
	if err := requireClaims(w); err != nil {
		return nil, err
	}
	if w.Issuer != v.cfg.Issuer {
		return nil, fmt.Errorf("%w: %q", ErrInvalidIssuer, w.Issuer)
	}
	if !slices.Contains(w.Audience, v.cfg.Audience) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidAudience, []string(w.Audience))
	}
	return &verifiedToken{claims: w.claims(), kid: hdr.KeyID, key: key}, nil
}

// key resolves kid, wrapping any failure the resolver does not classify
// itself as ErrUnknownKey.
func (v *Verifier) key(ctx context.Context, kid string) (*Key, error) {
	key, err := v.cfg.Keys.VerificationKey(ctx, kid)
	switch {
	case err == nil && key == nil:
		return nil, fmt.Errorf("%w: resolving kid %q: no key returned", ErrUnknownKey, kid)
	case err == nil:
		return key, nil
	case errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrKeysUnavailable):
		return nil, err
	default:
		return nil, fmt.Errorf("%w: resolving kid %q: %v", ErrUnknownKey, kid, err)
	}
}

// sameKey reports whether two resolved keys verify alike: the same object,
// or the same algorithm and key material, as a refetched JWKS gives for a
// key that did not change.
func sameKey(a, b *Key) bool {
	if a == b {
		return true
	}
	if a.alg != b.alg {
		return false
	}
	if a.alg == HS256 {
		return subtle.ConstantTimeCompare(a.secret, b.secret) == 1
	}
	k, ok := a.public.(interface{ Equal(crypto.PublicKey) bool }) // every public key type of crypto/...
	return ok && k.Equal(b.public)
}

// verifiedToken is what signature verification established about a token:
// its claims, and the key that verified them.
type verifiedToken struct {
	claims *Claims
	kid    string
	key    *Key
}

// requireClaims checks the claims RFC 9068 §2.2 makes required.
func requireClaims(w *wireClaims) error {
	var missing []string
	for _, c := range []struct {
		name    string
		present bool
	}{
		{"iss", w.Issuer != ""},
		{"sub", w.Subject != ""},
		{"aud", len(w.Audience) > 0},
		{"exp", w.ExpiresAt != nil},
		{"iat", w.IssuedAt != nil},
		{"jti", w.ID != ""},
		{"client_id", w.ClientID != ""},
	} {
		if !c.present {
			missing = append(missing, c.name)
		}
	}
	if missing != nil {
		return fmt.Errorf("%w: %s", ErrMissingClaim, strings.Join(missing, ", "))
	}
	return nil
}

func (v *Verifier) checkTimes(c *Claims) error {
	now, leeway := v.cfg.Now(), v.cfg.Leeway
	if !now.Before(c.ExpiresAt.Add(leeway)) {
		return fmt.Errorf("%w: at %s", ErrTokenExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore) {
		return fmt.Errorf("%w: not before %s", ErrTokenNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.Add(leeway).Before(c.IssuedAt) {
		return fmt.Errorf("%w: issued in the future, at %s", ErrTokenNotYetValid, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

func (v *Verifier) checkRevoked(ctx context.Context, raw string, c *Claims) error {
	if v.cfg.Revocations == nil {
		return nil
	}
	if !v.selfBounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.cfg.StoreTimeout)
		defer cancel()
	}
	var revoked bool
	var err error
	if v.byToken != nil {
		revoked, err = v.byToken.IsTokenRevoked(ctx, raw, c)
	} else {
		revoked, err = v.cfg.Revocations.IsRevoked(ctx, c.ID, c.GrantID)
	}
	switch {
	case err != nil && v.cfg.Revocation == RevocationFailOpen:
		return nil
	case errors.Is(err, ErrRevocationUnavailable):
		return err // already says so
	case err != nil:
		return fmt.Errorf("%w: %w", ErrRevocationUnavailable, err)
	}
	if revoked {
		return ErrTokenRevoked
	}
	return nil
}
