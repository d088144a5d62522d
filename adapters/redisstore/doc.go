// Package redisstore is an oauth2kit storage adapter on Redis 7.0 or later
// (store.Store, store.KeyStore, store.RevocationWatcher, store.AttemptStore
// and store.SessionStore), for a single node, Sentinel or Cluster,
// through any go-redis v9 redis.UniversalClient the application passes to New.
//
// # Keys
//
// Every key starts with the Store's prefix (WithKeyPrefix, "oauth2kit:" by
// default), followed by:
//
//	rti:<hex hash>                the index entry of a refresh token: "<call id>:<grant ID>"
//	{rt:<grant ID>}:<hex hash>    the refresh token's record, a Redis hash
//	rvg:<grant ID>                a revoked grant
//	rvj:<jti>                     a revoked access token
//	keyset                        the shared signing keys, a hash with their version
//	att:<key>                     the failures counted under a throttling key, a hash
//	ses:<subject>                 the subject's sessions, a hash with a field per grant ID
//
// and one pub/sub channel, revocations, on which each revocation is announced.
//
// # Round trips
//
// Every call but ListRevocations is one round trip to a single node (a
// *redis.Client, on one server or Sentinel's master). GetRefreshToken knows
// only a token's hash, so it reads the index entry to find the grant, then
// the record; a create or a rotation writes the index entry and the
// records. On a single node each is one Lua script, run with EVALSHA (EVAL
// if the server has lost it), which declares the keys it writes and reads
// the record it finds. Cluster allows neither a script on keys of different
// slots nor one reading a key it did not declare, so on a
// *redis.ClusterClient, and any client New does not know, each costs two
// round trips: a create or rotation claims the index entry first, then
// writes the records in one script, and GetRefreshToken reads the index
// entry, then the record. The keys are the same either way. WithReplicaAcks
// adds a WAIT to each write, pipelined with it: no round trip of its own. A *redis.Client
// must thus reach one server, as it does on its own or through Sentinel: a
// proxy that spreads keys over several servers (twemproxy, Envoy's Redis
// proxy) would run each of these scripts on one of them, with keys that
// belong on others, and is not supported. A single node in cluster mode
// (a managed one-shard "cluster mode" service) refuses these scripts before
// running them; the Store then keeps to the Cluster path for good, from its
// first call.
//
// A rotation writes two records of one grant; their common hash tag,
// {rt:<grant ID>}, puts them in one Cluster slot, so its script is one that
// Cluster accepts. The tag includes "rt:" so that it is never empty, as
// Redis ignores "{}". No other keys are ever touched together in one script,
// so they have no tag. IsRevoked looks both ids up in one pipeline, and
// GetAttempts all its keys in another (go-redis splits a pipeline by node on
// Cluster); AddFailure is one script on one key. A subject's sessions are
// one key, so that ListSessions is a single HGETALL; CreateSession and
// TouchSession are each one script on it, DeleteSession one HDEL.
// CreateSession thus finds an existing GrantID among the subject's sessions
// only, which suffices as long as grants of different subjects never share
// an id (package oauth2 makes them random). ListRevocations, a watcher's
// resync, SCANs the keyspace a page at a time, then asks the expiries of
// what it found: its round trips grow with the number of keys in the
// database, not only with the revocations. Listing from one index key
// instead would put every revocation's write in that key's slot, which on
// Cluster would make each revocation cross slots.
//
// # Expiry
//
// Each key but keyset expires with what it stores, by an absolute PXAT set
// in the same command or script that writes it: a refresh token's keys at its
// ExpiresAt (marking a token consumed keeps its TTL), a revocation at its
// expiry, of which a second revocation only ever keeps the later, and a
// subject's sessions at the latest expiry any of them has had. Nothing
// grows without bound, and there is no DeleteExpired (package oauth2's Sweep
// returns at once for a Store): Redis deletes expired keys by itself. The
// keyset key has no TTL; there is one per prefix, and it holds a handful of
// keys.
//
// This is the one departure from the expiry rule of package store, which has
// the application's clock decide: here Redis's clock does, to the
// millisecond, with keys going up to one millisecond before their ExpiresAt
// rather than after it. Only whether a record has already expired when it is
// written, and is then not stored at all, is judged by the application's
// time.Now. Following the rule would mean comparing every read with the
// application's time inside the scripts, and still losing keys early to a
// Redis clock running ahead; instead, keep the clocks of Redis and of the
// application synchronised (NTP), and a record expires within their skew of
// its expiry. For the same reason there is no WithClock: a fake clock cannot
// make Redis expire a key, so tests of expiry on Redis wait in real time.
//
// Attempt records and sessions are the exceptions, and follow the rule: each
// stores its expiry, and the calls that read it anyway compare it with the
// application's time.Now, which also stamps each failure's time. Their PXAT
// only has Redis remove them: at most a millisecond before they end, give or
// take the clocks' skew. A subject's sessions share the PXAT of the latest
// of them; one that has expired before stays in the hash, never listed or
// touched, until the next CreateSession of its subject prunes it, so the
// hash holds the live sessions and no more than those expired since.
//
// # Atomicity and failures
//
// On a single node, creating or rotating a refresh token is one script,
// which checks everything, then writes the index entry and the records, all
// or nothing, and leaves nothing behind when it rejects the call. On
// Cluster it first claims the new token's index entry (SET NX), then runs
// the one script that checks and writes the records. A claim alone is
// invisible: GetRefreshToken finds no record
// behind it and reports store.ErrNotFound. So a rotation becomes visible
// whole, when its script runs, and is never half done: the old token is
// consumed exactly when its successor appears. A rejected call (ErrNotFound,
// ErrReused, ErrAlreadyExists) deletes its claim again. A call that fails in
// transit keeps it, as its script may have run; such a claim expires with the
// record it was made for and only keeps that hash, which callers never reuse,
// from being stored until then. Every write carries a random call id, so
// that when go-redis sends a command again after losing the reply, the
// command recognises its own write instead of reporting, say, the token it
// has just consumed as reused, or the session it has just created as
// existing. TouchSession and DeleteSession need none: run twice, they
// change nothing more. AddFailure recognises its own only while no
// other failure under its key has come in since; otherwise a resent failure
// counts twice, which lengthens a throttling wait and never shortens one.
//
// Scripts check everything before they write, and declare "#!lua" so that a
// server out of memory refuses them upfront; a script thus writes all or
// nothing. Errors from Redis or the network are returned wrapped, never as a
// sentinel of package store: a server that cannot be reached is not a
// missing record.
//
// # Revocations pushed
//
// The script that writes a revocation also PUBLISHes it, as
// "<kind>:<PXAT>:<id>" ("g" for a grant, "j" for an access token), so that a
// revocation is never stored without being announced. Cluster forwards a
// PUBLISH to every node's subscribers. A revocation is announced even when
// it extends nothing, and twice when go-redis resends the script: a watcher's
// caller keeps the later expiry, as the key does, so repeats are harmless.
//
// WatchRevocations holds a connection of its own, subscribed to the channel,
// and PINGs it every half store.WatchHeartbeat, calling Alive on each reply.
// Redis keeps no message for a subscriber that is not connected, and go-redis
// reconnects a subscription by itself, so a watch ends with an error on any
// failure instead, and on a second subscription confirmation, the sign of a
// reconnection: its caller subscribes again and resyncs by ListRevocations,
// which SCANs the revocation keys (on every master of a Cluster) and asks
// their expiries. An ACL user needs the channel besides the keys.
//
// # Cluster
//
// On Redis Cluster, pass a *redis.ClusterClient. A store's keys spread over
// every master unless its prefix has a hash tag of its own; each script
// touches one slot, and the pipelines of IsRevoked and GetAttempts are split
// by node by go-redis. ListRevocations scans every master. The storage
// contract's suite, and a failover under load, run in this package's tests
// on a cluster of three masters with a replica each.
//
// After a failover, go-redis sends the failed master's slots to the new
// master only once it reloads the cluster's slot map: on a MOVED reply, or
// when the map is older than redis.ClusterOptions.ClusterStateReloadInterval
// (60 s by default) at the next call. Until then, calls for those slots
// fail with network errors; a reload interval of a few seconds shortens
// that. With WithReplicaAcks, a write failing so asks go-redis to reload at
// once.
//
// # Replication and failover
//
// Redis replicates asynchronously: a master acknowledges a write before any
// replica has it, so a master that dies can take acknowledged writes with
// it when a replica takes over. Here such a loss is a revocation undone, or
// a rotation undone, its successor gone and the old token live again, to be
// redeemed a second time.
//
// WithReplicaAcks(n, timeout) closes that window for the writes tokens'
// safety rests on (see its doc for which): each is followed, in the same
// pipeline, by WAIT n, and fails unless n replicas acknowledged it within
// timeout. What it guarantees: a write the caller was told succeeded is on
// its master and on at least n of that master's replicas. What it does not:
//   - A failover may promote a replica that had not acknowledged. With one
//     replica per master, the only candidate is the one that acknowledged,
//     and nothing acknowledged is lost; with r replicas and n < r, a write is
//     lost if the replica promoted is one of the r-n that did not have it.
//     Redis Cluster prefers the replica with the most data, which makes that
//     rarer, not impossible; ask for n = r to rule it out.
//   - Losing more machines than acknowledged: the master and the n replicas
//     that have a write, or all of them restarting at once without
//     appendonly yes, which a replica's acknowledgement does not imply.
//   - A write that fails on acknowledgements may still have been applied,
//     and may survive, as any write whose reply is lost: the caller only
//     knows it was not confirmed.
//   - Once a failover has left a master with fewer than n replicas, every
//     write to its slots fails until a replica is added: the option trades
//     availability for what it guarantees, as min-replicas-to-write does.
//
// Writes it does not cover (DeleteSession, ResetAttempts, AddFailure,
// SwapKeySet) can be lost in a failover as before; none of them makes a
// revoked or consumed token valid again.
//
// # Redis configuration
//
// Every key has a TTL, so a server whose maxmemory-policy is anything but
// noeviction may evict revocations under memory pressure, and revoked
// tokens would be accepted again without an error anywhere. Call
// Store.Check at start-up: it refuses such a server with ErrUnsafeConfig.
// Durability is the operator's part: use appendonly yes, and with replicas
// WithReplicaAcks (or at least min-replicas-to-write, which bounds how far
// the replicas may lag but does not wait for them), or a crash or failover
// can roll back revocations and rotations. A *redis.Ring is refused by New:
// it rehashes keys over the shards left when one fails, losing what the
// failed shard held.
//
// # Contexts
//
// A call whose context has ended fails with an error wrapping the context's
// error and sends nothing. go-redis applies a context's deadline to the
// connection only with redis.Options.ContextTimeoutEnabled; otherwise a
// command that has been sent is bounded by ReadTimeout alone. Either way a
// script that reached Redis runs to its end, so the outcome of a call whose
// context ends midway is unknown, as with any remote store.
package redisstore
