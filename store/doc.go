// Package store is the storage contract of oauth2kit: the records the token
// flows persist, the interfaces a storage adapter implements, and the sentinel
// errors it reports.
//
// The package is deliberately small and imports nothing else of oauth2kit. An
// adapter author reads this package and runs the conformance suite in
// package storetest; nothing more is needed.
//
// Adapters store and fetch. Every security decision (hashing tokens, checking
// clients, deciding that a reused refresh token revokes its grant, validating
// claims) is made once, in package oauth2. What an adapter must guarantee is
// atomicity, expiry and faithful round trips:
//
//   - RotateRefreshToken consumes a refresh token and stores its successor in
//     one atomic step; of any number of concurrent rotations of one token,
//     exactly one succeeds and the others fail with ErrReused.
//   - A record whose expiry has passed is never returned, and is removed
//     eventually (by the backend's own expiry, or by DeleteExpired), so
//     nothing grows without bound. Whose clock says so is stated under
//     Expiry below.
//   - Every method is safe to call from several goroutines at once, on one
//     record as on many: package oauth2 reads a refresh token while it asks
//     whether its grant is revoked, and touches a session while it rotates
//     the grant's token, each pair at the same time.
//   - Errors are reported as the sentinels below, possibly wrapped; callers
//     test them with errors.Is. A failure to reach the backend is never
//     reported as ErrNotFound.
//   - A context cancelled or expired before a call makes it fail with an
//     error that wraps the context's error, and change nothing. A context
//     that ends during a call leaves its outcome unknown (a SQL statement may
//     still commit): adapters should have the backend abandon the work where
//     they can.
//
// # Expiry
//
// Every expiry in this package (RefreshToken.ExpiresAt, the expiresAt of a
// revocation) is an absolute instant, and a record is live while the
// current time is before it. The current time is the adapter's clock: the
// clock of the process the adapter runs in, time.Now unless the adapter's
// WithClock option gives another, read when the call is made. It is the
// clock package oauth2 computes expiries from, so a token lives exactly as
// long as it was issued for, whatever the backend's clock says, and a test
// driving a fake clock sees records expire on that clock. A backend's own
// clock (a database's now()) decides nothing.
//
// An adapter whose backend expires records natively, by its own clock, and
// cannot cheaply follow this rule says so in its package doc, with how far
// it may differ and what it offers instead of WithClock. Instances of an
// application, and their backends, should keep their clocks synchronised
// (NTP) anyway, as token leeways assume; the conformance suite tolerates a
// small skew.
package store
