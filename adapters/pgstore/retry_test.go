package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oauth2kit/oauth2kit/store"
)

// testPolicy is the default policy with sleeps recorded instead of slept.
func testPolicy(slept *[]time.Duration) retryPolicy {
	p := defaultRetryPolicy
	p.sleep = func(ctx context.Context, d time.Duration) error {
		*slept = append(*slept, d)
		return ctx.Err()
	}
	return p
}

func TestRetry(t *testing.T) {
	serialization := &pgconn.PgError{Code: "40001", Message: "could not serialize access due to concurrent update"}
	deadlock := &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	unique := &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}
	times := func(n int, err error) []error {
		errs := make([]error, n)
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	attempts := defaultRetryPolicy.attempts
	gaveUp := fmt.Sprintf("giving up after %d attempts", attempts)

	tests := []struct {
		name string
		// errs are what the operation returns on each call; it succeeds
		// once they run out.
		errs      []error
		wantCalls int
		wantErr   error
		// wantMsg is a part of the error message, if any.
		wantMsg string
	}{
		{name: "succeeds at once", wantCalls: 1},
		{name: "serialization failures, then success", errs: times(attempts-1, serialization), wantCalls: attempts},
		{name: "deadlock, then success", errs: []error{deadlock}, wantCalls: 2},
		{name: "serialization failure every time", errs: times(attempts, serialization), wantCalls: attempts, wantErr: serialization, wantMsg: gaveUp},
		{name: "more failures than attempts", errs: times(2*attempts, deadlock), wantCalls: attempts, wantErr: deadlock, wantMsg: gaveUp},
		{name: "other server error is not retried", errs: []error{unique}, wantCalls: 1, wantErr: unique},
		{name: "sentinel is not retried", errs: []error{store.ErrReused}, wantCalls: 1, wantErr: store.ErrReused},
		{name: "wrapped serialization failure is retried", errs: []error{errors.Join(errors.New("commit"), serialization)}, wantCalls: 2},
	}
	for _, tt := range tests {
		var slept []time.Duration
		calls := 0
		err := testPolicy(&slept).do(t.Context(), "op", func() error {
			calls++
			if calls <= len(tt.errs) {
				return tt.errs[calls-1]
			}
			return nil
		})
		if calls != tt.wantCalls {
			t.Errorf("%s: do() called the operation %d times, want %d", tt.name, calls, tt.wantCalls)
		}
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: do() = %v, want error matching %v", tt.name, err, tt.wantErr)
		}
		if err != nil && (!strings.HasPrefix(err.Error(), "pgstore: op: ") || !strings.Contains(err.Error(), tt.wantMsg)) {
			t.Errorf("%s: do() = %q, want it to start %q and contain %q", tt.name, err, "pgstore: op: ", tt.wantMsg)
		}
		if len(slept) != calls-1 {
			t.Errorf("%s: do() backed off %d times for %d calls, want %d", tt.name, len(slept), calls, calls-1)
		}
	}
}

// Backoff is random, so that colliding callers spread out, but bounded by a
// cap that doubles per retry up to the policy's maximum.
func TestRetryBackoffBounds(t *testing.T) {
	p := retryPolicy{attempts: 10, base: 10 * time.Millisecond, max: 50 * time.Millisecond}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 10 * time.Millisecond},
		{2, 20 * time.Millisecond},
		{3, 40 * time.Millisecond},
		{4, 50 * time.Millisecond},
		{9, 50 * time.Millisecond},
		{70, 50 * time.Millisecond}, // base << 69 overflows
	}
	for _, tt := range tests {
		for range 1000 {
			if got := p.backoff(tt.attempt); got < 0 || got > tt.want {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", tt.attempt, got, tt.want)
			}
		}
	}
}

// A context that ends during an attempt or while waiting to retry ends the
// retries, and the error says that it ended, whatever the driver reported:
// unless the database had answered before.
func TestRetryContextEnds(t *testing.T) {
	serialization := &pgconn.PgError{Code: "40001"}
	queryCanceled := &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"}
	tests := []struct {
		name string
		// err is what the operation returns, after cancelling the
		// context.
		err error
		// want are the errors the result must match, wantNot those it
		// must not.
		want, wantNot []error
	}{
		{"while waiting to retry", serialization, []error{context.Canceled, serialization}, nil},
		{"server cancelled the statement", queryCanceled, []error{context.Canceled, queryCanceled}, nil},
		{"driver reported the context", fmt.Errorf("conn: %w", context.Canceled), []error{context.Canceled}, nil},
		{"database answered", store.ErrNotFound, []error{store.ErrNotFound}, []error{context.Canceled}},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		p := defaultRetryPolicy
		p.sleep = sleepCtx
		err := p.do(ctx, "op", func() error {
			calls++
			cancel()
			return tt.err
		})
		if calls != 1 {
			t.Errorf("%s: do() called the operation %d times, want 1", tt.name, calls)
		}
		for _, want := range tt.want {
			if !errors.Is(err, want) {
				t.Errorf("%s: do() = %v, want error matching %v", tt.name, err, want)
			}
		}
		for _, not := range tt.wantNot {
			if errors.Is(err, not) {
				t.Errorf("%s: do() = %v, want error not matching %v", tt.name, err, not)
			}
		}
	}
}
