package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

var _ store.AttemptStore = (*Store)(nil)

// attempts is one record of failed attempts.
type attempts struct {
	store.Attempts
	expiresAt time.Time
}

// AddFailure implements store.AttemptStore.
func (s *Store) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	if err := ctx.Err(); err != nil {
		return store.Attempts{}, fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.maybeSweepLocked(now)
	a, ok := s.attempts[key]
	if !ok || !now.Before(a.expiresAt) {
		a = attempts{}
	}
	a.Failures++
	if now.After(a.Last) {
		a.Last = now
	}
	if expiresAt.After(a.expiresAt) {
		a.expiresAt = expiresAt
	}
	s.attempts[key] = a
	return a.Attempts, nil
}

// GetAttempts implements store.AttemptStore.
func (s *Store) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	out := make([]store.Attempts, len(keys))
	for i, k := range keys {
		if a, ok := s.attempts[k]; ok && now.Before(a.expiresAt) {
			out[i] = a.Attempts
		}
	}
	return out, nil
}

// ResetAttempts implements store.AttemptStore.
func (s *Store) ResetAttempts(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.attempts, key)
	return nil
}
