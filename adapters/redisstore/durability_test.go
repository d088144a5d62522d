package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
)

// WAIT with a timeout of 0 blocks forever, so New refuses to wait for
// replicas without a positive timeout; n <= 0 waits for nothing and needs
// none.
func TestNewRejectsReplicaAcksWithoutTimeout(t *testing.T) {
	tests := []struct {
		n         int
		timeout   time.Duration
		wantPanic bool
	}{
		{1, time.Second, false},
		{0, 0, false},
		{-1, 0, false},
		{1, 0, true},
		{2, -time.Second, true},
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for _, tt := range tests {
		got := func() (panicked bool) {
			defer func() { panicked = recover() != nil }()
			redisstore.New(client, redisstore.WithReplicaAcks(tt.n, tt.timeout))
			return false
		}()
		if got != tt.wantPanic {
			t.Errorf("New(WithReplicaAcks(%d, %v)) panicked = %v, want %v", tt.n, tt.timeout, got, tt.wantPanic)
		}
	}
}
