package crossinstance_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// TestOnCluster runs the cross-instance tests on one Redis Cluster of three
// masters with a replica each, started once for all of them: each instance
// has a cluster client of its own, and each test a key prefix of its own,
// whose keys spread over the masters.
func TestOnCluster(t *testing.T) {
	t.Parallel()
	c := testenv.RedisCluster(t)
	open := func(t testing.TB) (oauth2.Store, oauth2.Store) {
		prefix := "crossinstance:" + rand.Text() + ":"
		return redisstore.New(c.NewClient(t, nil, nil), redisstore.WithKeyPrefix(prefix)),
			redisstore.New(c.NewClient(t, nil, nil), redisstore.WithKeyPrefix(prefix))
	}
	for _, tt := range []struct {
		name string
		test func(*testing.T, opener)
	}{
		{"RevocationReachesOtherInstance", testRevocationReachesOtherInstance},
		{"ThrottleAcrossInstances", testThrottleAcrossInstances},
		{"RefreshGraceAcrossInstances", testRefreshGraceAcrossInstances},
		{"SignOutEverywhereAcrossInstances", testSignOutEverywhereAcrossInstances},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open) })
	}
}

// BenchmarkRefreshThroughput is the refresh grant's throughput through N
// instances, each an Issuer with a Redis client of its own, all on one
// Redis master or on a Redis Cluster of three masters (each with a
// replica). The load is the same whatever N: 8 goroutines per GOMAXPROCS,
// each rotating a chain of its own from a password grant made beforehand,
// spread over the instances in turn. It reports grants/s in all.
//
// The instances share this process, and so its CPUs, with each other:
// what more instances or more masters change is the connections and the
// servers the round trips go to, not the signing work.
func BenchmarkRefreshThroughput(b *testing.B) {
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	const parallelism = 8
	for _, dep := range []struct {
		name string
		// start starts the deployment and returns how to open a client
		// of it for one instance.
		start func(b *testing.B) func(b *testing.B) redis.UniversalClient
	}{
		{"redis-1-master", func(b *testing.B) func(*testing.B) redis.UniversalClient {
			url := testenv.Redis(b, testenv.Options{}).URL
			return func(b *testing.B) redis.UniversalClient { return redisClient(b, url) }
		}},
		{"cluster-3-masters", func(b *testing.B) func(*testing.B) redis.UniversalClient {
			c := testenv.RedisCluster(b)
			return func(b *testing.B) redis.UniversalClient { return c.NewClient(b, nil, nil) }
		}},
	} {
		b.Run(dep.name, func(b *testing.B) {
			newClient := dep.start(b)
			for _, n := range []int{1, 2, 4} {
				b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
					key, err := oauth2.GenerateKey(oauth2.EdDSA)
					if err != nil {
						b.Fatal(err)
					}
					keys := oauth2.NewKeySet(key)
					prefix := "throughput:" + rand.Text() + ":"
					instances := make([]*instance, n)
					for i := range instances {
						instances[i] = newInstance(b, redisstore.New(newClient(b), redisstore.WithKeyPrefix(prefix)), keys)
					}
					// One chain per goroutine RunParallel starts, made
					// before the clock runs: a password grant hashes.
					goroutines := parallelism * runtime.GOMAXPROCS(0)
					chains := make(chan string, goroutines)
					for i := range goroutines {
						inst := instances[i%n]
						tok, err := inst.issuer.PasswordGrant(context.Background(), inst.client, "alice", "pw", nil)
						if err != nil {
							b.Fatal(err)
						}
						chains <- tok.RefreshToken
					}
					var next atomic.Int64
					b.SetParallelism(parallelism)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						inst := instances[int(next.Add(1)-1)%n]
						rt := <-chains
						for pb.Next() {
							resp, err := inst.issuer.RefreshGrant(context.Background(), inst.client, rt, nil)
							if err != nil {
								b.Error(err)
								return
							}
							rt = resp.RefreshToken
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "grants/s")
				})
			}
		})
	}
}
