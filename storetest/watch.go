package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// revocationWatcher returns s as a store.RevocationWatcher. Run skips the subtest when the store
// it probed lacks the capability, so a store without it here is a setup
// fault: a NewStore that returns stores of different types.
func revocationWatcher(t *testing.T, s store.Store) store.RevocationWatcher {
	t.Helper()
	w, ok := s.(store.RevocationWatcher)
	if !ok {
		t.Fatalf("storetest: setup: NewStore returned a %T, which lacks store.RevocationWatcher, though the store Run probed for capabilities had it", s)
	}
	return w
}

// recorder is a RevocationListener that records what it is told.
type recorder struct {
	alive chan struct{} // one send per Alive, dropped when full
	mu    sync.Mutex
	got   []store.Revocation
	more  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{alive: make(chan struct{}, 16), more: make(chan struct{}, 1)}
}

func (r *recorder) Alive() {
	select {
	case r.alive <- struct{}{}:
	default:
	}
}

func (r *recorder) Revoked(rev store.Revocation) {
	r.mu.Lock()
	r.got = append(r.got, rev)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// watch starts WatchRevocations and waits for its first Alive. The
// returned function cancels the watch and returns its error.
func watch(ctx context.Context, t *testing.T, w store.RevocationWatcher) (*recorder, func() error) {
	t.Helper()
	rec := newRecorder()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.WatchRevocations(wctx, rec) }()
	select {
	case <-rec.alive:
	case err := <-done:
		cancel()
		t.Fatalf("WatchRevocations() = %v before its first Alive", err)
	case <-ctx.Done():
		cancel()
		t.Fatalf("WatchRevocations() never called Alive before the subtest ran out of time (%v); %s", ctx.Err(), timingHint())
	}
	return rec, stopWatch(ctx, t, cancel, done)
}

// stopWatch returns a function that ends a watch, by cancel, and waits for
// WatchRevocations to return what done receives, until ctx ends; once,
// however often it is called, and at t's cleanup if not before.
func stopWatch(ctx context.Context, t *testing.T, cancel context.CancelFunc, done <-chan error) func() error {
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-ctx.Done():
				err = errors.New("storetest: WatchRevocations did not return after its context was cancelled")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor waits until rec holds every revocation in want (with expiries
// equal to the millisecond, the precision of Redis expiry).
func (r *recorder) waitFor(ctx context.Context, t *testing.T, want ...store.Revocation) {
	t.Helper()
	// Delivery is meant to take milliseconds; seconds is a failure, and the
	// subtest need not wait for its whole timeout to say so.
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	for {
		r.mu.Lock()
		missing := missingRevocations(r.got, want)
		r.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		select {
		case <-r.more:
		case <-ctx.Done():
			t.Fatalf("%d revocations not delivered within %s, the first %+v; %s", len(missing), deliveryTimeout, missing[:min(len(missing), maxReported)], timingHint())
		}
	}
}

func missingRevocations(got, want []store.Revocation) []store.Revocation {
	type id struct{ grantID, jti string }
	expiries := make(map[id][]time.Time, len(got))
	for _, g := range got {
		k := id{g.GrantID, g.JTI}
		expiries[k] = append(expiries[k], g.ExpiresAt)
	}
	var missing []store.Revocation
	for _, w := range want {
		if !slices.ContainsFunc(expiries[id{w.GrantID, w.JTI}], func(e time.Time) bool { return sameMillisecond(e, w.ExpiresAt) }) {
			missing = append(missing, w)
		}
	}
	return missing
}

func sameMillisecond(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Millisecond && d < time.Millisecond
}

func testWatchDelivers(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	rec, _ := watch(ctx, t, w)
	exp := now().Add(time.Hour)
	grant, jti := newID("grant"), newID("jti")
	mustRevokeGrant(ctx, t, s, grant, exp)
	mustRevokeAccessToken(ctx, t, s, jti, exp)
	rec.waitFor(ctx, t, store.Revocation{GrantID: grant, ExpiresAt: exp}, store.Revocation{JTI: jti, ExpiresAt: exp})
}

func testWatchAlive(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	rec, _ := watch(ctx, t, w)
	// Two more heartbeats, each within WatchHeartbeat plus a generous margin
	// for a loaded machine: a quiet subscription must still prove itself.
	for i := range 2 {
		select {
		case <-rec.alive:
		case <-time.After(heartbeatAllowance):
			t.Fatalf("no Alive within %s after heartbeat %d (store.WatchHeartbeat is %s); %s", heartbeatAllowance, i+1, store.WatchHeartbeat, timingHint())
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

func testWatchEndsWithContext(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	_, stop := watch(ctx, t, w)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("WatchRevocations() after cancel = %v, want an error matching %v", err, context.Canceled)
	}
}

func testListRevocations(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	base := now()
	live := []store.Revocation{
		{GrantID: newID("grant"), ExpiresAt: base.Add(time.Hour)},
		{JTI: newID("jti"), ExpiresAt: base.Add(time.Hour)},
	}
	short := store.Revocation{JTI: newID("jti"), ExpiresAt: base.Add(shortTTL)}
	mustRevokeGrant(ctx, t, s, live[0].GrantID, live[0].ExpiresAt)
	mustRevokeAccessToken(ctx, t, s, live[1].JTI, live[1].ExpiresAt)
	mustRevokeAccessToken(ctx, t, s, short.JTI, short.ExpiresAt)
	got, err := w.ListRevocations(ctx)
	if err != nil {
		t.Fatalf("ListRevocations() error = %v", err)
	}
	if m := missingRevocations(got, append(live, short)); len(m) > 0 {
		t.Errorf("ListRevocations() lacks %+v", m)
	}
	checkedBeforeExpiry(t, short.ExpiresAt)
	sleepPast(ctx, t, short.ExpiresAt)
	got, err = w.ListRevocations(ctx)
	if err != nil {
		t.Fatalf("ListRevocations() error = %v", err)
	}
	if m := missingRevocations(got, []store.Revocation{short}); len(m) == 0 {
		t.Errorf("ListRevocations() still lists %+v after it expired", short)
	}
	if m := missingRevocations(got, live); len(m) > 0 {
		t.Errorf("ListRevocations() lacks %+v", m)
	}
}

func testWatchConcurrentRevocations(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	rec, _ := watch(ctx, t, w)
	const n = 64
	exp := now().Add(time.Hour)
	want := make([]store.Revocation, n)
	for i := range want {
		if i%2 == 0 {
			want[i] = store.Revocation{GrantID: newID("grant"), ExpiresAt: exp}
		} else {
			want[i] = store.Revocation{JTI: newID("jti"), ExpiresAt: exp}
		}
	}
	errs := make([]error, n)
	wait := start(n, func(i int) {
		if want[i].GrantID != "" {
			errs[i] = s.RevokeGrant(ctx, want[i].GrantID, exp)
		} else {
			errs[i] = s.RevokeAccessToken(ctx, want[i].JTI, exp)
		}
	})
	wait(ctx, t)
	for _, err := range errs {
		if err != nil {
			t.Fatalf("revoke error = %v", err)
		}
	}
	rec.waitFor(ctx, t, want...)
}

// testWatchContext: both methods honour a context that ended before the
// call; WatchRevocations returns rather than subscribe.
func testWatchContext(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	mustRevokeGrant(ctx, t, s, newID("grant"), now().Add(time.Hour))
	for _, dead := range deadContexts(ctx) {
		_, err := w.ListRevocations(dead)
		wantDeadErr(t, "ListRevocations", dead, err)
		done := make(chan error, 1)
		go func() { done <- w.WatchRevocations(dead, newRecorder()) }()
		select {
		case err := <-done:
			wantDeadErr(t, "WatchRevocations", dead, err)
		case <-time.After(deliveryTimeout):
			t.Fatalf("WatchRevocations with ended context (%v) did not return within %s; %s", dead.Err(), deliveryTimeout, timingHint())
		}
	}
}

// testWatchNoAliasing: the list ListRevocations returns is the caller's to
// change.
func testWatchNoAliasing(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	want := []store.Revocation{
		{GrantID: newID("grant"), ExpiresAt: now().Add(time.Hour)},
		{JTI: newID("jti"), ExpiresAt: now().Add(time.Hour)},
	}
	mustRevokeGrant(ctx, t, s, want[0].GrantID, want[0].ExpiresAt)
	mustRevokeAccessToken(ctx, t, s, want[1].JTI, want[1].ExpiresAt)
	got, err := w.ListRevocations(ctx)
	if err != nil {
		t.Fatalf("ListRevocations() error = %v", err)
	}
	for i := range got {
		got[i] = store.Revocation{GrantID: "changed", ExpiresAt: time.Time{}}
	}
	got, err = w.ListRevocations(ctx)
	if err != nil {
		t.Fatalf("ListRevocations() error = %v", err)
	}
	if m := missingRevocations(got, want); len(m) > 0 {
		t.Errorf("ListRevocations() after the caller changed an earlier list lacks %+v", m)
	}
}

// testListManyRevocations: a listing of more revocations than a page
// holds them all.
func testListManyRevocations(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	exp := now().Add(time.Hour)
	want := make([]store.Revocation, volume)
	for i := range want {
		if i%2 == 0 {
			want[i] = store.Revocation{GrantID: newID("grant"), ExpiresAt: exp}
		} else {
			want[i] = store.Revocation{JTI: newID("jti"), ExpiresAt: exp}
		}
	}
	forEach(ctx, t, volume, func(i int) error {
		if want[i].GrantID != "" {
			return s.RevokeGrant(ctx, want[i].GrantID, exp)
		}
		return s.RevokeAccessToken(ctx, want[i].JTI, exp)
	})
	got, err := w.ListRevocations(ctx)
	if err != nil {
		t.Fatalf("ListRevocations() error = %v", err)
	}
	if m := missingRevocations(got, want); len(m) > 0 {
		t.Errorf("ListRevocations() of %d revocations returned %d and lacks %d, the first %+v", volume, len(got), len(m), m[:min(len(m), maxReported)])
	}
}

// overlapDetector is a RevocationListener that notes any call made while
// another is still running. Its calls take a little time, Alive's the
// longest, so that an overlap has room to happen: a watcher that beats
// its heartbeat from a goroutine of its own calls Revoked during an Alive.
type overlapDetector struct {
	*recorder
	busy     atomic.Bool
	overlaps atomic.Int64
	alives   atomic.Int64
}

func (o *overlapDetector) enter(d time.Duration) {
	if !o.busy.CompareAndSwap(false, true) {
		o.overlaps.Add(1)
		return
	}
	time.Sleep(d)
	o.busy.Store(false)
}

func (o *overlapDetector) Alive() {
	o.enter(20 * time.Millisecond)
	o.alives.Add(1)
	o.recorder.Alive()
}

func (o *overlapDetector) Revoked(r store.Revocation) {
	o.enter(100 * time.Microsecond)
	o.recorder.Revoked(r)
}

// testWatchNoConcurrentListenerCalls: a listener may keep its state
// without a lock, so the watcher never calls it from two goroutines at
// once, heartbeats included: revocations keep arriving for two heartbeats.
func testWatchNoConcurrentListenerCalls(ctx context.Context, t *testing.T, s store.Store) {
	w := revocationWatcher(t, s)
	det := &overlapDetector{recorder: newRecorder()}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.WatchRevocations(wctx, det) }()
	// Bounded by ctx: a watch that ignores its cancellation fails the
	// subtest rather than hang it.
	defer stopWatch(ctx, t, cancel, done)()
	select {
	case <-det.alive:
	case err := <-done:
		t.Fatalf("WatchRevocations() = %v before its first Alive", err)
	case <-ctx.Done():
		t.Fatalf("WatchRevocations() never called Alive before the subtest ran out of time (%v); %s", ctx.Err(), timingHint())
	}
	exp := now().Add(time.Hour)
	var (
		mu   sync.Mutex
		want []store.Revocation
		errs failures
	)
	deadline := time.Now().Add(heartbeatAllowance)
	start(2, func(int) {
		for det.alives.Load() < 3 && time.Now().Before(deadline) {
			r := store.Revocation{GrantID: newID("grant"), ExpiresAt: exp}
			if err := s.RevokeGrant(ctx, r.GrantID, exp); err != nil {
				errs.addf("RevokeGrant(%q) error = %v", r.GrantID, err)
				return
			}
			mu.Lock()
			want = append(want, r)
			mu.Unlock()
			// Paced, so that the check is not a load test.
			time.Sleep(5 * time.Millisecond)
		}
	})(ctx, t)
	errs.report(t)
	det.waitFor(ctx, t, want...)
	if n := det.overlaps.Load(); n > 0 {
		t.Errorf("WatchRevocations called the listener %d times while another of its calls was running, want one call at a time", n)
	}
}
