package storetest_test

import (
	"testing"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// An adapter's conformance test is a factory and two calls; this is
// memstore's. It is shown as a function value because running it needs the
// *testing.T of a real test.
func ExampleRun() {
	testConformance := func(t *testing.T) {
		newStore := func(*testing.T) store.Store { return memstore.New() }
		storetest.Run(t, newStore)
		storetest.RunConcurrency(t, newStore)
	}
	_ = testConformance
}
