package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// sentinels are the errors of the contract, by name, so that checks can say
// which one an error matched without comparing errors with ==.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNotFound", store.ErrNotFound},
	{"ErrReused", store.ErrReused},
	{"ErrAlreadyExists", store.ErrAlreadyExists},
	{"ErrConflict", store.ErrConflict},
	{"context.Canceled", context.Canceled},
	{"context.DeadlineExceeded", context.DeadlineExceeded},
}

func testWrappedSentinels(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	mustCreate(ctx, t, s, tok)
	next := successor(tok, base.Add(time.Minute))
	mustRotate(ctx, t, s, tok.Hash, next)
	expired := newToken(base.Add(-time.Hour))
	expired.ExpiresAt = base.Add(-time.Second)
	if err := s.CreateRefreshToken(ctx, expired); err != nil {
		t.Fatalf("CreateRefreshToken(expired token) = %v, want nil", err)
	}

	onto := successor(next, base.Add(2*time.Minute))
	onto.Hash = tok.Hash

	_, getUnknown := s.GetRefreshToken(ctx, newHash())
	_, getExpired := s.GetRefreshToken(ctx, expired.Hash)
	tests := []struct {
		call string
		err  error
		want string
	}{
		{"GetRefreshToken(unknown)", getUnknown, "ErrNotFound"},
		{"GetRefreshToken(expired)", getExpired, "ErrNotFound"},
		{"CreateRefreshToken(existing)", s.CreateRefreshToken(ctx, tok), "ErrAlreadyExists"},
		{"RotateRefreshToken(unknown)", s.RotateRefreshToken(ctx, newHash(), successor(tok, base)), "ErrNotFound"},
		{"RotateRefreshToken(expired)", s.RotateRefreshToken(ctx, expired.Hash, successor(expired, base)), "ErrNotFound"},
		{"RotateRefreshToken(consumed)", s.RotateRefreshToken(ctx, tok.Hash, successor(tok, base.Add(2*time.Minute))), "ErrReused"},
		{"RotateRefreshToken(onto taken hash)", s.RotateRefreshToken(ctx, next.Hash, onto), "ErrAlreadyExists"},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s = nil, want error matching %s", tt.call, tt.want)
			continue
		}
		for _, sentinel := range sentinels {
			if got, want := errors.Is(tt.err, sentinel.err), sentinel.name == tt.want; got != want {
				t.Errorf("errors.Is(%s = %q, %s) = %v, want %v", tt.call, tt.err, sentinel.name, got, want)
			}
		}
	}
}
