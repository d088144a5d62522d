package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

func testCreatedExpired(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base.Add(-time.Hour))
	tok.ExpiresAt = base.Add(-time.Second)
	// Storing it or not are both fine; it only must never come back.
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken(expired token) = %v, want nil", err)
	}
	wantNotFound(ctx, t, s, tok.Hash)
	next := successor(tok, base)
	wantErr(t, "RotateRefreshToken(expired token)", s.RotateRefreshToken(ctx, tok.Hash, next), store.ErrNotFound)
	wantNotFound(ctx, t, s, next.Hash)
}

func testExpiresWhileStored(ctx context.Context, t *testing.T, s store.Store) {
	tok := newToken(now())
	tok.ExpiresAt = tok.IssuedAt.Add(shortTTL)
	mustCreate(ctx, t, s, tok)
	wantToken(ctx, t, s, tok)
	checkedBeforeExpiry(t, tok.ExpiresAt)

	sleepPast(ctx, t, tok.ExpiresAt)
	wantNotFound(ctx, t, s, tok.Hash)
}

func testRotateExpired(ctx context.Context, t *testing.T, s store.Store) {
	tok := newToken(now())
	tok.ExpiresAt = tok.IssuedAt.Add(shortTTL)
	mustCreate(ctx, t, s, tok)

	sleepPast(ctx, t, tok.ExpiresAt)
	next := successor(tok, now())
	wantErr(t, "RotateRefreshToken(expired token)", s.RotateRefreshToken(ctx, tok.Hash, next), store.ErrNotFound)
	wantNotFound(ctx, t, s, next.Hash)
}

// testConsumedExpires catches an adapter that loses the old token's expiry
// when it marks it consumed (a Redis SET without KEEPTTL, say).
func testConsumedExpires(ctx context.Context, t *testing.T, s store.Store) {
	tok, next := rotatedThenExpired(ctx, t, s)
	again := successor(tok, now())
	wantErr(t, "RotateRefreshToken(consumed, expired token)", s.RotateRefreshToken(ctx, tok.Hash, again), store.ErrNotFound)
	wantNotFound(ctx, t, s, again.Hash)
	wantToken(ctx, t, s, next)
}

func testSuccessorExpires(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	mustCreate(ctx, t, s, tok)
	next := successor(tok, base.Add(time.Millisecond))
	next.ExpiresAt = base.Add(shortTTL)
	mustRotate(ctx, t, s, tok.Hash, next)
	wantToken(ctx, t, s, next)
	checkedBeforeExpiry(t, next.ExpiresAt)

	sleepPast(ctx, t, next.ExpiresAt)
	wantNotFound(ctx, t, s, next.Hash)
	wantToken(ctx, t, s, consumed(tok, next.IssuedAt))
}

// testZeroExpiresAt: a zero ExpiresAt is already past (package store says
// so), not "never expires", as a TTL of 0 or a NULL column would read it;
// and the dead token does not hold its hash.
func testZeroExpiresAt(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	tok.ExpiresAt = time.Time{}
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken(zero ExpiresAt) = %v, want nil", err)
	}
	wantNotFound(ctx, t, s, tok.Hash)
	next := successor(tok, base.Add(time.Millisecond))
	wantErr(t, "RotateRefreshToken(zero ExpiresAt)", s.RotateRefreshToken(ctx, tok.Hash, next), store.ErrNotFound)
	wantNotFound(ctx, t, s, next.Hash)

	again := cloneToken(tok)
	again.ExpiresAt = base.Add(time.Hour)
	if err := s.CreateRefreshToken(ctx, again); err != nil {
		t.Fatalf("CreateRefreshToken(hash of a token with zero ExpiresAt) = %v, want nil", err)
	}
	wantToken(ctx, t, s, again)
}

// testSuccessorKeepsOwnExpiry: a successor that outlives its predecessor
// stays, as a store that copies the old record's TTL onto the new one
// would not let it.
func testSuccessorKeepsOwnExpiry(ctx context.Context, t *testing.T, s store.Store) {
	_, next := rotatedThenExpired(ctx, t, s)
	wantToken(ctx, t, s, next)
	mustRotate(ctx, t, s, next.Hash, successor(next, now()))
}

// rotatedThenExpired stores a token that expires after shortTTL, rotates
// it to a successor that outlives it, waits until it has expired and
// checks that it is gone; it returns both.
func rotatedThenExpired(ctx context.Context, t *testing.T, s store.Store) (tok, next store.RefreshToken) {
	t.Helper()
	base := now()
	tok = newToken(base)
	tok.ExpiresAt = base.Add(shortTTL)
	mustCreate(ctx, t, s, tok)
	next = successor(tok, base.Add(time.Millisecond))
	mustRotate(ctx, t, s, tok.Hash, next)
	checkedBeforeExpiry(t, tok.ExpiresAt)

	sleepPast(ctx, t, tok.ExpiresAt)
	wantNotFound(ctx, t, s, tok.Hash)
	return tok, next
}
