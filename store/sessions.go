package store

import (
	"context"
	"time"
)

// Session is one grant as its resource owner sees it: a login through a
// client, which the owner may list and end.
type Session struct {
	// GrantID is the grant's id, the grant_id of its access tokens.
	GrantID string
	// Subject is the resource owner.
	Subject string
	// ClientID is the client the grant was issued to.
	ClientID string
	// Scope is the grant's scope.
	Scope []string
	// CreatedAt is when the password grant started it.
	CreatedAt time.Time
	// RefreshedAt is when its refresh token was last rotated; CreatedAt
	// until then. Package oauth2 records it beside each rotation it
	// attempts, whatever the outcome, so a rotation that fails (it lost a
	// race with another presentation of the token, say, or the store
	// failed) moves it too.
	RefreshedAt time.Time
	// ExpiresAt is when the session may be forgotten: no token of the
	// grant is usable after it.
	ExpiresAt time.Time
}

// SessionStore is an optional capability: it keeps a record of every grant
// by its subject, so that a resource owner can list their sessions and end
// one or all of them ("sign out everywhere"), grants whose client holds no
// refresh token included. Package oauth2 writes a session at every
// password grant and refreshes it at every rotation when the store
// implements it.
//
// A session is live until its ExpiresAt, by the adapter's clock, as every
// record of this package is (see Expiry in the package doc).
type SessionStore interface {
	// CreateSession stores s. It fails with ErrAlreadyExists if a live
	// session with the same GrantID is stored.
	CreateSession(ctx context.Context, s Session) error

	// TouchSession records a rotation of the grant at at: RefreshedAt and
	// ExpiresAt become at and expiresAt where they are later than what is
	// stored, never earlier. A grant without a live session is not an
	// error: there is nothing to touch.
	TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error

	// ListSessions returns the live sessions of subject, oldest first (by
	// CreatedAt, then GrantID).
	ListSessions(ctx context.Context, subject string) ([]Session, error)

	// DeleteSession forgets the session of grantID, which must be one of
	// subject's. A session that does not exist is not an error.
	DeleteSession(ctx context.Context, subject, grantID string) error
}
