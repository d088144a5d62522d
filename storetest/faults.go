package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/faultproxy"
	"github.com/oauth2kit/oauth2kit/store"
)

// NewStoreAt returns a fresh, empty store, as a NewStore does, whose client
// dials addrs[i] in place of the i-th server given to RunFaults. The client
// must be the store's own, not shared with other stores: the suite breaks
// its connections. A failure inside it is reported as "storetest: setup".
type NewStoreAt func(t *testing.T, addrs []string) store.Store

// RunFaults runs the fault tier, for adapters that reach their backend over
// TCP: the suite puts a proxy of its own, in process, in front of each of
// servers (host:port addresses) and breaks it on purpose, refusing,
// hanging, resetting or delaying connections, with each subtest's store
// dialling the proxies. Each subtest has its own proxies and its own store
// from newStore, and they run in parallel, so RunFaults may return before
// they finish: release shared resources with t.Cleanup. The package doc
// lists the faults and the requirements.
func RunFaults(t *testing.T, servers []string, newStore NewStoreAt) {
	t.Helper()
	if timeScaleErr != nil {
		t.Fatalf("storetest: setup: %v", timeScaleErr)
	}
	if len(servers) == 0 {
		t.Fatalf("storetest: setup: RunFaults needs the address of at least one server")
	}
	probe := setup(t, atProxies(t, servers, newStore))
	have, lack := capabilitiesOf(probe)
	skipped := ""
	if len(lack) > 0 {
		skipped = " (their subtests are skipped)"
	}
	t.Logf("storetest: capabilities of %T: has %s; lacks %s%s", probe, listOrNone(have), listOrNone(lack), skipped)
	for _, r := range faults {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			if r.needs != "" && slices.Contains(lack, r.needs) {
				t.Skipf("storetest: the store lacks %s; see the capabilities line above", r.needs)
			}
			var ps proxies
			s := setup(t, func(t *testing.T) store.Store {
				ps = newProxies(t, servers)
				return newStore(t, ps.addrs())
			})
			// Before the store's own cleanups, which may need to reach
			// the backend (closing a pool politely, dropping a schema).
			t.Cleanup(func() { _ = ps.set(faultproxy.Healthy) })
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			r.test(ctx, t, &faultEnv{s: s, ps: ps})
		})
	}
}

// atProxies adapts newStore to a NewStore, each store behind proxies of
// its own.
func atProxies(t *testing.T, servers []string, newStore NewStoreAt) NewStore {
	t.Helper()
	return func(t *testing.T) store.Store {
		return newStore(t, newProxies(t, servers).addrs())
	}
}

// newProxies starts a proxy in front of each server, closed when t ends
// (after the cleanups registered later, such as the store's).
func newProxies(t *testing.T, servers []string) proxies {
	t.Helper()
	ps := make(proxies, len(servers))
	for i, srv := range servers {
		p, err := faultproxy.New(srv, faultLatency)
		if err != nil {
			t.Fatalf("storetest: setup: starting a proxy in front of %s: %v", srv, err)
		}
		t.Cleanup(p.Close)
		ps[i] = p
	}
	return ps
}

// proxies is the proxies of one subtest, one per server, broken together.
type proxies []*faultproxy.Proxy

func (ps proxies) addrs() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}

func (ps proxies) set(f faultproxy.Fault) error {
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Set(f))
	}
	return errors.Join(errs...)
}

// The fault tier's limits, scaled like every other.
var (
	// callTimeout is the deadline of each call made while the backend
	// fails: the hung and slow faults last until it.
	callTimeout = scaled(time.Second)
	// faultSlack is how long past its context's deadline a call may take to
	// return: the time to notice the deadline and unwind.
	faultSlack = scaled(time.Second)
	// faultLatency is how long the slow fault holds each reply back: well
	// past callTimeout.
	faultLatency = 2 * callTimeout
	// recoverTimeout is how soon after the backend is back the store must
	// answer again: time to drop broken connections and dial new ones.
	recoverTimeout = scaled(10 * time.Second)
	// aliveGrace is how long after the connection breaks a watcher may
	// still call Alive: one already under way when it broke.
	aliveGrace = scaled(250 * time.Millisecond)
	// watchEndTimeout is how soon after the connection breaks
	// WatchRevocations must return: its heartbeat, and the time to notice
	// an unanswered one.
	watchEndTimeout = 2 * heartbeatAllowance
)

// faultRequirement is one promise of the fault tier.
type faultRequirement struct {
	name string
	// needs names the capability the subtest needs, if any.
	needs string
	test  func(ctx context.Context, t *testing.T, e *faultEnv)
}

var faults = []faultRequirement{
	{name: "Faults/RefusedIsAnError", test: failsUnder(faultproxy.Refused)},
	{name: "Faults/HungIsAnError", test: failsUnder(faultproxy.Hung)},
	{name: "Faults/LostReplyIsAnError", test: failsUnder(faultproxy.ReplyLost)},
	{name: "Faults/SlowIsAnError", test: failsUnder(faultproxy.Slow)},
	{name: "Faults/Recovers", test: testRecovers},
	{name: "Faults/LostWriteWholeOrNothing", test: testLostWrite},
	{name: "Faults/RetryNotMisreported", test: testRetryNotMisreported},
	{name: "Faults/WatchEndsOnFailure", needs: "store.RevocationWatcher", test: testWatchEndsOnFailure},
}

// faultEnv is one subtest's store and the proxies it dials.
type faultEnv struct {
	s  store.Store
	ps proxies
}

func (e *faultEnv) set(t *testing.T, f faultproxy.Fault) {
	t.Helper()
	if err := e.ps.set(f); err != nil {
		t.Fatalf("storetest: setup: the suite's proxy could not switch to %s: %v", f, err)
	}
}

// recover ends the fault and waits until the store answers again: until
// a round of concurrent calls all succeed, so that the pool has had to dial
// new connections too (a client may refuse to dial for a while after a run
// of failed dials, while a connection it kept answers).
func (e *faultEnv) recover(ctx context.Context, t *testing.T, after faultproxy.Fault) {
	t.Helper()
	e.set(t, faultproxy.Healthy)
	deadline := time.Now().Add(recoverTimeout)
	for {
		errs := make([]error, recoverRound)
		wait := start(recoverRound, func(i int) {
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			_, errs[i] = e.s.IsRevoked(cctx, newID("jti"), newID("grant"))
		})
		wait(ctx, t)
		err := errors.Join(errs...)
		if err == nil {
			return
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			t.Fatalf("storetest: timing: after recovering from %s the store still fails %s later: IsRevoked = %v, want it to answer again on its own (the store was not recreated); %s", after, recoverTimeout, err, timingHint())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// recoverRound is how many calls recover makes at once.
const recoverRound = 4

// storeSentinel returns the name of the sentinel of package store that err
// matches, or "".
func storeSentinel(err error) string {
	for _, s := range sentinels {
		if strings.HasPrefix(s.name, "Err") && errors.Is(err, s.err) {
			return s.name
		}
	}
	return ""
}

// faultCall is one call of a method while the backend fails.
type faultCall struct {
	name string
	// call returns failOpen true for an IsRevoked that answered false
	// with no error.
	call func(ctx context.Context) (failOpen bool, err error)
}

// fixture is what a subtest stores while the backend is healthy, so that
// every call it makes during a fault is one the store would grant.
type fixture struct {
	tok        store.RefreshToken
	keyVersion int64
	attempts   string
	session    store.Session
}

func newFixture(ctx context.Context, t *testing.T, s store.Store) fixture {
	t.Helper()
	base := now()
	f := fixture{tok: newToken(base)}
	mustCreate(ctx, t, s, f.tok)
	if ks, ok := s.(store.KeyStore); ok {
		cur, err := ks.GetKeySet(ctx)
		if err != nil {
			t.Fatalf("GetKeySet() = %v, want nil", err)
		}
		v, err := ks.SwapKeySet(ctx, cur.Version, newSigningKeys(1))
		if err != nil {
			t.Fatalf("SwapKeySet(%d) = %v, want nil", cur.Version, err)
		}
		f.keyVersion = v
	}
	if as, ok := s.(store.AttemptStore); ok {
		f.attempts = newID("key")
		if _, err := as.AddFailure(ctx, f.attempts, base.Add(time.Hour)); err != nil {
			t.Fatalf("AddFailure() = %v, want nil", err)
		}
	}
	if ss, ok := s.(store.SessionStore); ok {
		f.session = newSession(newID("subject"), base)
		if err := ss.CreateSession(ctx, f.session); err != nil {
			t.Fatalf("CreateSession() = %v, want nil", err)
		}
	}
	return f
}

// faultCalls returns one call of every method s has, each one the store
// would grant if the backend answered.
func faultCalls(s store.Store, f fixture) []faultCall {
	base := now()
	next := successor(f.tok, base.Add(time.Minute))
	calls := []faultCall{
		{"CreateRefreshToken", func(ctx context.Context) (bool, error) {
			return false, s.CreateRefreshToken(ctx, newToken(base))
		}},
		{"GetRefreshToken", func(ctx context.Context) (bool, error) {
			_, err := s.GetRefreshToken(ctx, f.tok.Hash)
			return false, err
		}},
		{"RotateRefreshToken", func(ctx context.Context) (bool, error) {
			return false, s.RotateRefreshToken(ctx, f.tok.Hash, next)
		}},
		{"RevokeGrant", func(ctx context.Context) (bool, error) {
			return false, s.RevokeGrant(ctx, newID("grant"), base.Add(time.Hour))
		}},
		{"RevokeAccessToken", func(ctx context.Context) (bool, error) {
			return false, s.RevokeAccessToken(ctx, newID("jti"), base.Add(time.Hour))
		}},
		{"IsRevoked", func(ctx context.Context) (bool, error) {
			revoked, err := s.IsRevoked(ctx, newID("jti"), newID("grant"))
			return !revoked && err == nil, err
		}},
	}
	if d, ok := s.(store.ExpiredDeleter); ok {
		calls = append(calls, faultCall{"DeleteExpired", func(ctx context.Context) (bool, error) {
			_, err := d.DeleteExpired(ctx)
			return false, err
		}})
	}
	if ks, ok := s.(store.KeyStore); ok {
		calls = append(calls,
			faultCall{"GetKeySet", func(ctx context.Context) (bool, error) {
				_, err := ks.GetKeySet(ctx)
				return false, err
			}},
			faultCall{"SwapKeySet", func(ctx context.Context) (bool, error) {
				_, err := ks.SwapKeySet(ctx, f.keyVersion, newSigningKeys(1))
				return false, err
			}})
	}
	if as, ok := s.(store.AttemptStore); ok {
		calls = append(calls,
			faultCall{"AddFailure", func(ctx context.Context) (bool, error) {
				_, err := as.AddFailure(ctx, f.attempts, base.Add(time.Hour))
				return false, err
			}},
			faultCall{"GetAttempts", func(ctx context.Context) (bool, error) {
				_, err := as.GetAttempts(ctx, f.attempts)
				return false, err
			}},
			faultCall{"ResetAttempts", func(ctx context.Context) (bool, error) {
				return false, as.ResetAttempts(ctx, f.attempts)
			}})
	}
	if ss, ok := s.(store.SessionStore); ok {
		sess := f.session
		calls = append(calls,
			faultCall{"CreateSession", func(ctx context.Context) (bool, error) {
				return false, ss.CreateSession(ctx, newSession(newID("subject"), base))
			}},
			faultCall{"TouchSession", func(ctx context.Context) (bool, error) {
				return false, ss.TouchSession(ctx, sess.Subject, sess.GrantID, base.Add(time.Minute), base.Add(2*time.Hour))
			}},
			faultCall{"ListSessions", func(ctx context.Context) (bool, error) {
				_, err := ss.ListSessions(ctx, sess.Subject)
				return false, err
			}},
			faultCall{"DeleteSession", func(ctx context.Context) (bool, error) {
				return false, ss.DeleteSession(ctx, sess.Subject, sess.GrantID)
			}})
	}
	if w, ok := s.(store.RevocationWatcher); ok {
		calls = append(calls,
			faultCall{"ListRevocations", func(ctx context.Context) (bool, error) {
				_, err := w.ListRevocations(ctx)
				return false, err
			}},
			faultCall{"WatchRevocations", func(ctx context.Context) (bool, error) {
				rec := newRecorder()
				err := w.WatchRevocations(ctx, rec)
				if len(rec.alive) > 0 {
					return false, errAliveWhileDown{err}
				}
				return false, err
			}})
	}
	return calls
}

// errAliveWhileDown marks a watch that called Alive though the backend
// never answered.
type errAliveWhileDown struct{ err error }

func (e errAliveWhileDown) Error() string {
	if e.err == nil {
		return "nil, after calling Alive"
	}
	return e.err.Error() + ", after calling Alive"
}
func (e errAliveWhileDown) Unwrap() error { return e.err }

// failsUnder returns the test of the requirement that while the backend
// shows f, every method fails, with no sentinel, in time.
func failsUnder(f faultproxy.Fault) func(ctx context.Context, t *testing.T, e *faultEnv) {
	return func(ctx context.Context, t *testing.T, e *faultEnv) {
		fx := newFixture(ctx, t, e.s)
		e.set(t, f)
		callAllFailing(ctx, t, e.s, f, faultCalls(e.s, fx))
	}
}

// callAllFailing makes every call at once, each with a deadline of
// callTimeout, and checks that each fails as a failing backend must.
func callAllFailing(ctx context.Context, t *testing.T, s store.Store, f faultproxy.Fault, calls []faultCall) {
	t.Helper()
	type result struct {
		failOpen bool
		err      error
		took     time.Duration
	}
	results := make([]result, len(calls))
	done := make([]chan struct{}, len(calls))
	for i, c := range calls {
		done[i] = make(chan struct{})
		go func() {
			defer close(done[i])
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			start := time.Now()
			failOpen, err := c.call(cctx)
			results[i] = result{failOpen, err, time.Since(start)}
		}()
	}
	// A call that never returns is reported as such, without waiting for
	// the subtest's whole timeout.
	limit := time.NewTimer(callTimeout + faultSlack + scaled(2*time.Second))
	defer limit.Stop()
	gaveUp := false
	var stuck []string
	for i, c := range calls {
		if !gaveUp {
			select {
			case <-done[i]:
				continue
			case <-limit.C:
			case <-ctx.Done():
			}
			gaveUp = true
		}
		select {
		case <-done[i]:
		default:
			stuck = append(stuck, c.name)
		}
	}
	if len(stuck) > 0 {
		t.Fatalf("storetest: timing: with %s, %s did not return long after their contexts' deadline of %v: a store call must honour its context when the backend does not answer; %s", f, strings.Join(stuck, ", "), callTimeout, timingHint())
	}
	for i, c := range calls {
		r := results[i]
		switch {
		case r.failOpen:
			t.Errorf("with %s, %s = false, nil, want an error: a check that cannot reach the backend MUST NOT report a token unrevoked (failing open)", f, c.name)
		case r.err == nil:
			t.Errorf("with %s, %s = nil error, want an error: the backend did not answer before the deadline", f, c.name)
		case storeSentinel(r.err) != "":
			t.Errorf("with %s, %s = %v, matching %s, want an error matching no sentinel of package store: a failure to reach the backend is not an answer from it", f, c.name, r.err, storeSentinel(r.err))
		}
		if alive := (errAliveWhileDown{}); errors.As(r.err, &alive) {
			t.Errorf("with %s, %s called Alive, want no Alive: the subscription never worked", f, c.name)
			if alive.err == nil {
				t.Errorf("with %s, %s = nil error, want an error: the backend did not answer before the deadline", f, c.name)
			}
		}
		if r.took > callTimeout+faultSlack {
			t.Errorf("with %s, %s returned after %v, want within %v (its context's deadline) plus %v; %s", f, c.name, r.took.Round(time.Millisecond), callTimeout, faultSlack, timingHint())
		}
	}
}
