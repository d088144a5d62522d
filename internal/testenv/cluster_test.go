package testenv_test

import (
	"strconv"
	"testing"

	"github.com/oauth2kit/oauth2kit/internal/testenv"
)

// The cluster testenv starts serves every slot through a client on the
// host, and its nodes report three masters.
func TestRedisCluster(t *testing.T) {
	c := testenv.RedisCluster(t)
	if len(c.Addrs) != 6 {
		t.Fatalf("len(Addrs) = %d, want 6", len(c.Addrs))
	}
	masters, err := c.Masters(t.Context())
	if err != nil || len(masters) != 3 {
		t.Fatalf("Masters() = %v, %v, want 3 masters", masters, err)
	}
	client := c.NewClient(t, nil, nil)
	// Enough keys that every master holds some: a client that could not
	// follow the announced addresses would fail on two thirds of them.
	for i := range 100 {
		key := "k" + strconv.Itoa(i)
		if err := client.Set(t.Context(), key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s error = %v", key, err)
		}
		if got, err := client.Get(t.Context(), key).Int(); err != nil || got != i {
			t.Fatalf("GET %s = %d, %v, want %d", key, got, err, i)
		}
	}
}
