package memstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// A refresh token can be rotated once; presenting it again is reuse.
func Example() {
	ctx := context.Background()
	s := memstore.New()

	now := time.Now()
	first := store.RefreshToken{
		Hash:           digest("first refresh token"),
		GrantID:        "grant-1",
		ClientID:       "cli",
		Subject:        "alice",
		Scope:          []string{"openid"},
		IssuedAt:       now,
		ExpiresAt:      now.Add(time.Hour),
		GrantExpiresAt: now.Add(24 * time.Hour),
	}
	if err := s.CreateRefreshToken(ctx, first); err != nil {
		panic(err)
	}

	second := first
	second.Hash = digest("second refresh token")
	second.IssuedAt = now.Add(time.Minute)
	fmt.Println("rotate first:", s.RotateRefreshToken(ctx, first.Hash, second))

	third := second
	third.Hash = digest("third refresh token")
	err := s.RotateRefreshToken(ctx, first.Hash, third)
	fmt.Println("rotate first again is reuse:", errors.Is(err, store.ErrReused))

	got, _ := s.GetRefreshToken(ctx, first.Hash)
	fmt.Println("first consumed:", got.Consumed())
	// Output:
	// rotate first: <nil>
	// rotate first again is reuse: true
	// first consumed: true
}

func digest(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
