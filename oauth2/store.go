package oauth2

import "github.com/oauth2kit/oauth2kit/store"

// Store is the storage the Issuer needs; see package store for the contract
// and package storetest for the suite an implementation must pass. It is
// re-exported so that applications need only this package to get started.
type Store = store.Store
