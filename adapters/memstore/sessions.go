package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

var _ store.SessionStore = (*Store)(nil)

// CreateSession implements store.SessionStore.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.maybeSweepLocked(now)
	if old, ok := s.sessions[sess.GrantID]; ok && now.Before(old.ExpiresAt) {
		return fmt.Errorf("memstore: create session: %w", store.ErrAlreadyExists)
	}
	sess.Scope = slices.Clone(sess.Scope)
	s.sessions[sess.GrantID] = sess
	return nil
}

// TouchSession implements store.SessionStore.
func (s *Store) TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[grantID]
	if !ok || sess.Subject != subject || !s.now().Before(sess.ExpiresAt) {
		return nil
	}
	if at.After(sess.RefreshedAt) {
		sess.RefreshedAt = at
	}
	if expiresAt.After(sess.ExpiresAt) {
		sess.ExpiresAt = expiresAt
	}
	s.sessions[grantID] = sess
	return nil
}

// ListSessions implements store.SessionStore.
func (s *Store) ListSessions(ctx context.Context, subject string) ([]store.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	var out []store.Session
	for _, sess := range s.sessions {
		if sess.Subject == subject && now.Before(sess.ExpiresAt) {
			sess.Scope = slices.Clone(sess.Scope)
			out = append(out, sess)
		}
	}
	slices.SortFunc(out, func(a, b store.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.GrantID, b.GrantID))
	})
	return out, nil
}

// DeleteSession implements store.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, subject, grantID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[grantID]; ok && sess.Subject == subject {
		delete(s.sessions, grantID)
	}
	return nil
}
