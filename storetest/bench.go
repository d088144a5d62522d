package storetest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// Benchmark measures the store calls on the token paths, as sub-benchmarks
// of b so that a server-backed adapter starts its server once however many
// -count runs there are:
//
//   - RotateRefreshToken: one grant rotated along a chain, the write of every
//     refresh;
//   - GetRefreshToken: the read that precedes it;
//   - RevokeAccessToken: a new jti each time, as after a logout;
//   - IsRevoked: the read of every verified access token, from parallel
//     goroutines, against a store holding 1000 revoked grants and jtis.
//
// An adapter's benchmark is one line, func BenchmarkStore(b *testing.B) {
// storetest.Benchmark(b, s) }, and changes are compared with benchstat.
// Figures for a networked store include its round trips.
func Benchmark(b *testing.B, s store.Store) {
	ctx := b.Context()
	now := time.Now()
	tok := store.RefreshToken{
		Hash:           benchHash(0),
		GrantID:        newID("grant"),
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
	// The chain continues across the -count runs of the sub-benchmark.
	rotations := uint64(0)
	b.Run("RotateRefreshToken", func(b *testing.B) {
		for b.Loop() {
			rotations++
			next := tok
			next.Hash = benchHash(rotations)
			next.IssuedAt = time.Now()
			if err := s.RotateRefreshToken(ctx, tok.Hash, next); err != nil {
				b.Fatal(err)
			}
			tok = next
		}
	})
	b.Run("GetRefreshToken", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetRefreshToken(ctx, tok.Hash); err != nil {
				b.Fatal(err)
			}
		}
	})
	revocations := 0
	b.Run("RevokeAccessToken", func(b *testing.B) {
		exp := time.Now().Add(time.Hour)
		for b.Loop() {
			revocations++
			if err := s.RevokeAccessToken(ctx, fmt.Sprint("bench-jti-", revocations), exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	exp := time.Now().Add(time.Hour)
	for i := range 1000 {
		if err := s.RevokeGrant(ctx, fmt.Sprint("bench-grant-", i), exp); err != nil {
			b.Fatal(err)
		}
		if err := s.RevokeAccessToken(ctx, fmt.Sprint("bench-old-jti-", i), exp); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("IsRevoked", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.IsRevoked(ctx, "live-jti", "live-grant"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func benchHash(i uint64) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("storetest-bench"), i))
	return h[:]
}
