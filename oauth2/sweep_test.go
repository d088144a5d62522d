package oauth2

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// waitBound bounds every wait for an event in these tests: long enough for
// any machine, short enough that a Sweep that never acts fails the test
// instead of hanging it.
const waitBound = 10 * time.Second

// reportingStore is a memstore that reports on swept what each successful
// DeleteExpired removed, until stop is closed.
type reportingStore struct {
	*memstore.Store
	swept chan int
	stop  <-chan struct{}
}

func (s reportingStore) DeleteExpired(ctx context.Context) (int, error) {
	n, err := s.Store.DeleteExpired(ctx)
	if err == nil {
		select {
		case s.swept <- n:
		case <-s.stop:
		}
	}
	return n, err
}

// nextSweep returns what the next successful sweep removed.
func nextSweep(t *testing.T, swept <-chan int) int {
	t.Helper()
	select {
	case n := <-swept:
		return n
	case <-time.After(waitBound):
		t.Fatalf("no sweep within %v", waitBound)
		return 0
	}
}

// waitReturn returns what Sweep, running in the goroutine that sends on done,
// returned.
func waitReturn(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitBound):
		t.Fatalf("Sweep did not return within %v", waitBound)
		return nil
	}
}

func TestSweep(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	st := reportingStore{Store: memstore.New(memstore.WithClock(clock.Now)), swept: make(chan int)}
	now := clock.Now()

	tests := []struct {
		name string
		ttl  time.Duration
		want bool // still there after the first sweep
	}{
		{name: "expired", ttl: time.Second, want: false},
		{name: "expired long ago", ttl: time.Millisecond, want: false},
		{name: "live", ttl: time.Hour, want: true},
	}
	for _, tt := range tests {
		tok := store.RefreshToken{Hash: []byte(tt.name), GrantID: "g", IssuedAt: now, ExpiresAt: now.Add(tt.ttl)}
		if err := st.CreateRefreshToken(ctx, tok); err != nil {
			t.Fatalf("%s: CreateRefreshToken() = %v, want nil", tt.name, err)
		}
		if err := st.RevokeAccessToken(ctx, tt.name, now.Add(tt.ttl)); err != nil {
			t.Fatalf("%s: RevokeAccessToken() = %v, want nil", tt.name, err)
		}
	}
	clock.Advance(time.Minute)

	sweepCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	st.stop = sweepCtx.Done()
	done := make(chan error, 1)
	go func() { done <- Sweep(sweepCtx, st, time.Millisecond, slog.New(slog.DiscardHandler)) }()

	// Two expired tokens and two expired revocations.
	if got := nextSweep(t, st.swept); got != 4 {
		t.Errorf("first sweep: DeleteExpired() = %d, want 4", got)
	}
	for _, tt := range tests {
		_, err := st.GetRefreshToken(ctx, []byte(tt.name))
		if got := err == nil; got != tt.want {
			t.Errorf("%s: GetRefreshToken() = %v, want found: %v", tt.name, err, tt.want)
		}
		revoked, err := st.IsRevoked(ctx, tt.name, "")
		if err != nil || revoked != tt.want {
			t.Errorf("%s: IsRevoked() = %v, %v, want %v, nil", tt.name, revoked, err, tt.want)
		}
	}
	// Deleted, not merely hidden: the store itself finds nothing left.
	if got, err := st.Store.DeleteExpired(ctx); got != 0 || err != nil {
		t.Errorf("DeleteExpired() after the first sweep = %d, %v, want 0, nil", got, err)
	}

	// Sweeping goes on: once the live records expire, a later sweep takes
	// them. A sweep under way while the clock moves may still find none.
	clock.Advance(2 * time.Hour)
	got := 0
	for got == 0 {
		got = nextSweep(t, st.swept)
	}
	if got != 2 {
		t.Errorf("sweep after the clock passed every expiry: DeleteExpired() = %d, want 2", got)
	}

	cancel()
	if err := waitReturn(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Sweep() after cancel = %v, want %v", err, context.Canceled)
	}
}

// brokenDeleter is a store whose DeleteExpired always fails, reporting each
// call on calls until stop is closed.
type brokenDeleter struct {
	Store
	calls chan struct{}
	stop  <-chan struct{}
}

func (s brokenDeleter) DeleteExpired(context.Context) (int, error) {
	select {
	case s.calls <- struct{}{}:
	case <-s.stop:
	}
	return 0, errors.New("disk on fire")
}

func TestSweepLogsFailuresAndGoesOn(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st := brokenDeleter{Store: memstore.New(), calls: make(chan struct{}), stop: ctx.Done()}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	done := make(chan error, 1)
	go func() { done <- Sweep(ctx, st, time.Millisecond, logger) }()

	for i := range 3 {
		select {
		case <-st.calls:
		case <-time.After(waitBound):
			t.Fatalf("DeleteExpired call %d did not come within %v; a failure must not stop Sweep", i+1, waitBound)
		}
	}
	cancel()
	if err := waitReturn(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Sweep() after cancel = %v, want %v", err, context.Canceled)
	}
	// Sweep has returned: nothing writes to logs any more.
	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "disk on fire") {
		t.Errorf("Sweep() logged %q, want an ERROR line with the cause", got)
	}
}

func TestSweepWithoutDeleteExpired(t *testing.T) {
	tests := []struct {
		name     string
		store    Store
		wantLogs string
		wantErr  bool
	}{
		{name: "store that expires records itself", store: struct{ Store }{memstore.New()}, wantLogs: "not sweeping"},
		{name: "nil store", store: nil, wantErr: true},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		done := make(chan error, 1)
		// t.Context() ends only with the test: Sweep must return by itself.
		go func() { done <- Sweep(t.Context(), tt.store, 0, slog.New(slog.NewTextHandler(&logs, nil))) }()
		err := waitReturn(t, done)
		if gotErr := err != nil; gotErr != tt.wantErr {
			t.Errorf("%s: Sweep() = %v, want error: %v", tt.name, err, tt.wantErr)
		}
		if got := logs.String(); !strings.Contains(got, tt.wantLogs) {
			t.Errorf("%s: Sweep() logged %q, want it to contain %q", tt.name, got, tt.wantLogs)
		}
	}
}

func TestSweepWait(t *testing.T) {
	tests := []struct {
		name             string
		interval         time.Duration
		wantMin, wantMax time.Duration
	}{
		{name: "one nanosecond", interval: 1, wantMin: 1, wantMax: 1},
		{name: "one second", interval: time.Second, wantMin: 900 * time.Millisecond, wantMax: 1100 * time.Millisecond},
		{name: "default", interval: DefaultSweepInterval, wantMin: 54 * time.Second, wantMax: 66 * time.Second},
	}
	for _, tt := range tests {
		for range 1000 {
			if got := sweepWait(tt.interval); got < tt.wantMin || got > tt.wantMax {
				t.Errorf("%s: sweepWait(%v) = %v, want within [%v, %v]", tt.name, tt.interval, got, tt.wantMin, tt.wantMax)
				break
			}
		}
	}
}
