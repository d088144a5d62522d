package pgstore_test

import (
	"testing"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// BenchmarkStore runs the shared store benchmarks against a real server,
// started once: its sub-benchmarks run -count times each. The figures
// include a round trip to a local container, so compare them only with each
// other (benchstat).
func BenchmarkStore(b *testing.B) {
	pool := newPool(b, testenv.Postgres(b, testenv.Options{}).URL, nil)
	s, err := pgstore.New(pool, pgstore.WithSchema(newSchema(b, pool)))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	storetest.Benchmark(b, s)
}
