package pgstore

import (
	"context"
	"time"
)

// RevokeGrant implements store.RevocationStore.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	return s.revoke(ctx, "revoke grant", s.q.revokeGrant, grantID, expiresAt)
}

// RevokeAccessToken implements store.RevocationStore.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return s.revoke(ctx, "revoke access token", s.q.revokeAccessToken, jti, expiresAt)
}

func (s *Store) revoke(ctx context.Context, op, query, id string, expiresAt time.Time) error {
	return s.retry.do(ctx, op, func() error {
		_, err := s.pool.Exec(ctx, query, id, expiresAt, s.channel)
		return err
	})
}

// IsRevoked implements store.RevocationStore. It answers false only when the
// database said so: any failure is an error, never a false that would let a
// revoked token through.
func (s *Store) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	now := s.clock()
	var revoked bool
	err := s.retry.do(ctx, "is revoked", func() error {
		return s.pool.QueryRow(ctx, s.q.isRevoked, jti, grantID, now).Scan(&revoked)
	})
	if err != nil {
		return false, err
	}
	return revoked, nil
}
