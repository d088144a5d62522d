package memstore_test

import (
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

func TestConformance(t *testing.T) {
	newStore := func(*testing.T) store.Store { return memstore.New() }
	storetest.Run(t, newStore)
	storetest.RunConcurrency(t, newStore)
}

// TestNew checks that New refuses, by panicking, what would otherwise fail
// on the first call.
func TestNew(t *testing.T) {
	tests := []struct {
		name      string
		opts      []memstore.Option
		wantPanic bool
	}{
		{name: "defaults"},
		{name: "clock", opts: []memstore.Option{memstore.WithClock(time.Now)}},
		{name: "sweep on every write", opts: []memstore.Option{memstore.WithSweepInterval(0)}},
		{name: "nil clock", opts: []memstore.Option{memstore.WithClock(nil)}, wantPanic: true},
	}
	for _, tt := range tests {
		got := func() (panicked bool) {
			defer func() { panicked = recover() != nil }()
			memstore.New(tt.opts...)
			return false
		}()
		if got != tt.wantPanic {
			t.Errorf("%s: New() panicked = %v, want %v", tt.name, got, tt.wantPanic)
		}
	}
}
