package store

import (
	"context"
	"time"
)

// Attempts is what an AttemptStore remembers of the failed credential
// checks made under one key.
type Attempts struct {
	// Failures is the number of failures recorded since the record was
	// created or last reset; 0 when there is no live record.
	Failures int
	// Last is when the latest of those failures was recorded, by the
	// adapter's clock; zero when there is no live record.
	Last time.Time
}

// AttemptStore is an optional capability: it counts failed password and
// client-secret checks, so that every instance of an authorization server
// sharing the store slows down a brute-force attack alike. Package oauth2
// decides what a key stands for (a username from one address, a username
// from anywhere, a client id) and how long to make an attacker wait; the
// keys it passes are opaque digests, which adapters store as given.
//
// It is a capability rather than part of Store because a store can serve
// everything else without it (a resource server's revocation checks, the
// refresh grant); package oauth2 refuses to serve the password grant on a
// store without it unless the application turns throttling off by name.
//
// A record is live until the latest expiresAt given for it, by the adapter's
// clock, as every record of this package is (see Expiry in the package
// doc), and is removed once expired as the others are.
type AttemptStore interface {
	// AddFailure records one failure under key, now by the adapter's clock,
	// and returns the record as this call left it. A key with no live record
	// starts at one failure. The record lives until expiresAt, or the later
	// expiry it already had: a call never shortens it. Of any number of
	// concurrent calls for one key, each is counted exactly once and each
	// returns a different Failures.
	AddFailure(ctx context.Context, key string, expiresAt time.Time) (Attempts, error)

	// GetAttempts returns the live record of each key, in the order given,
	// the zero Attempts for a key without one. It reads every key in one
	// round trip where the backend allows, since it runs before every
	// credential check.
	GetAttempts(ctx context.Context, keys ...string) ([]Attempts, error)

	// ResetAttempts forgets the record of key. A key without one is not an
	// error.
	ResetAttempts(ctx context.Context, key string) error
}
