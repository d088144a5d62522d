package sqlitestore

import (
	"context"
	"time"
)

// Kinds of revocation, the kind column of the revocations table.
const (
	kindGrant = "g"
	kindJTI   = "j"
)

// RevokeGrant implements store.RevocationStore.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	if err := s.revoke(ctx, kindGrant, grantID, expiresAt); err != nil {
		return fail(ctx, "revoking grant", err)
	}
	return nil
}

// RevokeAccessToken implements store.RevocationStore.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if err := s.revoke(ctx, kindJTI, jti, expiresAt); err != nil {
		return fail(ctx, "revoking access token", err)
	}
	return nil
}

// revoke stores a revocation, keeping the later expiry; one statement, so
// concurrent revocations of one id cannot lose the later one. The update
// skips a row it would not change, so that the revocation log, which a
// trigger appends to, grows only by news.
func (s *Store) revoke(ctx context.Context, kind, id string, expiresAt time.Time) error {
	return s.write(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `INSERT INTO `+s.t.revocations+` (kind, id, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (kind, id) DO UPDATE SET expires_at = excluded.expires_at
			WHERE excluded.expires_at > expires_at`, kind, id, expiry(expiresAt))
		return err
	})
}

// IsRevoked implements store.RevocationStore.
func (s *Store) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	var revoked bool
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+s.t.revocations+`
			WHERE expires_at > ? AND ((kind = 'j' AND id = ? AND id <> '') OR (kind = 'g' AND id = ? AND id <> '')))`,
			s.clock(), jti, grantID).Scan(&revoked)
	})
	if err != nil {
		return false, fail(ctx, "checking revocation", err)
	}
	return revoked, nil
}
