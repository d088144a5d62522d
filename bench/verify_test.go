package bench

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// BenchmarkVerifyLibraries verifies one access token, per algorithm, with
// oauth2kit's Verifier (cache off, revocation answered by a
// RevocationView: the stretch target's setting), with bare go-jose, and
// with github.com/golang-jwt/jwt/v5 (signature, exp, iss and aud), so that
// "no slower than golang-jwt while go-jose still checks the signature"
// reads from one run:
//
//	go test -run '^$' -bench VerifyLibraries -count 6 | benchstat -col /lib -
func BenchmarkVerifyLibraries(b *testing.B) {
	const iss = "https://auth.bench.test"
	for _, alg := range []string{oauth2.EdDSA, oauth2.ES256, oauth2.RS256} {
		key, err := oauth2.GenerateKey(alg)
		if err != nil {
			b.Fatal(err)
		}
		keys := oauth2.NewKeySet(key)
		st := memstore.New()
		clients, _ := oauth2.NewStaticClients(oauth2.Client{ID: "spa", GrantTypes: []string{oauth2.GrantPassword}, Scopes: []string{"profile"}, DefaultScopes: []string{"profile"}})
		hash, _ := oauth2.HashPasswordWith("pw", oauth2.Argon2Params{Memory: oauth2test.Argon2Memory, Time: oauth2test.Argon2Time, Threads: oauth2test.Argon2Threads})
		users, _ := oauth2.NewStaticUsers(oauth2.StaticUser{Username: "alice", PasswordHash: hash})
		issuer, err := oauth2.NewIssuer(oauth2.IssuerConfig{Issuer: iss, Keys: keys, Store: st, Clients: clients, Users: users})
		if err != nil {
			b.Fatal(err)
		}
		c, _ := clients.LookupClient(context.Background(), "spa")
		tok, err := issuer.PasswordGrant(context.Background(), c, "alice", "pw", nil)
		if err != nil {
			b.Fatal(err)
		}
		view, err := oauth2.NewRevocationView(oauth2.RevocationViewConfig{Store: st})
		if err != nil {
			b.Fatal(err)
		}
		for !view.Trusted() {
			time.Sleep(time.Millisecond)
		}
		verifier, err := oauth2.NewVerifier(oauth2.VerifierConfig{Issuer: iss, Audience: iss, Keys: keys, Revocations: view, CacheSize: -1})
		if err != nil {
			b.Fatal(err)
		}
		active, err := keys.SigningKey(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		pub := active.Public()

		b.Run("alg="+alg+"/lib=oauth2kit", func(b *testing.B) {
			for b.Loop() {
				if _, err := verifier.Verify(context.Background(), tok.AccessToken); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+alg+"/lib=go-jose", func(b *testing.B) {
			algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}
			for b.Loop() {
				t, err := josejwt.ParseSigned(tok.AccessToken, algs)
				if err != nil {
					b.Fatal(err)
				}
				var claims josejwt.Claims
				if err := t.Claims(pub, &claims); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+alg+"/lib=golang-jwt", func(b *testing.B) {
			parser := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(iss), jwt.WithAudience(iss), jwt.WithExpirationRequired())
			keyFunc := func(*jwt.Token) (any, error) { return pub, nil }
			for b.Loop() {
				var claims jwt.RegisteredClaims
				if _, err := parser.ParseWithClaims(tok.AccessToken, &claims, keyFunc); err != nil {
					b.Fatal(err)
				}
			}
		})
		view.Close()
	}
}
