package storetest

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// timeScaleEnv names the one setting that stretches every lifetime and limit
// of the suite. It is an environment variable rather than an option of Run so
// that whoever runs the tests on a slow machine (a CI runner, a laptop on
// battery) can set it without editing the adapter's test.
const timeScaleEnv = "STORETEST_TIME_SCALE"

// timeScale is the factor from $STORETEST_TIME_SCALE, 1 when unset;
// timeScaleErr says why the setting was refused, reported by every Run as
// a setup failure rather than silently running at the wrong speed.
var timeScale, timeScaleErr = parseTimeScale(os.Getenv(timeScaleEnv))

func parseTimeScale(s string) (float64, error) {
	if s == "" {
		return 1, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	// Below 1 would make records expire before a fast store answers; above
	// 100 the expiry waits alone would take minutes each.
	if err != nil || math.IsNaN(f) || f < 1 || f > 100 {
		return 1, fmt.Errorf("%s=%q, want a number from 1 to 100", timeScaleEnv, s)
	}
	return f, nil
}

// scaled returns d stretched by the time scale.
func scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * timeScale)
}

// Every duration the suite waits for or allows is here, scaled, so one
// setting moves them all.
var (
	// shortTTL is how far ahead records that must expire during a subtest
	// expire: long enough that a slow backend still answers the "before"
	// check in time, short enough to keep the suite fast.
	shortTTL = scaled(1500 * time.Millisecond)
	// expiryMargin is how long past an expiry the suite waits before it
	// requires the record gone, to absorb small clock differences between
	// the test process and the backend.
	expiryMargin = scaled(250 * time.Millisecond)
	// timeout bounds every subtest, so an adapter that blocks fails the
	// subtest instead of hanging the whole run.
	timeout = scaled(30 * time.Second)
	// deliveryTimeout bounds how long a revocation may take to reach a
	// watcher.
	deliveryTimeout = scaled(5 * time.Second)
	// heartbeatAllowance is how long a quiet watcher may go without Alive:
	// the contract says store.WatchHeartbeat, and the rest is for a loaded
	// machine.
	heartbeatAllowance = scaled(3 * store.WatchHeartbeat)
)

// timingHint ends every message about a limit the suite chose, so that an
// author on a slow machine learns the limit may be the suite's, not the
// store's, and which setting moves it.
func timingHint() string {
	return fmt.Sprintf("the limit is the suite's own (time scale %g); if this machine is slow or loaded, set %s=2 or more and run again", timeScale, timeScaleEnv)
}

// checkedBeforeExpiry follows the checks a subtest makes while its records
// must still be live. If one failed and the records' expiry at exp has
// already passed, the store may have been right to answer as it did: the
// suite was too slow, and it says so rather than let the failure stand as
// the store's alone.
func checkedBeforeExpiry(t *testing.T, exp time.Time) {
	t.Helper()
	if late := time.Since(exp); t.Failed() && late >= 0 {
		t.Fatalf("storetest: timing: the checks above ended %v after the records they checked had expired, so the store may have been right; %s", late, timingHint())
	}
}
