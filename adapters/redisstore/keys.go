package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/store"
)

// The key set is one Redis hash: its version, as decimal text, the keys as
// JSON, and the id of the swap that wrote them. It is the one key without a
// TTL: there is one per prefix and it holds a handful of keys.
const (
	fieldVersion = "version"
	fieldKeys    = "keys"
)

// swapScript replaces the key set if its version is still the one the
// caller read ("0" when none is stored). Versions are compared as the text
// Go formatted, so no Lua number arithmetic loses precision. A set already
// holding this call's id was written by this very call, sent again by
// go-redis after a lost reply, and is not a conflict.
// KEYS[1]: the key set. ARGV[1]: expected version; ARGV[2]: new version;
// ARGV[3]: keys; ARGV[4]: call id.
var swapScript = redis.NewScript(`#!lua
if redis.call('HGET', KEYS[1], 'call') == ARGV[4] then return 1 end
if (redis.call('HGET', KEYS[1], 'version') or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'keys', ARGV[3], 'call', ARGV[4])
return 1
`)

// signingKey is the stored form of a store.SigningKey; encoding/json writes
// Private as base64 and the times to the nanosecond.
type signingKey struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"alg"`
	Private   []byte    `json:"private"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at"`
}

// GetKeySet implements store.KeyStore.
func (s *Store) GetKeySet(ctx context.Context) (store.SigningKeySet, error) {
	const op = "get key set"
	if err := ctx.Err(); err != nil {
		return store.SigningKeySet{}, fail(ctx, op, err)
	}
	vals, err := s.client.HMGet(ctx, s.keySetKey(), fieldVersion, fieldKeys).Result()
	if err != nil {
		return store.SigningKeySet{}, fail(ctx, op, err)
	}
	version, _ := vals[0].(string)
	encoded, _ := vals[1].(string)
	if version == "" {
		return store.SigningKeySet{}, nil // none stored yet
	}
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		return store.SigningKeySet{}, fmt.Errorf("redisstore: %s: malformed version %q: %w", op, version, err)
	}
	var stored []signingKey
	if err := json.Unmarshal([]byte(encoded), &stored); err != nil {
		return store.SigningKeySet{}, fmt.Errorf("redisstore: %s: malformed keys: %w", op, err)
	}
	set := store.SigningKeySet{Version: v, Keys: make([]store.SigningKey, len(stored))}
	for i, k := range stored {
		set.Keys[i] = store.SigningKey(k)
	}
	return set, nil
}

// SwapKeySet implements store.KeyStore.
func (s *Store) SwapKeySet(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
	const op = "swap key set"
	if err := ctx.Err(); err != nil {
		return 0, fail(ctx, op, err)
	}
	stored := make([]signingKey, len(keys))
	for i, k := range keys {
		stored[i] = signingKey(k)
	}
	encoded, err := json.Marshal(stored)
	if err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	next := version + 1
	swapped, err := swapScript.Run(ctx, s.client, []string{s.keySetKey()},
		strconv.FormatInt(version, 10), strconv.FormatInt(next, 10), encoded, rand.Text()).Int64()
	if err != nil {
		return 0, fail(ctx, op, err)
	}
	if swapped == 0 {
		return 0, fmt.Errorf("redisstore: %s from version %d: %w", op, version, store.ErrConflict)
	}
	return next, nil
}
