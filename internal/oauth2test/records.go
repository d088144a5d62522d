package oauth2test

import (
	"crypto/rand"
	"crypto/sha256"
	"slices"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// The records below are plain and valid, for the adapters' own tests and
// benchmarks. The conformance suite in package storetest makes its own,
// with the odd values (sub-millisecond times, unsorted scopes, non-ASCII
// subjects) that catch an adapter mangling a field.

// Now is the current time at the precision every adapter keeps:
// PostgreSQL stores microseconds.
func Now() time.Time { return time.Now().Truncate(time.Microsecond) }

// NewHash returns what package oauth2 stores for a token: the SHA-256
// digest of a random string.
func NewHash() []byte {
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}

// NewID returns a random id that starts with prefix.
func NewID(prefix string) string { return prefix + "-" + rand.Text() }

// NewToken returns the first refresh token of a new grant, issued at
// issuedAt, live for an hour, of a grant that lives a day.
func NewToken(issuedAt time.Time) store.RefreshToken {
	return store.RefreshToken{
		Hash:           NewHash(),
		GrantID:        NewID("grant"),
		ClientID:       NewID("client"),
		Subject:        NewID("subject"),
		Scope:          []string{"openid", "profile"},
		IssuedAt:       issuedAt,
		ExpiresAt:      issuedAt.Add(time.Hour),
		GrantExpiresAt: issuedAt.Add(24 * time.Hour),
		SuccessorKey:   NewHash(),
	}
}

// Successor returns the token that rotating prev at issuedAt stores.
func Successor(prev store.RefreshToken, issuedAt time.Time) store.RefreshToken {
	next := prev
	next.Hash = NewHash()
	next.Scope = slices.Clone(prev.Scope)
	next.IssuedAt = issuedAt
	next.ExpiresAt = issuedAt.Add(time.Hour)
	next.ConsumedAt = time.Time{}
	return next
}

// NewSession returns a session of subject created at createdAt, live for an
// hour.
func NewSession(subject string, createdAt time.Time) store.Session {
	return store.Session{
		GrantID:     NewID("grant"),
		Subject:     subject,
		ClientID:    NewID("client"),
		Scope:       []string{"openid", "profile"},
		CreatedAt:   createdAt,
		RefreshedAt: createdAt,
		ExpiresAt:   createdAt.Add(time.Hour),
	}
}
