package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// watchPoll is how often WatchRevocations reads the revocation log. It is
// well under store.WatchHeartbeat, since each successful poll is what calls
// Alive.
const watchPoll = 200 * time.Millisecond

// ListRevocations implements store.RevocationWatcher.
func (s *Store) ListRevocations(ctx context.Context) ([]store.Revocation, error) {
	var out []store.Revocation
	err := retry(ctx, func() error {
		out = nil
		rows, err := s.db.QueryContext(ctx, `SELECT kind, id, expires_at FROM `+s.t.revocations+`
			WHERE expires_at > ?`, s.clock())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				kind, id string
				exp      int64
			)
			if err := rows.Scan(&kind, &id, &exp); err != nil {
				return err
			}
			out = append(out, revocation(kind, id, exp))
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fail(ctx, "listing revocations", err)
	}
	return out, nil
}

func revocation(kind, id string, exp int64) store.Revocation {
	r := store.Revocation{ExpiresAt: fromExpiry(exp)}
	if kind == kindGrant {
		r.GrantID = id
	} else {
		r.JTI = id
	}
	return r
}

// WatchRevocations implements store.RevocationWatcher by polling the
// revocation log, which a trigger appends every revocation to, whichever
// process made it, every 200ms. Log entries carry increasing sequence
// numbers that SQLite never reuses, and SQLite commits one writer at a time,
// so each poll sees every entry after the last one seen: none is missed.
// DeleteExpired removes only entries that have expired, which no listener
// needs. So revocations reach a watcher within about 200ms, and a failed poll
// ends the watch with its error.
func (s *Store) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	var last int64
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM `+s.t.revocationLog).Scan(&last)
	})
	if err != nil {
		return fail(ctx, "watching revocations", err)
	}
	h.Alive()
	t := time.NewTicker(watchPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlitestore: watching revocations: %w", ctx.Err())
		case <-t.C:
		}
		var (
			news []store.Revocation
			seen int64
		)
		err := retry(ctx, func() error {
			news, seen = news[:0], last
			rows, err := s.db.QueryContext(ctx, `SELECT seq, kind, id, expires_at FROM `+s.t.revocationLog+`
				WHERE seq > ? ORDER BY seq`, last)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					seq, exp int64
					kind, id string
				)
				if err := rows.Scan(&seq, &kind, &id, &exp); err != nil {
					return err
				}
				news = append(news, revocation(kind, id, exp))
				seen = max(seen, seq)
			}
			return rows.Err()
		})
		if err != nil {
			return fail(ctx, "watching revocations", err)
		}
		last = seen
		for _, r := range news {
			h.Revoked(r)
		}
		h.Alive()
	}
}
