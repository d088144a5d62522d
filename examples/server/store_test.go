package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
	"github.com/oauth2kit/oauth2kit/store"
)

// localStore hides the memory store's KeyStore methods, so that
// signingKeys takes the path of a store that cannot share keys.
type localStore struct{ store.Store }

func TestSigningKeysAlgorithm(t *testing.T) {
	tests := []struct {
		name  string
		store func() store.Store
		alg   string
		want  string
	}{
		{name: "shared default", store: func() store.Store { return memstore.New() }, alg: "", want: "EdDSA"},
		{name: "shared EdDSA", store: func() store.Store { return memstore.New() }, alg: "EdDSA", want: "EdDSA"},
		{name: "shared ES256", store: func() store.Store { return memstore.New() }, alg: "ES256", want: "ES256"},
		{name: "shared RS256", store: func() store.Store { return memstore.New() }, alg: "RS256", want: "RS256"},
		{name: "local default", store: func() store.Store { return localStore{memstore.New()} }, alg: "", want: "EdDSA"},
		{name: "local ES256", store: func() store.Store { return localStore{memstore.New()} }, alg: "ES256", want: "ES256"},
		{name: "local RS256", store: func() store.Store { return localStore{memstore.New()} }, alg: "RS256", want: "RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config{alg: tt.alg, accessTTL: time.Minute}
			keys, err := signingKeys(t.Context(), tt.store(), cfg, discardLogger(), nil)
			if err != nil {
				t.Fatalf("signingKeys(alg %q) error = %v, want nil", tt.alg, err)
			}
			if got := activeKey(t, keys).Algorithm(); got != tt.want {
				t.Errorf("signingKeys(alg %q) signs with %q, want %q", tt.alg, got, tt.want)
			}
		})
	}
}

// A store that already holds a key keeps signing with it whatever -alg
// says, since the server never rotates; the operator is told so.
func TestSigningKeysKeepStoredAlgorithm(t *testing.T) {
	st := memstore.New()
	if _, err := signingKeys(t.Context(), st, config{alg: "EdDSA", accessTTL: time.Minute}, discardLogger(), nil); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	keys, err := signingKeys(t.Context(), st, config{alg: "ES256", accessTTL: time.Minute}, slog.New(slog.NewTextHandler(&log, nil)), nil)
	if err != nil {
		t.Fatalf("signingKeys(alg ES256) on a store with an EdDSA key error = %v, want nil", err)
	}
	if got := activeKey(t, keys).Algorithm(); got != "EdDSA" {
		t.Errorf("signingKeys(alg ES256) signs with %q, want EdDSA (the stored key)", got)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "store_alg=EdDSA") {
		t.Errorf("log = %q, want a warning naming the stored key's algorithm", log.String())
	}
}

// activeKey returns the key s signs with now.
func activeKey(t *testing.T, s oauth2.Signer) *oauth2.Key {
	t.Helper()
	k, err := s.SigningKey(t.Context())
	if err != nil {
		t.Fatalf("SigningKey() error = %v", err)
	}
	return k
}
