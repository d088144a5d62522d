package oauth2_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oauth2kit/oauth2kit/oauth2"
	"github.com/oauth2kit/oauth2kit/store"
)

// The sentinels are constants: no importer can reassign or change them (a
// test of that is the compiler's: `oauth2.ErrInvalidGrant = nil` does not
// build). What remains to check is that they still match as documented.
func TestSentinelsMatch(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"wrapped token error is an invalid token", fmt.Errorf("x: %w", oauth2.ErrTokenExpired), oauth2.ErrInvalidToken, true},
		{"token error is itself", fmt.Errorf("x: %w", oauth2.ErrTokenExpired), oauth2.ErrTokenExpired, true},
		{"token errors differ", oauth2.ErrTokenExpired, oauth2.ErrTokenRevoked, false},
		{"revocation unavailable is no invalid token", oauth2.ErrRevocationUnavailable, oauth2.ErrInvalidToken, false},
		{"keys unavailable is no invalid token", oauth2.ErrKeysUnavailable, oauth2.ErrInvalidToken, false},
		{"an Error matches its code", &oauth2.Error{Code: oauth2.ErrInvalidGrant, Description: "d"}, oauth2.ErrInvalidGrant, true},
		{"an Error matches no other code", &oauth2.Error{Code: oauth2.ErrInvalidGrant}, oauth2.ErrInvalidClient, false},
		{"a wrapped Error matches its code", fmt.Errorf("x: %w", &oauth2.Error{Code: oauth2.ErrInvalidScope}), oauth2.ErrInvalidScope, true},
		{"store sentinel wrapped", fmt.Errorf("adapter: %w", store.ErrNotFound), store.ErrNotFound, true},
		{"store sentinels differ", store.ErrNotFound, store.ErrReused, false},
		{"same text, another package", errors.New("store: not found"), store.ErrNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

// DefaultArgon2Params hands out a copy: changing it changes nothing else.
func TestDefaultArgon2ParamsIsACopy(t *testing.T) {
	p := oauth2.DefaultArgon2Params()
	p.Memory, p.Time = 1, 1
	if got := oauth2.DefaultArgon2Params(); got.Memory != 19*1024 || got.Time != 2 || got.Threads != 1 {
		t.Errorf("DefaultArgon2Params() after changing a copy = %+v, want 19 MiB, 2 passes, 1 thread", got)
	}
}
