package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// expiredDeleter returns s as a store.ExpiredDeleter. Run skips the subtest when the store
// it probed lacks the capability, so a store without it here is a setup
// fault: a NewStore that returns stores of different types.
func expiredDeleter(t *testing.T, s store.Store) store.ExpiredDeleter {
	t.Helper()
	d, ok := s.(store.ExpiredDeleter)
	if !ok {
		t.Fatalf("storetest: setup: NewStore returned a %T, which lacks store.ExpiredDeleter, though the store Run probed for capabilities had it", s)
	}
	return d
}

// live is a set of records that must survive DeleteExpired.
type live struct {
	tokens  []store.RefreshToken
	jti     string
	grantID string
}

// createLive stores a live token, a consumed but live token and its
// successor, and two live revocations.
func createLive(ctx context.Context, t *testing.T, s store.Store) live {
	t.Helper()
	base := now()
	tok, old := newToken(base), newToken(base)
	next := successor(old, base.Add(time.Millisecond))
	mustCreate(ctx, t, s, tok)
	mustCreate(ctx, t, s, old)
	mustRotate(ctx, t, s, old.Hash, next)
	l := live{
		tokens:  []store.RefreshToken{tok, consumed(old, next.IssuedAt), next},
		jti:     newID("jti"),
		grantID: newID("grant"),
	}
	mustRevokeAccessToken(ctx, t, s, l.jti, base.Add(time.Hour))
	mustRevokeGrant(ctx, t, s, l.grantID, base.Add(time.Hour))
	return l
}

func (l live) check(ctx context.Context, t *testing.T, s store.Store) {
	t.Helper()
	for _, tok := range l.tokens {
		wantToken(ctx, t, s, tok)
	}
	wantRevoked(ctx, t, s, l.jti, "", true)
	wantRevoked(ctx, t, s, "", l.grantID, true)
}

func testDeleteExpired(ctx context.Context, t *testing.T, s store.Store) {
	d := expiredDeleter(t, s)
	base := now()
	exp := base.Add(shortTTL)

	// Seven records that are live when stored and expire together: three
	// refresh tokens (one consumed) and four revocations.
	var expiring []store.RefreshToken
	for range 2 {
		tok := newToken(base)
		tok.ExpiresAt = exp
		mustCreate(ctx, t, s, tok)
		expiring = append(expiring, tok)
	}
	next := successor(expiring[0], base.Add(time.Millisecond))
	next.ExpiresAt = exp
	mustRotate(ctx, t, s, expiring[0].Hash, next)
	expiring = append(expiring, next)
	for range 2 {
		mustRevokeAccessToken(ctx, t, s, newID("jti"), exp)
		mustRevokeGrant(ctx, t, s, newID("grant"), exp)
	}
	const wantDeleted = 7
	l := createLive(ctx, t, s)
	checkedBeforeExpiry(t, exp)

	sleepPast(ctx, t, exp)
	n, err := d.DeleteExpired(ctx)
	if err != nil || n < wantDeleted {
		t.Errorf("DeleteExpired() = %d, %v, want at least %d, nil", n, err, wantDeleted)
	}
	if n, err := d.DeleteExpired(ctx); n != 0 || err != nil {
		t.Errorf("DeleteExpired() again = %d, %v, want 0, nil", n, err)
	}
	for _, tok := range expiring {
		wantNotFound(ctx, t, s, tok.Hash)
	}
	l.check(ctx, t, s)
}

func testDeleteExpiredKeepsLive(ctx context.Context, t *testing.T, s store.Store) {
	d := expiredDeleter(t, s)
	l := createLive(ctx, t, s)
	if n, err := d.DeleteExpired(ctx); n != 0 || err != nil {
		t.Errorf("DeleteExpired() with only live records = %d, %v, want 0, nil", n, err)
	}
	l.check(ctx, t, s)
}
