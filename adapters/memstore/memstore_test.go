package memstore_test

import (
	"testing"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

func TestConformance(t *testing.T) {
	newStore := func(*testing.T) store.Store { return memstore.New() }
	storetest.Run(t, newStore)
	storetest.RunConcurrency(t, newStore)
}
