package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/store"
)

var (
	_ store.Store    = (*Store)(nil)
	_ store.KeyStore = (*Store)(nil)
)

// DefaultKeyPrefix starts every key a Store writes unless WithKeyPrefix says
// otherwise.
const DefaultKeyPrefix = "oauth2kit:"

// Store is a store.Store and store.KeyStore on Redis. It holds no state of
// its own besides the client, so any number of Stores, in any number of
// processes, may share one Redis as long as they share the key prefix. The
// zero value is not usable; call New.
type Store struct {
	client redis.UniversalClient
	prefix string
	acks   replicaAcks // WithReplicaAcks
	// oneNode is set when every key lives on one server, whose scripts
	// may then touch keys of any slot and keys they did not declare: a
	// *redis.Client, on one node or Sentinel's master. Refresh tokens
	// then take one script per call instead of two round trips (see
	// refresh.go); on Cluster, or a client New does not know, they keep
	// to one slot per script. A *redis.Client on a node in cluster mode
	// (one that serves every slot) refuses such scripts: the first refusal
	// clears oneNode for good, and the call is made the other way.
	oneNode atomic.Bool
}

// Option configures a Store.
type Option func(*Store)

// WithKeyPrefix makes the Store start every key with prefix instead of
// DefaultKeyPrefix, so that several applications, or tests, share one Redis
// without seeing each other's records. A prefix may carry a hash tag of its
// own ("{tenant}:") to keep all of a Store's keys in one Cluster slot; it
// must not contain an empty one ("{}"), which would make Redis ignore the
// tags the Store relies on.
func WithKeyPrefix(prefix string) Option {
	return func(s *Store) { s.prefix = prefix }
}

// New returns a Store on client, which may be a single node, Sentinel
// (redis.NewFailoverClient) or Cluster client, on Redis 7.0 or later. The
// caller owns client and closes it. New does not talk to Redis: call Check
// at start-up for what only the server can tell. A *redis.Client is taken
// to reach one server, whose scripts may touch any key, so that every call
// costs one round trip; other clients get scripts that keep to one Cluster
// slot each (see "Round trips" in the package doc).
//
// Like every adapter's New, it cannot fail: what it could refuse is a
// programming error, and it panics on one, so that a misconfigured Store
// never starts. It panics on a nil client; on a key prefix containing an
// empty hash tag (CROSSSLOT errors, only on Cluster); and on a *redis.Ring,
// which rehashes keys over the shards left when one fails, so revocations on
// the dead shard would read as absent: a revoked token would be accepted
// again.
func New(client redis.UniversalClient, opts ...Option) *Store {
	if client == nil {
		panic("redisstore: New: nil client")
	}
	if _, ring := client.(*redis.Ring); ring {
		panic("redisstore: a *redis.Ring loses revocations when a shard fails; use a single node, Sentinel or Cluster client")
	}
	s := &Store{client: client, prefix: DefaultKeyPrefix}
	_, oneNode := client.(*redis.Client)
	s.oneNode.Store(oneNode)
	for _, opt := range opts {
		opt(s)
	}
	// Redis hashes a key by the text between its first "{" and the next
	// "}" unless that text is empty; a prefix whose first "{" is followed
	// by "}" would thus make every grant's records hash apart.
	if i := strings.IndexByte(s.prefix, '{'); i >= 0 && strings.HasPrefix(s.prefix[i+1:], "}") {
		panic(fmt.Sprintf("redisstore: key prefix %q contains an empty hash tag", s.prefix))
	}
	if s.acks.n > 0 && s.acks.timeout <= 0 {
		panic(fmt.Sprintf("redisstore: WithReplicaAcks(%d, %v): the timeout must be positive", s.acks.n, s.acks.timeout))
	}
	// A WAIT that outlasts the client's ReadTimeout times out in the
	// client, which then sends the whole pipeline again, write included.
	if rt := readTimeout(client); s.acks.n > 0 && rt > 0 && s.acks.timeout >= rt {
		panic(fmt.Sprintf("redisstore: WithReplicaAcks(%d, %v): the timeout must be under the client's ReadTimeout (%v)", s.acks.n, s.acks.timeout, rt))
	}
	return s
}

// readTimeout is the ReadTimeout of a client New knows, after go-redis
// applied its defaults; 0 when it has none or New cannot tell.
func readTimeout(client redis.UniversalClient) time.Duration {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ReadTimeout
	case *redis.ClusterClient:
		return c.Options().ReadTimeout
	}
	return 0
}

// slotsRefused reports whether err is a node in cluster mode refusing a
// script of the single-node path, which declares keys of several slots or
// reads keys it did not declare; if so, the Store keeps to one slot per
// script from now on. The refusal comes before the script writes anything.
func (s *Store) slotsRefused(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	if !redis.HasErrorPrefix(err, "CROSSSLOT") && !strings.Contains(msg, "hash to the same slot") && !strings.Contains(msg, "non local key") {
		return false
	}
	s.oneNode.Store(false)
	return true
}

// indexKey is where the grant of the refresh token with this hash is found.
// GetRefreshToken knows only the hash, so this key is derived from it alone;
// it needs no hash tag, as no script touches it together with another key.
func (s *Store) indexKey(hash []byte) string {
	return s.prefix + "rti:" + hex.EncodeToString(hash)
}

// recordKey is where a refresh token of grantID is stored. The hash tag is
// what puts all of a grant's records in one Cluster slot, so that a rotation
// touching two of them is one script. It includes "rt:" so that it is never
// empty: Redis ignores "{}", and an empty grant ID would otherwise scatter
// the grant's records.
func (s *Store) recordKey(grantID string, hash []byte) string {
	before, after := s.recordKeyAround(hash)
	return before + grantID + after
}

// recordKeyAround returns what comes before and after the grant ID in the
// key of the record of hash, for a script that learns the grant ID itself.
func (s *Store) recordKeyAround(hash []byte) (before, after string) {
	return s.prefix + "{rt:", "}:" + hex.EncodeToString(hash)
}

// The kinds of revocation, as they appear in their keys ("rvg:", "rvj:")
// and in the messages announcing them.
const (
	kindGrant byte = 'g'
	kindJTI   byte = 'j'
)

func (s *Store) revocationKey(kind byte, id string) string {
	return s.prefix + "rv" + string(kind) + ":" + id
}

func (s *Store) revokedGrantKey(grantID string) string { return s.revocationKey(kindGrant, grantID) }

func (s *Store) revokedJTIKey(jti string) string { return s.revocationKey(kindJTI, jti) }

// revocationChannel is where revocations are announced. A channel is not a
// key: it lies in no slot, and Cluster delivers a PUBLISH to the subscribers
// of every node.
func (s *Store) revocationChannel() string { return s.prefix + "revocations" }

func (s *Store) keySetKey() string { return s.prefix + "keyset" }

// attemptsKey is where the failures under key are counted. It needs no hash
// tag: no call touches two attempt records in one command, and GetAttempts
// reads its keys in a pipeline, which may span slots.
func (s *Store) attemptsKey(key string) string { return s.prefix + "att:" + key }

// pxat is the PXAT (absolute Unix milliseconds) for a key that must be gone
// from t on. Redis keeps a key through the millisecond its PXAT names (it
// expires once now > PXAT), so the key's last millisecond is the one before
// t's: it goes at most a millisecond early and never late. Redis rejects a
// PXAT below 1, so times before 1970, the zero time among them, become 1,
// which is just as past.
func pxat(t time.Time) int64 { return max(t.UnixMilli()-1, 1) }

// expired reports whether a record expiring at t would already be gone;
// storing it would be a wasted round trip.
func expired(t time.Time) bool { return !time.Now().Before(t) }

// fail wraps err, the failure of op, for the caller. When ctx has ended it
// wraps ctx's error too: go-redis reports a deadline reached mid-command as
// an I/O timeout, and the contract requires the context's error to match.
func fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}
