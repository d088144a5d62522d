package redisstore_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
)

// The benchmarks measure round trips to a real server (the one
// OAUTH2KIT_REDIS_URL names, or a container per benchmark), so they compare
// changes to this adapter, not Redis against memstore.

func benchStore(b *testing.B) *redisstore.Store {
	b.Helper()
	// testcontainers logs to stderr, which go test interleaves with the
	// result lines of -count runs, and benchstat then cannot read them.
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	srv := testenv.Redis(b, testenv.Options{})
	return redisstore.New(newClient(b, srv.URL), redisstore.WithKeyPrefix(newPrefix()))
}

// BenchmarkRotateRefreshToken rotates one grant along a chain, the write on
// every refresh: a claim and a script, two round trips.
func BenchmarkRotateRefreshToken(b *testing.B) {
	ctx := b.Context()
	s := benchStore(b)
	tok := newToken(time.Now())
	mustCreate(ctx, b, s, tok)
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

// BenchmarkGetRefreshToken reads a token, the read on every refresh: the
// index entry, then the record.
func BenchmarkGetRefreshToken(b *testing.B) {
	ctx := b.Context()
	s := benchStore(b)
	tok := newToken(time.Now())
	mustCreate(ctx, b, s, tok)
	for b.Loop() {
		if _, err := s.GetRefreshToken(ctx, tok.Hash); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevokeAccessToken revokes a new access token each time, as
// logging out does.
func BenchmarkRevokeAccessToken(b *testing.B) {
	ctx := b.Context()
	s := benchStore(b)
	exp := time.Now().Add(time.Hour)
	i := 0
	for b.Loop() {
		i++
		if err := s.RevokeAccessToken(ctx, fmt.Sprint("jti-", i), exp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIsRevoked checks an access token and its grant, neither revoked,
// against a store holding many revocations: the read on every verified
// access token, with both lookups in one pipeline.
func BenchmarkIsRevoked(b *testing.B) {
	ctx := b.Context()
	s := benchStore(b)
	exp := time.Now().Add(time.Hour)
	const revoked = 1000
	for i := range revoked {
		if err := s.RevokeAccessToken(ctx, fmt.Sprint("jti-", i), exp); err != nil {
			b.Fatal(err)
		}
		if err := s.RevokeGrant(ctx, fmt.Sprint("grant-", i), exp); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := s.IsRevoked(ctx, "jti-live", "grant-live"); err != nil {
			b.Fatal(err)
		}
	}
}

func benchHash(i uint64) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
	return h[:]
}
