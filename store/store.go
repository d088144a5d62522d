package store

import (
	"context"
	"time"
)

// RefreshToken is the stored form of one refresh token. The token itself is
// never stored: only Hash, a SHA-256 digest computed from it (and, by package
// oauth2, from the issuer's identifier), is.
//
// Every refresh token belongs to a grant (also called a token family): the
// first token issued by a password grant starts it, and each rotation adds a
// successor with the same GrantID, ClientID, Subject, Scope and GrantExpiresAt.
type RefreshToken struct {
	// Hash is the SHA-256 digest that stands for the token; it is the
	// record's key.
	Hash []byte
	// GrantID identifies the grant (the refresh-token family). Access tokens
	// issued under the grant carry it, so revoking the grant rejects them.
	GrantID string
	// ClientID is the client the grant was issued to.
	ClientID string
	// Subject is the resource owner the grant was issued for.
	Subject string
	// Scope is the scope of the grant. It does not change on rotation.
	Scope []string
	// IssuedAt is when this token was issued.
	IssuedAt time.Time
	// ExpiresAt is when this token stops being usable. Adapters never return
	// the record after it; a zero ExpiresAt is already past. Once a consumed
	// token expires, presenting it again is no longer detectable as reuse:
	// it is simply not found.
	ExpiresAt time.Time
	// GrantExpiresAt is the absolute end of the grant: no successor of this
	// token lives past it.
	GrantExpiresAt time.Time
	// ConsumedAt is zero while the token is unconsumed, and the time of its
	// rotation once RotateRefreshToken consumed it. A consumed token is kept
	// until ExpiresAt so that presenting it again is detected as reuse.
	ConsumedAt time.Time
	// SuccessorKey is a secret of the grant, the same for each of its
	// tokens, from which package oauth2 derives each successor token
	// together with the token it replaces. It lets a client that presents
	// a token again just after its rotation be given the same successor
	// (the refresh grace window) without the successor being stored
	// anywhere: a reader of the store has the key but not the old token,
	// and a holder of the old token has not the key. Adapters store it as
	// given; it may be nil.
	SuccessorKey []byte
}

// Consumed reports whether the token has been rotated already.
func (t RefreshToken) Consumed() bool { return !t.ConsumedAt.IsZero() }

// RefreshTokenStore persists refresh tokens and rotates them atomically.
type RefreshTokenStore interface {
	// CreateRefreshToken stores the first token of a new grant. It fails
	// with ErrAlreadyExists if an unexpired token with the same Hash is
	// stored; an expired one may be replaced. (An adapter may also keep a
	// hash that a call failing in transit claimed reserved until that
	// token's expiry: hashes are random, so callers never meet this.)
	CreateRefreshToken(ctx context.Context, t RefreshToken) error

	// GetRefreshToken returns the token whose hash is hash, consumed or not.
	// It fails with ErrNotFound if there is none or it has expired.
	GetRefreshToken(ctx context.Context, hash []byte) (RefreshToken, error)

	// RotateRefreshToken atomically consumes the token whose hash is oldHash
	// (setting its ConsumedAt to next.IssuedAt, which callers never leave
	// zero) and stores next, its successor in the same grant. The old token
	// is looked up under next.GrantID (a token of another grant is not
	// found). Either both happen or neither does.
	//
	// It fails with ErrNotFound if no unexpired token has hash oldHash, with
	// ErrReused if that token was consumed already (next is then not
	// stored), and with ErrAlreadyExists if next.Hash is taken; when both of
	// the last two apply, ErrReused wins, so reuse is never hidden. Of any
	// number of concurrent calls for one oldHash, exactly one succeeds.
	RotateRefreshToken(ctx context.Context, oldHash []byte, next RefreshToken) error
}

// RevocationStore records revoked grants and revoked access tokens. Each
// revocation carries an expiry after which the thing revoked can no longer be
// used anyway, so the record may be dropped.
type RevocationStore interface {
	// RevokeGrant marks the grant grantID revoked until expiresAt. Revoking a
	// revoked grant again succeeds and keeps the later expiry.
	RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error

	// RevokeAccessToken marks the access token whose jti is jti revoked until
	// expiresAt. Revoking it again succeeds and keeps the later expiry.
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error

	// IsRevoked reports whether the access token jti or the grant grantID is
	// revoked by a revocation that has not expired. An empty jti or grantID
	// is not looked up.
	IsRevoked(ctx context.Context, jti, grantID string) (bool, error)
}

// Store is everything the token flows of package oauth2 need.
type Store interface {
	RefreshTokenStore
	RevocationStore
}

// ExpiredDeleter is implemented by adapters whose backend does not delete
// expired records by itself. DeleteExpired removes the records whose expiry
// has passed, by the clock the package doc's Expiry section names, and
// reports how many it removed. Adapters whose backend deletes expired
// records by itself need not implement it; callers find it by type
// assertion.
//
// Expired records are invisible whether or not they were deleted; deleting
// them only bounds storage. Applications have DeleteExpired called
// periodically by package oauth2's Sweep, started once at start-up; an
// adapter may also sweep by itself, and says so in its package doc.
type ExpiredDeleter interface {
	DeleteExpired(ctx context.Context) (int, error)
}
