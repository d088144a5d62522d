package crossinstance_test

import (
	"context"
	"testing"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// BenchmarkRefreshGrant is the refresh grant (lookup, revocation check,
// signing, atomic rotation) through the Issuer on each real store, a chain
// of rotations from one password grant. Compare it with oauth2's
// BenchmarkRefreshGrant on memstore for the cost of the round trips.
func BenchmarkRefreshGrant(b *testing.B) {
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			st, _ := be.open(b)
			key, _ := oauth2.GenerateKey(oauth2.EdDSA)
			inst := newInstance(b, st, oauth2.NewKeySet(key))
			ctx := context.Background()
			tok, err := inst.issuer.PasswordGrant(ctx, inst.client, "alice", "pw", nil)
			if err != nil {
				b.Fatal(err)
			}
			rt := tok.RefreshToken
			for b.Loop() {
				next, err := inst.issuer.RefreshGrant(ctx, inst.client, rt, nil)
				if err != nil {
					b.Fatal(err)
				}
				rt = next.RefreshToken
			}
		})
	}
}

// BenchmarkVerifyAgainstStore is Verify with the revocation check going to
// each real store, directly (a round trip per call) or through a
// RevocationView, with the token cache on and off. oauth2's BenchmarkVerify
// has the same variants on memstore beside bare go-jose.
func BenchmarkVerifyAgainstStore(b *testing.B) {
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			st, _ := be.open(b)
			key, _ := oauth2.GenerateKey(oauth2.ES256)
			keys := oauth2.NewKeySet(key)
			inst := newInstance(b, st, keys) // its verifier reads a RevocationView
			ctx := context.Background()
			tok, err := inst.issuer.PasswordGrant(ctx, inst.client, "alice", "pw", nil)
			if err != nil {
				b.Fatal(err)
			}
			direct := func(cache int) *oauth2.Verifier {
				v, err := oauth2.NewVerifier(oauth2.VerifierConfig{Issuer: issuerURL, Audience: issuerURL, Keys: keys, Revocations: st, CacheSize: cache})
				if err != nil {
					b.Fatal(err)
				}
				return v
			}
			for _, vt := range []struct {
				name string
				v    *oauth2.Verifier
			}{
				{"ES256/cold/store", direct(-1)},
				{"ES256/cached/store", direct(0)},
				{"ES256/cached/view", inst.verifier},
			} {
				b.Run(vt.name, func(b *testing.B) {
					for b.Loop() {
						if _, err := vt.v.Verify(ctx, tok.AccessToken); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
