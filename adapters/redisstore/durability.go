package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// replicaAcks is what WithReplicaAcks asks for; n <= 0 asks for nothing.
type replicaAcks struct {
	n       int
	timeout time.Duration
}

// WithReplicaAcks makes every write that a token's safety rests on wait
// until at least n replicas of the master it went to have it, for at most
// timeout: the claim and the script of CreateRefreshToken and
// RotateRefreshToken, RevokeGrant, RevokeAccessToken, CreateSession and
// TouchSession. A write that n replicas have not acknowledged in time fails
// with an error, so its caller is never told it succeeded; like any failure
// in transit it may still have been applied. A call that a script rejects
// (store.ErrReused, store.ErrNotFound, store.ErrAlreadyExists) writes
// nothing, and returns its sentinel without waiting for anything.
//
// The wait is Redis's WAIT, sent on the write's own connection in the same
// pipeline, so it costs no round trip of its own, only the time the
// replicas take to acknowledge. Give timeout well under the client's
// ReadTimeout, which bounds the whole pipeline: New panics on a timeout
// that is not under it. See the package doc for
// what this does and does not protect against.
//
// On Cluster, such a write goes to its slot's master over that node's own
// connection, which does not follow an ASK redirect: while a slot is being
// migrated, writes of new keys in it fail until the migration ends.
//
// n <= 0 waits for nothing, as when the option is not given. New panics on
// n > 0 with a timeout <= 0, which Redis would take as waiting forever.
func WithReplicaAcks(n int, timeout time.Duration) Option {
	return func(s *Store) { s.acks = replicaAcks{n: n, timeout: timeout} }
}

// errNotReplicated is the failure of a write too few replicas acknowledged.
var errNotReplicated = errors.New("write not acknowledged by enough replicas")

// run runs script on keys with args, as script.Run does. With
// WithReplicaAcks, a reply of resultOK, which every script run through here
// gives when it may have written, also needs the replicas' acknowledgement.
func (s *Store) run(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if s.acks.n <= 0 {
		return script.Run(ctx, s.client, keys, args...)
	}
	cmd, ackErr := s.acked(ctx, keys[0], func(p redis.Pipeliner) *redis.Cmd { return script.EvalSha(ctx, p, keys, args...) })
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd, ackErr = s.acked(ctx, keys[0], func(p redis.Pipeliner) *redis.Cmd { return script.Eval(ctx, p, keys, args...) })
	}
	if res, err := cmd.Int64(); err == nil && res == resultOK && ackErr != nil {
		cmd.SetErr(ackErr)
	}
	return cmd
}

// do sends args, a command writing key, as s.client.Do does. With
// WithReplicaAcks, it also returns the failure of the replicas to
// acknowledge it, for the caller to weigh once it knows whether the write
// mattered.
func (s *Store) do(ctx context.Context, key string, args ...any) (cmd *redis.Cmd, ackErr error) {
	if s.acks.n <= 0 {
		return s.client.Do(ctx, args...), nil
	}
	return s.acked(ctx, key, func(p redis.Pipeliner) *redis.Cmd { return p.Do(ctx, args...) })
}

// acked queues a command writing key, then WAIT, in one pipeline on the
// connection to key's master, and returns the command and, if it did not
// fail, the failure of the replicas to acknowledge it.
//
// On Cluster the pipeline goes to the node, not through the cluster client,
// which would send WAIT, having no key, to any master: WAIT counts the
// replicas of the connection it arrives on. The node's own client does not
// follow MOVED, so a write that lands on a node no longer serving the slot
// fails without being applied, and the cluster client reloads the slot
// map for the next call.
func (s *Store) acked(ctx context.Context, key string, queue func(redis.Pipeliner) *redis.Cmd) (cmd *redis.Cmd, ackErr error) {
	var pipe redis.Pipeliner
	cluster, isCluster := s.client.(*redis.ClusterClient)
	if isCluster {
		node, err := cluster.MasterForKey(ctx, key)
		if err != nil {
			cmd := redis.NewCmd(ctx)
			cmd.SetErr(err)
			return cmd, nil
		}
		pipe = node.Pipeline()
	} else {
		pipe = s.client.Pipeline()
	}
	cmd = queue(pipe)
	// WAIT takes milliseconds, and 0 means forever.
	wait := pipe.Do(ctx, "wait", s.acks.n, max(s.acks.timeout.Milliseconds(), 1))
	_, _ = pipe.Exec(ctx) // each command keeps its own error
	if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
		if _, moved := redis.IsMovedError(err); isCluster && (moved || !isRedisError(err)) {
			cluster.ReloadState(ctx)
		}
		return cmd, nil
	}
	switch n, err := wait.Int64(); {
	case err != nil:
		return cmd, fmt.Errorf("%w: waiting for %d: %w", errNotReplicated, s.acks.n, err)
	case n < int64(s.acks.n):
		return cmd, fmt.Errorf("%w: %d of %d within %v", errNotReplicated, n, s.acks.n, s.acks.timeout)
	}
	return cmd, nil
}

// isRedisError reports whether err is a reply of the server, rather than a
// failure to reach it.
func isRedisError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}
