package redisstore_test

import (
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
)

// Check refuses a server that may evict the Store's keys: revocations would
// silently disappear under memory pressure.
func TestCheckEvictionPolicy(t *testing.T) {
	t.Parallel()
	srv := testenv.Redis(t, testenv.Options{Own: true}) // its config is changed
	client := newClient(t, srv.URL)
	s := redisstore.New(client)
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check() on a default server = %v, want nil (noeviction)", err)
	}
	for _, policy := range []string{"volatile-lru", "allkeys-lru", "volatile-ttl"} {
		if err := client.ConfigSet(t.Context(), "maxmemory-policy", policy).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Check(t.Context()); !errors.Is(err, redisstore.ErrUnsafeConfig) {
			t.Errorf("Check() with maxmemory-policy %s = %v, want %v", policy, err, redisstore.ErrUnsafeConfig)
		}
	}
}

func TestNewRefusesRing(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2"}})
	defer ring.Close()
	defer func() {
		if recover() == nil {
			t.Errorf("New(*redis.Ring) did not panic; a Ring loses revocations when a shard fails")
		}
	}()
	redisstore.New(ring)
}

func TestNewRefusesNilClient(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("New(nil) did not panic, want a panic naming the nil client")
		}
	}()
	redisstore.New(nil)
}
