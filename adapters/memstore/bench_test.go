package memstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// BenchmarkRotateRefreshToken rotates one grant along a chain, the write on
// every refresh.
func BenchmarkRotateRefreshToken(b *testing.B) {
	ctx := context.Background()
	s := memstore.New()
	now := time.Now()
	tok := store.RefreshToken{
		Hash:           benchHash(0),
		GrantID:        "grant",
		ClientID:       "client",
		Subject:        "subject",
		Scope:          []string{"openid", "profile"},
		IssuedAt:       now,
		ExpiresAt:      now.Add(time.Hour),
		GrantExpiresAt: now.Add(24 * time.Hour),
	}
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	i := uint64(0)
	for b.Loop() {
		i++
		next := tok
		next.Hash = benchHash(i)
		if err := s.RotateRefreshToken(ctx, tok.Hash, next); err != nil {
			b.Fatal(err)
		}
		tok = next
	}
}

// BenchmarkIsRevoked checks revocation from many goroutines against a store
// holding many revocations, the read on every verified access token.
func BenchmarkIsRevoked(b *testing.B) {
	ctx := context.Background()
	s := memstore.New()
	exp := time.Now().Add(time.Hour)
	const revoked = 10_000
	for i := range revoked {
		if err := s.RevokeAccessToken(ctx, fmt.Sprint("jti-", i), exp); err != nil {
			b.Fatal(err)
		}
		if err := s.RevokeGrant(ctx, fmt.Sprint("grant-", i), exp); err != nil {
			b.Fatal(err)
		}
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.IsRevoked(ctx, "jti-live", "grant-live"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchHash(i uint64) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
	return h[:]
}
