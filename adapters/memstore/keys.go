package memstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/oauth2kit/oauth2kit/store"
)

var _ store.KeyStore = (*Store)(nil)

// GetKeySet implements store.KeyStore.
func (s *Store) GetKeySet(ctx context.Context) (store.SigningKeySet, error) {
	if err := ctx.Err(); err != nil {
		return store.SigningKeySet{}, fmt.Errorf("memstore: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return store.SigningKeySet{Version: s.keySet.Version, Keys: cloneKeys(s.keySet.Keys)}, nil
}

// SwapKeySet implements store.KeyStore.
func (s *Store) SwapKeySet(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keySet.Version != version {
		return 0, fmt.Errorf("memstore: swap key set from version %d (stored %d): %w", version, s.keySet.Version, store.ErrConflict)
	}
	s.keySet = store.SigningKeySet{Version: version + 1, Keys: cloneKeys(keys)}
	return s.keySet.Version, nil
}

func cloneKeys(keys []store.SigningKey) []store.SigningKey {
	if keys == nil {
		return nil
	}
	out := make([]store.SigningKey, len(keys))
	for i, k := range keys {
		k.Private = bytes.Clone(k.Private)
		out[i] = k
	}
	return out
}
