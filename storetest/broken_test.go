package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// The suite is only worth running if it fails broken adapters. Each broken
// store below and in broken_stores_test.go wraps memstore and breaks one
// promise the way a real adapter could; TestSuiteCatchesBrokenStores runs
// the suite on it in a subprocess (a failing *testing.T cannot be faked in
// process) and checks that the subtests for that promise are the ones that
// fail, and TestEveryRequirementHasBrokenStore that every requirement has
// a broken store that fails it.

const brokenEnv = "STORETEST_BROKEN"

type brokenCase struct {
	name     string
	newStore func() store.Store
	// wantFail are the requirements that must fail. The subprocess runs
	// only these (see requirementsPattern), to keep it fast, and any other
	// requirement it runs that fails is an error too: each broken store
	// stands for the promises it names.
	wantFail []string
}

var brokenCases = slices.Concat([]brokenCase{
	{
		name:     "NonAtomicRotate",
		newStore: func() store.Store { return nonAtomicRotate{memstore.New()} },
		wantFail: []string{"Refresh/RotateIsAtomic"},
	},
	{
		name:     "NoReuseDetection",
		newStore: func() store.Store { return noReuseDetection{memstore.New()} },
		wantFail: []string{"Refresh/ConsumedIsReuse"},
	},
	{
		name:     "StoresRejectedSuccessor",
		newStore: func() store.Store { return storesRejectedSuccessor{memstore.New()} },
		wantFail: []string{"Refresh/ConsumedIsReuse"},
	},
	{
		name:     "ConsumesOnConflict",
		newStore: func() store.Store { return consumesOnConflict{memstore.New()} },
		wantFail: []string{"Refresh/RotateOntoTakenHashChangesNothing"},
	},
	{
		name: "NoExpiry",
		// A clock stuck at the zero time never reaches any ExpiresAt.
		newStore: func() store.Store { return memstore.New(memstore.WithClock(func() time.Time { return time.Time{} })) },
		wantFail: []string{
			"Expiry/CreatedExpiredNeverReturned",
			"Expiry/ExpiresWhileStored",
			"Expiry/RotateExpiredIsNotFound",
			"Expiry/ConsumedExpires",
			"Expiry/SuccessorExpires",
		},
	},
	{
		name:     "RotateIgnoresExpiry",
		newStore: func() store.Store { return &rotateIgnoresExpiry{Store: memstore.New()} },
		wantFail: []string{"Expiry/CreatedExpiredNeverReturned", "Expiry/RotateExpiredIsNotFound"},
	},
	{
		name: "DropsGrantExpiresAt",
		newStore: func() store.Store {
			return editsRecords{memstore.New(), func(t *store.RefreshToken) { t.GrantExpiresAt = time.Time{} }}
		},
		wantFail: []string{"Refresh/RoundTrip"},
	},
	{
		name: "DropsSuccessorKey",
		newStore: func() store.Store {
			return editsRecords{memstore.New(), func(t *store.RefreshToken) { t.SuccessorKey = nil }}
		},
		wantFail: []string{"Refresh/RoundTrip"},
	},
	{
		name: "SortsScope",
		newStore: func() store.Store {
			return editsRecords{memstore.New(), func(t *store.RefreshToken) { slices.Sort(t.Scope) }}
		},
		wantFail: []string{"Refresh/RoundTrip"},
	},
	{
		name: "KeepsMilliseconds",
		newStore: func() store.Store {
			return editsRecords{memstore.New(), func(t *store.RefreshToken) {
				t.IssuedAt = t.IssuedAt.Truncate(time.Millisecond)
				t.ExpiresAt = t.ExpiresAt.Truncate(time.Millisecond)
			}}
		},
		wantFail: []string{"Refresh/RoundTrip"},
	},
	{
		name:     "AliasesScope",
		newStore: func() store.Store { return &aliasesScope{Store: memstore.New()} },
		wantFail: []string{"Refresh/NoAliasing"},
	},
	{
		name:     "RevokeGrantForgotten",
		newStore: func() store.Store { return revokeGrantForgotten{memstore.New()} },
		wantFail: []string{"Revocation/Grant"},
	},
	{
		name:     "LastRevocationWins",
		newStore: func() store.Store { return &lastRevocationWins{Store: memstore.New()} },
		wantFail: []string{"Revocation/RevokeAgainKeepsLaterExpiryReversed", "Revocation/ConcurrentRevokeKeepsLaterExpiry"},
	},
	{
		name:     "BareErrors",
		newStore: func() store.Store { return bareErrors{memstore.New()} },
		wantFail: []string{"Errors/WrappedSentinels"},
	},
	{
		name:     "IgnoresContext",
		newStore: func() store.Store { return ignoresContext{memstore.New()} },
		wantFail: []string{"Context/Cancelled", "Context/DeadlineExceeded", "Context/CancelledLeavesNoState"},
	},
	{
		name:     "TakenHashHidesReuse",
		newStore: func() store.Store { return takenHashHidesReuse{memstore.New()} },
		wantFail: []string{"Refresh/RotateOntoTakenHashChangesNothing"},
	},
	{
		name:     "WatchDropsGrants",
		newStore: func() store.Store { return watchDropsGrants{memstore.New()} },
		wantFail: []string{"Watch/Delivers", "Watch/ConcurrentRevocationsDelivered"},
	},
	{
		name:     "KeySwapIgnoresVersion",
		newStore: func() store.Store { return keySwapIgnoresVersion{memstore.New()} },
		wantFail: []string{"Keys/StaleSwapConflicts", "Keys/SwapIsAtomic"},
	},
	{
		name:     "NonAtomicKeySwap",
		newStore: func() store.Store { return nonAtomicKeySwap{memstore.New()} },
		wantFail: []string{"Keys/SwapIsAtomic"},
	},
	{
		name:     "DeleteExpiredMiscounts",
		newStore: func() store.Store { return deleteExpiredMiscounts{memstore.New()} },
		wantFail: []string{"DeleteExpired/RemovesExpired"},
	},
	{
		name:     "SessionsListedForAnyone",
		newStore: func() store.Store { return sessionsListedForAnyone{memstore.New()} },
		wantFail: []string{"Sessions/BySubject"},
	},
	{
		name:     "SessionsTouchGoesBack",
		newStore: func() store.Store { return sessionsTouchGoesBack{memstore.New()} },
		wantFail: []string{"Sessions/TouchOnlyLater"},
	},
	{
		name:     "AttemptsLoseUpdates",
		newStore: func() store.Store { return &attemptsLoseUpdates{Store: memstore.New()} },
		wantFail: []string{"Attempts/ConcurrentFailuresCounted"},
	},
	{
		name:     "AttemptsExpiryShortened",
		newStore: func() store.Store { return attemptsExpiryShortened{memstore.New()} },
		wantFail: []string{"Attempts/LaterExpiryKept"},
	},
	{
		name:     "AttemptsResetIgnored",
		newStore: func() store.Store { return attemptsResetIgnored{memstore.New()} },
		wantFail: []string{"Attempts/ResetForgets"},
	},
}, hookedCases)

// TestBroken is the subprocess side: it runs the suite on the store named
// by $STORETEST_BROKEN ("memstore" for the correct one).
func TestBroken(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("helper process for TestSuiteCatchesBrokenStores")
	}
	newStore := func(*testing.T) store.Store { return memstore.New() }
	switch name {
	case "memstore":
	case "NoExpiredDeleter":
		newStore = func(*testing.T) store.Store { return noExpiredDeleter{memstore.New()} }
	case "SetupFatal":
		// The probe before the subtests gets a store; the subtests do not,
		// as when a server goes away in the middle of a run.
		newStore = func(t *testing.T) store.Store {
			if strings.Contains(t.Name(), "/") {
				t.Fatal("cannot reach the server")
			}
			return memstore.New()
		}
	case "SetupNil":
		newStore = func(t *testing.T) store.Store {
			if strings.Contains(t.Name(), "/") {
				return nil
			}
			return memstore.New()
		}
	default:
		i := slices.IndexFunc(brokenCases, func(c brokenCase) bool { return c.name == name })
		if i < 0 {
			t.Fatalf("%s=%q names no broken store", brokenEnv, name)
		}
		newStore = func(*testing.T) store.Store { return brokenCases[i].newStore() }
	}
	Run(t, newStore)
	RunConcurrency(t, newStore)
}

// runBroken runs TestBroken in a subprocess on the named store, limited to
// the subtests matching run, and returns its combined output and whether
// it passed.
func runBroken(t *testing.T, name, run string, env ...string) (string, bool) {
	t.Helper()
	pattern := "^TestBroken$"
	for elem := range strings.SplitSeq(run, "/") {
		if elem != "" {
			pattern += "/^" + elem + "$"
		}
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run="+pattern, "-test.v", "-test.count=1",
		// Let every expiry wait overlap, whatever GOMAXPROCS is.
		"-test.parallel=64", "-test.timeout=2m")
	cmd.Env = append(append(os.Environ(), brokenEnv+"="+name), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %v: %v", cmd.Args, err)
	}
	return string(out), err == nil
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("already in a helper process")
	}
	var caught atomic.Int64
	// Cleanups run once every parallel subtest has finished.
	t.Cleanup(func() { t.Logf("caught %d of %d broken stores", caught.Load(), len(brokenCases)) })
	for _, tc := range brokenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, passed := runBroken(t, tc.name, requirementsPattern(tc.wantFail))
			if passed {
				t.Errorf("suite on %s passed, want it to fail", tc.name)
			}
			for _, req := range tc.wantFail {
				if !strings.Contains(out, "--- FAIL: TestBroken/"+req+" ") {
					t.Errorf("suite on %s: %s did not fail", tc.name, req)
				}
			}
			// And nothing else: a broken store that fails requirements
			// beyond its own would blur which promise each one stands for.
			for _, m := range failedRequirement.FindAllStringSubmatch(out, -1) {
				if !slices.Contains(tc.wantFail, m[1]) {
					t.Errorf("suite on %s: %s failed too, want only %v", tc.name, m[1], tc.wantFail)
				}
			}
			if t.Failed() {
				t.Logf("subprocess output:\n%s", out)
				return
			}
			caught.Add(1)
		})
	}
}

// failedRequirement matches the line go test -v prints for a failed
// requirement of TestBroken, capturing its name.
var failedRequirement = regexp.MustCompile(`--- FAIL: TestBroken/([A-Za-z]+/[A-Za-z]+) `)

// requirementsPattern returns a run pattern for runBroken that selects
// the named requirements only (areas and names are matched apart, so
// names from two areas may select one or two more).
func requirementsPattern(names []string) string {
	var areas, reqs []string
	for _, n := range names {
		area, req, _ := strings.Cut(n, "/")
		if !slices.Contains(areas, area) {
			areas = append(areas, area)
		}
		if !slices.Contains(reqs, req) {
			reqs = append(reqs, req)
		}
	}
	return "(" + strings.Join(areas, "|") + ")/(" + strings.Join(reqs, "|") + ")"
}

// unbreakable lists the requirements no broken store stands for, each
// with the reason a wrapper of memstore cannot break it. It is empty: a
// requirement added to the suite comes with a broken store, or with its
// reason here.
var unbreakable = map[string]string{}

// TestEveryRequirementHasBrokenStore keeps the map from promise to broken
// store complete: a requirement no broken store fails may be one the
// suite cannot fail either.
func TestEveryRequirementHasBrokenStore(t *testing.T) {
	covered := map[string][]string{}
	for _, tc := range brokenCases {
		for _, req := range tc.wantFail {
			covered[req] = append(covered[req], tc.name)
		}
	}
	names := map[string]bool{}
	for _, r := range slices.Concat(basic, concurrency) {
		names[r.name] = true
		_, why := unbreakable[r.name]
		switch {
		case len(covered[r.name]) == 0 && !why:
			t.Errorf("%s: no broken store in brokenCases fails it, and unbreakable does not say why", r.name)
		case len(covered[r.name]) > 0 && why:
			t.Errorf("%s: listed as unbreakable, but %v fail it", r.name, covered[r.name])
		}
	}
	for req := range covered {
		if !names[req] {
			t.Errorf("brokenCases want %s to fail, which the suite does not test", req)
		}
	}
	for req := range unbreakable {
		if !names[req] {
			t.Errorf("unbreakable lists %s, which the suite does not test", req)
		}
	}
	t.Logf("%d requirements, each failed by at least one of %d broken stores", len(names), len(brokenCases))
}

// TestSuitePassesMemstore checks the other half: the correct store passes
// every requirement, none skipped, so the failures above are the broken
// stores' own.
func TestSuitePassesMemstore(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("already in a helper process")
	}
	t.Parallel()
	out, passed := runBroken(t, "memstore", "")
	if !passed {
		t.Errorf("suite on memstore failed, want it to pass")
	}
	for _, r := range slices.Concat(basic, concurrency) {
		if !strings.Contains(out, "--- PASS: TestBroken/"+r.name+" ") {
			t.Errorf("suite on memstore: %s did not pass", r.name)
		}
	}
	if t.Failed() {
		t.Logf("subprocess output:\n%s", out)
	}
}

// TestSuiteSkipsMissingCapability checks that an optional capability is
// probed, not assumed: without ExpiredDeleter its subtests skip and say why.
func TestSuiteSkipsMissingCapability(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("already in a helper process")
	}
	t.Parallel()
	out, passed := runBroken(t, "NoExpiredDeleter", "DeleteExpired")
	if !passed {
		t.Errorf("suite on a store without ExpiredDeleter failed, want it to pass")
	}
	for _, req := range []string{"DeleteExpired/RemovesExpired", "DeleteExpired/KeepsLive"} {
		if !strings.Contains(out, "--- SKIP: TestBroken/"+req+" ") {
			t.Errorf("%s was not skipped", req)
		}
	}
	if n := strings.Count(out, "storetest: capabilities of storetest.noExpiredDeleter: has none; lacks store.ExpiredDeleter, store.KeyStore, store.AttemptStore, store.SessionStore, store.RevocationWatcher (their subtests are skipped)"); n != 2 {
		t.Errorf("capabilities line appears %d times, want once for each of Run and RunConcurrency", n)
	}
	if !strings.Contains(out, "storetest: the store lacks store.ExpiredDeleter; see the capabilities line above") {
		t.Errorf("skip message does not point at the capabilities line")
	}
	if t.Failed() {
		t.Logf("subprocess output:\n%s", out)
	}
}

// TestSuiteReportsSetup checks that a factory that fails, or a setting the
// suite refuses, is reported as setup and not as the requirement of the
// subtest it happened in.
func TestSuiteReportsSetup(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("already in a helper process")
	}
	t.Parallel()
	tests := []struct {
		name, store string
		env         []string
		want        string
	}{
		{name: "Fatal", store: "SetupFatal", want: "storetest: setup: NewStore failed (above) before it returned a store; nothing of TestBroken/Refresh/RoundTrip was tested"},
		{name: "Nil", store: "SetupNil", want: "storetest: setup: NewStore returned nil; nothing of TestBroken/Refresh/RoundTrip was tested"},
		{name: "TimeScale", store: "memstore", env: []string{timeScaleEnv + "=slow"}, want: `storetest: setup: STORETEST_TIME_SCALE="slow", want a number from 1 to 100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, passed := runBroken(t, tt.store, "Refresh/RoundTrip", tt.env...)
			if passed {
				t.Errorf("suite on %s passed, want it to fail", tt.store)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q", tt.want)
			}
			if t.Failed() {
				t.Logf("subprocess output:\n%s", out)
			}
		})
	}
}

// nonAtomicRotate checks for reuse and then rotates, with a gap in between,
// as an adapter doing SELECT then UPDATE outside a transaction would.
type nonAtomicRotate struct{ *memstore.Store }

func (s nonAtomicRotate) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	old, err := s.GetRefreshToken(ctx, oldHash)
	if err != nil {
		return err
	}
	if old.Consumed() {
		return store.ErrReused
	}
	time.Sleep(time.Millisecond)
	// The check above is stale: a rotation that won meanwhile is overwritten.
	if err := s.Store.RotateRefreshToken(ctx, oldHash, next); !errors.Is(err, store.ErrReused) {
		return err
	}
	return s.CreateRefreshToken(ctx, next)
}

// noReuseDetection rotates consumed tokens as if they were live.
type noReuseDetection struct{ *memstore.Store }

func (s noReuseDetection) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	if err := s.Store.RotateRefreshToken(ctx, oldHash, next); !errors.Is(err, store.ErrReused) {
		return err
	}
	return s.CreateRefreshToken(ctx, next)
}

// storesRejectedSuccessor reports reuse but stores the successor anyway, as
// an adapter that inserts before it checks would.
type storesRejectedSuccessor struct{ *memstore.Store }

func (s storesRejectedSuccessor) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	err := s.Store.RotateRefreshToken(ctx, oldHash, next)
	if errors.Is(err, store.ErrReused) {
		_ = s.CreateRefreshToken(ctx, next)
	}
	return err
}

// consumesOnConflict consumes the old token before finding that the
// successor's hash is taken, as an UPDATE then INSERT without a transaction
// would.
type consumesOnConflict struct{ *memstore.Store }

func (s consumesOnConflict) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	if _, err := s.GetRefreshToken(ctx, next.Hash); err == nil {
		elsewhere := next
		elsewhere.Hash = append(bytes.Clone(next.Hash), 0)
		_ = s.Store.RotateRefreshToken(ctx, oldHash, elsewhere)
		return store.ErrAlreadyExists
	}
	return s.Store.RotateRefreshToken(ctx, oldHash, next)
}

// rotateIgnoresExpiry checks expiry when reading but not when rotating, as
// an UPDATE without "AND expires_at > now()" would.
type rotateIgnoresExpiry struct {
	*memstore.Store
	mu    sync.Mutex
	known map[string]bool
}

func (s *rotateIgnoresExpiry) remember(hash []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known == nil {
		s.known = make(map[string]bool)
	}
	s.known[string(hash)] = true
}

func (s *rotateIgnoresExpiry) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	s.remember(t.Hash)
	return s.Store.CreateRefreshToken(ctx, t)
}

func (s *rotateIgnoresExpiry) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	err := s.Store.RotateRefreshToken(ctx, oldHash, next)
	s.mu.Lock()
	known := s.known[string(oldHash)]
	s.mu.Unlock()
	if errors.Is(err, store.ErrNotFound) && known {
		err = s.Store.CreateRefreshToken(ctx, next)
	}
	if err == nil {
		s.remember(next.Hash)
	}
	return err
}

// editsRecords changes every record on its way in, as an adapter that drops
// a column or loses precision would.
type editsRecords struct {
	*memstore.Store
	edit func(*store.RefreshToken)
}

func (s editsRecords) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	t.Scope = slices.Clone(t.Scope)
	s.edit(&t)
	return s.Store.CreateRefreshToken(ctx, t)
}

func (s editsRecords) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	next.Scope = slices.Clone(next.Scope)
	s.edit(&next)
	return s.Store.RotateRefreshToken(ctx, oldHash, next)
}

// aliasesScope hands back the very Scope slice it was given, as an
// in-memory adapter that forgets to copy would.
type aliasesScope struct {
	*memstore.Store
	mu     sync.Mutex
	scopes map[string][]string
}

func (s *aliasesScope) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	s.mu.Lock()
	if s.scopes == nil {
		s.scopes = make(map[string][]string)
	}
	s.scopes[string(t.Hash)] = t.Scope
	s.mu.Unlock()
	return s.Store.CreateRefreshToken(ctx, t)
}

func (s *aliasesScope) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	t, err := s.Store.GetRefreshToken(ctx, hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if scope, ok := s.scopes[string(hash)]; ok && err == nil {
		t.Scope = scope
	}
	return t, err
}

// revokeGrantForgotten accepts grant revocations and drops them.
type revokeGrantForgotten struct{ *memstore.Store }

func (revokeGrantForgotten) RevokeGrant(ctx context.Context, _ string, _ time.Time) error {
	return ctx.Err()
}

// lastRevocationWins overwrites a grant revocation's expiry instead of
// keeping the later one, as a plain SET or upsert would.
type lastRevocationWins struct {
	*memstore.Store
	mu     sync.Mutex
	grants map[string]time.Time
}

func (s *lastRevocationWins) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grants == nil {
		s.grants = make(map[string]time.Time)
	}
	s.grants[grantID] = expiresAt
	return nil
}

func (s *lastRevocationWins) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	revoked, err := s.Store.IsRevoked(ctx, jti, "")
	if err != nil || revoked {
		return revoked, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.grants[grantID]
	return grantID != "" && ok && time.Now().Before(exp), nil
}

// bareErrors reports failures with their text only, as an adapter that
// builds errors with errors.New or %v would.
type bareErrors struct{ *memstore.Store }

func bare(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(err.Error())
}

func (s bareErrors) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	return bare(s.Store.CreateRefreshToken(ctx, t))
}

func (s bareErrors) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	t, err := s.Store.GetRefreshToken(ctx, hash)
	return t, bare(err)
}

func (s bareErrors) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	return bare(s.Store.RotateRefreshToken(ctx, oldHash, next))
}

// ignoresContext never looks at the caller's context.
type ignoresContext struct{ *memstore.Store }

func (s ignoresContext) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	return s.Store.CreateRefreshToken(context.WithoutCancel(ctx), t)
}

func (s ignoresContext) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	return s.Store.GetRefreshToken(context.WithoutCancel(ctx), hash)
}

func (s ignoresContext) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	return s.Store.RotateRefreshToken(context.WithoutCancel(ctx), oldHash, next)
}

func (s ignoresContext) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	return s.Store.RevokeGrant(context.WithoutCancel(ctx), grantID, expiresAt)
}

func (s ignoresContext) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return s.Store.RevokeAccessToken(context.WithoutCancel(ctx), jti, expiresAt)
}

func (s ignoresContext) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	return s.Store.IsRevoked(context.WithoutCancel(ctx), jti, grantID)
}

func (s ignoresContext) DeleteExpired(ctx context.Context) (int, error) {
	return s.Store.DeleteExpired(context.WithoutCancel(ctx))
}

// deleteExpiredMiscounts deletes but always reports 0.
type deleteExpiredMiscounts struct{ *memstore.Store }

func (s deleteExpiredMiscounts) DeleteExpired(ctx context.Context) (int, error) {
	_, err := s.Store.DeleteExpired(ctx)
	return 0, err
}

// noExpiredDeleter hides memstore's DeleteExpired, as an adapter with native
// expiry would not have one.
type noExpiredDeleter struct{ store.Store }

// keySwapIgnoresVersion overwrites the key set whatever version the caller
// read: the lost-update bug a compare-and-swap exists to prevent.
type keySwapIgnoresVersion struct{ *memstore.Store }

func (s keySwapIgnoresVersion) SwapKeySet(ctx context.Context, _ int64, keys []store.SigningKey) (int64, error) {
	cur, err := s.GetKeySet(ctx)
	if err != nil {
		return 0, err
	}
	return s.Store.SwapKeySet(ctx, cur.Version, keys)
}

// nonAtomicKeySwap checks the version, yields, then writes: concurrent
// swaps from one version can all pass the check.
type nonAtomicKeySwap struct{ *memstore.Store }

func (s nonAtomicKeySwap) SwapKeySet(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
	cur, err := s.GetKeySet(ctx)
	if err != nil {
		return 0, err
	}
	if cur.Version != version {
		return 0, fmt.Errorf("broken: %w", store.ErrConflict)
	}
	time.Sleep(time.Millisecond)
	cur, err = s.GetKeySet(ctx)
	if err != nil {
		return 0, err
	}
	return s.Store.SwapKeySet(ctx, cur.Version, keys)
}

// takenHashHidesReuse checks the successor's hash before reuse, so a
// replayed consumed token onto a taken hash reports ErrAlreadyExists and the
// reuse goes unnoticed.
type takenHashHidesReuse struct{ *memstore.Store }

func (s takenHashHidesReuse) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	if _, err := s.GetRefreshToken(ctx, next.Hash); err == nil {
		return fmt.Errorf("broken: %w", store.ErrAlreadyExists)
	}
	return s.Store.RotateRefreshToken(ctx, oldHash, next)
}

// watchDropsGrants forgets to publish grant revocations: a view fed by it
// would keep accepting the access tokens of revoked grants.
type watchDropsGrants struct{ *memstore.Store }

type grantFilter struct{ store.RevocationListener }

func (f grantFilter) Revoked(r store.Revocation) {
	if r.GrantID == "" {
		f.RevocationListener.Revoked(r)
	}
}

func (s watchDropsGrants) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	return s.Store.WatchRevocations(ctx, grantFilter{h})
}

// attemptsLoseUpdates counts failures with a read and a later write, so
// concurrent failures overwrite each other's counts.
type attemptsLoseUpdates struct {
	*memstore.Store
	counts sync.Map // key -> *atomic.Int64
}

func (s *attemptsLoseUpdates) AddFailure(ctx context.Context, key string, _ time.Time) (store.Attempts, error) {
	if err := ctx.Err(); err != nil {
		return store.Attempts{}, err
	}
	c, _ := s.counts.LoadOrStore(key, new(atomic.Int64))
	n := c.(*atomic.Int64).Load()
	runtime.Gosched()
	c.(*atomic.Int64).Store(n + 1)
	return store.Attempts{Failures: int(n + 1), Last: time.Now()}, nil
}

func (s *attemptsLoseUpdates) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]store.Attempts, len(keys))
	for i, k := range keys {
		if c, ok := s.counts.Load(k); ok {
			out[i].Failures = int(c.(*atomic.Int64).Load())
		}
	}
	return out, nil
}

// attemptsExpiryShortened gives the record the expiry of the last failure,
// even when an earlier one asked for a later expiry.
type attemptsExpiryShortened struct{ *memstore.Store }

func (s attemptsExpiryShortened) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	prev, err := s.Store.GetAttempts(ctx, key)
	if err != nil {
		return store.Attempts{}, err
	}
	if err := s.Store.ResetAttempts(ctx, key); err != nil {
		return store.Attempts{}, err
	}
	var a store.Attempts
	for range prev[0].Failures + 1 {
		if a, err = s.Store.AddFailure(ctx, key, expiresAt); err != nil {
			return store.Attempts{}, err
		}
	}
	return a, nil
}

// attemptsResetIgnored never forgets a record.
type attemptsResetIgnored struct{ *memstore.Store }

func (attemptsResetIgnored) ResetAttempts(ctx context.Context, _ string) error { return ctx.Err() }

// sessionsListedForAnyone lists every session to every subject: it keeps
// sessions by grant and forgets to filter by subject.
type sessionsListedForAnyone struct{ *memstore.Store }

func (s sessionsListedForAnyone) ListSessions(ctx context.Context, subject string) ([]store.Session, error) {
	own, err := s.Store.ListSessions(ctx, subject)
	if err != nil || len(own) == 0 {
		return own, err
	}
	// Add a session of another subject, as an adapter whose query lost its
	// WHERE clause would.
	stranger := own[0]
	stranger.Subject, stranger.GrantID = "someone-else", "grant-of-someone-else"
	return append(own, stranger), nil
}

// sessionsTouchGoesBack takes whatever a touch says, later or not.
type sessionsTouchGoesBack struct{ *memstore.Store }

func (s sessionsTouchGoesBack) TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
	list, err := s.Store.ListSessions(ctx, subject)
	if err != nil {
		return err
	}
	for _, sess := range list {
		if sess.GrantID == grantID {
			if err := s.Store.DeleteSession(ctx, subject, grantID); err != nil {
				return err
			}
			sess.RefreshedAt, sess.ExpiresAt = at, expiresAt
			return s.Store.CreateSession(ctx, sess)
		}
	}
	return nil
}
