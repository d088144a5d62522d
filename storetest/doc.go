// Package storetest is the conformance suite of the oauth2kit storage
// contract. Every adapter of package store must pass it, and third-party
// adapters run it the same way ours do: the adapter's whole test is a
// factory and two calls.
//
//	func TestConformance(t *testing.T) {
//		newStore := func(t *testing.T) store.Store { return mystore.New(...) }
//		storetest.Run(t, newStore)
//		storetest.RunConcurrency(t, newStore)
//	}
//
// The factory is called once per subtest (twice in
// Isolation/StoresShareNothing, which checks this) and must return a fresh,
// empty store that shares no records with the others (a new key prefix or
// schema on a shared server is enough). Run and RunConcurrency each call it
// once more first, and log one line saying which optional capabilities
// (below) that store has and lacks; the subtests of a capability it lacks are
// skipped, pointing at that line. A factory that fails the test or returns
// nil is reported as "storetest: setup: ...", not as a broken requirement.
// Clean up with t.Cleanup rather than defer: the subtests that wait for
// records to expire run in parallel and may outlive the call to Run. Those
// waits are two to five seconds each (DeleteExpired/RemovesMany waits as long
// as its backlog took to store, twice over) and overlap up to go test's
// -parallel limit (GOMAXPROCS by default), so a larger -parallel shortens the
// run on a small machine. Each subtest fails after 30 seconds rather than
// hang, as long as the store honours its context. Run the suite under the
// race detector, go test -race; the concurrency tier is written for it.
//
// # Slow machines
//
// Every lifetime and limit of the suite (how soon records expire, the margin
// past an expiry, the 30 seconds per subtest, how long a revocation may take
// to reach a watcher, the heartbeat allowance) is multiplied by one setting,
// the environment variable STORETEST_TIME_SCALE: a number from 1 (the
// default) to 100. On a loaded CI runner,
//
//	STORETEST_TIME_SCALE=3 go test -race ./adapters/foostore
//
// gives every wait three times as long. A failure the suite's own timing may
// have caused says so and names the setting ("storetest: timing: ..."): a
// subtest that ran out of time while the suite waited, or a check of a
// record that must still be live that ended after the record had expired.
//
// Each requirement of the contract is one subtest, named <Area>/<Requirement>,
// so a failure such as
//
//	--- FAIL: TestConformance/Refresh/RotateIsAtomic
//
// names the promise below that the adapter broke. Both tiers run under the
// adapter's test, so the name does not say the tier; the rule that does is
// that a requirement of the concurrency tier, and none of the basic tier,
// has Concurrent or Atomic in its name. Go's -run and -skip flags then
// tell the tiers apart:
//
//	go test -race -run 'TestConformance//(Concurrent|Atomic)' ./adapters/foostore   # concurrency tier
//	go test -race -skip 'TestConformance//(Concurrent|Atomic)' ./adapters/foostore  # basic tier
//
// (the empty element between the slashes matches any area; the parentheses
// matter, as go test splits a pattern at a top-level | first). Times in the suite are
// truncated to the microsecond, the precision of PostgreSQL, and compared
// with time.Equal. Errors are matched with errors.Is only, so adapters are
// free to wrap the sentinels of package store.
//
// # Basic tier (Run)
//
// Refresh tokens:
//
//   - Refresh/RoundTrip: every field of a created token MUST come back from
//     GetRefreshToken unchanged: arbitrary Hash and SuccessorKey bytes,
//     Scope in its order (a nil and an empty Scope may be confused), all
//     times to the microsecond, and a zero ConsumedAt.
//   - Refresh/NoAliasing: mutating a slice passed to or returned by the store
//     MUST NOT change what the store holds.
//   - Refresh/CreateExistingIsAlreadyExists: CreateRefreshToken of a stored
//     Hash MUST fail with ErrAlreadyExists and leave the stored token as it was.
//   - Refresh/GetUnknownIsNotFound: GetRefreshToken of a Hash never stored
//     (including a prefix or an extension of a stored one) MUST fail with
//     ErrNotFound.
//   - Refresh/RotateConsumesAndStores: RotateRefreshToken MUST store the
//     successor and set the old token's ConsumedAt to the successor's
//     IssuedAt, changing nothing else; the consumed token MUST still be
//     returned by GetRefreshToken.
//   - Refresh/RotateChain: a successor MUST itself rotate, leaving every
//     earlier token consumed at its own successor's IssuedAt.
//   - Refresh/ConsumedIsReuse: rotating a consumed token MUST fail with
//     ErrReused, MUST NOT store the rejected successor, and MUST NOT change
//     the consumed token or its first successor.
//   - Refresh/RotateUnknownIsNotFound: rotating a Hash never stored MUST
//     fail with ErrNotFound and MUST NOT store the successor.
//   - Refresh/RotateOtherGrantIsNotFound: rotating with a successor whose
//     GrantID is not the old token's MUST fail with ErrNotFound and change
//     nothing (the old token is looked up under the successor's grant).
//   - Refresh/RotateOntoTakenHashChangesNothing: rotating onto a successor
//     whose Hash is taken (by another token or by the old one) MUST fail
//     with ErrAlreadyExists and MUST NOT consume the old token or change
//     the other: either both halves of a rotation happen or neither does.
//     When the old token is consumed too, it MUST fail with ErrReused.
//   - Refresh/CaseSensitiveIDs: rotating with a successor whose GrantID
//     differs from the old token's in letter case only MUST fail with
//     ErrNotFound and change nothing: ids are compared byte for byte.
//
// Expiry:
//
//   - Expiry/CreatedExpiredNeverReturned: CreateRefreshToken of a token whose
//     ExpiresAt has passed MUST succeed (storing it or not), and the token
//     MUST NOT be returned or rotated (ErrNotFound).
//   - Expiry/ExpiresWhileStored: a token MUST be returned before its
//     ExpiresAt and MUST NOT be returned (ErrNotFound) after it.
//   - Expiry/RotateExpiredIsNotFound: rotating a token whose ExpiresAt has
//     passed MUST fail with ErrNotFound and MUST NOT store the successor.
//   - Expiry/ConsumedExpires: consuming a token MUST keep its ExpiresAt, so
//     once that passes it is gone and rotating it fails with ErrNotFound,
//     not ErrReused.
//   - Expiry/SuccessorExpires: a successor MUST expire at its own ExpiresAt.
//   - Expiry/ZeroExpiresAtIsPast: a token with a zero ExpiresAt MUST be
//     accepted and MUST NOT be returned or rotated (the zero time is past,
//     not "never"), and its Hash MUST then be free to create again.
//   - Expiry/SuccessorKeepsOwnExpiry: a successor that expires after the
//     token it replaced MUST outlive it, and still rotate.
//
// Revocation:
//
//   - Revocation/AccessToken: after RevokeAccessToken(jti), IsRevoked MUST
//     report true for that jti, whatever the grant.
//   - Revocation/Grant: after RevokeGrant(id), IsRevoked MUST report true for
//     that grant, whatever the jti.
//   - Revocation/UnrelatedNotRevoked: IsRevoked MUST report false for ids
//     never revoked, including prefixes and extensions of revoked ones.
//   - Revocation/JTIAndGrantAreDistinct: revoking a jti MUST NOT revoke a
//     grant with the same id, nor the reverse.
//   - Revocation/EmptyIDsNotLookedUp: IsRevoked MUST treat an empty jti or
//     grant id as absent, so IsRevoked(ctx, "", "") is false, even if the
//     store accepted a revocation of the empty id.
//   - Revocation/PastExpiryNotRevoked: a revocation whose expiry has passed
//     MUST be accepted and MUST NOT revoke anything.
//   - Revocation/GrantExpires: a grant revocation MUST stop applying once its
//     expiry passes.
//   - Revocation/AccessTokenExpires: an access-token revocation MUST stop
//     applying once its expiry passes.
//   - Revocation/RevokeAgainKeepsLaterExpiry: revoking again with a later
//     expiry MUST extend the revocation.
//   - Revocation/RevokeAgainKeepsLaterExpiryReversed: revoking again with an
//     earlier expiry MUST NOT shorten the revocation.
//   - Revocation/RevokedAgainExpires: a revocation extended by revoking
//     again MUST stop applying once the later expiry passes.
//   - Revocation/ZeroExpiryNotRevoked: a revocation with a zero expiry MUST
//     be accepted and MUST NOT revoke anything, nor shorten a revocation
//     made before it, nor hold back one made after it.
//   - Revocation/CaseSensitiveIDs: a jti or grant id that differs from a
//     revoked one in letter case only MUST NOT be revoked.
//
// Errors and contexts:
//
//   - Errors/WrappedSentinels: every failure the contract names MUST match
//     its sentinel (ErrNotFound, ErrReused, ErrAlreadyExists) under
//     errors.Is, and no other sentinel or context error.
//   - Context/Cancelled: with a cancelled context every method of
//     store.Store and store.ExpiredDeleter MUST fail with an error matching
//     context.Canceled, and never ErrNotFound.
//   - Context/DeadlineExceeded: with a context past its deadline every
//     such method MUST fail with an error matching
//     context.DeadlineExceeded, and never ErrNotFound.
//   - Context/CancelledLeavesNoState: a Create, Rotate or Revoke called with
//     a cancelled context MUST NOT change anything.
//
// Isolation:
//
//   - Isolation/StoresShareNothing: two stores from one NewStore MUST NOT
//     see each other's records, in any capability both have: a record of
//     one is not found in the other, and writing the same keys to the
//     other succeeds and leaves the first store's record as it was.
//
// Optional capability store.ExpiredDeleter; stores that do not implement it
// skip these subtests:
//
//   - DeleteExpired/RemovesExpired: DeleteExpired MUST remove every record
//     (refresh token, consumed or not, revocation, and the attempt records
//     and sessions of a store that keeps them) whose expiry has passed,
//     report at least as many as were stored, report 0 when called again,
//     and keep every unexpired record.
//   - DeleteExpired/KeepsLive: DeleteExpired on a store holding only
//     unexpired records MUST report 0 and remove nothing.
//   - DeleteExpired/RemovesMany: one DeleteExpired MUST remove a backlog of
//     expired records larger than a page or batch (over 1000 refresh
//     tokens, and revocations), all of it, and keep every unexpired record.
//
// Optional capability store.KeyStore (signing keys shared by instances);
// stores that do not implement it skip these subtests:
//
//   - Keys/EmptyIsVersionZero: before any swap, GetKeySet MUST return
//     version 0 and no keys.
//   - Keys/RoundTrip: every field of every key MUST round-trip in order, the
//     returned version MUST be non-zero, and later changes to the caller's
//     slices MUST NOT reach the stored set.
//   - Keys/StaleSwapConflicts: a swap from any version but the stored one
//     (0 over a stored set, an older or an unknown version) MUST fail with
//     ErrConflict and store nothing; a swap from the stored version MUST
//     store the set under a new version.
//   - Keys/Context: with a cancelled context, or one past its deadline,
//     GetKeySet and SwapKeySet MUST fail with an error matching the
//     context's error, never ErrNotFound, and store nothing.
//   - Keys/NoAliasing: mutating the keys GetKeySet returned MUST NOT change
//     the stored set.
//
// Optional capability store.AttemptStore (failed credential checks counted
// for throttling); stores that do not implement it skip these subtests:
//
//   - Attempts/EmptyIsZero: GetAttempts MUST return one zero record per key
//     without a live record, in order, and nothing for no keys.
//   - Attempts/AddCounts: successive AddFailure calls on one key MUST return
//     Failures 1, 2, 3, with Last the time of each call, never going back;
//     GetAttempts MUST report the same.
//   - Attempts/KeysIndependent: failures under one key MUST NOT show under
//     another, and GetAttempts MUST answer in the order of its keys, a key
//     given twice included.
//   - Attempts/ResetForgets: after ResetAttempts a key MUST report no
//     failures and count from 1 again, other keys MUST keep theirs, and
//     resetting an unknown key MUST succeed.
//   - Attempts/Expires: a record MUST be gone once its expiry has passed,
//     and AddFailure MUST then start a new record at 1.
//   - Attempts/LaterExpiryKept: an AddFailure with an earlier expiry than
//     the record has MUST NOT shorten it.
//   - Attempts/Context: with a cancelled context, or one past its deadline,
//     AddFailure, GetAttempts and ResetAttempts MUST fail with an error
//     matching the context's error, never ErrNotFound, and change nothing.
//   - Attempts/CaseSensitiveIDs: keys that differ in letter case only MUST
//     be counted and reset apart.
//   - Attempts/NoAliasing: mutating the records GetAttempts returned, or
//     the keys it was given, MUST NOT change what the store holds.
//   - Attempts/ManyKeys: GetAttempts of more keys than a page (over 1000)
//     MUST answer for every key, in order.
//
// Optional capability store.SessionStore (a record of every grant by its
// subject); stores that do not implement it skip these subtests:
//
//   - Sessions/RoundTrip: every field of a created session MUST come back
//     from ListSessions unchanged (times to the microsecond), later changes
//     to the caller's Scope MUST NOT reach it, and creating a live GrantID
//     again MUST fail with ErrAlreadyExists.
//   - Sessions/BySubject: ListSessions MUST return the subject's sessions
//     only, oldest first whatever the order they were created in.
//   - Sessions/TouchOnlyLater: TouchSession MUST move RefreshedAt and
//     ExpiresAt forward and never back, and MUST succeed, changing
//     nothing, for a grant without a session.
//   - Sessions/DeleteOwnOnly: DeleteSession MUST forget the session, MUST
//     leave it when another subject names its grant, and MUST succeed for
//     a session that does not exist.
//   - Sessions/Expire: a session MUST NOT be listed once its ExpiresAt has
//     passed, and its GrantID MUST then be free to create again.
//   - Sessions/Context: with a cancelled context, or one past its
//     deadline, every method MUST fail with an error matching the
//     context's error, never ErrNotFound, and change nothing.
//   - Sessions/TiesByGrantID: sessions with equal CreatedAt MUST be listed
//     by GrantID in byte order (as Go compares strings: "A" < "Z" < "a").
//   - Sessions/CaseSensitiveIDs: subjects and grant ids that differ in
//     letter case only MUST name different sessions, which neither
//     CreateSession, TouchSession nor DeleteSession confuses.
//   - Sessions/NoAliasing: mutating the sessions ListSessions returned MUST
//     NOT change what the store holds.
//   - Sessions/TouchedExpires: a touched session MUST be listed until the
//     ExpiresAt of the touch, past the one it was created with, and MUST
//     NOT be listed after it.
//   - Sessions/ManyListed: ListSessions of a subject with more sessions
//     than a page (over 1000) MUST return every one, oldest first.
//
// Optional capability store.RevocationWatcher (revocations pushed to an
// in-memory view); stores that do not implement it skip these subtests:
//
//   - Watch/Delivers: once WatchRevocations has called Alive, every later
//     RevokeGrant and RevokeAccessToken MUST be delivered to Revoked with its
//     id and expiry (to the millisecond).
//   - Watch/Alive: a quiet subscription MUST keep calling Alive, at least
//     every store.WatchHeartbeat (the suite allows three times that).
//   - Watch/EndsWithContext: cancelling the context MUST end
//     WatchRevocations with an error matching context.Canceled.
//   - Watch/ListRevocations: ListRevocations MUST list every revocation
//     that has not expired, and none that has.
//   - Watch/Context: with a cancelled context, or one past its deadline,
//     ListRevocations and WatchRevocations MUST fail with an error matching
//     the context's error, never ErrNotFound, WatchRevocations promptly.
//   - Watch/NoAliasing: mutating the list ListRevocations returned MUST NOT
//     change what a later call lists.
//   - Watch/ListManyRevocations: ListRevocations MUST list every one of
//     more revocations than a page (over 1000).
//
// # Concurrency tier (RunConcurrency)
//
//   - Refresh/RotateIsAtomic: of 128 concurrent rotations of one token, each
//     with its own successor, exactly one MUST succeed, every other MUST
//     fail with ErrReused, and only the winner's successor MUST be stored.
//   - Refresh/CreateIsAtomic: of 128 concurrent creates of one Hash, exactly
//     one MUST succeed, every other MUST fail with ErrAlreadyExists, and the
//     winner's token MUST be the one stored.
//   - Refresh/ConcurrentChainsIndependent: 64 grants rotated concurrently,
//     each along its own chain, MUST NOT interfere: each chain ends with its
//     last token unconsumed and every earlier one consumed.
//   - Refresh/ConcurrentCallsOfOneRefresh: for 64 grants at once, the
//     calls of a refresh on one grant overlap as package oauth2 makes them
//     (GetRefreshToken beside IsRevoked, RotateRefreshToken beside
//     TouchSession): each MUST answer as it would alone, and every rotation
//     and touch MUST be kept. (The touches only with store.SessionStore.)
//   - Revocation/ConcurrentRevokeAndCheck: a revocation MUST be visible to
//     IsRevoked as soon as it returns, and MUST stay visible to concurrent
//     readers once they saw it; unrelated ids MUST stay unrevoked.
//   - Revocation/ConcurrentRevokeKeepsLaterExpiry: of concurrent revocations
//     of one id with different expiries, the latest expiry MUST be kept,
//     whatever order they land in.
//   - Keys/SwapIsAtomic: of 64 concurrent swaps from one version, exactly
//     one MUST succeed, every other MUST fail with ErrConflict, and the
//     winner's set MUST be the one stored. (Skipped without store.KeyStore.)
//   - Attempts/ConcurrentFailuresCounted: of 128 concurrent AddFailure
//     calls on one key, each MUST be counted once: they MUST return each
//     Failures from 1 to 128 exactly once, and the record MUST end at 128.
//     (Skipped without store.AttemptStore.)
//   - Sessions/ConcurrentCreatesKept: of 128 sessions of one subject created
//     concurrently, every one MUST be listed. (Skipped without
//     store.SessionStore.)
//   - Watch/ConcurrentRevocationsDelivered: of 64 concurrent revocations
//     every one MUST be delivered to a watcher. (Skipped without
//     store.RevocationWatcher.)
//   - Watch/NoConcurrentListenerCalls: the watcher MUST call the
//     listener's Alive and Revoked from one goroutine at a time, never
//     overlapping, while revocations arrive across heartbeats. (Skipped
//     without store.RevocationWatcher.)
//   - DeleteExpired/ConcurrentRevivalKept: a record revived while
//     DeleteExpired runs (an expired token's Hash created again, an expired
//     revocation revoked again, each with a later expiry) MUST be kept.
//     (Skipped without store.ExpiredDeleter.)
//
// # The fault tier (RunFaults)
//
// The tiers above see a healthy backend only. The fault tier breaks the
// network between the store and its backend on purpose, so that a failure
// to reach the backend cannot pass for an answer from it. It applies to
// adapters that reach their backend over TCP (sqlitestore and memstore
// have no network to break); the adapter's test adds one call, with the
// backend's host:port and a factory that builds the store's client to dial
// another address:
//
//	storetest.RunFaults(t, []string{"localhost:6379"}, func(t *testing.T, addrs []string) store.Store {
//		client := redis.NewClient(&redis.Options{Addr: addrs[0], ContextTimeoutEnabled: true})
//		t.Cleanup(func() { client.Close() })
//		return mystore.New(client, mystore.WithKeyPrefix(newPrefix()))
//	})
//
// The suite puts a TCP proxy of its own, in process, in front of each
// server (one address per server, so that a cluster's nodes each get one;
// a single-server adapter uses addrs[0]), and each subtest gets its own
// proxies and its own fresh store, which must share no records with the
// others, as for NewStore. The client must not be shared between stores:
// the suite breaks each one's connections. The subtests run in parallel,
// about ten seconds in all. The proxy produces these faults, each on new
// connections and on those the store's pool already holds:
//
//   - refused connections: the listener closes and open connections are reset; on
//     recovery it listens on the same port again;
//   - a hung server: connections are accepted and nothing is passed on either way;
//     on recovery the connections that saw the hang are reset;
//   - a lost reply: a request reaches the server, and its reply is dropped
//     with the connection, reset, so the client cannot know what happened;
//   - one lost reply: only the first reply after the fault is armed is
//     lost; a client that retries gets the answer to its retry;
//   - slow replies: every reply is held back past the call's deadline, then
//     delivered.
//
// Every call made during a fault has a deadline of one second and may take
// one second more to return (the slack); the store must answer again
// within ten seconds of the backend's return, and a broken watch must end
// within six. All are multiplied by STORETEST_TIME_SCALE. The requirements
// are in the area Faults, so go test -run 'TestConformance/Faults/' runs
// the tier alone and -skip 'TestConformance/Faults/' leaves it out:
//
//   - Faults/RefusedIsAnError: with connections refused, every method the
//     store has MUST fail, within its context's deadline plus the slack,
//     with an error matching none of ErrNotFound, ErrReused,
//     ErrAlreadyExists and ErrConflict; IsRevoked MUST NOT return false
//     with a nil error (failing open), and WatchRevocations MUST NOT call
//     Alive.
//   - Faults/HungIsAnError: with a hung server, the same MUST hold.
//   - Faults/LostReplyIsAnError: with every reply lost, the same MUST hold.
//   - Faults/SlowIsAnError: with replies later than the deadline, the same
//     MUST hold.
//   - Faults/Recovers: after each of the four faults above, with the calls
//     made during it leaving broken connections in the pool, the same store
//     (not a new one) MUST serve every method again, and watch and deliver
//     revocations, within the recovery limit (a call failing with no
//     sentinel is made again until then, as a caller would; a create or
//     rotation whose first try failed in transit may have left its new
//     hash reserved, as package store allows, and is made again with
//     another).
//   - Faults/LostWriteWholeOrNothing: a write whose reply is lost
//     (CreateRefreshToken, RotateRefreshToken, RevokeGrant,
//     RevokeAccessToken, SwapKeySet, AddFailure, ResetAttempts,
//     CreateSession, TouchSession, DeleteSession, those the store has) MUST
//     fail with no sentinel, and once the backend is back the store MUST
//     show it done whole or not at all: a rotation both consumed the old
//     token and stored its successor, or neither; a failure counted once or
//     not at all.
//   - Faults/RetryNotMisreported: when only the first reply of a write is
//     lost, the write MUST return nil or an error matching no sentinel
//     (a retried rotation MUST NOT report its own success as ErrReused, a
//     retried create or swap as ErrAlreadyExists or ErrConflict), MUST be
//     done whole or not at all, and whole if it returned nil, counted once.
//   - Faults/WatchEndsOnFailure: when the connection under a working
//     watch is refused, hung or reset, WatchRevocations MUST NOT call Alive
//     from a quarter of a second after the break, and MUST return a non-nil
//     error matching no sentinel within six seconds, so that a RevocationView
//     stops trusting itself (it does MaxStaleness after the last Alive),
//     resubscribes and lists again; once the backend is back, a revocation
//     made meanwhile (one that reached the backend while replies were lost,
//     or one made before the next watch) MUST be listed by ListRevocations,
//     and a new watch MUST deliver. (A watch that keeps calling Alive on a slow connection that
//     still delivers is not judged.)
package storetest
