package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

func testRevokeAccessToken(ctx context.Context, t *testing.T, s store.Store) {
	jti := newID("jti")
	wantRevoked(ctx, t, s, jti, "", false)
	mustRevokeAccessToken(ctx, t, s, jti, now().Add(time.Hour))
	wantRevoked(ctx, t, s, jti, "", true)
	wantRevoked(ctx, t, s, jti, newID("grant"), true)
}

func testRevokeGrant(ctx context.Context, t *testing.T, s store.Store) {
	grantID := newID("grant")
	wantRevoked(ctx, t, s, "", grantID, false)
	mustRevokeGrant(ctx, t, s, grantID, now().Add(time.Hour))
	wantRevoked(ctx, t, s, "", grantID, true)
	wantRevoked(ctx, t, s, newID("jti"), grantID, true)
}

func testUnrelatedNotRevoked(ctx context.Context, t *testing.T, s store.Store) {
	jti, grantID := newID("jti"), newID("grant")
	mustRevokeAccessToken(ctx, t, s, jti, now().Add(time.Hour))
	mustRevokeGrant(ctx, t, s, grantID, now().Add(time.Hour))

	// Prefixes and extensions of revoked ids catch adapters that match
	// loosely (LIKE, key scans).
	for _, tt := range []struct{ jti, grantID string }{
		{newID("jti"), ""},
		{"", newID("grant")},
		{newID("jti"), newID("grant")},
		{jti[:len(jti)-1], grantID[:len(grantID)-1]},
		{jti + "x", grantID + "x"},
	} {
		wantRevoked(ctx, t, s, tt.jti, tt.grantID, false)
	}
}

func testJTIAndGrantDistinct(ctx context.Context, t *testing.T, s store.Store) {
	jti, grantID := newID("id"), newID("id")
	mustRevokeAccessToken(ctx, t, s, jti, now().Add(time.Hour))
	mustRevokeGrant(ctx, t, s, grantID, now().Add(time.Hour))
	wantRevoked(ctx, t, s, "", jti, false)
	wantRevoked(ctx, t, s, grantID, "", false)
}

func testEmptyIDs(ctx context.Context, t *testing.T, s store.Store) {
	wantRevoked(ctx, t, s, "", "", false)
	mustRevokeAccessToken(ctx, t, s, newID("jti"), now().Add(time.Hour))
	mustRevokeGrant(ctx, t, s, newID("grant"), now().Add(time.Hour))
	wantRevoked(ctx, t, s, "", "", false)

	// The contract neither allows nor forbids revoking the empty id; if the
	// store accepts it, IsRevoked must still not look the empty id up.
	grantErr := s.RevokeGrant(ctx, "", now().Add(time.Hour))
	jtiErr := s.RevokeAccessToken(ctx, "", now().Add(time.Hour))
	if grantErr == nil || jtiErr == nil {
		wantRevoked(ctx, t, s, "", "", false)
		wantRevoked(ctx, t, s, newID("jti"), "", false)
		wantRevoked(ctx, t, s, "", newID("grant"), false)
	}
}

func testPastExpiryNotRevoked(ctx context.Context, t *testing.T, s store.Store) {
	jti, grantID := newID("jti"), newID("grant")
	mustRevokeAccessToken(ctx, t, s, jti, now().Add(-time.Second))
	mustRevokeGrant(ctx, t, s, grantID, now().Add(-time.Second))
	wantRevoked(ctx, t, s, jti, grantID, false)
}

func testGrantExpires(ctx context.Context, t *testing.T, s store.Store) {
	grantID := newID("grant")
	exp := now().Add(shortTTL)
	mustRevokeGrant(ctx, t, s, grantID, exp)
	wantRevoked(ctx, t, s, "", grantID, true)
	checkedBeforeExpiry(t, exp)
	sleepPast(ctx, t, exp)
	wantRevoked(ctx, t, s, "", grantID, false)
}

func testAccessTokenExpires(ctx context.Context, t *testing.T, s store.Store) {
	jti := newID("jti")
	exp := now().Add(shortTTL)
	mustRevokeAccessToken(ctx, t, s, jti, exp)
	wantRevoked(ctx, t, s, jti, "", true)
	checkedBeforeExpiry(t, exp)
	sleepPast(ctx, t, exp)
	wantRevoked(ctx, t, s, jti, "", false)
}

func testRevokeAgainLater(ctx context.Context, t *testing.T, s store.Store) {
	testRevokeTwice(ctx, t, s, shortTTL, time.Hour)
}

func testRevokeAgainEarlier(ctx context.Context, t *testing.T, s store.Store) {
	testRevokeTwice(ctx, t, s, time.Hour, shortTTL)
}

// testRevokeTwice revokes a grant and an access token until now+first, then
// until now+second, and checks that both stay revoked past the earlier of
// the two.
func testRevokeTwice(ctx context.Context, t *testing.T, s store.Store, first, second time.Duration) {
	t.Helper()
	jti, grantID := newID("jti"), newID("grant")
	base := now()
	for _, d := range []time.Duration{first, second} {
		mustRevokeAccessToken(ctx, t, s, jti, base.Add(d))
		mustRevokeGrant(ctx, t, s, grantID, base.Add(d))
	}
	sleepPast(ctx, t, base.Add(min(first, second)))
	wantRevoked(ctx, t, s, jti, "", true)
	wantRevoked(ctx, t, s, "", grantID, true)
}

// testRevocationCaseSensitive: a jti or grant id that differs from a
// revoked one in letter case only is another token or grant.
func testRevocationCaseSensitive(ctx context.Context, t *testing.T, s store.Store) {
	jti, grantID := newID("Jti"), newID("Grant")
	mustRevokeAccessToken(ctx, t, s, jti, now().Add(time.Hour))
	mustRevokeGrant(ctx, t, s, grantID, now().Add(time.Hour))
	wantRevoked(ctx, t, s, swapCase(jti), "", false)
	wantRevoked(ctx, t, s, "", swapCase(grantID), false)
	wantRevoked(ctx, t, s, swapCase(jti), swapCase(grantID), false)
}

// testZeroExpiryNotRevoked: the zero time is an instant long past (see
// Expiry in package store), not "never expires", as a TTL of 0 or a NULL
// column would read it.
func testZeroExpiryNotRevoked(ctx context.Context, t *testing.T, s store.Store) {
	jti, grantID := newID("jti"), newID("grant")
	mustRevokeAccessToken(ctx, t, s, jti, time.Time{})
	mustRevokeGrant(ctx, t, s, grantID, time.Time{})
	wantRevoked(ctx, t, s, jti, "", false)
	wantRevoked(ctx, t, s, "", grantID, false)
	// A later revocation is not held back by the zero one.
	mustRevokeAccessToken(ctx, t, s, jti, now().Add(time.Hour))
	mustRevokeGrant(ctx, t, s, grantID, now().Add(time.Hour))
	wantRevoked(ctx, t, s, jti, "", true)
	wantRevoked(ctx, t, s, "", grantID, true)
	// Nor is a revocation undone by a zero one after it.
	mustRevokeAccessToken(ctx, t, s, jti, time.Time{})
	mustRevokeGrant(ctx, t, s, grantID, time.Time{})
	wantRevoked(ctx, t, s, jti, "", true)
	wantRevoked(ctx, t, s, "", grantID, true)
}

// testRevokedAgainExpires: a revocation extended by revoking again ends at
// the later expiry, not never, as a store that drops the TTL on update
// would have it.
func testRevokedAgainExpires(ctx context.Context, t *testing.T, s store.Store) {
	jti, grantID := newID("jti"), newID("grant")
	base := now()
	first, second := base.Add(shortTTL), base.Add(2*shortTTL)
	for _, exp := range []time.Time{first, second} {
		mustRevokeAccessToken(ctx, t, s, jti, exp)
		mustRevokeGrant(ctx, t, s, grantID, exp)
	}
	sleepPast(ctx, t, first)
	wantRevoked(ctx, t, s, jti, "", true)
	wantRevoked(ctx, t, s, "", grantID, true)
	checkedBeforeExpiry(t, second)
	sleepPast(ctx, t, second)
	wantRevoked(ctx, t, s, jti, "", false)
	wantRevoked(ctx, t, s, "", grantID, false)
}
