package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2kit/oauth2kit/store"
)

// watchRecorder is a store.RevocationListener that passes on what it is told.
type watchRecorder struct {
	alive   chan struct{}         // one pending Alive at most
	revoked chan store.Revocation // never full in these tests
}

func (r *watchRecorder) Alive() {
	select {
	case r.alive <- struct{}{}:
	default:
	}
}

func (r *watchRecorder) Revoked(rev store.Revocation) { r.revoked <- rev }

// startWatch runs WatchRevocations on w until t ends, and returns what it
// reports and a channel that receives its error when it returns.
func startWatch(t testing.TB, w store.RevocationWatcher) (*watchRecorder, <-chan error) {
	t.Helper()
	rec := &watchRecorder{alive: make(chan struct{}, 1), revoked: make(chan store.Revocation, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		done <- w.WatchRevocations(ctx, rec)
	}()
	t.Cleanup(func() {
		cancel()
		<-returned
	})
	return rec, done
}

// watchBound is how long these tests wait for something a watch does within
// a heartbeat or two: generous, to tell a hang from a loaded machine.
const watchBound = 5 * store.WatchHeartbeat

// waitAlive waits for the watch's next Alive.
func waitAlive(t testing.TB, rec *watchRecorder, done <-chan error) {
	t.Helper()
	select {
	case <-rec.alive:
	case err := <-done:
		t.Fatalf("WatchRevocations() = %v, want it to go on calling Alive", err)
	case <-time.After(watchBound):
		t.Fatalf("no Alive from WatchRevocations() within %s", watchBound)
	}
}

// waitRevoked waits until the watch reports a revocation equal to want,
// skipping others.
func waitRevoked(t testing.TB, rec *watchRecorder, done <-chan error, want store.Revocation) {
	t.Helper()
	timeout := time.After(watchBound)
	for {
		select {
		case got := <-rec.revoked:
			if got.GrantID == want.GrantID && got.JTI == want.JTI && got.ExpiresAt.Equal(want.ExpiresAt) {
				return
			}
		case err := <-done:
			t.Fatalf("WatchRevocations() = %v before reporting %+v", err, want)
		case <-timeout:
			t.Fatalf("WatchRevocations() did not report %+v within %s", want, watchBound)
		}
	}
}

// A pool configured as the package documentation recommends, to cancel
// statements on the server, must not slow the watch down: its polls are
// bounded without the pool's context watcher, which would wait out its
// DeadlineDelay (5 s here) on every quiet poll.
func (db testDB) testWatchCancellingPool(t *testing.T) {
	pool := newPool(t, db.url, cancelOnServer)
	s := newMigrated(t, pool, db.newSchema(t))
	rec, done := startWatch(t, s)
	for range 4 {
		waitAlive(t, rec, done)
	}
	want := store.Revocation{JTI: "jti-" + t.Name(), ExpiresAt: now().Add(time.Hour)}
	if err := s.RevokeAccessToken(t.Context(), want.JTI, want.ExpiresAt); err != nil {
		t.Fatalf("RevokeAccessToken() = %v, want nil", err)
	}
	waitRevoked(t, rec, done, want)
}

// A schema name too long to be part of a channel name gets a hashed one, on
// which revocations are still announced and heard.
func (db testDB) testWatchLongSchema(t *testing.T) {
	ctx := t.Context()
	schema := db.newSchema(t)
	schema += strings.Repeat("x", 63-len(schema))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	s := newMigrated(t, db.pool, schema)
	rec, done := startWatch(t, s)
	waitAlive(t, rec, done)
	want := store.Revocation{GrantID: "grant-long-schema", ExpiresAt: now().Add(time.Hour)}
	if err := s.RevokeGrant(ctx, want.GrantID, want.ExpiresAt); err != nil {
		t.Fatalf("RevokeGrant() = %v, want nil", err)
	}
	waitRevoked(t, rec, done, want)
}

// Stores in different schemas of one database announce on different
// channels: a watcher hears only its own. Notifications reach a listener in
// commit order, so once the second revocation has arrived the first would
// have, had it been announced on this channel.
func (db testDB) testWatchSchemasApart(t *testing.T) {
	ctx := t.Context()
	mine, _ := db.newStore(t)
	other, _ := db.newStore(t)
	rec, done := startWatch(t, mine)
	waitAlive(t, rec, done)
	exp := now().Add(time.Hour)
	if err := other.RevokeGrant(ctx, "grant-other", exp); err != nil {
		t.Fatalf("RevokeGrant(other schema) = %v, want nil", err)
	}
	if err := mine.RevokeGrant(ctx, "grant-mine", exp); err != nil {
		t.Fatalf("RevokeGrant(my schema) = %v, want nil", err)
	}
	select {
	case got := <-rec.revoked:
		if got.GrantID != "grant-mine" {
			t.Errorf("first revocation reported = %+v, want grant-mine, the only one in the watched schema", got)
		}
	case err := <-done:
		t.Fatalf("WatchRevocations() = %v, want it running", err)
	case <-time.After(watchBound):
		t.Fatalf("WatchRevocations() reported nothing within %s", watchBound)
	}
}

// An id too long for a notification's payload is still revoked, and the
// watch, told that it missed one it cannot name, ends so that its caller
// lists again, where the revocation is.
func (db testDB) testWatchLongID(t *testing.T) {
	ctx := t.Context()
	s, _ := db.newStore(t)
	rec, done := startWatch(t, s)
	waitAlive(t, rec, done)
	long := store.Revocation{GrantID: strings.Repeat("g", 10000), ExpiresAt: now().Add(time.Hour)}
	if err := s.RevokeGrant(ctx, long.GrantID, long.ExpiresAt); err != nil {
		t.Fatalf("RevokeGrant(10000-byte id) = %v, want nil", err)
	}
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("WatchRevocations() after an unannounceable revocation = %v, want an error saying to list again", err)
		}
	case <-time.After(watchBound):
		t.Fatalf("WatchRevocations() still running %s after an unannounceable revocation", watchBound)
	}
	list, err := s.ListRevocations(ctx)
	if err != nil {
		t.Fatalf("ListRevocations() = %v, want nil", err)
	}
	found := false
	for _, r := range list {
		found = found || (r.GrantID == long.GrantID && r.ExpiresAt.Equal(long.ExpiresAt))
	}
	if !found {
		t.Errorf("ListRevocations() lacks the grant with the 10000-byte id")
	}
}
