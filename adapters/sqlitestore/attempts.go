package sqlitestore

import (
	"context"
	"strings"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// AddFailure implements store.AttemptStore with one upsert, so that
// concurrent failures under one key are each counted once.
func (s *Store) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	var (
		failures int
		last     int64
	)
	err := s.write(ctx, func() error {
		now := s.clock()
		return s.db.QueryRowContext(ctx, `INSERT INTO `+s.t.attempts+` (key, failures, last, expires_at)
			VALUES (?1, 1, ?2, ?3)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN expires_at > ?2 THEN failures + 1 ELSE 1 END,
				last = CASE WHEN expires_at > ?2 THEN max(last, ?2) ELSE ?2 END,
				expires_at = CASE WHEN expires_at > ?2 THEN max(expires_at, ?3) ELSE ?3 END
			RETURNING failures, last`, key, now, expiry(expiresAt)).Scan(&failures, &last)
	})
	if err != nil {
		return store.Attempts{}, fail(ctx, "adding failure", err)
	}
	return store.Attempts{Failures: failures, Last: time.UnixMicro(last).UTC()}, nil
}

// GetAttempts implements store.AttemptStore, with one query for all keys.
func (s *Store) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "getting attempts", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(keys)+1)
	args = append(args, s.clock())
	for _, k := range keys {
		args = append(args, k)
	}
	found := make(map[string]store.Attempts, len(keys))
	err := retry(ctx, func() error {
		clear(found)
		rows, err := s.db.QueryContext(ctx, `SELECT key, failures, last FROM `+s.t.attempts+`
			WHERE expires_at > ? AND key IN (?`+strings.Repeat(", ?", len(keys)-1)+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				key  string
				a    store.Attempts
				last int64
			)
			if err := rows.Scan(&key, &a.Failures, &last); err != nil {
				return err
			}
			a.Last = time.UnixMicro(last).UTC()
			found[key] = a
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fail(ctx, "getting attempts", err)
	}
	out := make([]store.Attempts, len(keys))
	for i, k := range keys {
		out[i] = found[k]
	}
	return out, nil
}

// ResetAttempts implements store.AttemptStore.
func (s *Store) ResetAttempts(ctx context.Context, key string) error {
	err := s.write(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM `+s.t.attempts+` WHERE key = ?`, key)
		return err
	})
	if err != nil {
		return fail(ctx, "resetting attempts", err)
	}
	return nil
}
