package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// CreateSession implements store.SessionStore; an expired session of the
// same grant is replaced.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	var n int64
	err := s.write(ctx, func() error {
		res, err := s.db.ExecContext(ctx, `INSERT INTO `+s.t.sessions+`
			(grant_id, subject, client_id, scope, created_at, refreshed_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (grant_id) DO UPDATE SET
				subject = excluded.subject, client_id = excluded.client_id, scope = excluded.scope,
				created_at = excluded.created_at, refreshed_at = excluded.refreshed_at,
				expires_at = excluded.expires_at
			WHERE expires_at <= ?`,
			sess.GrantID, sess.Subject, sess.ClientID, encodeScope(sess.Scope), micro(sess.CreatedAt),
			micro(sess.RefreshedAt), expiry(sess.ExpiresAt), s.clock())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fail(ctx, "creating session", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: creating session: %w", store.ErrAlreadyExists)
	}
	return nil
}

// TouchSession implements store.SessionStore.
func (s *Store) TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
	err := s.write(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `UPDATE `+s.t.sessions+` SET
				refreshed_at = max(coalesce(refreshed_at, ?1), ?1),
				expires_at = max(expires_at, ?2)
			WHERE grant_id = ?3 AND subject = ?4 AND expires_at > ?5`,
			micro(at), expiry(expiresAt), grantID, subject, s.clock())
		return err
	})
	if err != nil {
		return fail(ctx, "touching session", err)
	}
	return nil
}

// ListSessions implements store.SessionStore.
func (s *Store) ListSessions(ctx context.Context, subject string) ([]store.Session, error) {
	var out []store.Session
	err := retry(ctx, func() error {
		out = nil
		rows, err := s.db.QueryContext(ctx, `SELECT grant_id, subject, client_id, scope, created_at, refreshed_at, expires_at
			FROM `+s.t.sessions+` WHERE subject = ? AND expires_at > ? ORDER BY created_at, grant_id`, subject, s.clock())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				sess             store.Session
				scope            string
				created, touched sql.NullInt64
				expires          int64
			)
			if err := rows.Scan(&sess.GrantID, &sess.Subject, &sess.ClientID, &scope, &created, &touched, &expires); err != nil {
				return err
			}
			if sess.Scope, err = decodeScope(scope); err != nil {
				return err
			}
			sess.CreatedAt, sess.RefreshedAt, sess.ExpiresAt = fromMicro(created), fromMicro(touched), fromExpiry(expires)
			out = append(out, sess)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fail(ctx, "listing sessions", err)
	}
	return out, nil
}

// DeleteSession implements store.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, subject, grantID string) error {
	err := s.write(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM `+s.t.sessions+` WHERE grant_id = ? AND subject = ?`, grantID, subject)
		return err
	})
	if err != nil {
		return fail(ctx, "deleting session", err)
	}
	return nil
}
