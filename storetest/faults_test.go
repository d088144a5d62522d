package storetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// The fault tier is only worth running if it fails adapters that mishandle
// a failing backend, and only those. Each broken netstore below fails the
// way a real adapter could; TestFaultTierCatchesBrokenStores runs every
// tier on it in a subprocess, as TestSuiteCatchesBrokenStores does, and
// checks that the fault requirements listed, and no other requirement of
// any tier, fail: the basic and concurrency tiers cannot see these bugs.

const faultsBrokenEnv = "STORETEST_FAULTS_BROKEN"

type faultsBrokenCase struct {
	name string
	wrap func(*netStore) store.Store
	// wantFail are exactly the requirements that must fail.
	wantFail []string
}

var faultsBrokenCases = []faultsBrokenCase{
	{
		name: "IsRevokedFailsOpen",
		wrap: func(s *netStore) store.Store { return failsOpen{s} },
		// Under a hung or slow server the call fails at its deadline,
		// when the context's error is there to keep: only the faults
		// that fail at once catch it.
		wantFail: []string{"Faults/RefusedIsAnError", "Faults/LostReplyIsAnError"},
	},
	{
		name: "GetErrorIsNotFound",
		wrap: func(s *netStore) store.Store { return errorIsNotFound{s} },
		// Under a hung or slow server the call fails at its deadline,
		// when the context's error is there to keep: only the faults
		// that fail at once catch it.
		wantFail: []string{"Faults/RefusedIsAnError", "Faults/LostReplyIsAnError"},
	},
	{
		name:     "RotateRetried",
		wrap:     func(s *netStore) store.Store { return rotateRetried{s} },
		wantFail: []string{"Faults/RetryNotMisreported"},
	},
	{
		name: "ReplyOutlivesDeadline",
		wrap: func(s *netStore) store.Store {
			s.replyTimeout = 3 * faultLatency
			return s
		},
		// Every other call either fails at once or is answered in time;
		// the basic tier's contexts end before anything is sent.
		wantFail: []string{"Faults/HungIsAnError", "Faults/SlowIsAnError"},
	},
	{
		name:     "WatchResubscribesQuietly",
		wrap:     func(s *netStore) store.Store { return resubscribesQuietly{s} },
		wantFail: []string{"Faults/WatchEndsOnFailure"},
	},
	{
		name: "GivesUpAfterTimeout",
		wrap: func(s *netStore) store.Store {
			s.timeoutIsFatal = true
			return s
		},
		// Only a hung or slow backend makes a call time out, and only
		// Recovers goes on calling the same store after one: the
		// basic tier's contexts end before anything is sent, and
		// watches are left alone.
		wantFail: []string{"Faults/Recovers"},
	},
	{
		name: "TouchSessionInTwo",
		wrap: func(s *netStore) store.Store { return touchesInTwo{s} },
		// A single lost reply is retried away; only replies lost for
		// the whole call leave half the touch behind.
		wantFail: []string{"Faults/LostWriteWholeOrNothing"},
	},
}

// TestFaultsBroken is the subprocess side: every tier on the netstore named
// by $STORETEST_FAULTS_BROKEN ("netstore" for the correct one).
func TestFaultsBroken(t *testing.T) {
	name := os.Getenv(faultsBrokenEnv)
	if name == "" {
		t.Skip("helper process for TestFaultTierCatchesBrokenStores")
	}
	wrap := func(s *netStore) store.Store { return s }
	if name != "netstore" {
		i := slices.IndexFunc(faultsBrokenCases, func(c faultsBrokenCase) bool { return c.name == name })
		if i < 0 {
			t.Fatalf("%s=%q names no broken store", faultsBrokenEnv, name)
		}
		wrap = faultsBrokenCases[i].wrap
	}
	srv := startNetServer(t)
	newStore := func(*testing.T) store.Store { return wrap(newNetStore(srv.addr())) }
	Run(t, newStore)
	RunConcurrency(t, newStore)
	RunFaults(t, []string{srv.addr()}, func(_ *testing.T, addrs []string) store.Store {
		return wrap(newNetStore(addrs[0]))
	})
}

// volumeRequirements matches, as a -test.skip pattern, the requirements
// that store a thousand records or more. Over the netstore, a connection per
// call, they are most of a run's work; the broken netstores change none of
// the calls those requirements make beyond what others check, so their runs
// leave them out, while TestFaultTierPassesNetstore runs them on the
// correct one. Seven runs of them at once overran the suite's own limits on
// a loaded two-core machine.
const volumeRequirements = "^TestFaultsBroken$/^(DeleteExpired|Attempts|Sessions|Watch)$/^(RemovesMany|ManyKeys|ManyListed|ListManyRevocations)$"

// runFaultsBroken runs TestFaultsBroken on the named store and returns its
// output, whether it passed, and the requirements that failed; skip, if not
// empty, is a -test.skip pattern.
func runFaultsBroken(t *testing.T, name, skip string) (out string, passed bool, failed []string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run=^TestFaultsBroken$", "-test.skip="+skip, "-test.v", "-test.count=1",
		// Let every expiry wait, and every fault subtest, overlap.
		"-test.parallel=64", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), faultsBrokenEnv+"="+name)
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %v: %v", cmd.Args, err)
	}
	out, passed = string(b), err == nil
	for _, m := range regexp.MustCompile(`--- FAIL: TestFaultsBroken/([A-Za-z]+/[A-Za-z]+) `).FindAllStringSubmatch(out, -1) {
		failed = append(failed, m[1])
	}
	slices.Sort(failed)
	return out, passed, slices.Compact(failed)
}

func TestFaultTierCatchesBrokenStores(t *testing.T) {
	if os.Getenv(faultsBrokenEnv) != "" || os.Getenv(brokenEnv) != "" {
		t.Skip("already in a helper process")
	}
	var caught atomic.Int64
	// Cleanups run once every parallel subtest has finished.
	t.Cleanup(func() { t.Logf("caught %d of %d broken netstores", caught.Load(), len(faultsBrokenCases)) })
	for _, tc := range faultsBrokenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, passed, failed := runFaultsBroken(t, tc.name, volumeRequirements)
			if passed {
				t.Errorf("suite on %s passed, want it to fail", tc.name)
			}
			want := slices.Sorted(slices.Values(tc.wantFail))
			if !slices.Equal(failed, want) {
				t.Errorf("suite on %s failed %q, want exactly %q", tc.name, failed, want)
			}
			if t.Failed() {
				t.Logf("subprocess output:\n%s", out)
				return
			}
			caught.Add(1)
		})
	}
}

// TestEveryFaultRequirementHasBrokenStore checks that every requirement of
// the fault tier is failed by at least one broken netstore, as
// TestEveryRequirementHasBrokenStore does for the other tiers: a
// requirement no broken store fails could pass every store, broken or not.
func TestEveryFaultRequirementHasBrokenStore(t *testing.T) {
	covered := map[string][]string{}
	for _, tc := range faultsBrokenCases {
		for _, req := range tc.wantFail {
			covered[req] = append(covered[req], tc.name)
		}
	}
	names := map[string]bool{}
	for _, r := range faults {
		names[r.name] = true
		if len(covered[r.name]) == 0 {
			t.Errorf("%s: no broken netstore in faultsBrokenCases fails it", r.name)
		}
	}
	for req, by := range covered {
		if !names[req] {
			t.Errorf("faultsBrokenCases %v want %s to fail, which the fault tier does not test", by, req)
		}
	}
	t.Logf("%d fault requirements, each failed by at least one of %d broken netstores", len(names), len(faultsBrokenCases))
}

// TestFaultTierPassesNetstore checks the other half: the correct netstore
// passes every requirement of every tier, none skipped.
func TestFaultTierPassesNetstore(t *testing.T) {
	if os.Getenv(faultsBrokenEnv) != "" || os.Getenv(brokenEnv) != "" {
		t.Skip("already in a helper process")
	}
	t.Parallel()
	out, passed, failed := runFaultsBroken(t, "netstore", "")
	if !passed || len(failed) > 0 {
		t.Errorf("suite on netstore failed %q, want it to pass", failed)
	}
	var names []string
	for _, r := range slices.Concat(basic, concurrency) {
		names = append(names, r.name)
	}
	for _, r := range faults {
		names = append(names, r.name)
	}
	for _, name := range names {
		if !strings.Contains(out, "--- PASS: TestFaultsBroken/"+name+" ") {
			t.Errorf("suite on netstore: %s did not pass", name)
		}
	}
	if t.Failed() {
		t.Logf("subprocess output:\n%s", out)
	}
}

// failsOpen's IsRevoked answers "not revoked" when it cannot ask: the
// failure the whole tier exists for.
type failsOpen struct{ *netStore }

func (s failsOpen) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	revoked, err := s.netStore.IsRevoked(ctx, jti, grantID)
	if err != nil && ctx.Err() == nil {
		return false, nil
	}
	return revoked, err
}

// errorIsNotFound's GetRefreshToken reports any failure but its context's
// as ErrNotFound, as `if err != nil { return ErrNotFound }` after a driver
// call does.
type errorIsNotFound struct{ *netStore }

func (s errorIsNotFound) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	tok, err := s.netStore.GetRefreshToken(ctx, hash)
	if err != nil && ctx.Err() == nil {
		return tok, store.ErrNotFound
	}
	return tok, err
}

// rotateRetried runs a rotation again when the first attempt failed in
// transit, as a client with automatic retries does: if the first attempt
// took effect, the second reports ErrReused.
type rotateRetried struct{ *netStore }

func (s rotateRetried) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	err := s.netStore.RotateRefreshToken(ctx, oldHash, next)
	if err != nil && ctx.Err() == nil && storeSentinel(err) == "" {
		err = s.netStore.RotateRefreshToken(ctx, oldHash, next)
	}
	return err
}

// resubscribesQuietly reconnects its watch when it fails instead of
// returning, as go-redis's PubSub does on its own: revocations published
// meanwhile are lost, and its caller never learns to resynchronise.
type resubscribesQuietly struct{ *netStore }

func (s resubscribesQuietly) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	for {
		err := s.netStore.WatchRevocations(ctx, h)
		if ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// touchesInTwo's TouchSession is two writes, RefreshedAt then ExpiresAt
// (the zero time leaves a field alone), each retried once if it failed in
// transit, as a driver retries idempotent commands: when the first one's
// reply is lost for good, the call fails with half of it done.
type touchesInTwo struct{ *netStore }

func (s touchesInTwo) TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
	touch := func(at, expiresAt time.Time) error {
		err := s.netStore.TouchSession(ctx, subject, grantID, at, expiresAt)
		if err != nil && ctx.Err() == nil && storeSentinel(err) == "" {
			err = s.netStore.TouchSession(ctx, subject, grantID, at, expiresAt)
		}
		return err
	}
	if err := touch(at, time.Time{}); err != nil {
		return err
	}
	return touch(time.Time{}, expiresAt)
}
