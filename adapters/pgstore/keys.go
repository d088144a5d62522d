package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2kit/oauth2kit/store"
)

// jsonKey is how a store.SigningKey is kept in the key_set table's jsonb
// column: the field names are fixed here, so renaming a Go field cannot make
// stored sets unreadable.
type jsonKey struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"alg"`
	Private   []byte    `json:"private"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at"`
}

// GetKeySet implements store.KeyStore.
func (s *Store) GetKeySet(ctx context.Context) (store.SigningKeySet, error) {
	var (
		version int64
		raw     []byte
	)
	err := s.retry.do(ctx, "get key set", func() error {
		err := s.pool.QueryRow(ctx, s.q.getKeySet).Scan(&version, &raw)
		if errors.Is(err, pgx.ErrNoRows) {
			// No set stored yet: version 0, as the contract defines it.
			version, raw = 0, nil
			return nil
		}
		return err
	})
	if err != nil || raw == nil {
		return store.SigningKeySet{}, err
	}
	var stored []jsonKey
	if err := json.Unmarshal(raw, &stored); err != nil {
		return store.SigningKeySet{}, fmt.Errorf("pgstore: get key set: decoding version %d: %w", version, err)
	}
	keys := make([]store.SigningKey, len(stored))
	for i, k := range stored {
		keys[i] = store.SigningKey(k)
	}
	return store.SigningKeySet{Version: version, Keys: keys}, nil
}

// SwapKeySet implements store.KeyStore.
func (s *Store) SwapKeySet(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
	stored := make([]jsonKey, len(keys))
	for i, k := range keys {
		stored[i] = jsonKey(k)
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		return 0, fmt.Errorf("pgstore: swap key set: encoding: %w", err)
	}
	var newVersion int64
	err = s.retry.do(ctx, "swap key set", func() error {
		if version == 0 {
			tag, err := s.pool.Exec(ctx, s.q.insertKeySet, raw)
			if err == nil && tag.RowsAffected() == 0 {
				err = store.ErrConflict
			}
			newVersion = 1
			return err
		}
		err := s.pool.QueryRow(ctx, s.q.updateKeySet, version, raw).Scan(&newVersion)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrConflict
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return newVersion, nil
}
