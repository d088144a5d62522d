package oauth2

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
)

// forge signs arbitrary claims with arbitrary headers, so the verifier can
// be fed every kind of wrong token.
func forge(t *testing.T, alg jose.SignatureAlgorithm, key any, headers map[string]any, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range headers {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("NewSigner() error = %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("Marshal() error = %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("Sign() error = %v", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("CompactSerialize() error = %v", err)
	}
	return s
}

func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": aliceName, "aud": testIssuer, "client_id": confID,
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": "jti-1", "grant_id": "grant-1", "scope": "profile",
	}
}

func with(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m))
	for key, val := range m {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestVerify(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := NewKey("rsa-1", RS256, rsaKey)
	if err != nil {
		t.Fatalf("NewKey() error = %v", err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := NewKeySet(rk)
	clock := newFakeClock()
	now := clock.Now()
	st := newFixture(t).store
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: keys, Revocations: st, Leeway: 30 * time.Second, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewVerifier() error = %v", err)
	}
	hdr := map[string]any{"kid": "rsa-1", "typ": "at+jwt"}
	good := validClaims(now)
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)

	if err := st.RevokeAccessToken(t.Context(), "revoked-jti", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeGrant(t.Context(), "revoked-grant", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	tampered := forge(t, jose.RS256, rsaKey, hdr, good)
	parts := strings.Split(tampered, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + testIssuer + `","sub":"mallory"}`))
	tampered = strings.Join(parts, ".")

	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"rsa-1"}`))
	body, _ := json.Marshal(good)
	noneToken := noneHeader + "." + base64.RawURLEncoding.EncodeToString(body) + "."

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "valid", token: forge(t, jose.RS256, rsaKey, hdr, good)},
		{name: "typ application/at+jwt", token: forge(t, jose.RS256, rsaKey, with(hdr, "typ", "application/AT+JWT"), good)},
		{name: "audience array", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "aud", []string{"other", testIssuer}))},
		{name: "expired within leeway", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "exp", now.Add(-20*time.Second).Unix()))},
		{name: "expired", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "exp", now.Add(-31*time.Second).Unix())), wantErr: ErrTokenExpired},
		{name: "nbf in future", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "nbf", now.Add(time.Minute).Unix())), wantErr: ErrTokenNotYetValid},
		{name: "nbf within leeway", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "nbf", now.Add(20*time.Second).Unix()))},
		{name: "iat in future", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "iat", now.Add(time.Minute).Unix())), wantErr: ErrTokenNotYetValid},
		{name: "wrong issuer", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "iss", "https://evil.test")), wantErr: ErrInvalidIssuer},
		{name: "wrong audience", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "aud", "https://other.test")), wantErr: ErrInvalidAudience},
		{name: "typ JWT", token: forge(t, jose.RS256, rsaKey, with(hdr, "typ", "JWT"), good), wantErr: ErrTokenType},
		{name: "no typ", token: forge(t, jose.RS256, rsaKey, with(hdr, "typ", nil), good), wantErr: ErrTokenType},
		{name: "no kid", token: forge(t, jose.RS256, rsaKey, with(hdr, "kid", nil), good), wantErr: ErrUnknownKey},
		{name: "unknown kid", token: forge(t, jose.RS256, rsaKey, with(hdr, "kid", "other"), good), wantErr: ErrUnknownKey},
		{name: "HS256 with the public key as secret", token: forge(t, jose.HS256, pubDER, hdr, good), wantErr: ErrAlgorithmMismatch},
		{name: "other key same kid", token: forge(t, jose.ES256, ecKey, hdr, good), wantErr: ErrAlgorithmMismatch},
		{name: "alg none", token: noneToken, wantErr: ErrTokenMalformed},
		{name: "tampered payload", token: tampered, wantErr: ErrInvalidSignature},
		{name: "missing sub", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "sub", nil)), wantErr: ErrMissingClaim},
		{name: "missing jti", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "jti", nil)), wantErr: ErrMissingClaim},
		{name: "missing client_id", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "client_id", nil)), wantErr: ErrMissingClaim},
		{name: "missing exp", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "exp", nil)), wantErr: ErrMissingClaim},
		{name: "revoked jti", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "jti", "revoked-jti")), wantErr: ErrTokenRevoked},
		{name: "revoked grant", token: forge(t, jose.RS256, rsaKey, hdr, with(good, "grant_id", "revoked-grant")), wantErr: ErrTokenRevoked},
		{name: "too large", token: strings.Repeat("a", DefaultMaxTokenSize+1), wantErr: ErrTokenTooLarge},
		{name: "not a jws", token: "not-a-token", wantErr: ErrTokenMalformed},
		{name: "claims not json", token: forgeRaw(t, rsaKey, hdr, []byte("not json")), wantErr: ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), tt.token)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify() error = %v, want nil", err)
				}
				if c.Subject != aliceName || c.ClientID != confID || c.GrantID != "grant-1" || !c.HasScope("profile") {
					t.Errorf("Verify() = %+v", c)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify() error = %v does not match ErrInvalidToken", err)
			}
		})
	}
}

func forgeRaw(t *testing.T, key any, headers map[string]any, payload []byte) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range headers {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

func TestVerifyRevocationUnavailable(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: oauth2test.Down(), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), tok.AccessToken)
	if !errors.Is(err, ErrRevocationUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify() error = %v, want ErrRevocationUnavailable and not ErrInvalidToken", err)
	}
}

func TestVerifyRevocationFailOpen(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: oauth2test.Down(),
		Revocation: RevocationFailOpen, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Errorf("Verify() with RevocationFailOpen and a failing store error = %v, want success", err)
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.verifier.Verify(ctx, tok.AccessToken); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(cancelled ctx) error = %v, want context.Canceled", err)
	}
}

func TestNewVerifierValidates(t *testing.T) {
	keys := newFixture(t).keys
	tests := []struct {
		name string
		cfg  VerifierConfig
	}{
		{"no issuer", VerifierConfig{Audience: "a", Keys: keys, Revocation: RevocationUnchecked}},
		{"no audience", VerifierConfig{Issuer: "i", Keys: keys, Revocation: RevocationUnchecked}},
		{"no keys", VerifierConfig{Issuer: "i", Audience: "a", Revocation: RevocationUnchecked}},
		{"no revocations", VerifierConfig{Issuer: "i", Audience: "a", Keys: keys}},
		{"negative leeway", VerifierConfig{Issuer: "i", Audience: "a", Keys: keys, Revocation: RevocationUnchecked, Leeway: -1}},
		{"quote in realm", VerifierConfig{Issuer: "i", Audience: "a", Keys: keys, Revocation: RevocationUnchecked, Realm: `a"b`}},
		// One setting for one policy: a checker that would be ignored, or a
		// policy with nothing to check, is a mistake to report.
		{"revocations but unchecked", VerifierConfig{Issuer: "i", Audience: "a", Keys: keys, Revocations: oauth2test.Down(), Revocation: RevocationUnchecked}},
		{"fail open without revocations", VerifierConfig{Issuer: "i", Audience: "a", Keys: keys, Revocation: RevocationFailOpen}},
		{"unknown policy", VerifierConfig{Issuer: "i", Audience: "a", Keys: keys, Revocations: oauth2test.Down(), Revocation: RevocationUnchecked + 1}},
		{"negative policy", VerifierConfig{Issuer: "i", Audience: "a", Keys: keys, Revocations: oauth2test.Down(), Revocation: -1}},
		{"leeway above MaxLeeway", VerifierConfig{Issuer: "i", Audience: "a", Keys: keys, Revocations: oauth2test.Down(), Leeway: MaxLeeway + time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(tt.cfg); err == nil {
				t.Errorf("NewVerifier() error = nil, want an error")
			}
		})
	}
}

func TestVerifyBoundsTheRevocationLookup(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, f.confid)
	hanging := oauth2test.Down()
	hanging.Set(oauth2test.Hang, "IsRevoked") // a store behind a dead network path
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: hanging,
		StoreTimeout: 20 * time.Millisecond, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), tok.AccessToken)
	if !errors.Is(err, ErrRevocationUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify() error = %v, want ErrRevocationUnavailable wrapping context.DeadlineExceeded", err)
	}
}

func TestVerifyWithEmptyKeySet(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: NewKeySet(nil), Revocation: RevocationUnchecked})
	if err != nil {
		t.Fatal(err)
	}
	tok := newFixture(t).login(t, newFixture(t).confid)
	if _, err := v.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify() error = %v, want %v", err, ErrUnknownKey)
	}
}

// However lenient a verifier is allowed to be, an access token revoked at
// the issuer stays revoked until that verifier would reject it as expired:
// the issuer does not know verifiers' leeways, so either the verifier's
// leeway is refused or the revocation outlives it.
func TestRevocationOutlivesEveryAllowedLeeway(t *testing.T) {
	for _, leeway := range []time.Duration{0, 30 * time.Second, 5 * time.Minute, 6 * time.Minute, 30 * time.Minute} {
		t.Run(leeway.String(), func(t *testing.T) {
			f := newFixture(t) // the issuer's own Leeway is 0
			v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.store,
				Leeway: leeway, CacheSize: -1, Now: f.clock.Now})
			if err != nil {
				if leeway <= MaxLeeway {
					t.Fatalf("NewVerifier(Leeway %s) error = %v, want nil", leeway, err)
				}
				return // refused: no such verifier can exist
			}
			tok := f.login(t, f.confid)
			claims, err := v.Verify(t.Context(), tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.issuer.Revoke(t.Context(), f.confid, tok.AccessToken, HintAccessToken); err != nil {
				t.Fatal(err)
			}
			// Walk the clock to the last second this verifier accepts exp.
			for f.clock.Now().Before(claims.ExpiresAt.Add(leeway - time.Second)) {
				f.clock.Advance(time.Minute)
				if d := claims.ExpiresAt.Add(leeway - time.Second).Sub(f.clock.Now()); d < 0 {
					f.clock.Advance(d)
				}
				if _, err := v.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
					t.Fatalf("Verify(revoked) at exp%+v error = %v, want %v", f.clock.Now().Sub(claims.ExpiresAt), err, ErrTokenRevoked)
				}
			}
		})
	}
}

// The revocation of an access token must outlive the most lenient verifier
// even when the store's clock runs ahead of the issuer's and verifiers' by
// almost revocationMargin, the skew the margin is for: the issuer's own
// leeway (0 here) must not shorten it.
func TestRevocationOutlivesMaxLeewayWithStoreSkew(t *testing.T) {
	clock := newFakeClock()
	ahead := func() time.Time { return clock.Now().Add(revocationMargin - time.Second) }
	f := newFixture(t, func(c *IssuerConfig) {
		c.Store = memstore.New(memstore.WithClock(ahead))
		c.Now = clock.Now
	})
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.store,
		Leeway: MaxLeeway, CacheSize: -1, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.login(t, f.confid)
	if err := f.issuer.Revoke(t.Context(), f.confid, tok.AccessToken, HintAccessToken); err != nil {
		t.Fatal(err)
	}
	vt, err := v.verifySignedClaims(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(vt.claims.ExpiresAt.Add(MaxLeeway - time.Second).Sub(clock.Now()))
	if _, err := v.Verify(t.Context(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Verify(revoked) at exp+%s, store %s ahead, error = %v, want %v",
			MaxLeeway-time.Second, revocationMargin-time.Second, err, ErrTokenRevoked)
	}
}
