package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// attemptStore returns s as a store.AttemptStore. Run skips the subtest when the store
// it probed lacks the capability, so a store without it here is a setup
// fault: a NewStore that returns stores of different types.
func attemptStore(t *testing.T, s store.Store) store.AttemptStore {
	t.Helper()
	a, ok := s.(store.AttemptStore)
	if !ok {
		t.Fatalf("storetest: setup: NewStore returned a %T, which lacks store.AttemptStore, though the store Run probed for capabilities had it", s)
	}
	return a
}

// attemptsTTL is the expiry of the attempt records of subtests that do not
// wait for it.
const attemptsTTL = time.Hour

func mustAddFailure(ctx context.Context, t *testing.T, a store.AttemptStore, key string, expiresAt time.Time) store.Attempts {
	t.Helper()
	got, err := a.AddFailure(ctx, key, expiresAt)
	if err != nil {
		t.Fatalf("AddFailure(%q) error = %v", key, err)
	}
	return got
}

// wantFailures checks the Failures GetAttempts reports for each key.
func wantFailures(ctx context.Context, t *testing.T, a store.AttemptStore, keys []string, want []int) []store.Attempts {
	t.Helper()
	got, err := a.GetAttempts(ctx, keys...)
	if err != nil {
		t.Fatalf("GetAttempts(%q) error = %v", keys, err)
	}
	if len(got) != len(keys) {
		t.Fatalf("GetAttempts(%d keys) returned %d records, want one per key", len(keys), len(got))
	}
	reported := 0
	for i, g := range got {
		if g.Failures == want[i] {
			continue
		}
		if reported++; reported > maxReported {
			t.Errorf("GetAttempts(%d keys): more records differ, not shown", len(keys))
			break
		}
		t.Errorf("GetAttempts(...)[%d] (key %q) failures = %d, want %d", i, keys[i], g.Failures, want[i])
	}
	return got
}

func testAttemptsEmpty(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	got := wantFailures(ctx, t, a, []string{newID("attempt"), newID("attempt")}, []int{0, 0})
	for i, g := range got {
		if !g.Last.IsZero() {
			t.Errorf("GetAttempts(unknown key %d).Last = %v, want the zero time", i, g.Last)
		}
	}
	none, err := a.GetAttempts(ctx)
	if err != nil || len(none) != 0 {
		t.Errorf("GetAttempts() with no keys = %v, %v, want no records and no error", none, err)
	}
}

func testAttemptsCount(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	key := newID("attempt")
	exp := now().Add(attemptsTTL)
	var last time.Time
	for want := 1; want <= 3; want++ {
		before := now()
		got := mustAddFailure(ctx, t, a, key, exp)
		after := now()
		if got.Failures != want {
			t.Errorf("AddFailure() call %d: Failures = %d, want %d", want, got.Failures, want)
		}
		// The adapter's clock may differ from the suite's by the margin
		// the Expiry rule allows.
		if got.Last.Before(before.Add(-expiryMargin)) || got.Last.After(after.Add(expiryMargin)) || got.Last.Before(last) {
			t.Errorf("AddFailure() call %d: Last = %v, want the time of the call (%v to %v), never earlier than the previous %v",
				want, got.Last, before, after, last)
		}
		last = got.Last
	}
	rec := wantFailures(ctx, t, a, []string{key}, []int{3})
	if !rec[0].Last.Equal(last) {
		t.Errorf("GetAttempts().Last = %v, want %v, what the last AddFailure returned", rec[0].Last, last)
	}
}

func testAttemptsKeysIndependent(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	k1, k2, k3 := newID("attempt"), newID("attempt"), newID("attempt")
	exp := now().Add(attemptsTTL)
	mustAddFailure(ctx, t, a, k1, exp)
	mustAddFailure(ctx, t, a, k2, exp)
	mustAddFailure(ctx, t, a, k2, exp)
	wantFailures(ctx, t, a, []string{k3, k2, k1, k2}, []int{0, 2, 1, 2})
}

func testAttemptsReset(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	key, other := newID("attempt"), newID("attempt")
	exp := now().Add(attemptsTTL)
	mustAddFailure(ctx, t, a, key, exp)
	mustAddFailure(ctx, t, a, key, exp)
	mustAddFailure(ctx, t, a, other, exp)
	if err := a.ResetAttempts(ctx, key); err != nil {
		t.Fatalf("ResetAttempts() error = %v", err)
	}
	wantFailures(ctx, t, a, []string{key, other}, []int{0, 1})
	if got := mustAddFailure(ctx, t, a, key, exp); got.Failures != 1 {
		t.Errorf("AddFailure() after ResetAttempts: Failures = %d, want 1", got.Failures)
	}
	if err := a.ResetAttempts(ctx, newID("attempt")); err != nil {
		t.Errorf("ResetAttempts(unknown key) error = %v, want nil", err)
	}
}

func testAttemptsExpire(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	key := newID("attempt")
	exp := now().Add(shortTTL)
	mustAddFailure(ctx, t, a, key, exp)
	mustAddFailure(ctx, t, a, key, exp)
	wantFailures(ctx, t, a, []string{key}, []int{2})
	checkedBeforeExpiry(t, exp)

	sleepPast(ctx, t, exp)
	wantFailures(ctx, t, a, []string{key}, []int{0})
	if got := mustAddFailure(ctx, t, a, key, now().Add(attemptsTTL)); got.Failures != 1 {
		t.Errorf("AddFailure() after the record expired: Failures = %d, want 1 (a new record)", got.Failures)
	}
}

// testAttemptsLaterExpiryKept catches an adapter that sets the record's
// expiry from the last call instead of keeping the latest.
func testAttemptsLaterExpiryKept(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	key := newID("attempt")
	short := now().Add(shortTTL)
	mustAddFailure(ctx, t, a, key, short.Add(shortTTL))
	mustAddFailure(ctx, t, a, key, short)

	sleepPast(ctx, t, short)
	wantFailures(ctx, t, a, []string{key}, []int{2})
}

func testAttemptsContext(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	key := newID("attempt")
	exp := now().Add(attemptsTTL)
	for _, dead := range deadContexts(ctx) {
		_, err := a.AddFailure(dead, key, exp)
		wantDeadErr(t, "AddFailure", dead, err)
		_, err = a.GetAttempts(dead, key)
		wantDeadErr(t, "GetAttempts", dead, err)
	}
	wantFailures(ctx, t, a, []string{key}, []int{0})
	mustAddFailure(ctx, t, a, key, exp)
	for _, dead := range deadContexts(ctx) {
		wantDeadErr(t, "ResetAttempts", dead, a.ResetAttempts(dead, key))
	}
	wantFailures(ctx, t, a, []string{key}, []int{1})
}

// testAttemptsCaseSensitive: keys are opaque, so two that differ in
// letter case only are two records.
func testAttemptsCaseSensitive(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	key := newID("Attempt")
	other := swapCase(key)
	exp := now().Add(attemptsTTL)
	mustAddFailure(ctx, t, a, key, exp)
	mustAddFailure(ctx, t, a, key, exp)
	if got := mustAddFailure(ctx, t, a, other, exp); got.Failures != 1 {
		t.Errorf("AddFailure(%q) after two failures of %q: Failures = %d, want 1", other, key, got.Failures)
	}
	wantFailures(ctx, t, a, []string{key, other}, []int{2, 1})
	if err := a.ResetAttempts(ctx, other); err != nil {
		t.Fatalf("ResetAttempts(%q) error = %v", other, err)
	}
	wantFailures(ctx, t, a, []string{key, other}, []int{2, 0})
}

// testAttemptsNoAliasing: the records GetAttempts returns, and the keys it
// was given, are the caller's to change.
func testAttemptsNoAliasing(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	key, other := newID("attempt"), newID("attempt")
	mustAddFailure(ctx, t, a, key, now().Add(attemptsTTL))
	keys := []string{key, other}
	got, err := a.GetAttempts(ctx, keys...)
	if err != nil {
		t.Fatalf("GetAttempts() error = %v", err)
	}
	for i := range got {
		got[i].Failures += 100
		got[i].Last = time.Time{}
	}
	keys[0], keys[1] = other, key
	wantFailures(ctx, t, a, []string{key, other}, []int{1, 0})
	if got := mustAddFailure(ctx, t, a, key, now().Add(attemptsTTL)); got.Failures != 2 {
		t.Errorf("AddFailure() after the caller changed what GetAttempts returned: Failures = %d, want 2", got.Failures)
	}
}

// testAttemptsManyKeys: one GetAttempts of more keys than a page answers
// for every key, in order.
func testAttemptsManyKeys(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	keys := make([]string, volume)
	want := make([]int, volume)
	for i := range keys {
		keys[i] = newID("attempt")
		if i%3 == 0 {
			want[i] = 1
		}
	}
	exp := now().Add(attemptsTTL)
	forEach(ctx, t, volume, func(i int) error {
		if want[i] == 0 {
			return nil
		}
		_, err := a.AddFailure(ctx, keys[i], exp)
		return err
	})
	wantFailures(ctx, t, a, keys, want)
}

// testAttemptsConcurrent is the promise throttling rests on: N concurrent
// failures count N, however they interleave.
func testAttemptsConcurrent(ctx context.Context, t *testing.T, s store.Store) {
	a := attemptStore(t, s)
	for round := range rounds {
		key := newID("attempt")
		exp := now().Add(attemptsTTL)
		counts := make([]int, racers)
		errs := make([]error, racers)
		start(racers, func(i int) {
			var got store.Attempts
			got, errs[i] = a.AddFailure(ctx, key, exp)
			counts[i] = got.Failures
		})(ctx, t)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: AddFailure() call %d error = %v", round, i, err)
			}
		}
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("round %d: the %d concurrent AddFailure calls returned Failures %v, want each of 1 to %d once",
					round, racers, summarize(counts), racers)
			}
		}
		wantFailures(ctx, t, a, []string{key}, []int{racers})
	}
}

// summarize shortens a long sorted list of counts for a failure message.
func summarize(counts []int) string {
	if len(counts) <= 12 {
		return fmt.Sprint(counts)
	}
	return fmt.Sprintf("%v ... %v", counts[:6], counts[len(counts)-6:])
}
