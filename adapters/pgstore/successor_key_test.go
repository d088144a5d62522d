package pgstore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// A SuccessorKey comes back as it was given, nil as nil and empty as empty,
// whether the token was created or stored by a rotation. The suite compares
// keys as bytes, where the two are equal, but package oauth2 gives a grant a
// grace window only if its key is not nil: a nil key that came back empty
// would open one keyed by nothing. NULL is how the column holds a nil key.
func (db testDB) testSuccessorKeyNil(t *testing.T) {
	ctx := t.Context()
	s, _ := db.newStore(t)
	tests := []struct {
		name string
		key  []byte
	}{
		{name: "nil", key: nil},
		{name: "empty", key: []byte{}},
	}
	for _, tt := range tests {
		first := token(now(), now().Add(time.Hour))
		first.SuccessorKey = tt.key
		if err := s.CreateRefreshToken(ctx, first); err != nil {
			t.Fatalf("%s: CreateRefreshToken() = %v, want nil", tt.name, err)
		}
		next := successor(first, now())
		next.SuccessorKey = tt.key
		if err := s.RotateRefreshToken(ctx, first.Hash, next); err != nil {
			t.Fatalf("%s: RotateRefreshToken() = %v, want nil", tt.name, err)
		}
		for _, tok := range []store.RefreshToken{first, next} {
			got, err := s.GetRefreshToken(ctx, tok.Hash)
			if err != nil {
				t.Errorf("%s: GetRefreshToken() = %v, want nil", tt.name, err)
				continue
			}
			if (got.SuccessorKey == nil) != (tt.key == nil) || !bytes.Equal(got.SuccessorKey, tt.key) {
				t.Errorf("%s: GetRefreshToken().SuccessorKey = %#v, want %#v", tt.name, got.SuccessorKey, tt.key)
			}
		}
	}
}
