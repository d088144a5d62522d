package store

import (
	"context"
	"time"
)

// Revocation is one revocation, as a RevocationWatcher reports it: exactly
// one of GrantID and JTI is set.
type Revocation struct {
	GrantID   string    // the revoked grant, or empty
	JTI       string    // the revoked access token's jti, or empty
	ExpiresAt time.Time // when the revocation may be forgotten
}

// RevocationListener receives what RevocationWatcher.WatchRevocations
// reports. Its methods are called from one goroutine at a time; they may
// block for a bounded time (a listener lists revocations in its first
// Alive), during which the watcher buffers or, failing that, ends the watch
// with an error.
type RevocationListener interface {
	// Alive reports that the subscription is working: every revocation made
	// from now on will be delivered. It is called first once subscribed, then
	// again at least every WatchHeartbeat while the subscription is known to
	// work, so the caller can tell a quiet subscription from a dead one.
	Alive()
	// Revoked reports one revocation made by any process using the same
	// backend. A revocation may be reported more than once, or with an
	// earlier expiry than one already reported: keep the later expiry.
	Revoked(Revocation)
}

// WatchHeartbeat is the longest a working subscription may go without
// calling RevocationListener.Alive.
const WatchHeartbeat = time.Second

// RevocationWatcher is an optional capability: it lets a process keep an
// in-memory view of the revocations, pushed to it by the backend (each
// adapter's package doc says how), so that checking a token needs no round
// trip. Callers find it by type assertion.
type RevocationWatcher interface {
	// ListRevocations returns every revocation that has not expired, for a
	// full resync.
	ListRevocations(ctx context.Context) ([]Revocation, error)

	// WatchRevocations subscribes to revocations and reports them to h
	// until ctx ends (it then returns an error wrapping ctx's error) or the
	// subscription fails (it returns why). A watcher that learns it missed a
	// revocation, or cannot report one, MUST return an error, so that the
	// caller resynchronises. A revocation already expired when it would be
	// reported revokes nothing, and may be left out. A caller that lists
	// after the first Alive and applies what both report misses nothing.
	WatchRevocations(ctx context.Context, h RevocationListener) error
}
