package sqlitestore

import (
	"context"
	"database/sql"
)

// DeleteExpired implements store.ExpiredDeleter: it removes, in one
// transaction, every refresh token, revocation, attempt record and session
// whose expiry has passed by the adapter's clock, and the entries of the
// revocation log that no watcher needs any more, and reports how many
// records (log entries not counted) it removed.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	var total int64
	err := s.immediate(ctx, func(c *sql.Conn) error {
		total = 0
		now := s.clock()
		for _, table := range []string{s.t.refresh, s.t.revocations, s.t.attempts, s.t.sessions} {
			res, err := c.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at <= ?`, now)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		_, err := c.ExecContext(ctx, `DELETE FROM `+s.t.revocationLog+` WHERE expires_at <= ?`, now)
		return err
	})
	if err != nil {
		return 0, fail(ctx, "deleting expired records", err)
	}
	return int(total), nil
}
