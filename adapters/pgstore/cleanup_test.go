package pgstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
)

// DeleteExpired must go on past its first batch until every expired row is
// gone, in every table, and count them all; the suite stores too few rows to
// fill one batch.
func (db testDB) testDeleteExpiredBatches(t *testing.T) {
	const batch = 10
	tests := []struct {
		name    string
		expired int // per table
	}{
		{"none", 0},
		{"less than a batch", batch - 1},
		{"exactly a batch", batch},
		{"several batches", 2*batch + 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s, schema := db.newStore(t, pgstore.WithDeleteBatch(batch))
			past, future := now().Add(-time.Minute), now().Add(time.Hour)
			for i := range tt.expired {
				if err := s.CreateRefreshToken(ctx, token(past.Add(-time.Hour), past)); err != nil {
					t.Fatalf("CreateRefreshToken(expired) = %v, want nil", err)
				}
				if err := s.RevokeGrant(ctx, fmt.Sprint("expired-grant-", i), past); err != nil {
					t.Fatalf("RevokeGrant(expired) = %v, want nil", err)
				}
				if err := s.RevokeAccessToken(ctx, fmt.Sprint("expired-jti-", i), past); err != nil {
					t.Fatalf("RevokeAccessToken(expired) = %v, want nil", err)
				}
				if _, err := s.AddFailure(ctx, fmt.Sprint("expired-key-", i), past); err != nil {
					t.Fatalf("AddFailure(expired) = %v, want nil", err)
				}
				if err := s.CreateSession(ctx, session("subject", past.Add(-time.Hour), past)); err != nil {
					t.Fatalf("CreateSession(expired) = %v, want nil", err)
				}
			}
			live := token(now(), future)
			if err := s.CreateRefreshToken(ctx, live); err != nil {
				t.Fatalf("CreateRefreshToken(live) = %v, want nil", err)
			}
			if err := s.RevokeGrant(ctx, "live-grant", future); err != nil {
				t.Fatalf("RevokeGrant(live) = %v, want nil", err)
			}
			if err := s.RevokeAccessToken(ctx, "live-jti", future); err != nil {
				t.Fatalf("RevokeAccessToken(live) = %v, want nil", err)
			}
			if _, err := s.AddFailure(ctx, "live-key", future); err != nil {
				t.Fatalf("AddFailure(live) = %v, want nil", err)
			}
			if err := s.CreateSession(ctx, session("subject", now(), future)); err != nil {
				t.Fatalf("CreateSession(live) = %v, want nil", err)
			}

			tables := []string{"refresh_tokens", "revoked_grants", "revoked_access_tokens", "attempts", "sessions"}
			want := len(tables) * tt.expired
			if got, err := s.DeleteExpired(ctx); got != want || err != nil {
				t.Errorf("DeleteExpired() = %d, %v, want %d, nil", got, err, want)
			}
			for _, table := range tables {
				if got := db.count(t, schema, table); got != 1 {
					t.Errorf("rows in %s after DeleteExpired() = %d, want 1 (the live one)", table, got)
				}
			}
			if got, err := s.DeleteExpired(ctx); got != 0 || err != nil {
				t.Errorf("DeleteExpired() again = %d, %v, want 0, nil", got, err)
			}
		})
	}
}
