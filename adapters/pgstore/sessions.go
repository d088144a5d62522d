package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2kit/oauth2kit/store"
)

// CreateSession implements store.SessionStore, in one statement: a live
// session of the same grant makes it fail with store.ErrAlreadyExists, an
// expired one is replaced.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	now := s.clock()
	return s.retry.do(ctx, "create session", func() error {
		tag, err := s.pool.Exec(ctx, s.q.createSession,
			sess.GrantID, sess.Subject, sess.ClientID, scope(sess.Scope),
			sess.CreatedAt, sess.RefreshedAt, sess.ExpiresAt, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrAlreadyExists
		}
		return nil
	})
}

// TouchSession implements store.SessionStore, in one statement. Running it
// again after an abort is harmless: it only ever moves times forward.
func (s *Store) TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
	now := s.clock()
	return s.retry.do(ctx, "touch session", func() error {
		_, err := s.pool.Exec(ctx, s.q.touchSession, grantID, subject, at, expiresAt, now)
		return err
	})
}

// ListSessions implements store.SessionStore, in one statement, so the list
// is one snapshot of the subject's sessions.
func (s *Store) ListSessions(ctx context.Context, subject string) ([]store.Session, error) {
	now := s.clock()
	var out []store.Session
	err := s.retry.do(ctx, "list sessions", func() error {
		rows, err := s.pool.Query(ctx, s.q.listSessions, subject, now)
		if err != nil {
			return err
		}
		// A Session of its own per row, so that no two share a Scope.
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Session, error) {
			sess := store.Session{Subject: subject}
			err := row.Scan(&sess.GrantID, &sess.ClientID, &sess.Scope,
				&sess.CreatedAt, &sess.RefreshedAt, &sess.ExpiresAt)
			return sess, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSession implements store.SessionStore, in one statement that
// matches the subject as well as the grant, so that nobody ends a session
// that is not theirs by naming its grant.
func (s *Store) DeleteSession(ctx context.Context, subject, grantID string) error {
	return s.retry.do(ctx, "delete session", func() error {
		_, err := s.pool.Exec(ctx, s.q.deleteSession, grantID, subject)
		return err
	})
}
