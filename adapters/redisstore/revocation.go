package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// revokeScript marks a key revoked until a PXAT, keeping a later one already
// set: SET NX creates it, PEXPIREAT GT only ever extends it. Doing both in
// one script keeps the key from expiring between them, which would lose the
// revocation. PEXPIREAT GT needs Redis 7.0. The same script announces the
// revocation to watchers (see watch.go), so that no revocation is ever stored
// without being announced: a revoker that dies between the write and a
// separate PUBLISH would otherwise leave every RevocationView blind to it.
// It announces even a revocation that extends nothing, and a script go-redis
// sends again after a lost reply announces twice: a view keeps the later of
// the expiries it hears of, as the key does, so repeats change nothing.
// KEYS[1]: the revocation. ARGV[1]: PXAT; ARGV[2]: channel; ARGV[3]: message.
var revokeScript = redis.NewScript(`#!lua
if not redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', ARGV[1]) then
	redis.call('PEXPIREAT', KEYS[1], ARGV[1], 'GT')
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 0
`)

// RevokeGrant implements store.RevocationStore.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	return s.revoke(ctx, "revoke grant", kindGrant, grantID, expiresAt)
}

// RevokeAccessToken implements store.RevocationStore.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return s.revoke(ctx, "revoke access token", kindJTI, jti, expiresAt)
}

// revoke writes the revocation of id, of the kind given, with expiresAt, and
// announces it. A revocation that has expired already revokes nothing, and
// cannot extend a stored one, so it is not sent.
func (s *Store) revoke(ctx context.Context, op string, kind byte, id string, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	if expired(expiresAt) {
		return nil
	}
	key, at := s.revocationKey(kind, id), pxat(expiresAt)
	if err := s.run(ctx, revokeScript, []string{key}, at, s.revocationChannel(), encodeRevocation(kind, id, at)).Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// IsRevoked implements store.RevocationStore. Both lookups go in one
// pipeline, a single round trip (go-redis splits it by node on Cluster); an
// empty id is not looked up.
func (s *Store) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	const op = "is revoked"
	if err := ctx.Err(); err != nil {
		return false, fail(ctx, op, err)
	}
	var keys []string
	if jti != "" {
		keys = append(keys, s.revokedJTIKey(jti))
	}
	if grantID != "" {
		keys = append(keys, s.revokedGrantKey(grantID))
	}
	if len(keys) == 0 {
		return false, nil
	}
	pipe := s.client.Pipeline()
	found := make([]*redis.IntCmd, len(keys))
	for i, key := range keys {
		found[i] = pipe.Exists(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fail(ctx, op, err)
	}
	for _, n := range found {
		if n.Val() > 0 {
			return true, nil
		}
	}
	return false, nil
}
