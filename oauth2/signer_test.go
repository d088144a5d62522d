package oauth2_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	xoauth2 "golang.org/x/oauth2"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// kmsSigner stands for a key in a KMS or an HSM: the private key never
// leaves it, and all it offers is the crypto.Signer pair, Public and Sign.
type kmsSigner struct {
	inner crypto.Signer // unreachable from outside, as the KMS's key is
	signs atomic.Int64
	// corrupt, when set, makes Sign answer something that is not a
	// signature, as a misbehaving remote signer might.
	corrupt bool
}

func (k *kmsSigner) Public() crypto.PublicKey { return k.inner.Public() }

func (k *kmsSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k.signs.Add(1)
	if k.corrupt {
		return []byte("not a signature"), nil
	}
	return k.inner.Sign(r, digest, opts)
}

func newKMSSigner(tb testing.TB, alg string) *kmsSigner {
	tb.Helper()
	return &kmsSigner{inner: generatePrivateKey(tb, alg)}
}

// generatePrivateKey returns a fresh in-memory private key for alg (EdDSA,
// ES256 or RS256).
func generatePrivateKey(tb testing.TB, alg string) crypto.Signer {
	tb.Helper()
	var k crypto.Signer
	var err error
	switch alg {
	case oauth2.EdDSA:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case oauth2.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case oauth2.RS256:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		tb.Fatalf("generatePrivateKey(%q): unsupported algorithm", alg)
	}
	if err != nil {
		tb.Fatalf("generating a %s key: %v", alg, err)
	}
	return k
}

// A key the SDK can only ask to sign, as a KMS's is, issues tokens that an
// independent JOSE implementation verifies from the issuer's JWKS.
func TestKMSSignerTokensVerifyWithJWX(t *testing.T) {
	for _, alg := range []string{oauth2.EdDSA, oauth2.ES256, oauth2.RS256} {
		t.Run(alg, func(t *testing.T) {
			kms := newKMSSigner(t, alg)
			key, err := oauth2.NewKey("kms-key-1", alg, kms)
			if err != nil {
				t.Fatalf("NewKey(kms signer) error = %v", err)
			}
			f := newFixture(t, withKey(key))
			tok := f.passwordToken(t, f.config(confID, confSecret, xoauth2.AuthStyleInHeader))
			if kms.signs.Load() == 0 {
				t.Fatal("Got no Sign call on the KMS signer, want the token signed by it")
			}

			set, err := jwk.Fetch(t.Context(), f.url+oauth2.JWKSPath, jwk.WithHTTPClient(f.srv.Client()))
			if err != nil {
				t.Fatalf("jwk.Fetch() error = %v", err)
			}
			if _, ok := set.LookupKeyID("kms-key-1"); !ok || set.Len() != 1 {
				t.Fatalf("Got(JWKS) with %d keys, want exactly kid %q", set.Len(), "kms-key-1")
			}
			parseWithJWX(t, f, tok.AccessToken, set)
			// And the SDK's own verifier, over the same JWKS.
			remote := newRemote(t, f.url+oauth2.JWKSPath, oauth2.RemoteKeySetOptions{Client: f.srv.Client()})
			v, err := oauth2.NewVerifier(oauth2.VerifierConfig{Issuer: f.url, Audience: f.url, Keys: remote, Revocations: f.store})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
				t.Errorf("Verify(KMS-signed token) error = %v", err)
			}
		})
	}
}

// A signer that answers garbage is a server failure, reported as such: no
// token is issued, and nothing panics.
func TestKMSSignerFailureIsServerError(t *testing.T) {
	for _, alg := range []string{oauth2.ES256, oauth2.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			kms := newKMSSigner(t, alg)
			kms.corrupt = alg == oauth2.ES256 // an ASN.1 signature that is not one
			key, err := oauth2.NewKey("kms-key-1", alg, kms)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, withKey(key))
			if alg == oauth2.EdDSA {
				kms.inner = failingSigner{kms.inner}
			}
			r := f.postForm(t, oauth2.TokenPath, basicAuth(confID, confSecret), url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}})
			if r.status != http.StatusInternalServerError || r.errorCode() != "server_error" {
				t.Errorf("Got(token endpoint, signer failing) = %d %s, want 500 server_error", r.status, r.body)
			}
		})
	}
}

// failingSigner is a crypto.Signer whose Sign always fails, as a KMS that
// cannot be reached does.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("kms: connection refused")
}

func TestNewKeyChecksTheSigner(t *testing.T) {
	ed := newKMSSigner(t, oauth2.EdDSA)
	ec := newKMSSigner(t, oauth2.ES256)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		alg     string
		key     any
		wantErr string
	}{
		{"ES256 over an Ed25519 signer", oauth2.ES256, ed, "P-256"},
		{"EdDSA over an ECDSA signer", oauth2.EdDSA, ec, "Ed25519"},
		{"ES256 on P-384", oauth2.ES256, p384, "P-256"},
		{"RS256 under 2048 bits", oauth2.RS256, small, "2048"},
		{"not a signer", oauth2.EdDSA, "secret", "crypto.Signer"},
		{"HS256 over a signer", oauth2.HS256, ec, "[]byte"},
		{"HS256 too short", oauth2.HS256, []byte("short"), "32"},
		{"unknown algorithm", "PS256", ec, "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oauth2.NewKey("k", tt.alg, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewKey(%s, %T) error = %v, want one mentioning %q", tt.alg, tt.key, err, tt.wantErr)
			}
		})
	}
}

// ownSigner is a Signer of an application's own, and not a KeyResolver: the
// Issuer finds the keys of the tokens it verifies among Keys.
type ownSigner struct {
	key  *oauth2.Key
	down atomic.Bool
}

func (s *ownSigner) SigningKey(context.Context) (*oauth2.Key, error) { return s.key, nil }

func (s *ownSigner) Keys(context.Context) ([]*oauth2.Key, error) {
	if s.down.Load() {
		return nil, errors.New("vault: sealed")
	}
	return []*oauth2.Key{s.key}, nil
}

func TestOwnSigner(t *testing.T) {
	key, err := oauth2.GenerateKey(oauth2.ES256)
	if err != nil {
		t.Fatal(err)
	}
	signer := &ownSigner{key: key}
	f := newFixture(t, withSigner(signer))
	tok := f.passwordToken(t, f.config(confID, confSecret, xoauth2.AuthStyleInHeader))
	conf, err := f.issuer.AuthenticateClient(t.Context(), confID, confSecret)
	if err != nil {
		t.Fatal(err)
	}
	in, err := f.issuer.Introspect(t.Context(), conf, tok.AccessToken, oauth2.HintAccessToken)
	if err != nil || !in.Active {
		t.Fatalf("Introspect(token of an own Signer) = %+v, %v, want active", in, err)
	}
	r := f.request(t, http.MethodGet, oauth2.JWKSPath, "", "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), key.ID()) {
		t.Errorf("Got(JWKS) = %d %s, want 200 with kid %q", r.status, r.body, key.ID())
	}

	// Keys that cannot be listed: the JWKS is unavailable, not empty, and
	// introspection cannot call the token inactive.
	signer.down.Store(true)
	if r := f.request(t, http.MethodGet, oauth2.JWKSPath, "", ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("Got(JWKS, keys unavailable) = %d %s, want 503", r.status, r.body)
	}
	if in, err := f.issuer.Introspect(t.Context(), conf, tok.AccessToken, oauth2.HintAccessToken); !errors.Is(err, oauth2.ErrTemporarilyUnavailable) {
		t.Errorf("Introspect(keys unavailable) = %+v, %v, want %v", in, err, oauth2.ErrTemporarilyUnavailable)
	}
}
