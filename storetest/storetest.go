package storetest

import (
	"context"
	"testing"

	"github.com/oauth2kit/oauth2kit/store"
)

// NewStore returns a fresh, empty store that shares no records with any
// other store it returned. It is called once per subtest with that subtest's
// t, so it can fail the subtest (t.Fatal) and release what it set up
// (t.Cleanup).
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

	{name: "Expiry/CreatedExpiredNeverReturned", test: testCreatedExpired},
	{name: "Expiry/ExpiresWhileStored", parallel: true, test: testExpiresWhileStored},
	{name: "Expiry/RotateExpiredIsNotFound", parallel: true, test: testRotateExpired},
	{name: "Expiry/ConsumedExpires", parallel: true, test: testConsumedExpires},
	{name: "Expiry/SuccessorExpires", parallel: true, test: testSuccessorExpires},

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

	{name: "Errors/WrappedSentinels", test: testWrappedSentinels},

	{name: "Context/Cancelled", test: testCancelled},
	{name: "Context/DeadlineExceeded", test: testDeadlineExceeded},
	{name: "Context/CancelledLeavesNoState", test: testCancelledLeavesNoState},

	{name: "DeleteExpired/RemovesExpired", parallel: true, test: testDeleteExpired},
	{name: "DeleteExpired/KeepsLive", test: testDeleteExpiredKeepsLive},

	{name: "Keys/EmptyIsVersionZero", test: testKeysEmpty},
	{name: "Keys/RoundTrip", test: testKeysRoundTrip},
	{name: "Keys/StaleSwapConflicts", test: testKeysStaleSwapConflicts},
	{name: "Keys/Context", test: testKeysContext},

	{name: "Attempts/EmptyIsZero", test: testAttemptsEmpty},
	{name: "Attempts/AddCounts", test: testAttemptsCount},
	{name: "Attempts/KeysIndependent", test: testAttemptsKeysIndependent},
	{name: "Attempts/ResetForgets", test: testAttemptsReset},
	{name: "Attempts/Expires", parallel: true, test: testAttemptsExpire},
	{name: "Attempts/LaterExpiryKept", parallel: true, test: testAttemptsLaterExpiryKept},
	{name: "Attempts/Context", test: testAttemptsContext},

	{name: "Sessions/RoundTrip", test: testSessionsRoundTrip},
	{name: "Sessions/BySubject", test: testSessionsBySubject},
	{name: "Sessions/TouchOnlyLater", test: testSessionsTouch},
	{name: "Sessions/DeleteOwnOnly", test: testSessionsDelete},
	{name: "Sessions/Expire", parallel: true, test: testSessionsExpire},
	{name: "Sessions/Context", test: testSessionsContext},

	{name: "Watch/Delivers", test: testWatchDelivers},
	{name: "Watch/Alive", parallel: true, test: testWatchAlive},
	{name: "Watch/EndsWithContext", test: testWatchEndsWithContext},
	{name: "Watch/ListRevocations", parallel: true, test: testListRevocations},
}

var concurrency = []requirement{
	{name: "Refresh/RotateIsAtomic", test: testRotateIsAtomic},
	{name: "Refresh/CreateIsAtomic", test: testCreateIsAtomic},
	{name: "Refresh/ConcurrentChainsIndependent", test: testConcurrentChains},
	{name: "Revocation/ConcurrentRevokeAndCheck", test: testConcurrentRevokeAndCheck},
	{name: "Revocation/ConcurrentRevokeKeepsLaterExpiry", parallel: true, test: testConcurrentRevokeLater},
	{name: "Keys/SwapIsAtomic", test: testKeysSwapIsAtomic},
	{name: "Attempts/ConcurrentFailuresCounted", test: testAttemptsConcurrent},
	{name: "Sessions/ConcurrentCreatesKept", test: testSessionsConcurrent},
	{name: "Watch/ConcurrentRevocationsDelivered", test: testWatchConcurrentRevocations},
}

func run(t *testing.T, newStore NewStore, reqs []requirement) {
	t.Helper()
	if timeScaleErr != nil {
		t.Fatalf("storetest: setup: %v", timeScaleErr)
	}
	for _, r := range reqs {
		t.Run(r.name, func(t *testing.T) {
			if r.parallel {
				t.Parallel()
			}
			s := newStore(t)
			if s == nil {
				t.Fatal("storetest: NewStore returned nil")
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			r.test(ctx, t, s)
		})
	}
}
