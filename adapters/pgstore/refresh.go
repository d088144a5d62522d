package pgstore

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oauth2kit/oauth2kit/store"
)

// CreateRefreshToken implements store.RefreshTokenStore.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	now := s.clock()
	return s.retry.do(ctx, "create refresh token", func() error {
		tag, err := s.pool.Exec(ctx, s.q.createRefresh,
			t.Hash, t.GrantID, t.ClientID, t.Subject, scope(t.Scope),
			t.IssuedAt, t.ExpiresAt, t.GrantExpiresAt, t.SuccessorKey, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrAlreadyExists
		}
		return nil
	})
}

// GetRefreshToken implements store.RefreshTokenStore.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	now := s.clock()
	t := store.RefreshToken{Hash: bytes.Clone(hash)}
	err := s.retry.do(ctx, "get refresh token", func() error {
		var consumedAt *time.Time
		// A NULL successor_key, as every token stored before migration
		// 0003 has, scans as a nil SuccessorKey, never an empty one:
		// package oauth2 reads nil as a grant without a grace window,
		// and an empty key would be an HMAC key anyone knows.
		err := s.pool.QueryRow(ctx, s.q.getRefresh, hash, now).Scan(
			&t.GrantID, &t.ClientID, &t.Subject, &t.Scope,
			&t.IssuedAt, &t.ExpiresAt, &t.GrantExpiresAt, &consumedAt, &t.SuccessorKey)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if consumedAt != nil {
			t.ConsumedAt = *consumedAt
		}
		return err
	})
	if err != nil {
		return store.RefreshToken{}, err
	}
	return t, nil
}

// RotateRefreshToken implements store.RefreshTokenStore. The consumption and
// the successor are one statement, so they commit together or not at all;
// see the rotate query for why exactly one of concurrent rotations wins.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	now := s.clock()
	return s.retry.do(ctx, "rotate refresh token", func() error {
		// A successor's hash taken by an expired token is not taken: the
		// expired row is removed and the rotation tried once more, as
		// CreateRefreshToken would replace it.
		for range 2 {
			err := s.rotate(ctx, oldHash, next, now)
			if !isUniqueViolation(err) {
				return err
			}
			tag, err := s.pool.Exec(ctx, s.q.deleteExpiredRefresh, next.Hash, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				break
			}
		}
		return store.ErrAlreadyExists
	})
}

// rotate runs the rotation statement once and, if it changed nothing, finds
// out why.
func (s *Store) rotate(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) error {
	tag, err := s.pool.Exec(ctx, s.q.rotate,
		oldHash, next.IssuedAt, now,
		next.Hash, next.GrantID, next.ClientID, next.Subject, scope(next.Scope),
		next.IssuedAt, next.ExpiresAt, next.GrantExpiresAt, next.SuccessorKey)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	var consumed bool
	// The old token is looked up under next.GrantID, as the contract
	// allows and redisstore must: a successor names its predecessor's grant.
	err = s.pool.QueryRow(ctx, s.q.rotateOutcome, oldHash, now, next.GrantID).Scan(&consumed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	case consumed:
		return store.ErrReused
	default:
		// Live and unconsumed now, but absent when the rotation looked:
		// it was created in between, so the rotation found nothing.
		return store.ErrNotFound
	}
}

// scope returns a non-nil scope: the column is NOT NULL, and the contract
// lets a nil scope come back empty.
func scope(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" // unique_violation
}
