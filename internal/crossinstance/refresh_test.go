package crossinstance_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/faultproxy"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// BenchmarkRefreshGrant is the refresh grant (lookup and revocation check
// together, signing, atomic rotation and session touch together) through
// the Issuer: on memstore,
// then on each real store, a chain of rotations from one password grant.
// Each iteration on a real store also runs a refresh on memstore and a bare
// round trip to the store's server (PING, SELECT 1), each timed apart:
// ns/op is the real store's refresh alone, and roundtrips-over-mem/op what
// it costs beyond memstore's, in round trips, from the same iterations
// however busy the machine was.
func BenchmarkRefreshGrant(b *testing.B) {
	benchmarkRefreshGrant(b, 0)
}

// BenchmarkRefreshGrantOverLatency is BenchmarkRefreshGrant with every
// reply of each real server held back for a millisecond by a proxy, as a
// network between the instances and their store would: the round trips
// then outweigh the servers' own work, which on loopback is of their
// order, so that roundtrips-over-mem/op counts the round trips a refresh
// waits for.
func BenchmarkRefreshGrantOverLatency(b *testing.B) {
	benchmarkRefreshGrant(b, time.Millisecond)
}

func benchmarkRefreshGrant(b *testing.B, latency time.Duration) {
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	ctx := context.Background()
	mem := newChain(b, memstore.New())
	b.Run("memstore", func(b *testing.B) {
		for b.Loop() {
			mem.refresh(ctx, b)
		}
	})
	for _, be := range roundTrippers {
		b.Run(be.name, func(b *testing.B) {
			st, roundTrip := be.open(b, latency)
			real := newChain(b, st)
			var inReal, inMem, inRoundTrip time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				real.refresh(ctx, b)
				refreshed := time.Now()
				mem.refresh(ctx, b)
				memRefreshed := time.Now()
				if err := roundTrip(ctx); err != nil {
					b.Fatal(err)
				}
				inReal += refreshed.Sub(start)
				inMem += memRefreshed.Sub(refreshed)
				inRoundTrip += time.Since(memRefreshed)
				n++
			}
			b.ReportMetric(float64(inReal.Nanoseconds())/float64(n), "ns/op")
			b.ReportMetric(float64(inMem.Nanoseconds())/float64(n), "mem-ns/op")
			b.ReportMetric(float64(inRoundTrip.Nanoseconds())/float64(n), "roundtrip-ns/op")
			b.ReportMetric(float64(inReal-inMem)/float64(inRoundTrip), "roundtrips-over-mem/op")
		})
	}
}

// roundTrippers open a store on each real server, with a bare round trip
// to that server through a client or pool of the same kind; with latency,
// both go through a proxy that holds each reply back that long.
var roundTrippers = []struct {
	name string
	open func(b *testing.B, latency time.Duration) (oauth2.Store, func(context.Context) error)
}{
	{"redis", func(b *testing.B, latency time.Duration) (oauth2.Store, func(context.Context) error) {
		at := delayed(b, testenv.Redis(b, testenv.Options{}).URL, latency)
		st := redisstore.New(redisClient(b, at), redisstore.WithKeyPrefix("crossinstance:"+time.Now().Format("150405.000000")+":"))
		client := redisClient(b, at)
		return st, func(ctx context.Context) error { return client.Ping(ctx).Err() }
	}},
	{"postgres", func(b *testing.B, latency time.Duration) (oauth2.Store, func(context.Context) error) {
		at := delayed(b, testenv.Postgres(b, testenv.Options{}).URL, latency)
		st := pgStore(b, at, "crossinstance_"+time.Now().Format("150405_000000"))
		pool, err := pgxpool.New(context.Background(), at)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		return st, func(ctx context.Context) error {
			_, err := pool.Exec(ctx, "SELECT 1")
			return err
		}
	}},
}

// delayed returns rawURL, or with latency, rawURL with its host replaced
// by a proxy to it that holds every reply back for latency.
func delayed(b *testing.B, rawURL string, latency time.Duration) string {
	b.Helper()
	if latency == 0 {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		b.Fatal(err)
	}
	p, err := faultproxy.New(u.Host, latency)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	if err := p.Set(faultproxy.Slow); err != nil {
		b.Fatal(err)
	}
	u.Host = p.Addr()
	return u.String()
}

// chain is a password grant on one store whose refresh token is rotated
// again at each refresh.
type chain struct {
	inst *instance
	rt   string
}

func newChain(b *testing.B, st oauth2.Store) *chain {
	b.Helper()
	key, _ := oauth2.GenerateKey(oauth2.EdDSA)
	inst := newInstance(b, st, oauth2.NewKeySet(key))
	tok, err := inst.issuer.PasswordGrant(context.Background(), inst.client, "alice", "pw", nil)
	if err != nil {
		b.Fatal(err)
	}
	return &chain{inst: inst, rt: tok.RefreshToken}
}

func (c *chain) refresh(ctx context.Context, b *testing.B) {
	next, err := c.inst.issuer.RefreshGrant(ctx, c.inst.client, c.rt, nil)
	if err != nil {
		b.Fatal(err)
	}
	c.rt = next.RefreshToken
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
