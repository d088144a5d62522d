// Package memstore is an in-memory implementation of the oauth2kit storage
// contract: store.Store and the optional store.ExpiredDeleter,
// store.KeyStore, store.RevocationWatcher, store.AttemptStore and
// store.SessionStore.
//
// It is meant for tests, examples and single-process deployments that accept
// losing every token, and every signing key it holds, on restart. All state
// is guarded by one mutex, so a Store is safe for concurrent use and
// RotateRefreshToken is atomic. Records and the slices inside them are copied on the way in and on
// the way out: a caller cannot change what is stored by mutating a slice it
// passed in or got back.
//
// Expiry follows the rule of package store: a record expires when the
// Store's clock (time.Now, or WithClock) reaches its expiry. A Store starts no
// goroutine. Expired records are never returned; they are removed by
// DeleteExpired, which package oauth2's Sweep calls periodically, and also
// swept during writes at most once per sweep interval (WithSweepInterval), so
// a Store nobody sweeps still does not grow without bound.
//
// WatchRevocations delivers, in process, every revocation made through the
// same Store; it runs on the caller's goroutine and ends only with its
// context.
package memstore
