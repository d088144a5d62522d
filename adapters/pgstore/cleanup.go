package pgstore

import "context"

// DeleteExpired implements store.ExpiredDeleter: it removes every refresh
// token, revocation, attempt record and session whose expiry has passed and
// reports how many. The Store runs no goroutine and never deletes by itself,
// so an application has DeleteExpired called periodically, by package
// oauth2's Sweep, from one instance or several; expired rows are invisible
// either way, and only take space until then.
//
// Rows go in batches of a bounded size, each batch its own statement, so
// that cleaning up a large backlog neither holds many locks at once nor runs
// one long transaction. If ctx ends or a statement fails part way, the rows
// already removed stay removed and are counted in the result.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	now := s.clock()
	total := 0
	for _, query := range s.q.deleteExpired {
		for {
			var n int64
			err := s.retry.do(ctx, "delete expired", func() error {
				tag, err := s.pool.Exec(ctx, query, now, s.deleteBatch)
				n = tag.RowsAffected()
				return err
			})
			total += int(n)
			if err != nil {
				return total, err
			}
			if n < int64(s.deleteBatch) {
				break
			}
		}
	}
	return total, nil
}
