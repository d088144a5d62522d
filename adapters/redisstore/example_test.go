package redisstore_test

import (
	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
)

// A Store takes the application's client; give it to the issuer as its store
// and to the verifier for revocations. It needs a Redis 7.0 server to run,
// so this example only compiles.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()

	s := redisstore.New(client, redisstore.WithKeyPrefix("myapp:oauth2:"))
	_ = s // oauth2.IssuerConfig{Store: s, ...}, oauth2.VerifierConfig{Revocations: s, ...}
}

// On Redis Cluster the store works unchanged: every script it runs touches
// the keys of one grant, which share a hash slot.
func ExampleNew_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{"redis-0:6379", "redis-1:6379", "redis-2:6379"},
	})
	defer client.Close()

	s := redisstore.New(client)
	_ = s
}
