package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/store"
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
		// The client's ReadTimeout is go-redis's default, 5s.
		{1, 5 * time.Second, true},
		{1, time.Minute, true},
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

// A single server has no replica, so with WithReplicaAcks(1) every write of
// the one-script path is unconfirmed: the caller gets an error, never
// success, and a rejected call keeps its sentinel.
func testReplicaAcksOnOneNode(t *testing.T, client *redis.Client) {
	ctx := t.Context()
	prefix := newPrefix()
	s := redisstore.New(client, redisstore.WithKeyPrefix(prefix), redisstore.WithReplicaAcks(1, 20*time.Millisecond))
	plain := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
	base := oauth2test.Now()
	tok := oauth2test.NewToken(base)
	if err := s.CreateRefreshToken(ctx, tok); err == nil || errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateRefreshToken() with 1 replica ack and no replica = %v, want an error that is no sentinel", err)
	}
	next := oauth2test.Successor(tok, base.Add(time.Minute))
	if err := s.RotateRefreshToken(ctx, tok.Hash, next); err == nil || errors.Is(err, store.ErrReused) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefreshToken() with 1 replica ack and no replica = %v, want an error that is no sentinel", err)
	}
	// The rotation reached the server all the same: presenting the old
	// token again is reuse, and that answer needs no acknowledgement.
	err := s.RotateRefreshToken(ctx, tok.Hash, oauth2test.Successor(tok, base.Add(2*time.Minute)))
	wantErr(t, "RotateRefreshToken(consumed) with 1 replica ack", err, store.ErrReused)
	if got, err := plain.GetRefreshToken(ctx, next.Hash); err != nil || got.GrantID != next.GrantID {
		t.Errorf("GetRefreshToken(successor of an unconfirmed rotation) = %v, %v, want it stored", got.GrantID, err)
	}
}
