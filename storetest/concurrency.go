package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

const (
	// racers is how many goroutines race for one record. It is well above
	// any connection pool's default size, so that an adapter whose
	// atomicity relies on serialised connections is still caught.
	racers = 128
	// rounds repeats each race with fresh records: a race lost once may be
	// won by luck.
	rounds = 4
)

// testRotateIsAtomic is the promise reuse detection rests on: of many
// rotations of one token, exactly one succeeds.
func testRotateIsAtomic(ctx context.Context, t *testing.T, s store.Store) {
	for round := range rounds {
		base := now()
		tok := newToken(base)
		mustCreate(ctx, t, s, tok)
		nexts := make([]store.RefreshToken, racers)
		for i := range nexts {
			nexts[i] = successor(tok, base.Add(time.Duration(i+1)*time.Microsecond))
		}

		errs := make([]error, racers)
		start(racers, func(i int) {
			errs[i] = s.RotateRefreshToken(ctx, tok.Hash, nexts[i])
		})(ctx, t)

		winner := oneWinner(t, fmt.Sprintf("round %d: RotateRefreshToken", round), errs, store.ErrReused)
		for i, next := range nexts {
			if i == winner {
				wantToken(ctx, t, s, next)
			} else {
				wantNotFound(ctx, t, s, next.Hash)
			}
		}
		if winner >= 0 {
			wantToken(ctx, t, s, consumed(tok, nexts[winner].IssuedAt))
		}
	}
}

func testCreateIsAtomic(ctx context.Context, t *testing.T, s store.Store) {
	for round := range rounds {
		hash := newHash()
		toks := make([]store.RefreshToken, racers)
		for i := range toks {
			toks[i] = newToken(now())
			toks[i].Hash = hash
		}

		errs := make([]error, racers)
		start(racers, func(i int) {
			errs[i] = s.CreateRefreshToken(ctx, toks[i])
		})(ctx, t)

		if winner := oneWinner(t, fmt.Sprintf("round %d: CreateRefreshToken", round), errs, store.ErrAlreadyExists); winner >= 0 {
			wantToken(ctx, t, s, toks[winner])
		}
	}
}

// oneWinner checks that exactly one of errs is nil and all others match
// loser, and returns the index of the nil one, or -1.
func oneWinner(t *testing.T, call string, errs []error, loser error) int {
	t.Helper()
	winner, wins := -1, 0
	var f failures
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
			wins++
		case !errors.Is(err, loser):
			f.addf("%s #%d of %d concurrent calls = %v, want nil or error matching %v", call, i, len(errs), err, loser)
		}
	}
	f.report(t)
	if wins != 1 {
		t.Errorf("%s succeeded %d times of %d concurrent calls, want exactly once", call, wins, len(errs))
		return -1
	}
	return winner
}

// testConcurrentChains rotates many grants at once, each along its own
// chain, to catch adapters that lock or key too coarsely or too loosely.
func testConcurrentChains(ctx context.Context, t *testing.T, s store.Store) {
	const grants, length = 64, 8
	base := now()
	chains := make([][]store.RefreshToken, grants)
	for g := range chains {
		chain := []store.RefreshToken{newToken(base)}
		for k := 1; k < length; k++ {
			chain = append(chain, successor(chain[k-1], base.Add(time.Duration(k)*time.Millisecond)))
		}
		chains[g] = chain
	}

	var f failures
	start(grants, func(g int) {
		chain := chains[g]
		if err := s.CreateRefreshToken(ctx, chain[0]); err != nil {
			f.addf("grant %d: CreateRefreshToken() = %v, want nil", g, err)
			return
		}
		for k := 1; k < len(chain); k++ {
			if err := s.RotateRefreshToken(ctx, chain[k-1].Hash, chain[k]); err != nil {
				f.addf("grant %d: RotateRefreshToken(step %d) = %v, want nil", g, k, err)
				return
			}
		}
	})(ctx, t)
	f.report(t)

	failedBefore := t.Failed()
	for g, chain := range chains {
		for k, tok := range chain[:len(chain)-1] {
			wantToken(ctx, t, s, consumed(tok, chain[k+1].IssuedAt))
		}
		wantToken(ctx, t, s, chain[len(chain)-1])
		// One broken chain shows the fault; the others would repeat it.
		if t.Failed() && !failedBefore {
			t.Fatalf("stopped at the first broken chain, grant %d of %d", g, len(chains))
		}
	}
}

// testConcurrentRevokeAndCheck races revocations against IsRevoked: a
// revocation is visible as soon as it returns, and once seen stays seen.
func testConcurrentRevokeAndCheck(ctx context.Context, t *testing.T, s store.Store) {
	const writers, reads = 64, 20
	exp := now().Add(time.Hour)
	before := newID("grant")
	mustRevokeGrant(ctx, t, s, before, exp)
	jtis, grantIDs := make([]string, writers), make([]string, writers)
	for i := range writers {
		jtis[i], grantIDs[i] = newID("jti"), newID("grant")
	}

	var f failures
	// Goroutine i < writers revokes pair i; goroutine writers+i reads it.
	start(2*writers, func(i int) {
		if i < writers {
			if err := s.RevokeAccessToken(ctx, jtis[i], exp); err != nil {
				f.addf("RevokeAccessToken(%q) = %v, want nil", jtis[i], err)
			}
			if err := s.RevokeGrant(ctx, grantIDs[i], exp); err != nil {
				f.addf("RevokeGrant(%q) = %v, want nil", grantIDs[i], err)
			}
			for _, q := range [][2]string{{jtis[i], ""}, {"", grantIDs[i]}} {
				if got, err := s.IsRevoked(ctx, q[0], q[1]); !got || err != nil {
					f.addf("IsRevoked(%q, %q) right after revoking = %v, %v, want true, nil", q[0], q[1], got, err)
				}
			}
			return
		}
		i -= writers
		seen := false
		for range reads {
			got, err := s.IsRevoked(ctx, jtis[i], grantIDs[i])
			if err != nil || (seen && !got) {
				f.addf("IsRevoked(%q, %q) = %v, %v after it was true, want true, nil", jtis[i], grantIDs[i], got, err)
				return
			}
			seen = got
			if got, err := s.IsRevoked(ctx, newID("jti"), before); !got || err != nil {
				f.addf("IsRevoked(_, %q) revoked before the race = %v, %v, want true, nil", before, got, err)
			}
			if got, err := s.IsRevoked(ctx, newID("jti"), newID("grant")); got || err != nil {
				f.addf("IsRevoked(never revoked) = %v, %v, want false, nil", got, err)
			}
		}
	})(ctx, t)
	f.report(t)

	for i := range writers {
		wantRevoked(ctx, t, s, jtis[i], "", true)
		wantRevoked(ctx, t, s, "", grantIDs[i], true)
	}
}

// testConcurrentRevokeLater races one long revocation against many short
// ones of the same ids: whatever order they land in, the long one wins.
func testConcurrentRevokeLater(ctx context.Context, t *testing.T, s store.Store) {
	jti, grantID := newID("jti"), newID("grant")
	base := now()
	short, long := base.Add(shortTTL), base.Add(time.Hour)

	var f failures
	start(racers, func(i int) {
		exp := short
		if i == racers/2 {
			exp = long
		}
		if err := s.RevokeAccessToken(ctx, jti, exp); err != nil {
			f.addf("RevokeAccessToken(%q, %v) = %v, want nil", jti, exp, err)
		}
		if err := s.RevokeGrant(ctx, grantID, exp); err != nil {
			f.addf("RevokeGrant(%q, %v) = %v, want nil", grantID, exp, err)
		}
	})(ctx, t)
	f.report(t)

	sleepPast(ctx, t, short)
	wantRevoked(ctx, t, s, jti, "", true)
	wantRevoked(ctx, t, s, "", grantID, true)
}

// testConcurrentRefreshCalls makes, for 64 grants at once, the calls of a
// refresh on one grant overlap, as package oauth2 makes them: it reads the
// token while it asks whether the grant is revoked, and rotates the token
// while it touches the grant's session. Each call MUST answer as it would
// alone, and each write MUST be kept.
func testConcurrentRefreshCalls(ctx context.Context, t *testing.T, s store.Store) {
	const grants = 64
	ss, sessions := s.(store.SessionStore)
	base := now()
	olds, nexts := make([]store.RefreshToken, grants), make([]store.RefreshToken, grants)
	for g := range grants {
		olds[g] = newToken(base)
		nexts[g] = successor(olds[g], base.Add(time.Millisecond))
		mustCreate(ctx, t, s, olds[g])
		if g%2 == 1 {
			mustRevokeGrant(ctx, t, s, olds[g].GrantID, base.Add(time.Hour))
		}
		if sessions {
			sess := newSession(olds[g].Subject, base)
			sess.GrantID = olds[g].GrantID
			mustCreateSession(ctx, t, ss, sess)
		}
	}

	// Goroutine 2g reads grant g's token, then rotates it; goroutine 2g+1
	// asks whether the grant is revoked, then touches its session. The two
	// meet before each pair of calls, so that the calls of a pair start
	// together.
	pairs := make([][2]sync.WaitGroup, grants)
	for g := range pairs {
		pairs[g][0].Add(2)
		pairs[g][1].Add(2)
	}
	meet := func(g, pair int) {
		pairs[g][pair].Done()
		pairs[g][pair].Wait()
	}
	var f failures
	start(2*grants, func(i int) {
		g := i / 2
		old, next := olds[g], nexts[g]
		meet(g, 0)
		if i%2 == 0 {
			got, err := s.GetRefreshToken(ctx, old.Hash)
			if err != nil {
				f.addf("grant %d: GetRefreshToken(%x) = %v, want nil", g, old.Hash, err)
				meet(g, 1)
				return
			}
			if d := diffToken(got, old); len(d) > 0 {
				f.addf("grant %d: GetRefreshToken(%x).%s", g, old.Hash, d[0])
			}
			meet(g, 1)
			if err := s.RotateRefreshToken(ctx, old.Hash, next); err != nil {
				f.addf("grant %d: RotateRefreshToken(%x) = %v, want nil", g, old.Hash, err)
			}
			return
		}
		if revoked, err := s.IsRevoked(ctx, "", old.GrantID); err != nil || revoked != (g%2 == 1) {
			f.addf("grant %d: IsRevoked(%q) = %v, %v, want %v, nil", g, old.GrantID, revoked, err, g%2 == 1)
		}
		meet(g, 1)
		if sessions {
			if err := ss.TouchSession(ctx, old.Subject, old.GrantID, next.IssuedAt, next.ExpiresAt); err != nil {
				f.addf("grant %d: TouchSession(%q) = %v, want nil", g, old.GrantID, err)
			}
		}
	})(ctx, t)
	f.report(t)
	if t.Failed() {
		return
	}
	for g := range grants {
		wantToken(ctx, t, s, consumed(olds[g], nexts[g].IssuedAt))
		wantToken(ctx, t, s, nexts[g])
		if sessions {
			got, err := ss.ListSessions(ctx, olds[g].Subject)
			if err != nil || len(got) != 1 {
				t.Fatalf("grant %d: ListSessions(%q) = %d sessions, %v; want 1", g, olds[g].Subject, len(got), err)
			}
			if !got[0].RefreshedAt.Equal(nexts[g].IssuedAt) || !got[0].ExpiresAt.Equal(nexts[g].ExpiresAt) {
				t.Fatalf("grant %d: session after the touch: RefreshedAt %v, ExpiresAt %v; want %v, %v",
					g, got[0].RefreshedAt, got[0].ExpiresAt, nexts[g].IssuedAt, nexts[g].ExpiresAt)
			}
		}
		if t.Failed() {
			t.Fatalf("stopped at the first grant that differs, %d of %d", g, grants)
		}
	}
}
