package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oauth2kit/oauth2kit/store"
)

// storedKey is a store.SigningKey as the key_set table holds it, in JSON
// with times in microseconds.
type storedKey struct {
	ID        string `json:"id"`
	Algorithm string `json:"alg"`
	Private   []byte `json:"private"`
	CreatedAt int64  `json:"created_at,omitempty"`
	RetiredAt int64  `json:"retired_at,omitempty"`
}

// GetKeySet implements store.KeyStore.
func (s *Store) GetKeySet(ctx context.Context) (store.SigningKeySet, error) {
	var (
		set  store.SigningKeySet
		blob []byte
	)
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT version, keys FROM `+s.t.keySet+` WHERE one = 1`).Scan(&set.Version, &blob)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return store.SigningKeySet{}, nil
	}
	if err != nil {
		return store.SigningKeySet{}, fail(ctx, "getting key set", err)
	}
	var keys []storedKey
	if err := json.Unmarshal(blob, &keys); err != nil {
		return store.SigningKeySet{}, fmt.Errorf("sqlitestore: decoding key set: %w", err)
	}
	for _, k := range keys {
		set.Keys = append(set.Keys, store.SigningKey{
			ID: k.ID, Algorithm: k.Algorithm, Private: k.Private,
			CreatedAt: fromMicro(sql.NullInt64{Int64: k.CreatedAt, Valid: k.CreatedAt != 0}),
			RetiredAt: fromMicro(sql.NullInt64{Int64: k.RetiredAt, Valid: k.RetiredAt != 0}),
		})
	}
	return set, nil
}

// SwapKeySet implements store.KeyStore with one conditional statement.
func (s *Store) SwapKeySet(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
	stored := make([]storedKey, len(keys))
	for i, k := range keys {
		stored[i] = storedKey{ID: k.ID, Algorithm: k.Algorithm, Private: k.Private,
			CreatedAt: micro(k.CreatedAt).Int64, RetiredAt: micro(k.RetiredAt).Int64}
	}
	blob, err := json.Marshal(stored)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: encoding key set: %w", err)
	}
	var n int64
	err = s.write(ctx, func() error {
		var res sql.Result
		var err error
		if version == 0 {
			res, err = s.db.ExecContext(ctx, `INSERT INTO `+s.t.keySet+` (one, version, keys) VALUES (1, 1, ?)
				ON CONFLICT (one) DO NOTHING`, blob)
		} else {
			res, err = s.db.ExecContext(ctx, `UPDATE `+s.t.keySet+` SET version = version + 1, keys = ?
				WHERE one = 1 AND version = ?`, blob, version)
		}
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fail(ctx, "swapping key set", err)
	}
	if n == 0 {
		return 0, fmt.Errorf("sqlitestore: swapping key set from version %d: %w", version, store.ErrConflict)
	}
	return version + 1, nil
}
