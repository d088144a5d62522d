package oauth2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// DefaultSweepInterval is how often Sweep deletes expired records when it is
// given no interval.
const DefaultSweepInterval = time.Minute

// Sweep deletes the expired records of s periodically, until ctx ends, for
// stores whose backend does not delete them by itself (those that implement
// store.ExpiredDeleter, such as memstore and pgstore). It calls
// DeleteExpired at once, then again about every interval, and returns ctx's
// error when ctx ends. Start it once, at start-up, in a goroutine of its own:
//
//	go oauth2.Sweep(ctx, st, 0, logger)
//
// A store that is not a store.ExpiredDeleter needs no sweeping (redisstore:
// Redis deletes expired keys by itself), so Sweep returns nil at once: the
// same start-up code serves every adapter. It logs that at level Warn, since
// a wrapper around a store that does need sweeping hides ExpiredDeleter
// alike, and its tables would then grow without anyone being told. A nil s
// is an error.
//
// An interval of 0 means DefaultSweepInterval, and a negative one is an
// error. Each wait is drawn at
// random between 90% and 110% of the interval, so that instances started
// together do not sweep in step; sweeping from several instances at once is
// safe, only redundant. Each DeleteExpired call may run for one interval at
// most; what it removed by then stays removed.
//
// A failed sweep is logged at level Error and tried again after the next
// wait, never returned: a database down for a while must not end the
// sweeping for good. A successful one is logged at level Debug with how many
// records it removed. A nil logger means slog.Default(), so that failures
// are never silent; give a logger with a discarding handler to silence them.
func Sweep(ctx context.Context, s Store, interval time.Duration, logger *slog.Logger) error {
	if s == nil {
		return errors.New("oauth2: Sweep: nil store")
	}
	if interval < 0 {
		return fmt.Errorf("oauth2: Sweep: negative interval %s", interval)
	}
	if logger == nil {
		logger = slog.Default()
	}
	d, ok := s.(store.ExpiredDeleter)
	if !ok {
		logger.WarnContext(ctx, "oauth2: sweep: the store has no DeleteExpired; not sweeping (right for Redis, wrong for a wrapper that hides it)",
			"store", fmt.Sprintf("%T", s))
		return nil
	}
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		// A cancelled ctx and a due timer may be ready together; select
		// picks either, so check before starting a sweep nobody wants.
		if err := ctx.Err(); err != nil {
			return err
		}
		sweepOnce(ctx, d, interval, logger)
		timer.Reset(sweepWait(interval))
	}
}

// sweepOnce calls DeleteExpired once, for at most interval, and logs the
// outcome. A failure caused by ctx ending is not logged: Sweep is stopping.
func sweepOnce(ctx context.Context, d store.ExpiredDeleter, interval time.Duration, logger *slog.Logger) {
	cctx, cancel := context.WithTimeout(ctx, interval)
	n, err := d.DeleteExpired(cctx)
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
	case err != nil:
		logger.ErrorContext(ctx, "oauth2: sweep: deleting expired records failed", "deleted", n, "err", err)
	default:
		logger.DebugContext(ctx, "oauth2: sweep: deleted expired records", "deleted", n)
	}
}

// sweepWait is how long Sweep waits after a sweep: interval, give or take a
// tenth of it at random.
func sweepWait(interval time.Duration) time.Duration {
	return interval - interval/10 + rand.N(interval/5+1)
}
