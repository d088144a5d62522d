package pgstore_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/store"
)

// BenchmarkStore measures the calls on the token path against a real server.
// They are sub-benchmarks of one function so that they share one server:
// go test runs a top-level benchmark function once per -count, which would
// start a container each time, while this function runs once and its
// sub-benchmarks -count times each. The figures include a network round trip
// to a local container, so compare them only with each other (benchstat).
func BenchmarkStore(b *testing.B) {
	pool := newPool(b, testenv.Postgres(b, testenv.Options{}).URL, nil)
	s, err := pgstore.New(pool, pgstore.WithSchema(newSchema(b, pool)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}

	// Rotation runs one grant along a chain, the write on every refresh.
	// The chain continues across the -count runs of the sub-benchmark.
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
	rotations := uint64(0)
	b.Run("RotateRefreshToken", func(b *testing.B) {
		for b.Loop() {
			rotations++
			next := tok
			next.Hash = benchHash(rotations)
			if err := s.RotateRefreshToken(ctx, tok.Hash, next); err != nil {
				b.Fatal(err)
			}
			tok = next
		}
	})

	// Each revocation is of a new jti, as after a logout.
	revocations := 0
	b.Run("RevokeAccessToken", func(b *testing.B) {
		exp := time.Now().Add(time.Hour)
		for b.Loop() {
			revocations++
			if err := s.RevokeAccessToken(ctx, fmt.Sprint("jti-", revocations), exp); err != nil {
				b.Fatal(err)
			}
		}
	})

	// IsRevoked is the read on every verified access token, from many
	// goroutines, against tables holding many revocations.
	exp := time.Now().Add(time.Hour)
	for i := range 1000 {
		if err := s.RevokeGrant(ctx, fmt.Sprint("grant-", i), exp); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("IsRevoked", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.IsRevoked(ctx, "jti-live", "grant-live"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func benchHash(i uint64) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
	return h[:]
}
