package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oauth2kit/oauth2kit/store"
)

// retryPolicy says how often and how patiently an operation that PostgreSQL
// aborted for a serialization failure or a deadlock is run again.
type retryPolicy struct {
	// attempts is how many times the operation runs at most, the first
	// included.
	attempts int
	// base is the backoff cap before the first retry; it doubles for each
	// retry after, up to max.
	base, max time.Duration
	// sleep waits for d or until ctx ends; tests replace it to run without
	// waiting.
	sleep func(ctx context.Context, d time.Duration) error
}

// defaultRetryPolicy: five attempts with up to 10, 20, 40 and 80 ms of
// jittered backoff between them, so a failing call gives up within about
// 150 ms of waiting. The operations are single short statements, so a
// conflict clears quickly; one that keeps failing is better reported than
// hidden behind a long wait.
var defaultRetryPolicy = retryPolicy{
	attempts: 5,
	base:     10 * time.Millisecond,
	max:      200 * time.Millisecond,
	sleep:    sleepCtx,
}

// retryable reports whether PostgreSQL aborted the statement only because of
// other transactions running at the same time, in which case running it again
// is both safe (it changed nothing) and likely to succeed.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40001", // serialization_failure
		"40P01": // deadlock_detected
		return true
	}
	return false
}

// do runs f until it succeeds, fails for a reason other than a serialization
// failure or deadlock, runs out of attempts or ctx ends, and returns its error
// wrapped as "pgstore: op: ...". f must change nothing when it fails, which
// holds for a single statement or a transaction it rolls back.
func (p retryPolicy) do(ctx context.Context, op string, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil && !errors.Is(err, ctx.Err()) && !answer(err):
			// The driver reports a statement that the server cancelled
			// for the context as the server's error (SQLSTATE 57014),
			// which does not say that the context ended.
			return fmt.Errorf("pgstore: %s: %w: %w", op, ctx.Err(), err)
		case !retryable(err):
			return fmt.Errorf("pgstore: %s: %w", op, err)
		case attempt >= p.attempts:
			return fmt.Errorf("pgstore: %s: giving up after %d attempts: %w", op, attempt, err)
		}
		if serr := p.sleep(ctx, p.backoff(attempt)); serr != nil {
			return fmt.Errorf("pgstore: %s: %w (waiting to retry after: %w)", op, serr, err)
		}
	}
}

// answer reports whether err is what the database answered rather than a
// failure to get an answer: a record absent, reused, taken or changed.
func answer(err error) bool {
	for _, sentinel := range []error{store.ErrNotFound, store.ErrReused, store.ErrAlreadyExists, store.ErrConflict} {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}

// backoff returns how long to wait before retry number attempt (1 for the
// first): a uniformly random duration up to a cap that doubles each time,
// so that the callers that collided do not collide again in step.
func (p retryPolicy) backoff(attempt int) time.Duration {
	ceiling := p.base << (attempt - 1)
	if ceiling > p.max || ceiling <= 0 {
		ceiling = p.max
	}
	return rand.N(ceiling + 1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
