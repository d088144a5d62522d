package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

var _ store.RevocationWatcher = (*Store)(nil)

// watcher is one WatchRevocations call. Revocations are queued under the
// store's lock, never dropped, and handed to the handler by the watching
// goroutine, so a slow handler does not hold up revokers.
type watcher struct {
	queue  []store.Revocation
	notify chan struct{} // one pending wake-up at most
}

func (s *Store) publishLocked(r store.Revocation) {
	for w := range s.watchers {
		w.queue = append(w.queue, r)
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// ListRevocations implements store.RevocationWatcher.
func (s *Store) ListRevocations(ctx context.Context) ([]store.Revocation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	var out []store.Revocation
	for id, exp := range s.grants {
		if now.Before(exp) {
			out = append(out, store.Revocation{GrantID: id, ExpiresAt: exp})
		}
	}
	for id, exp := range s.jtis {
		if now.Before(exp) {
			out = append(out, store.Revocation{JTI: id, ExpiresAt: exp})
		}
	}
	return out, nil
}

// WatchRevocations implements store.RevocationWatcher. In process, the
// subscription cannot fail: it ends only with ctx.
func (s *Store) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	w := &watcher{notify: make(chan struct{}, 1)}
	s.mu.Lock()
	if s.watchers == nil {
		s.watchers = make(map[*watcher]struct{})
	}
	s.watchers[w] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, w)
		s.mu.Unlock()
	}()

	h.Alive()
	tick := time.NewTicker(store.WatchHeartbeat / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("memstore: watching revocations: %w", ctx.Err())
		case <-tick.C:
			h.Alive()
		case <-w.notify:
			s.mu.Lock()
			batch := w.queue
			w.queue = nil
			s.mu.Unlock()
			for _, r := range batch {
				h.Revoked(r)
			}
		}
	}
}
