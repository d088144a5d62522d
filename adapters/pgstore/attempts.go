package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2kit/oauth2kit/store"
)

// AddFailure implements store.AttemptStore. See the addFailure query for why
// concurrent calls are each counted once.
//
// Only a statement that PostgreSQL aborted (a serialization failure or a
// deadlock) is run again, and an aborted statement counted nothing. A
// failure that leaves the outcome unknown, such as a connection lost
// before the answer, is reported rather than retried: a retry would count
// the failure twice if the first statement had committed.
func (s *Store) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	now := s.clock()
	var a store.Attempts
	err := s.retry.do(ctx, "add failure", func() error {
		return s.pool.QueryRow(ctx, s.q.addFailure, key, now, expiresAt).Scan(&a.Failures, &a.Last)
	})
	if err != nil {
		return store.Attempts{}, err
	}
	return a, nil
}

// GetAttempts implements store.AttemptStore, in one statement whatever the
// number of keys, and none for no keys.
func (s *Store) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	if len(keys) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pgstore: get attempts: %w", err)
		}
		return []store.Attempts{}, nil
	}
	now := s.clock()
	var live map[string]store.Attempts
	err := s.retry.do(ctx, "get attempts", func() error {
		live = make(map[string]store.Attempts, len(keys))
		rows, err := s.pool.Query(ctx, s.q.getAttempts, keys, now)
		if err != nil {
			return err
		}
		var (
			key string
			a   store.Attempts
		)
		_, err = pgx.ForEachRow(rows, []any{&key, &a.Failures, &a.Last}, func() error {
			live[key] = a
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Attempts, len(keys))
	for i, k := range keys {
		out[i] = live[k]
	}
	return out, nil
}

// ResetAttempts implements store.AttemptStore.
func (s *Store) ResetAttempts(ctx context.Context, key string) error {
	return s.retry.do(ctx, "reset attempts", func() error {
		_, err := s.pool.Exec(ctx, s.q.resetAttempts, key)
		return err
	})
}
