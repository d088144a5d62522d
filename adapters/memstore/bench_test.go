package memstore_test

import (
	"testing"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/storetest"
)

func BenchmarkStore(b *testing.B) { storetest.Benchmark(b, memstore.New()) }
