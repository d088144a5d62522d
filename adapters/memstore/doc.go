// Package memstore is an in-memory implementation of the oauth2kit storage
// contract (store.Store and store.ExpiredDeleter).
//
// It is meant for tests, examples and single-process deployments that accept
// losing every token on restart. All state lives in maps guarded by one
// mutex, so a Store is safe for concurrent use and RotateRefreshToken is
// atomic. Records and the slices inside them are copied on the way in and on
// the way out: a caller cannot change what is stored by mutating a slice it
// passed in or got back.
//
// A Store starts no goroutine. Expired records are never returned; they are
// removed by DeleteExpired, and also swept during writes at most once per
// sweep interval (WithSweepInterval), so a Store whose owner never calls
// DeleteExpired still does not grow without bound.
package memstore
