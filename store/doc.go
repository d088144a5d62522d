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
//   - A record whose ExpiresAt has passed is never returned, and the adapter
//     removes it eventually (a native TTL, or DeleteExpired), so nothing grows
//     without bound. Expiry is judged by the clock of the adapter or its
//     backend; the conformance suite tolerates a small skew.
//   - Errors are reported as the sentinels below, possibly wrapped; callers
//     test them with errors.Is. A failure to reach the backend is never
//     reported as ErrNotFound.
//   - A context cancelled or expired before a call makes it fail with an
//     error that wraps the context's error, and change nothing. A context
//     that ends during a call leaves its outcome unknown (a SQL statement may
//     still commit): adapters should have the backend abandon the work where
//     they can.
package store
