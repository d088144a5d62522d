package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oauth2kit/oauth2kit/store"
)

// encodeScope stores a scope as a JSON array, which keeps its order and any
// character a scope token may hold.
func encodeScope(scope []string) string {
	if len(scope) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(scope) // a []string always marshals
	return string(b)
}

func decodeScope(s string) ([]string, error) {
	var scope []string
	if err := json.Unmarshal([]byte(s), &scope); err != nil {
		return nil, fmt.Errorf("decoding scope: %w", err)
	}
	if len(scope) == 0 {
		return nil, nil
	}
	return scope, nil
}

// insertRefresh stores t unless a live token has its hash; an expired one is
// replaced. It reports whether it stored t.
func (s *Store) insertRefresh(ctx context.Context, exec interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, t store.RefreshToken, now int64) (bool, error) {
	res, err := exec.ExecContext(ctx, `INSERT INTO `+s.t.refresh+`
		(hash, grant_id, client_id, subject, scope, issued_at, expires_at, grant_expires_at, consumed_at, successor_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET
			grant_id = excluded.grant_id, client_id = excluded.client_id, subject = excluded.subject,
			scope = excluded.scope, issued_at = excluded.issued_at, expires_at = excluded.expires_at,
			grant_expires_at = excluded.grant_expires_at, consumed_at = excluded.consumed_at,
			successor_key = excluded.successor_key
		WHERE expires_at <= ?`,
		t.Hash, t.GrantID, t.ClientID, t.Subject, encodeScope(t.Scope), micro(t.IssuedAt),
		expiry(t.ExpiresAt), micro(t.GrantExpiresAt), micro(t.ConsumedAt), nilIfEmpty(t.SuccessorKey), now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// nilIfEmpty keeps an empty slice from being stored as an empty BLOB where
// the caller gave nil; the two are not told apart on the way back.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateRefreshToken implements store.RefreshTokenStore.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	var stored bool
	err := s.write(ctx, func() (err error) {
		stored, err = s.insertRefresh(ctx, s.db, t, s.clock())
		return err
	})
	if err != nil {
		return fail(ctx, "creating refresh token", err)
	}
	if !stored {
		return fmt.Errorf("sqlitestore: creating refresh token: %w", store.ErrAlreadyExists)
	}
	return nil
}

// GetRefreshToken implements store.RefreshTokenStore.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	var (
		t                          store.RefreshToken
		scope                      string
		issued, grantExp, consumed sql.NullInt64
		expires                    int64
		successorKey               []byte
	)
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT hash, grant_id, client_id, subject, scope, issued_at, expires_at,
			grant_expires_at, consumed_at, successor_key FROM `+s.t.refresh+` WHERE hash = ? AND expires_at > ?`,
			hash, s.clock()).Scan(&t.Hash, &t.GrantID, &t.ClientID, &t.Subject, &scope, &issued, &expires,
			&grantExp, &consumed, &successorKey)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return store.RefreshToken{}, fmt.Errorf("sqlitestore: refresh token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.RefreshToken{}, fail(ctx, "getting refresh token", err)
	}
	if t.Scope, err = decodeScope(scope); err != nil {
		return store.RefreshToken{}, fail(ctx, "getting refresh token", err)
	}
	t.IssuedAt, t.ExpiresAt = fromMicro(issued), fromExpiry(expires)
	t.GrantExpiresAt, t.ConsumedAt = fromMicro(grantExp), fromMicro(consumed)
	t.SuccessorKey = successorKey
	return t, nil
}

// RotateRefreshToken implements store.RefreshTokenStore, in one BEGIN
// IMMEDIATE transaction.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	var verdict error // a sentinel the transaction rolled back for
	err := s.immediate(ctx, func(c *sql.Conn) error {
		verdict = nil
		now := s.clock()
		var consumed sql.NullInt64
		err := c.QueryRowContext(ctx, `SELECT consumed_at FROM `+s.t.refresh+`
			WHERE hash = ? AND grant_id = ? AND expires_at > ?`, oldHash, next.GrantID, now).Scan(&consumed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			verdict = store.ErrNotFound
			return verdict
		case err != nil:
			return err
		case consumed.Valid:
			verdict = store.ErrReused
			return verdict
		}
		if _, err := c.ExecContext(ctx, `UPDATE `+s.t.refresh+` SET consumed_at = ? WHERE hash = ?`,
			micro(next.IssuedAt), oldHash); err != nil {
			return err
		}
		stored, err := s.insertRefresh(ctx, c, next, now)
		if err != nil {
			return err
		}
		if !stored {
			verdict = store.ErrAlreadyExists
			return verdict
		}
		return nil
	})
	if verdict != nil {
		return fmt.Errorf("sqlitestore: rotating refresh token: %w", verdict)
	}
	if err != nil {
		return fail(ctx, "rotating refresh token", err)
	}
	return nil
}
