package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/store"
)

// testSessionsExpireByOwnClock checks what the suite cannot see of sessions:
// the application's clock ends a session while Redis still holds it in its
// subject's hash, which then neither lists nor touches it, and the next
// CreateSession of the subject prunes it, so the hash does not grow with
// every login. The key itself lasts as long as its latest session.
func testSessionsExpireByOwnClock(t *testing.T, client *redis.Client) {
	t.Parallel() // to overlap its wait with the suite's
	ctx := t.Context()
	prefix := newPrefix()
	s := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
	subject := oauth2test.NewID("subject")
	key := prefix + "ses:" + subject

	base := oauth2test.Now()
	short, long := oauth2test.NewSession(subject, base), oauth2test.NewSession(subject, base.Add(time.Millisecond))
	short.ExpiresAt = base.Add(500 * time.Millisecond)
	mustCreateSession(ctx, t, s, short)
	mustCreateSession(ctx, t, s, long)
	wantSessions(ctx, t, s, subject, short, long)
	select {
	case <-time.After(time.Until(short.ExpiresAt)):
	case <-ctx.Done():
		t.Fatalf("waiting for the session to expire: %v", ctx.Err())
	}

	stored, err := client.HGet(ctx, key, short.GrantID).Result()
	if err != nil {
		t.Fatalf("HGET %s %s after the expiry error = %v, want the field still there", key, short.GrantID, err)
	}
	wantSessions(ctx, t, s, subject, long)
	if err := s.TouchSession(ctx, subject, short.GrantID, oauth2test.Now(), oauth2test.Now().Add(time.Hour)); err != nil {
		t.Fatalf("TouchSession(expired) = %v, want nil", err)
	}
	if got, err := client.HGet(ctx, key, short.GrantID).Result(); got != stored || err != nil {
		t.Errorf("HGET %s %s after touching it expired = %q, %v, want %q unchanged", key, short.GrantID, got, err, stored)
	}
	wantSessions(ctx, t, s, subject, long)

	later := oauth2test.NewSession(subject, oauth2test.Now())
	mustCreateSession(ctx, t, s, later)
	fields, err := client.HKeys(ctx, key).Result()
	if err != nil {
		t.Fatalf("HKEYS %s error = %v", key, err)
	}
	slices.Sort(fields)
	want := []string{long.GrantID, later.GrantID}
	slices.Sort(want)
	if !slices.Equal(fields, want) {
		t.Errorf("HKEYS %s after a create = %q, want %q: the expired session pruned", key, fields, want)
	}
	wantPExpireTime(ctx, t, client, key, later.ExpiresAt.Add(-2*time.Millisecond), later.ExpiresAt)
}

// wantPExpireTime checks that key expires after earlier and not after latest.
func wantPExpireTime(ctx context.Context, t *testing.T, client *redis.Client, key string, earlier, latest time.Time) {
	t.Helper()
	ms, err := client.Do(ctx, "pexpiretime", key).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME %s error = %v", key, err)
	}
	if got := time.UnixMilli(ms); !got.After(earlier) || got.After(latest) {
		t.Errorf("PEXPIRETIME(%s) = %v, want after %v and not after %v", key, got, earlier, latest)
	}
}

func mustCreateSession(ctx context.Context, t testing.TB, s store.SessionStore, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession(%s) = %v, want nil", sess.GrantID, err)
	}
}

// wantSessions checks that subject's sessions are want, in order.
func wantSessions(ctx context.Context, t testing.TB, s store.SessionStore, subject string, want ...store.Session) {
	t.Helper()
	got, err := s.ListSessions(ctx, subject)
	if err != nil {
		t.Fatalf("ListSessions(%q) = %v, want nil error", subject, err)
	}
	same := len(got) == len(want)
	for i := 0; same && i < len(want); i++ {
		g, w := got[i], want[i]
		same = g.GrantID == w.GrantID && g.Subject == w.Subject && g.ClientID == w.ClientID &&
			slices.Equal(g.Scope, w.Scope) && g.CreatedAt.Equal(w.CreatedAt) &&
			g.RefreshedAt.Equal(w.RefreshedAt) && g.ExpiresAt.Equal(w.ExpiresAt)
	}
	if !same {
		t.Errorf("ListSessions(%q) = %+v, want %+v", subject, got, want)
	}
}
