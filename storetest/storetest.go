package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/oauth2kit/oauth2kit/store"
)

// NewStore returns a fresh, empty store that shares no records with any
// other store it returned. It is called once per subtest with that
// subtest's t (twice by Isolation/StoresShareNothing), so it can fail the
// subtest (t.Fatal) and release what it set up (t.Cleanup), and once by
// each of Run and RunConcurrency with their own t, for a store whose
// optional capabilities decide which subtests run. A failure inside it is
// reported as "storetest: setup".
type NewStore func(t *testing.T) store.Store

// Run runs the basic tier of the suite: one subtest per requirement listed
// in the package documentation, each on its own store from newStore.
//
// Subtests that wait for a record to expire run in parallel, so Run may
// return before they finish: release resources shared by all subtests with
// t.Cleanup, not defer.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	run(t, newStore, basic)
}

// RunConcurrency runs the concurrency tier: many goroutines calling one store
// at once. Run it under the race detector (go test -race).
func RunConcurrency(t *testing.T, newStore NewStore) {
	t.Helper()
	run(t, newStore, concurrency)
}

// requirement is one promise of the storage contract, tested on its own
// store in its own subtest.
type requirement struct {
	// name is "<Area>/<Requirement>", as listed in doc.go.
	name string
	// parallel is set for subtests that sleep until records expire, so
	// their waits overlap.
	parallel bool
	test     func(ctx context.Context, t *testing.T, s store.Store)
	// pair, set instead of test, takes two stores from the factory.
	pair func(ctx context.Context, t *testing.T, a, b store.Store)
}

var basic = []requirement{
	{name: "Refresh/RoundTrip", test: testRoundTrip},
	{name: "Refresh/NoAliasing", test: testNoAliasing},
	{name: "Refresh/CreateExistingIsAlreadyExists", test: testCreateExisting},
	{name: "Refresh/GetUnknownIsNotFound", test: testGetUnknown},
	{name: "Refresh/RotateConsumesAndStores", test: testRotate},
	{name: "Refresh/RotateChain", test: testRotateChain},
	{name: "Refresh/ConsumedIsReuse", test: testConsumedIsReuse},
	{name: "Refresh/RotateUnknownIsNotFound", test: testRotateUnknown},
	{name: "Refresh/RotateOtherGrantIsNotFound", test: testRotateOtherGrant},
	{name: "Refresh/RotateOntoTakenHashChangesNothing", test: testRotateOntoTaken},
	{name: "Refresh/CaseSensitiveIDs", test: testRefreshCaseSensitive},

	{name: "Expiry/CreatedExpiredNeverReturned", test: testCreatedExpired},
	{name: "Expiry/ExpiresWhileStored", parallel: true, test: testExpiresWhileStored},
	{name: "Expiry/RotateExpiredIsNotFound", parallel: true, test: testRotateExpired},
	{name: "Expiry/ConsumedExpires", parallel: true, test: testConsumedExpires},
	{name: "Expiry/SuccessorExpires", parallel: true, test: testSuccessorExpires},
	{name: "Expiry/ZeroExpiresAtIsPast", test: testZeroExpiresAt},
	{name: "Expiry/SuccessorKeepsOwnExpiry", parallel: true, test: testSuccessorKeepsOwnExpiry},

	{name: "Revocation/AccessToken", test: testRevokeAccessToken},
	{name: "Revocation/Grant", test: testRevokeGrant},
	{name: "Revocation/UnrelatedNotRevoked", test: testUnrelatedNotRevoked},
	{name: "Revocation/JTIAndGrantAreDistinct", test: testJTIAndGrantDistinct},
	{name: "Revocation/EmptyIDsNotLookedUp", test: testEmptyIDs},
	{name: "Revocation/PastExpiryNotRevoked", test: testPastExpiryNotRevoked},
	{name: "Revocation/GrantExpires", parallel: true, test: testGrantExpires},
	{name: "Revocation/AccessTokenExpires", parallel: true, test: testAccessTokenExpires},
	{name: "Revocation/RevokeAgainKeepsLaterExpiry", parallel: true, test: testRevokeAgainLater},
	{name: "Revocation/RevokeAgainKeepsLaterExpiryReversed", parallel: true, test: testRevokeAgainEarlier},
	{name: "Revocation/RevokedAgainExpires", parallel: true, test: testRevokedAgainExpires},
	{name: "Revocation/ZeroExpiryNotRevoked", test: testZeroExpiryNotRevoked},
	{name: "Revocation/CaseSensitiveIDs", test: testRevocationCaseSensitive},

	{name: "Errors/WrappedSentinels", test: testWrappedSentinels},

	{name: "Context/Cancelled", test: testCancelled},
	{name: "Context/DeadlineExceeded", test: testDeadlineExceeded},
	{name: "Context/CancelledLeavesNoState", test: testCancelledLeavesNoState},

	{name: "Isolation/StoresShareNothing", pair: testStoresShareNothing},

	{name: "DeleteExpired/RemovesExpired", parallel: true, test: testDeleteExpired},
	{name: "DeleteExpired/KeepsLive", test: testDeleteExpiredKeepsLive},
	{name: "DeleteExpired/RemovesMany", parallel: true, test: testDeleteExpiredMany},

	{name: "Keys/EmptyIsVersionZero", test: testKeysEmpty},
	{name: "Keys/RoundTrip", test: testKeysRoundTrip},
	{name: "Keys/StaleSwapConflicts", test: testKeysStaleSwapConflicts},
	{name: "Keys/Context", test: testKeysContext},
	{name: "Keys/NoAliasing", test: testKeysNoAliasing},

	{name: "Attempts/EmptyIsZero", test: testAttemptsEmpty},
	{name: "Attempts/AddCounts", test: testAttemptsCount},
	{name: "Attempts/KeysIndependent", test: testAttemptsKeysIndependent},
	{name: "Attempts/ResetForgets", test: testAttemptsReset},
	{name: "Attempts/Expires", parallel: true, test: testAttemptsExpire},
	{name: "Attempts/LaterExpiryKept", parallel: true, test: testAttemptsLaterExpiryKept},
	{name: "Attempts/Context", test: testAttemptsContext},
	{name: "Attempts/CaseSensitiveIDs", test: testAttemptsCaseSensitive},
	{name: "Attempts/NoAliasing", test: testAttemptsNoAliasing},
	{name: "Attempts/ManyKeys", test: testAttemptsManyKeys},

	{name: "Sessions/RoundTrip", test: testSessionsRoundTrip},
	{name: "Sessions/BySubject", test: testSessionsBySubject},
	{name: "Sessions/TouchOnlyLater", test: testSessionsTouch},
	{name: "Sessions/DeleteOwnOnly", test: testSessionsDelete},
	{name: "Sessions/Expire", parallel: true, test: testSessionsExpire},
	{name: "Sessions/Context", test: testSessionsContext},
	{name: "Sessions/TiesByGrantID", test: testSessionsTies},
	{name: "Sessions/CaseSensitiveIDs", test: testSessionsCaseSensitive},
	{name: "Sessions/NoAliasing", test: testSessionsNoAliasing},
	{name: "Sessions/TouchedExpires", parallel: true, test: testSessionsTouchedExpires},
	{name: "Sessions/ManyListed", test: testSessionsMany},

	{name: "Watch/Delivers", test: testWatchDelivers},
	{name: "Watch/Alive", parallel: true, test: testWatchAlive},
	{name: "Watch/EndsWithContext", test: testWatchEndsWithContext},
	{name: "Watch/ListRevocations", parallel: true, test: testListRevocations},
	{name: "Watch/Context", test: testWatchContext},
	{name: "Watch/NoAliasing", test: testWatchNoAliasing},
	{name: "Watch/ListManyRevocations", test: testListManyRevocations},
}

var concurrency = []requirement{
	{name: "Refresh/RotateIsAtomic", test: testRotateIsAtomic},
	{name: "Refresh/CreateIsAtomic", test: testCreateIsAtomic},
	{name: "Refresh/ConcurrentChainsIndependent", test: testConcurrentChains},
	{name: "Refresh/ConcurrentCallsOfOneRefresh", test: testConcurrentRefreshCalls},
	{name: "Revocation/ConcurrentRevokeAndCheck", test: testConcurrentRevokeAndCheck},
	{name: "Revocation/ConcurrentRevokeKeepsLaterExpiry", parallel: true, test: testConcurrentRevokeLater},
	{name: "Keys/SwapIsAtomic", test: testKeysSwapIsAtomic},
	{name: "Attempts/ConcurrentFailuresCounted", test: testAttemptsConcurrent},
	{name: "Sessions/ConcurrentCreatesKept", test: testSessionsConcurrent},
	{name: "Watch/ConcurrentRevocationsDelivered", test: testWatchConcurrentRevocations},
	{name: "Watch/NoConcurrentListenerCalls", parallel: true, test: testWatchNoConcurrentListenerCalls},
	{name: "DeleteExpired/ConcurrentRevivalKept", parallel: true, test: testDeleteExpiredConcurrentRevival},
}

func run(t *testing.T, newStore NewStore, reqs []requirement) {
	t.Helper()
	if timeScaleErr != nil {
		t.Fatalf("storetest: setup: %v", timeScaleErr)
	}
	// One store, made before the subtests, tells which optional
	// capabilities to test: one line says so for the whole tier, where a
	// skip message per subtest would bury it.
	probe := setup(t, newStore)
	have, lack := capabilitiesOf(probe)
	skipped := ""
	if len(lack) > 0 {
		skipped = " (their subtests are skipped)"
	}
	t.Logf("storetest: capabilities of %T: has %s; lacks %s%s", probe, listOrNone(have), listOrNone(lack), skipped)
	for _, r := range reqs {
		t.Run(r.name, func(t *testing.T) {
			if r.parallel {
				t.Parallel()
			}
			if c := capabilityOf(r.name); c != nil && slices.Contains(lack, c.name) {
				// Skipped rather than left out, so that go test -v and
				// test2json still count the requirement as untested.
				t.Skipf("storetest: the store lacks %s; see the capabilities line above", c.name)
			}
			s := setup(t, newStore)
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			if r.pair != nil {
				r.pair(ctx, t, s, setup(t, newStore))
				return
			}
			r.test(ctx, t, s)
		})
	}
}

// setup calls newStore, reporting a factory that fails or returns nil as
// setup, so that the failure is not read as the requirement of the subtest
// it happened in.
func setup(t *testing.T, newStore NewStore) store.Store {
	t.Helper()
	// The parent test may have failed already, in the other tier.
	failedBefore, returned := t.Failed(), false
	defer func() {
		// newStore called t.Fatal (or FailNow): the test is ending,
		// and this is the last word before it does.
		if !returned && t.Failed() && !failedBefore {
			t.Errorf("storetest: setup: NewStore failed (above) before it returned a store; nothing of %s was tested", t.Name())
		}
	}()
	s := newStore(t)
	returned = true
	if t.Failed() && !failedBefore {
		t.Fatalf("storetest: setup: NewStore reported an error (above); nothing of %s was tested", t.Name())
	}
	if s == nil {
		t.Fatalf("storetest: setup: NewStore returned nil; nothing of %s was tested", t.Name())
	}
	return s
}

// capability is an optional interface of package store, and the area of
// the subtests that need it.
type capability struct {
	area, name string
	has        func(store.Store) bool
}

func implements[I any](s store.Store) bool {
	_, ok := s.(I)
	return ok
}

var capabilities = []capability{
	{area: "DeleteExpired", name: "store.ExpiredDeleter", has: implements[store.ExpiredDeleter]},
	{area: "Keys", name: "store.KeyStore", has: implements[store.KeyStore]},
	{area: "Attempts", name: "store.AttemptStore", has: implements[store.AttemptStore]},
	{area: "Sessions", name: "store.SessionStore", has: implements[store.SessionStore]},
	{area: "Watch", name: "store.RevocationWatcher", has: implements[store.RevocationWatcher]},
}

// capabilityOf returns the capability the requirement named name needs,
// or nil if every store must pass it.
func capabilityOf(name string) *capability {
	area, _, _ := strings.Cut(name, "/")
	for i := range capabilities {
		if capabilities[i].area == area {
			return &capabilities[i]
		}
	}
	return nil
}

func capabilitiesOf(s store.Store) (have, lack []string) {
	for _, c := range capabilities {
		if c.has(s) {
			have = append(have, c.name)
		} else {
			lack = append(lack, c.name)
		}
	}
	return have, lack
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
