package redisstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// TestConformance runs the storage contract's suite on one server and one
// client, each subtest under a key prefix of its own, twice: with the
// scripts a Store runs on Cluster, every command watched for keys that would
// span Cluster slots, then under OneNode/ with the scripts a Store runs on a
// single node, which span slots by design.
//
// The adapter's own promises, which the suite cannot see (TTLs, Cluster
// slots, resent commands, pub/sub), run here too, under redisstore/, so that the
// package needs one container rather than one per test function.
func TestConformance(t *testing.T) {
	// In parallel with TestServerRestart, which mostly waits for its
	// container to stop and start.
	t.Parallel()
	srv := testenv.Redis(t, testenv.Options{})
	client := newClient(t, srv.URL)
	slots := &slotChecker{}
	client.AddHook(slots)
	// Cleanups run after every subtest, parallel ones included.
	t.Cleanup(func() { slots.report(t) })

	newStore := func(*testing.T) store.Store {
		return redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()), redisstore.WithSlotScripts())
	}
	storetest.Run(t, newStore)
	storetest.RunConcurrency(t, newStore)
	plain := newClient(t, srv.URL)
	t.Run("OneNode", func(t *testing.T) {
		newStore := func(*testing.T) store.Store {
			return redisstore.New(plain, redisstore.WithKeyPrefix(newPrefix()))
		}
		storetest.Run(t, newStore)
		storetest.RunConcurrency(t, newStore)
	})
	testFaults(t, srv.URL)

	bothPaths(t, "redisstore/KeysExpire", client, plain, testKeysExpire)
	t.Run("redisstore/ReplicaAcksOnOneNode", func(t *testing.T) { testReplicaAcksOnOneNode(t, plain) })
	t.Run("redisstore/RoundTripsPerCall", func(t *testing.T) { testRoundTripsPerCall(t, srv.URL) })
	t.Run("redisstore/ScriptsStayInOneSlot", func(t *testing.T) { testScriptsStayInOneSlot(t, srv.URL) })
	bothPaths(t, "redisstore/ScriptCacheFlushed", client, plain, testScriptCacheFlushed)
	bothPaths(t, "redisstore/ReuseBeatsTakenHash", client, plain, testReuseBeatsTakenHash)
	bothPaths(t, "redisstore/ExpiredSuccessorNotStored", client, plain, testExpiredSuccessor)
	bothPaths(t, "redisstore/ResentCommandsAreIdempotent", client, plain, func(t *testing.T, _ *redis.Client, opts []redisstore.Option) {
		testResentCommands(t, srv.URL, opts)
	})
	bothPaths(t, "redisstore/SuccessorKeyAsGiven", client, plain, testSuccessorKeyAsGiven)
	bothPaths(t, "redisstore/RecordWithoutSuccessorKey", client, plain, testRecordWithoutSuccessorKey)
	bothPaths(t, "redisstore/ExpiredHashIsFree", client, plain, testExpiredHashIsFree)
	t.Run("redisstore/AttemptsExpireByOwnClock", func(t *testing.T) { testAttemptsExpireByOwnClock(t, client) })
	t.Run("redisstore/SessionsExpireByOwnClock", func(t *testing.T) { testSessionsExpireByOwnClock(t, client) })
	t.Run("redisstore/WatchEndsWhenConnectionDrops", func(t *testing.T) { testWatchEndsWhenConnectionDrops(t, srv.URL) })
	bothPaths(t, "redisstore/ListRevocationsEscapesPrefix", client, plain, testListRevocationsEscapesPrefix)
	bothPaths(t, "redisstore/ListRevocationsPaged", client, plain, testListRevocationsPaged)
}

// bothPaths runs test as the subtest name twice: under name/OneNode on the
// scripts a Store runs on a single node, through plain, and under
// name/SlotScripts on those it runs on Cluster, through checked, whose
// commands are watched for keys spanning slots.
func bothPaths(t *testing.T, name string, checked, plain *redis.Client, test func(*testing.T, *redis.Client, []redisstore.Option)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Run("OneNode", func(t *testing.T) { test(t, plain, nil) })
		t.Run("SlotScripts", func(t *testing.T) { test(t, checked, []redisstore.Option{redisstore.WithSlotScripts()}) })
	})
}

// testFaults runs the fault tier with a client of its own per store, which
// dials the suite's proxy. ContextTimeoutEnabled lets a call's deadline
// bound a command already sent, as the package doc advises; without it a
// hung server holds a call for ReadTimeout, whatever its context says.
func testFaults(t *testing.T, url string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis.ParseURL(%q) error = %v", url, err)
	}
	storetest.RunFaults(t, []string{opts.Addr}, func(t *testing.T, addrs []string) store.Store {
		opts, _ := redis.ParseURL(url)
		opts.Addr = addrs[0]
		opts.ContextTimeoutEnabled = true
		client := redis.NewClient(opts)
		t.Cleanup(func() { client.Close() })
		return redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()))
	})
}

// An empty hash tag in the prefix would scatter a grant's records across
// Cluster slots; New refuses it rather than fail only on Cluster.
func TestNewRejectsEmptyHashTag(t *testing.T) {
	tests := []struct {
		prefix    string
		wantPanic bool
	}{
		{"oauth2kit:", false},
		{"", false},
		{"{tenant}:", false},
		{"x{", false},
		{"x{a}{}", false}, // only the first tag counts
		{"x}{}", true},
		{"{}", true},
		{"app:{}:", true},
	}
	// A client connects lazily, so one on a closed port serves for New.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for _, tt := range tests {
		got := func() (panicked bool) {
			defer func() { panicked = recover() != nil }()
			redisstore.New(client, redisstore.WithKeyPrefix(tt.prefix))
			return false
		}()
		if got != tt.wantPanic {
			t.Errorf("New(WithKeyPrefix(%q)) panicked = %v, want %v", tt.prefix, got, tt.wantPanic)
		}
	}
}

func newClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis.ParseURL(%q) error = %v", url, err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client
}

// newPrefix returns a key prefix no other store uses.
func newPrefix() string { return "oauth2kit-test:" + rand.Text() + ":" }

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func consumed(tok store.RefreshToken, at time.Time) store.RefreshToken {
	tok.ConsumedAt = at
	return tok
}

func mustCreate(ctx context.Context, t testing.TB, s store.Store, tok store.RefreshToken) {
	t.Helper()
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken(%x) = %v, want nil", tok.Hash, err)
	}
}

func mustRotate(ctx context.Context, t testing.TB, s store.Store, oldHash []byte, next store.RefreshToken) {
	t.Helper()
	if err := s.RotateRefreshToken(ctx, oldHash, next); err != nil {
		t.Fatalf("RotateRefreshToken(%x, next %x) = %v, want nil", oldHash, next.Hash, err)
	}
}

func wantErr(t testing.TB, call string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v, want error matching %v", call, err, target)
	}
}

func wantToken(ctx context.Context, t testing.TB, s store.Store, want store.RefreshToken) {
	t.Helper()
	got, err := s.GetRefreshToken(ctx, want.Hash)
	if err != nil {
		t.Errorf("GetRefreshToken(%x) = %v, want nil", want.Hash, err)
		return
	}
	if got.GrantID != want.GrantID || got.ClientID != want.ClientID || got.Subject != want.Subject ||
		!got.IssuedAt.Equal(want.IssuedAt) || !got.ConsumedAt.Equal(want.ConsumedAt) ||
		!got.GrantExpiresAt.Equal(want.GrantExpiresAt) ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || !slices.Equal(got.Scope, want.Scope) ||
		!bytes.Equal(got.SuccessorKey, want.SuccessorKey) || (got.SuccessorKey == nil) != (want.SuccessorKey == nil) {
		t.Errorf("GetRefreshToken(%x) = %+v, want %+v", want.Hash, got, want)
	}
}

func wantNotFound(ctx context.Context, t testing.TB, s store.Store, hash []byte) {
	t.Helper()
	if got, err := s.GetRefreshToken(ctx, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefreshToken(%x) = %+v, %v, want error matching %v", hash, got, err, store.ErrNotFound)
	}
}
