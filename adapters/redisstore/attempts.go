package redisstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/store"
)

var _ store.AttemptStore = (*Store)(nil)

// The failures under one key are a Redis hash with these fields, all decimal
// integers: the count, the time of the latest failure and the record's
// expiry, both in Unix microseconds, and the id of the call that wrote it
// last (which only addFailureScript reads). Unlike the other records, an
// attempt record carries its expiry, so that the application's clock, not
// Redis's, decides when it ends, as package store's Expiry rule asks; its
// PXAT only has Redis remove it.
const (
	fieldFailures    = "failures"
	fieldLast        = "last"
	fieldAttemptsExp = "expires_at"
)

// addFailureScript counts one failure: a record whose expiry is not after
// now is treated as absent (Redis may not have removed it yet), the count
// goes up by one, last becomes the later of last and now, and the expiry the
// later of the stored one and the new one. Times are compared as Lua numbers,
// exact for microseconds up to the year 2255, and written as the text Go
// formatted, so what is returned is what is stored. A record whose last call
// is this one was written by this very call, sent again by go-redis after a
// lost reply: it is returned as it is rather than counted twice.
// KEYS[1]: the record. ARGV[1]: now; ARGV[2]: expiry (µs); ARGV[3]: PXAT of
// the expiry; ARGV[4]: call id. Returns {failures, last}.
var addFailureScript = redis.NewScript(`#!lua
local f = redis.call('HMGET', KEYS[1], 'failures', 'last', 'expires_at', 'call')
if f[4] == ARGV[4] then return {tonumber(f[1]), f[2]} end
local now, exp = tonumber(ARGV[1]), tonumber(ARGV[2])
if f[3] and tonumber(f[3]) <= now then
	redis.call('DEL', KEYS[1])
	f = {false, false, false}
end
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local last = f[2]
if not last or now > tonumber(last) then last = ARGV[1] end
redis.call('HSET', KEYS[1], 'last', last, 'call', ARGV[4])
if not f[3] or exp > tonumber(f[3]) then
	redis.call('HSET', KEYS[1], 'expires_at', ARGV[2])
	redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return {n, last}
`)

// AddFailure implements store.AttemptStore in one script. It is sent even
// when expiresAt has passed: a live record still counts the failure, and
// keeps its own expiry. A resent call is recognised by its call id only if
// no other failure under key came in between; otherwise it counts twice,
// which lengthens a wait and never shortens one.
func (s *Store) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	const op = "add failure"
	if err := ctx.Err(); err != nil {
		return store.Attempts{}, fail(ctx, op, err)
	}
	res, err := addFailureScript.Run(ctx, s.client, []string{s.attemptsKey(key)},
		micros(time.Now()), micros(expiresAt), pxat(expiresAt), rand.Text()).Slice()
	if err != nil {
		return store.Attempts{}, fail(ctx, op, err)
	}
	a, ok := decodeAdded(res)
	if !ok {
		return store.Attempts{}, fmt.Errorf("redisstore: %s: unexpected script result %v", op, res)
	}
	return a, nil
}

// decodeAdded reads addFailureScript's {failures, last}.
func decodeAdded(res []any) (store.Attempts, bool) {
	if len(res) != 2 {
		return store.Attempts{}, false
	}
	n, ok := res[0].(int64)
	last, _ := res[1].(string)
	us, err := strconv.ParseInt(last, 10, 64)
	if !ok || err != nil {
		return store.Attempts{}, false
	}
	return store.Attempts{Failures: int(n), Last: time.UnixMicro(us)}, true
}

// GetAttempts implements store.AttemptStore. The keys are unrelated, so
// they lie in any slots: one pipeline reads them all, a single round trip
// (go-redis splits it by node on Cluster).
func (s *Store) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	const op = "get attempts"
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	out := make([]store.Attempts, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	now := micros(time.Now())
	pipe := s.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(keys))
	for i, key := range keys {
		cmds[i] = pipe.HMGet(ctx, s.attemptsKey(key), fieldFailures, fieldLast, fieldAttemptsExp)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fail(ctx, op, err)
	}
	for i, cmd := range cmds {
		a, err := decodeAttempts(cmd.Val(), now)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %q: %w", op, keys[i], err)
		}
		out[i] = a
	}
	return out, nil
}

// decodeAttempts returns the record whose HMGET of failures, last and expiry
// gave vals, or the zero Attempts if it is absent or not live at now (µs).
func decodeAttempts(vals []any, now int64) (store.Attempts, error) {
	if len(vals) != 3 || vals[2] == nil {
		return store.Attempts{}, nil // every record has an expiry: there is none
	}
	var n [3]int64
	for i, v := range vals {
		text, _ := v.(string)
		var err error
		if n[i], err = strconv.ParseInt(text, 10, 64); err != nil {
			return store.Attempts{}, fmt.Errorf("malformed attempts record: %w", err)
		}
	}
	if n[2] <= now {
		return store.Attempts{}, nil
	}
	return store.Attempts{Failures: int(n[0]), Last: time.UnixMicro(n[1])}, nil
}

// ResetAttempts implements store.AttemptStore.
func (s *Store) ResetAttempts(ctx context.Context, key string) error {
	const op = "reset attempts"
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	if err := s.client.Del(ctx, s.attemptsKey(key)).Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}
