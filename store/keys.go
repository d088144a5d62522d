package store

import (
	"context"
	"time"
)

// SigningKey is one access-token signing key as stored. Adapters keep it
// opaquely: package oauth2 encodes and, when the application supplies a
// key-encryption key, encrypts Private before it reaches the store.
type SigningKey struct {
	// ID is the key id (the kid header of the tokens it signs).
	ID string
	// Algorithm is the JWS algorithm, e.g. "EdDSA".
	Algorithm string
	// Private is the encoded private key, possibly encrypted.
	Private []byte
	// CreatedAt is when the key was generated.
	CreatedAt time.Time
	// RetiredAt is zero for the active key, and when it stopped signing for
	// a retired one.
	RetiredAt time.Time
}

// SigningKeySet is the signing keys that instances of an authorization server
// share: Keys[0] signs, the others are retired keys that still verify.
type SigningKeySet struct {
	// Version is 0 when no set has been stored yet, and is increased by
	// each successful SwapKeySet.
	Version int64
	// Keys is the set, active key first.
	Keys []SigningKey
}

// KeyStore is an optional capability: a Store that also implements it lets
// several instances share signing keys, so that each verifies what the others
// sign and a restart does not invalidate outstanding access tokens. Callers
// find it by type assertion.
type KeyStore interface {
	// GetKeySet returns the stored set; a Version 0 set with no keys if none
	// was stored yet.
	GetKeySet(ctx context.Context) (SigningKeySet, error)

	// SwapKeySet replaces the stored set with keys if the stored version is
	// still version (0: none stored yet), and returns the new version. If
	// another writer changed the set first it fails with ErrConflict and
	// stores nothing. Of any number of concurrent swaps from one version,
	// exactly one succeeds.
	SwapKeySet(ctx context.Context, version int64, keys []SigningKey) (int64, error)
}
