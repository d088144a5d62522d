package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/store"
)

// A refresh token is two keys: its index entry, found by hash alone, which
// holds "<call id>:<grant ID>"; and its record, a Redis hash under the grant's
// hash tag with the fields below. A record is visible to GetRefreshToken only
// while both exist, which is what makes the order of the writes safe:
//
//  1. SET NX claims the index entry for the new record. Nothing is visible
//     yet: the entry leads to a record that does not exist.
//  2. One script on the grant's slot checks and writes the records (for a
//     rotation: consumes the old token and stores its successor). It is
//     atomic, so the new record appears, and the old one is consumed, at
//     one instant.
//
// If step 2 rejects the call (ErrNotFound, ErrReused, ErrAlreadyExists), the
// claim is deleted again. If step 2 fails in transit, the script may or may
// not have run, so the claim is kept: deleting it could hide a record that
// was written, losing a rotation. An orphaned claim is invisible and expires
// with the record it was made for. The reverse order, records first, would
// leave a window, and after a crash a permanent state, in which a rotation
// consumed its token but its successor could not be found.
//
// Every write carries the call's random id, so that a script go-redis runs
// again after a lost reply recognises its own work instead of reporting the
// token it just consumed as reused.
//
// On a single node (Store.oneNode) both steps are one script, which also
// writes the index entry, so a call is one round trip and never leaves a
// claim behind; GetRefreshToken is one script too, reading the record that
// the index entry names. Redis runs a script whole, so the order of its
// writes does not matter there. On Cluster the index entry and the records
// lie in different slots, which no script may touch together, and reading a
// key a script did not declare fails when it lies on another node: there a
// create or rotation costs two round trips (three when rejected, to release
// the claim), and GetRefreshToken two. The keys are the same either way.

// Fields of a record. The scripts below name "call" and "consumed_at" too.
//
// successor_key holds the grant's SuccessorKey as its raw bytes, which a
// Redis string keeps exactly. It is absent when the key is nil, so that nil
// and empty stay apart, and so that a record written before the field
// existed reads as what it is: a token without a key.
const (
	fieldClientID       = "client_id"
	fieldSubject        = "subject"
	fieldScope          = "scope"
	fieldIssuedAt       = "issued_at"
	fieldExpiresAt      = "expires_at"
	fieldGrantExpiresAt = "grant_expires_at"
	fieldConsumedAt     = "consumed_at"
	fieldSuccessorKey   = "successor_key"
	fieldCall           = "call"
)

// Results of the refresh-token scripts.
const (
	resultOK       = 0
	resultNotFound = 1
	resultReused   = 2
	resultExists   = 3
)

// The scripts declare "#!lua" so that Redis refuses them upfront when it is
// out of memory rather than failing a write halfway through; they check
// everything before their first write, so a script either writes all or
// nothing.

// createScript stores a record that does not exist yet.
// KEYS[1]: the record. ARGV[1]: call id; ARGV[2]: PXAT; ARGV[3..]: fields.
var createScript = redis.NewScript(`#!lua
if redis.call('HGET', KEYS[1], 'call') == ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 3 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 0
`)

// rotateScript consumes a live record and stores its successor.
// KEYS[1]: old record; KEYS[2]: successor, in the same grant's slot.
// ARGV[1]: call id; ARGV[2]: successor's PXAT; ARGV[3]: consumed_at;
// ARGV[4..]: successor's fields. Marking the old record consumed with HSET
// keeps its TTL, so a consumed token still expires at its own ExpiresAt.
var rotateScript = redis.NewScript(`#!lua
if redis.call('HGET', KEYS[2], 'call') == ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
if redis.call('HEXISTS', KEYS[1], 'consumed_at') == 1 then return 2 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 3 end
redis.call('HSET', KEYS[1], 'consumed_at', ARGV[3])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return 0
`)

// createOneScript is createScript with the claim: on a single node, it
// writes the index entry too, and fails with 3 when the entry is taken.
// KEYS[1]: the index entry; KEYS[2]: the record. ARGV[1]: call id; ARGV[2]:
// PXAT; ARGV[3]: the index entry's value; ARGV[4..]: fields.
var createOneScript = redis.NewScript(`#!lua
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
	if redis.call('HGET', KEYS[2], 'call') == ARGV[1] then return 0 end
	return 3
end
redis.call('SET', KEYS[1], ARGV[3], 'PXAT', ARGV[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return 0
`)

// rotateOneScript is rotateScript with the claim: on a single node, it
// writes the successor's index entry too. It checks the old record before
// the entry, as rotateOntoTaken does, so that reuse is never hidden by a
// taken hash, and reads the successor's call id only when its keys exist,
// and the old record's state in one HMGET (every record has an expiry), so
// that a rotation reads what it must in two calls.
// KEYS[1]: successor's index entry; KEYS[2]: old record; KEYS[3]: successor.
// ARGV[1]: call id; ARGV[2]: successor's PXAT; ARGV[3]: consumed_at;
// ARGV[4]: the index entry's value; ARGV[5..]: successor's fields.
var rotateOneScript = redis.NewScript(`#!lua
local taken = redis.call('EXISTS', KEYS[1], KEYS[3]) > 0
if taken and redis.call('HGET', KEYS[3], 'call') == ARGV[1] then return 0 end
local old = redis.call('HMGET', KEYS[2], 'expires_at', 'consumed_at')
if not old[1] then return 1 end
if old[2] then return 2 end
if taken then return 3 end
redis.call('HSET', KEYS[2], 'consumed_at', ARGV[3])
redis.call('SET', KEYS[1], ARGV[4], 'PXAT', ARGV[2])
redis.call('HSET', KEYS[3], unpack(ARGV, 5))
redis.call('PEXPIREAT', KEYS[3], ARGV[2])
return 0
`)

// getOneScript reads an index entry and the record it names: on a single
// node, whose scripts may read a key they did not declare. The record's key
// is ARGV[1] .. grant ID .. ARGV[2] (see recordKeyAround); the grant ID
// follows the call id and the first ":" of the entry. Returns {} without an
// entry, {entry} for one without a ":", and {entry, fields} otherwise, with
// fields as HGETALL gives them (none for a claim without its record).
// KEYS[1]: the index entry.
var getOneScript = redis.NewScript(`#!lua flags=no-writes
local entry = redis.call('GET', KEYS[1])
if not entry then return {} end
local grant = string.match(entry, '^[^:]*:(.*)$')
if not grant then return {entry} end
return {entry, redis.call('HGETALL', ARGV[1] .. grant .. ARGV[2])}
`)

// releaseScript deletes an index entry if it still holds the claim given.
// KEYS[1]: index entry. ARGV[1]: the claim.
var releaseScript = redis.NewScript(`#!lua
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// releaseTimeout bounds deleting a claim after a rejected call. It does not
// use the caller's context, which may have ended once the answer arrived.
const releaseTimeout = 5 * time.Second

// CreateRefreshToken implements store.RefreshTokenStore. A token that has
// already expired is not stored: it could never be returned.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	const op = "create refresh token"
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	if expired(t.ExpiresAt) {
		return nil
	}
	id := rand.Text()
	if s.oneNode.Load() {
		args := append([]any{id, pxat(t.ExpiresAt), id + ":" + t.GrantID}, recordFields(t, id)...)
		if done, err := s.inOneScript(ctx, op, createOneScript, []string{s.indexKey(t.Hash), s.recordKey(t.GrantID, t.Hash)}, args); done {
			return err
		}
	}
	taken, unacked, err := s.claim(ctx, t.Hash, t.GrantID, id, t.ExpiresAt)
	if err != nil {
		return fail(ctx, op, err)
	}
	if taken {
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrAlreadyExists)
	}
	args := append([]any{id, pxat(t.ExpiresAt)}, recordFields(t, id)...)
	res, err := s.run(ctx, createScript, []string{s.recordKey(t.GrantID, t.Hash)}, args...).Int64()
	if err != nil {
		return fail(ctx, op, err)
	}
	if res != resultOK {
		s.release(ctx, t.Hash, t.GrantID, id)
		return resultError(op, res)
	}
	if unacked != nil {
		return fail(ctx, op, unacked)
	}
	return nil
}

// GetRefreshToken implements store.RefreshTokenStore. It reads the index
// entry, then the record it leads to, as the record's key depends on the
// grant, which only the index entry knows: in one script on a single node,
// in two round trips on Cluster.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	const op = "get refresh token"
	if err := ctx.Err(); err != nil {
		return store.RefreshToken{}, fail(ctx, op, err)
	}
	if s.oneNode.Load() {
		tok, err := s.getInOneScript(ctx, op, hash)
		if !s.slotsRefused(err) {
			return tok, err
		}
	}
	claim, err := s.client.Get(ctx, s.indexKey(hash)).Result()
	if errors.Is(err, redis.Nil) {
		return store.RefreshToken{}, fmt.Errorf("redisstore: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.RefreshToken{}, fail(ctx, op, err)
	}
	_, grantID, ok := strings.Cut(claim, ":")
	if !ok {
		return store.RefreshToken{}, fmt.Errorf("redisstore: %s: malformed index entry %q", op, claim)
	}
	fields, err := s.client.HGetAll(ctx, s.recordKey(grantID, hash)).Result()
	if err != nil {
		return store.RefreshToken{}, fail(ctx, op, err)
	}
	return found(op, hash, grantID, fields)
}

// getInOneScript is GetRefreshToken on a single node.
func (s *Store) getInOneScript(ctx context.Context, op string, hash []byte) (store.RefreshToken, error) {
	before, after := s.recordKeyAround(hash)
	res, err := getOneScript.Run(ctx, s.client, []string{s.indexKey(hash)}, before, after).Slice()
	if err != nil {
		return store.RefreshToken{}, fail(ctx, op, err)
	}
	if len(res) == 0 {
		return store.RefreshToken{}, fmt.Errorf("redisstore: %s: %w", op, store.ErrNotFound)
	}
	claim, _ := res[0].(string)
	_, grantID, ok := strings.Cut(claim, ":")
	if !ok || len(res) != 2 {
		return store.RefreshToken{}, fmt.Errorf("redisstore: %s: malformed index entry %q", op, claim)
	}
	flat, _ := res[1].([]any)
	if len(flat)%2 != 0 {
		return store.RefreshToken{}, fmt.Errorf("redisstore: %s: unexpected script result %v", op, res)
	}
	fields := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		fields[k] = v
	}
	return found(op, hash, grantID, fields)
}

// found returns the token whose record, of grantID, has fields.
func found(op string, hash []byte, grantID string, fields map[string]string) (store.RefreshToken, error) {
	if len(fields) == 0 {
		// A claim whose record was never written: a call in flight, or
		// one that failed in transit.
		return store.RefreshToken{}, fmt.Errorf("redisstore: %s: %w", op, store.ErrNotFound)
	}
	t, err := decodeRecord(hash, grantID, fields)
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return t, nil
}

// inOneScript runs a create or a rotation as one script on a single node.
// done is false when the node refused the script for its keys' slots (a
// single node in cluster mode): the caller then makes the call one slot per
// step, as on Cluster.
func (s *Store) inOneScript(ctx context.Context, op string, script *redis.Script, keys []string, args []any) (done bool, err error) {
	res, err := s.run(ctx, script, keys, args...).Int64()
	switch {
	case s.slotsRefused(err):
		return false, nil
	case err != nil:
		return true, fail(ctx, op, err)
	case res != resultOK:
		return true, resultError(op, res)
	}
	return true, nil
}

// RotateRefreshToken implements store.RefreshTokenStore. The old token is
// looked for in next.GrantID's records, as the contract has a successor
// stay in its predecessor's grant: a token of another grant is not found.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	const op = "rotate refresh token"
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	oldKey := s.recordKey(next.GrantID, oldHash)
	id := rand.Text()
	if s.oneNode.Load() {
		args := append([]any{id, pxat(next.ExpiresAt), micros(next.IssuedAt), id + ":" + next.GrantID}, recordFields(next, id)...)
		keys := []string{s.indexKey(next.Hash), oldKey, s.recordKey(next.GrantID, next.Hash)}
		if done, err := s.inOneScript(ctx, op, rotateOneScript, keys, args); done {
			return err
		}
	}
	taken, unacked, err := s.claim(ctx, next.Hash, next.GrantID, id, next.ExpiresAt)
	if err != nil {
		return fail(ctx, op, err)
	}
	if taken {
		return s.rotateOntoTaken(ctx, op, oldKey)
	}
	args := append([]any{id, pxat(next.ExpiresAt), micros(next.IssuedAt)}, recordFields(next, id)...)
	res, err := s.run(ctx, rotateScript, []string{oldKey, s.recordKey(next.GrantID, next.Hash)}, args...).Int64()
	if err != nil {
		return fail(ctx, op, err)
	}
	if res != resultOK {
		s.release(ctx, next.Hash, next.GrantID, id)
		return resultError(op, res)
	}
	if unacked != nil {
		return fail(ctx, op, unacked)
	}
	return nil
}

// rotateOntoTaken is the error of a rotation whose successor's hash is
// taken. The contract ranks ErrNotFound and ErrReused above ErrAlreadyExists,
// so that reuse is never hidden by a collision; the old record is only read
// to tell which applies.
func (s *Store) rotateOntoTaken(ctx context.Context, op, oldKey string) error {
	vals, err := s.client.HMGet(ctx, oldKey, fieldExpiresAt, fieldConsumedAt).Result()
	if err != nil {
		return fail(ctx, op, err)
	}
	switch {
	case vals[0] == nil: // every record has an expiry: there is none
		return resultError(op, resultNotFound)
	case vals[1] != nil:
		return resultError(op, resultReused)
	default:
		return resultError(op, resultExists)
	}
}

// claim sets the index entry of hash to the claim of call id for a record of
// grantID, expiring with the record, unless it is set already. It reports
// whether another call holds it, and, with WithReplicaAcks, whether too few
// replicas acknowledged the claim: which fails the call only if its script
// then writes, as a rejected call must keep its sentinel.
func (s *Store) claim(ctx context.Context, hash []byte, grantID, id string, expiresAt time.Time) (taken bool, unacked, err error) {
	claim := id + ":" + grantID
	cmd, unacked := s.do(ctx, s.indexKey(hash), "set", s.indexKey(hash), claim, "nx", "get", "pxat", pxat(expiresAt))
	prev, err := cmd.Text()
	switch {
	case errors.Is(err, redis.Nil):
		return false, unacked, nil // there was no entry, and now there is ours
	case err != nil:
		return false, nil, err
	}
	// Finding our own claim means go-redis sent the SET again after the
	// reply to the first one was lost.
	return prev != claim, unacked, nil
}

// release deletes the claim of call id after its script stored nothing, so
// that a rejected call leaves no trace. A failure is ignored: the claim then
// only keeps its hash from being used until the rejected record's expiry.
func (s *Store) release(ctx context.Context, hash []byte, grantID, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	_ = releaseScript.Run(ctx, s.client, []string{s.indexKey(hash)}, id+":"+grantID).Err()
}

func resultError(op string, res int64) error {
	switch res {
	case resultNotFound:
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrNotFound)
	case resultReused:
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrReused)
	case resultExists:
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrAlreadyExists)
	}
	return fmt.Errorf("redisstore: %s: unexpected script result %d", op, res)
}

// recordFields returns the fields of t's record, written by call id, as
// HSET arguments. The hash and grant are in the record's key.
func recordFields(t store.RefreshToken, id string) []any {
	// A []string always encodes, and JSON keeps order and any byte.
	scope, _ := json.Marshal(t.Scope)
	fields := []any{
		fieldClientID, t.ClientID,
		fieldSubject, t.Subject,
		fieldScope, scope,
		fieldIssuedAt, micros(t.IssuedAt),
		fieldExpiresAt, micros(t.ExpiresAt),
		fieldGrantExpiresAt, micros(t.GrantExpiresAt),
		fieldCall, id,
	}
	if t.Consumed() {
		fields = append(fields, fieldConsumedAt, micros(t.ConsumedAt))
	}
	if t.SuccessorKey != nil {
		fields = append(fields, fieldSuccessorKey, t.SuccessorKey)
	}
	return fields
}

func decodeRecord(hash []byte, grantID string, fields map[string]string) (store.RefreshToken, error) {
	t := store.RefreshToken{
		Hash:     bytes.Clone(hash),
		GrantID:  grantID,
		ClientID: fields[fieldClientID],
		Subject:  fields[fieldSubject],
	}
	if k, ok := fields[fieldSuccessorKey]; ok {
		t.SuccessorKey = []byte(k) // a copy, and not nil even when empty
	}
	if err := json.Unmarshal([]byte(fields[fieldScope]), &t.Scope); err != nil {
		return store.RefreshToken{}, fmt.Errorf("malformed record: %s: %w", fieldScope, err)
	}
	for _, f := range []struct {
		name     string
		dst      *time.Time
		optional bool
	}{
		{fieldIssuedAt, &t.IssuedAt, false},
		{fieldExpiresAt, &t.ExpiresAt, false},
		{fieldGrantExpiresAt, &t.GrantExpiresAt, false},
		{fieldConsumedAt, &t.ConsumedAt, true},
	} {
		v, ok := fields[f.name]
		if !ok && f.optional {
			continue
		}
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return store.RefreshToken{}, fmt.Errorf("malformed record: %s: %w", f.name, err)
		}
		*f.dst = time.UnixMicro(us)
	}
	return t, nil
}

// micros encodes a time at the precision the contract asks for.
func micros(t time.Time) int64 { return t.UnixMicro() }
