package pgstore_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Expiry is judged by the Store's clock, not the server's: the server's
// clock never gets near the expiries below.
func (db testDB) testClock(t *testing.T) {
	ctx := t.Context()
	clock := &fakeClock{t: now()}
	s, _ := db.newStore(t, pgstore.WithClock(clock.Now))
	exp := clock.Now().Add(time.Hour)
	tok := token(clock.Now(), exp)
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken() = %v, want nil", err)
	}
	if err := s.RevokeGrant(ctx, tok.GrantID, exp); err != nil {
		t.Fatalf("RevokeGrant() = %v, want nil", err)
	}
	const key = "key"
	if _, err := s.AddFailure(ctx, key, exp); err != nil {
		t.Fatalf("AddFailure() = %v, want nil", err)
	}
	sess := session("subject", clock.Now(), exp)
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession() = %v, want nil", err)
	}

	tests := []struct {
		name        string
		advance     time.Duration
		wantLive    bool
		wantRemoved int
	}{
		{"just before expiry", time.Hour - time.Microsecond, true, 0},
		{"at expiry", time.Microsecond, false, 4},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		_, err := s.GetRefreshToken(ctx, tok.Hash)
		if got := err == nil; got != tt.wantLive {
			t.Errorf("%s: GetRefreshToken() = %v, want found: %v", tt.name, err, tt.wantLive)
		}
		if got, err := s.IsRevoked(ctx, "", tok.GrantID); got != tt.wantLive || err != nil {
			t.Errorf("%s: IsRevoked() = %v, %v, want %v, nil", tt.name, got, err, tt.wantLive)
		}
		if got, err := s.GetAttempts(ctx, key); err != nil || (got[0].Failures == 1) != tt.wantLive {
			t.Errorf("%s: GetAttempts() = %+v, %v, want live: %v", tt.name, got, err, tt.wantLive)
		}
		if got, err := s.ListSessions(ctx, sess.Subject); err != nil || (len(got) == 1) != tt.wantLive {
			t.Errorf("%s: ListSessions() = %+v, %v, want live: %v", tt.name, got, err, tt.wantLive)
		}
		if got, err := s.DeleteExpired(ctx); got != tt.wantRemoved || err != nil {
			t.Errorf("%s: DeleteExpired() = %d, %v, want %d, nil", tt.name, got, err, tt.wantRemoved)
		}
	}

	// A session expired by the Store's clock, though live by the server's,
	// is not touched back to life, and its grant is free to create again.
	expired := session("subject", clock.Now().Add(-time.Hour), clock.Now())
	if err := s.CreateSession(ctx, expired); err != nil {
		t.Fatalf("CreateSession(expired) = %v, want nil", err)
	}
	if err := s.TouchSession(ctx, expired.Subject, expired.GrantID, clock.Now(), clock.Now().Add(time.Hour)); err != nil {
		t.Errorf("TouchSession(expired) = %v, want nil", err)
	}
	if got, err := s.ListSessions(ctx, expired.Subject); len(got) != 0 || err != nil {
		t.Errorf("ListSessions() after touching an expired session = %+v, %v, want none, nil", got, err)
	}
	again := session(expired.Subject, clock.Now(), clock.Now().Add(time.Hour))
	again.GrantID = expired.GrantID
	if err := s.CreateSession(ctx, again); err != nil {
		t.Errorf("CreateSession(expired session's grant) = %v, want nil", err)
	}
	if err := s.CreateSession(ctx, again); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateSession(same grant again) = %v, want error matching %v", err, store.ErrAlreadyExists)
	}

	// The times of failures are the Store's clock's too, an hour ahead of
	// the server's by now, and a clock going back never makes Last go back.
	last := clock.Now()
	failures := []struct {
		name     string
		advance  time.Duration
		wantLast time.Time
	}{
		{"after expiry, a new record", 0, last},
		{"a minute later", time.Minute, last.Add(time.Minute)},
		{"with the clock gone back", -2 * time.Minute, last.Add(time.Minute)},
	}
	for i, f := range failures {
		clock.Advance(f.advance)
		got, err := s.AddFailure(ctx, key, last.Add(time.Hour))
		if err != nil || got.Failures != i+1 || !got.Last.Equal(f.wantLast) {
			t.Errorf("%s: AddFailure() = %+v, %v, want %d failures, the last at %v", f.name, got, err, i+1, f.wantLast)
		}
	}
}

// A hash held only by an expired token is free: creating a token or rotating
// onto it replaces the expired one, whether or not DeleteExpired ran. Nothing
// of the expired token is kept, its grant's SuccessorKey least of all: the
// new token, given none, has none.
func (db testDB) testExpiredHashIsFree(t *testing.T) {
	ctx := t.Context()
	s, _ := db.newStore(t)
	base := now()
	expired := token(base.Add(-2*time.Hour), base.Add(-time.Hour))
	expired.SuccessorKey = []byte("the expired grant's key")

	tests := []struct {
		name  string
		store func(tok store.RefreshToken) error
	}{
		{"create", func(tok store.RefreshToken) error { return s.CreateRefreshToken(ctx, tok) }},
		{"rotate", func(tok store.RefreshToken) error {
			old := token(base, base.Add(time.Hour))
			old.GrantID = tok.GrantID // a successor is in its predecessor's grant
			if err := s.CreateRefreshToken(ctx, old); err != nil {
				return err
			}
			return s.RotateRefreshToken(ctx, old.Hash, tok)
		}},
	}
	for _, tt := range tests {
		if err := s.CreateRefreshToken(ctx, expired); err != nil {
			t.Fatalf("%s: CreateRefreshToken(expired) = %v, want nil", tt.name, err)
		}
		tok := token(base, base.Add(time.Hour))
		tok.Hash = expired.Hash
		if err := tt.store(tok); err != nil {
			t.Errorf("%s onto an expired token's hash = %v, want nil", tt.name, err)
			continue
		}
		got, err := s.GetRefreshToken(ctx, tok.Hash)
		if err != nil || got.GrantID != tok.GrantID || got.Consumed() || got.SuccessorKey != nil {
			t.Errorf("%s: GetRefreshToken() = %+v, %v, want the new live token of grant %s, without a SuccessorKey", tt.name, got, err, tok.GrantID)
		}
		// The new token is live now, so the same hash is taken again.
		if err := s.CreateRefreshToken(ctx, tok); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("%s: CreateRefreshToken(same hash again) = %v, want error matching %v", tt.name, err, store.ErrAlreadyExists)
		}
		// The next case needs a hash that only an expired token holds.
		expired.Hash = token(base, base).Hash
	}
}
