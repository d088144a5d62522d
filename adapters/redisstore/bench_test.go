package redisstore_test

import (
	"testing"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// BenchmarkStore runs the shared store benchmarks against a real server
// (the one OAUTH2KIT_REDIS_URL names, or a container started once: the
// sub-benchmarks run -count times each). The figures include round trips, so
// compare them only with each other (benchstat).
func BenchmarkStore(b *testing.B) {
	// testcontainers logs to stderr, which go test interleaves with the
	// result lines of -count runs, and benchstat then cannot read them.
	prev := tclog.Default()
	tclog.SetDefault(tclog.NewNoopLogger())
	b.Cleanup(func() { tclog.SetDefault(prev) })
	srv := testenv.Redis(b, testenv.Options{})
	storetest.Benchmark(b, redisstore.New(newClient(b, srv.URL), redisstore.WithKeyPrefix(newPrefix())))
}
