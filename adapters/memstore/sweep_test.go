package memstore

import (
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// The conformance suite cannot see memory, so this checks here that a Store
// nobody calls DeleteExpired on still drops expired records, and only once
// per sweep interval.
func TestWritesSweepExpired(t *testing.T) {
	ctx := t.Context()
	clock := time.Now()
	s := New(WithClock(func() time.Time { return clock }), WithSweepInterval(time.Minute))

	short, long := clock.Add(time.Second), clock.Add(time.Hour)
	for i, exp := range []time.Time{short, long} {
		tok := store.RefreshToken{Hash: []byte{byte(i)}, IssuedAt: clock, ExpiresAt: exp}
		if err := s.CreateRefreshToken(ctx, tok); err != nil {
			t.Fatalf("CreateRefreshToken() = %v, want nil", err)
		}
	}
	if err := s.RevokeGrant(ctx, "grant", short); err != nil {
		t.Fatalf("RevokeGrant() = %v, want nil", err)
	}

	tests := []struct {
		name                    string
		advance                 time.Duration
		wantRefresh, wantGrants int
		wantJTIs                int
	}{
		{"expired, interval not up", 30 * time.Second, 2, 1, 1},
		{"interval up", 31 * time.Second, 1, 0, 2},
		{"interval not up again", 30 * time.Second, 1, 0, 3},
	}
	for i, tt := range tests {
		clock = clock.Add(tt.advance)
		if err := s.RevokeAccessToken(ctx, string(rune('a'+i)), long); err != nil {
			t.Fatalf("%s: RevokeAccessToken() = %v, want nil", tt.name, err)
		}
		if got := len(s.refresh); got != tt.wantRefresh {
			t.Errorf("%s: len(refresh) = %d, want %d", tt.name, got, tt.wantRefresh)
		}
		if got := len(s.grants); got != tt.wantGrants {
			t.Errorf("%s: len(grants) = %d, want %d", tt.name, got, tt.wantGrants)
		}
		if got := len(s.jtis); got != tt.wantJTIs {
			t.Errorf("%s: len(jtis) = %d, want %d", tt.name, got, tt.wantJTIs)
		}
	}
}
