package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// testStoresShareNothing: two stores from one factory are two stores, as
// the package doc asks of NewStore and as subtests running side by side
// rely on. Every record written to a, in every capability both stores
// have, is invisible to b, and writing the same keys to b neither fails
// nor changes a.
func testStoresShareNothing(ctx context.Context, t *testing.T, a, b store.Store) {
	base := now()
	tok := newToken(base)
	jti, grantID := newID("jti"), newID("grant")
	mustCreate(ctx, t, a, tok)
	mustRevokeAccessToken(ctx, t, a, jti, base.Add(time.Hour))
	mustRevokeGrant(ctx, t, a, grantID, base.Add(time.Hour))

	wantNotFound(ctx, t, b, tok.Hash)
	wantRevoked(ctx, t, b, jti, grantID, false)
	if err := b.CreateRefreshToken(ctx, tok); err != nil {
		t.Errorf("CreateRefreshToken(%x) in the second store = %v, want nil", tok.Hash, err)
	}
	next := successor(tok, base.Add(time.Millisecond))
	mustRotate(ctx, t, b, tok.Hash, next)
	wantToken(ctx, t, a, tok)
	wantNotFound(ctx, t, a, next.Hash)

	if sa, ok := a.(store.SessionStore); ok {
		sb := sessionStore(t, b)
		sess := newSession(newID("subject"), base)
		mustCreateSession(ctx, t, sa, sess)
		wantSessions(ctx, t, sb, sess.Subject)
		if err := sb.CreateSession(ctx, sess); err != nil {
			t.Errorf("CreateSession(%s) in the second store = %v, want nil", sess.GrantID, err)
		}
		if err := sb.DeleteSession(ctx, sess.Subject, sess.GrantID); err != nil {
			t.Errorf("DeleteSession(%s) in the second store = %v, want nil", sess.GrantID, err)
		}
		wantSessions(ctx, t, sa, sess.Subject, sess)
	}
	if aa, ok := a.(store.AttemptStore); ok {
		ab := attemptStore(t, b)
		key := newID("attempt")
		mustAddFailure(ctx, t, aa, key, base.Add(time.Hour))
		wantFailures(ctx, t, ab, []string{key}, []int{0})
		if got := mustAddFailure(ctx, t, ab, key, base.Add(time.Hour)); got.Failures != 1 {
			t.Errorf("AddFailure(%q) in the second store: Failures = %d, want 1", key, got.Failures)
		}
		if err := ab.ResetAttempts(ctx, key); err != nil {
			t.Errorf("ResetAttempts(%q) in the second store = %v, want nil", key, err)
		}
		wantFailures(ctx, t, aa, []string{key}, []int{1})
	}
	if ka, ok := a.(store.KeyStore); ok {
		kb := keyStore(t, b)
		keys := newSigningKeys(1)
		v, err := ka.SwapKeySet(ctx, 0, keys)
		if err != nil {
			t.Fatalf("SwapKeySet(0) error = %v", err)
		}
		wantKeySet(ctx, t, kb, 0, nil)
		if _, err := kb.SwapKeySet(ctx, 0, newSigningKeys(2)); err != nil {
			t.Errorf("SwapKeySet(0) in the second store error = %v, want nil", err)
		}
		wantKeySet(ctx, t, ka, v, keys)
	}
	if _, ok := a.(store.RevocationWatcher); ok {
		got, err := revocationWatcher(t, b).ListRevocations(ctx)
		if err != nil {
			t.Fatalf("ListRevocations() in the second store error = %v", err)
		}
		mine := []store.Revocation{{JTI: jti, ExpiresAt: base.Add(time.Hour)}, {GrantID: grantID, ExpiresAt: base.Add(time.Hour)}}
		if m := missingRevocations(got, mine); len(m) < len(mine) {
			t.Errorf("ListRevocations() in the second store lists revocations of the first")
		}
	}
	if da, ok := a.(store.ExpiredDeleter); ok {
		// Nothing of b's is expired, and b's sweep is no excuse to look
		// at a's records.
		if n, err := expiredDeleter(t, b).DeleteExpired(ctx); err != nil || n != 0 {
			t.Errorf("DeleteExpired() in the second store = %d, %v, want 0, nil", n, err)
		}
		if n, err := da.DeleteExpired(ctx); err != nil || n != 0 {
			t.Errorf("DeleteExpired() in the first store = %d, %v, want 0, nil", n, err)
		}
	}
	wantToken(ctx, t, a, tok)
	wantRevoked(ctx, t, a, jti, "", true)
	wantRevoked(ctx, t, a, "", grantID, true)
}
