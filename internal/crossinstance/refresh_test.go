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
