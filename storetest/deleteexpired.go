package storetest

import (
	"context"
	"sync/atomic"
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
	// attempt and session are set when the store has the capability.
	attempt string
	session *store.Session
}

// createLive stores a live token, a consumed but live token and its
// successor, two live revocations, and a live attempt record and session
// if the store keeps them.
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
	if a, ok := s.(store.AttemptStore); ok {
		l.attempt = newID("attempt")
		mustAddFailure(ctx, t, a, l.attempt, base.Add(time.Hour))
	}
	if ss, ok := s.(store.SessionStore); ok {
		sess := newSession(newID("subject"), base)
		mustCreateSession(ctx, t, ss, sess)
		l.session = &sess
	}
	return l
}

func (l live) check(ctx context.Context, t *testing.T, s store.Store) {
	t.Helper()
	for _, tok := range l.tokens {
		wantToken(ctx, t, s, tok)
	}
	wantRevoked(ctx, t, s, l.jti, "", true)
	wantRevoked(ctx, t, s, "", l.grantID, true)
	if l.attempt != "" {
		wantFailures(ctx, t, attemptStore(t, s), []string{l.attempt}, []int{1})
	}
	if l.session != nil {
		wantSessions(ctx, t, sessionStore(t, s), l.session.Subject, *l.session)
	}
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
	wantDeleted := 7
	// And one attempt record and one session, if the store keeps them.
	var attempt, subject string
	if a, ok := s.(store.AttemptStore); ok {
		attempt = newID("attempt")
		mustAddFailure(ctx, t, a, attempt, exp)
		wantDeleted++
	}
	if ss, ok := s.(store.SessionStore); ok {
		sess := newSession(newID("subject"), base)
		sess.ExpiresAt = exp
		mustCreateSession(ctx, t, ss, sess)
		subject = sess.Subject
		wantDeleted++
	}
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
	if attempt != "" {
		wantFailures(ctx, t, attemptStore(t, s), []string{attempt}, []int{0})
	}
	if subject != "" {
		wantSessions(ctx, t, sessionStore(t, s), subject)
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

// testDeleteExpiredMany: a backlog larger than a batch is removed in one
// call, all of it.
func testDeleteExpiredMany(ctx context.Context, t *testing.T, s store.Store) {
	d := expiredDeleter(t, s)
	// The records must all be live when stored, or a store may rightly
	// not keep them, and storing a batch and more takes seconds on a slow
	// backend: their lifetime is what storing them should take, at the
	// pace of a sample of live records stored first, twice over.
	l := createLive(ctx, t, s)
	const sample = 64
	kept := make([]string, sample)
	began := time.Now()
	forEach(ctx, t, sample, func(i int) error {
		kept[i] = newID("grant")
		return s.RevokeGrant(ctx, kept[i], began.Add(time.Hour))
	})
	const revocations = 64
	n := volume + revocations
	lifetime := shortTTL + 2*time.Since(began)*time.Duration(n)/sample
	if lifetime > timeout/2 {
		t.Fatalf("storetest: timing: storing %d records at the pace of the first %d (%v) would take most of the subtest's %v; %s",
			n, sample, time.Since(began), timeout, timingHint())
	}
	base := now()
	exp := base.Add(lifetime)
	hashes := make([][]byte, volume)
	forEach(ctx, t, n, func(i int) error {
		switch {
		case i < volume:
			tok := newToken(base)
			tok.ExpiresAt = exp
			hashes[i] = tok.Hash
			return s.CreateRefreshToken(ctx, tok)
		case i%2 == 0:
			return s.RevokeGrant(ctx, newID("grant"), exp)
		default:
			return s.RevokeAccessToken(ctx, newID("jti"), exp)
		}
	})
	if late := time.Since(exp); late >= 0 {
		t.Fatalf("storetest: timing: storing %d records ended %v after they expired; %s", n, late, timingHint())
	}

	sleepPast(ctx, t, exp)
	if got, err := d.DeleteExpired(ctx); err != nil || got < n {
		t.Errorf("DeleteExpired() = %d, %v, want at least %d, nil", got, err, n)
	}
	if got, err := d.DeleteExpired(ctx); got != 0 || err != nil {
		t.Errorf("DeleteExpired() again = %d, %v, want 0, nil", got, err)
	}
	for _, h := range hashes[len(hashes)-maxReported:] {
		wantNotFound(ctx, t, s, h)
	}
	for _, id := range kept[:maxReported] {
		wantRevoked(ctx, t, s, "", id, true)
	}
	l.check(ctx, t, s)
}

// testDeleteExpiredConcurrentRevival: a record revived while DeleteExpired
// runs (an expired token's hash created anew, an expired revocation
// revoked again) is live, and a sweep that picked it up as expired must
// not delete it, as one that lists expired keys and then deletes them by
// key would.
func testDeleteExpiredConcurrentRevival(ctx context.Context, t *testing.T, s store.Store) {
	d := expiredDeleter(t, s)
	const n = 64
	// Each round waits for records to expire, so two rounds, not rounds.
	for round := range 2 {
		base := now()
		exp := base.Add(shortTTL)
		toks := make([]store.RefreshToken, n)
		grants := make([]string, n)
		for i := range toks {
			toks[i] = newToken(base)
			toks[i].ExpiresAt = exp
			mustCreate(ctx, t, s, toks[i])
			grants[i] = newID("grant")
			mustRevokeGrant(ctx, t, s, grants[i], exp)
		}
		checkedBeforeExpiry(t, exp)
		sleepPast(ctx, t, exp)

		// One goroutine sweeps again and again while another revives
		// the records one by one, so that revivals land while a sweep is
		// under way. The sweeper rests as long as it swept: a backend
		// with one writer at a time could let a tight loop of sweeps
		// starve the revivals.
		later := now().Add(time.Hour)
		var (
			errs    failures
			revived atomic.Bool
		)
		start(2, func(i int) {
			if i == 0 {
				for first := true; first || !revived.Load(); first = false {
					began := time.Now()
					if n, err := d.DeleteExpired(ctx); err != nil {
						errs.addf("round %d: DeleteExpired() = %d, %v, want nil error", round, n, err)
						return
					}
					time.Sleep(time.Since(began))
				}
				return
			}
			defer revived.Store(true)
			for j := range toks {
				again := cloneToken(toks[j])
				again.ExpiresAt = later
				if err := s.CreateRefreshToken(ctx, again); err != nil {
					errs.addf("round %d: CreateRefreshToken(%x) over an expired token = %v, want nil", round, again.Hash, err)
				}
				if err := s.RevokeGrant(ctx, grants[j], later); err != nil {
					errs.addf("round %d: RevokeGrant(%q) over an expired revocation = %v, want nil", round, grants[j], err)
				}
				// Spread over several sweeps.
				time.Sleep(100 * time.Microsecond)
			}
		})(ctx, t)
		errs.report(t)
		lost := 0
		for i := range toks {
			again := cloneToken(toks[i])
			again.ExpiresAt = later
			got, err := s.GetRefreshToken(ctx, again.Hash)
			revoked, rerr := s.IsRevoked(ctx, "", grants[i])
			if err != nil || rerr != nil || diffToken(got, again) != nil || !revoked {
				if lost++; lost <= maxReported {
					t.Errorf("round %d: record %d revived during DeleteExpired: GetRefreshToken = %v, IsRevoked = %v, %v; want the token with its new expiry and the grant revoked",
						round, i, err, revoked, rerr)
				}
			}
		}
		if t.Failed() {
			return
		}
	}
}
