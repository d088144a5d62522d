package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/store"
)

var _ store.RevocationWatcher = (*Store)(nil)

// A subscription's timing, derived from store.WatchHeartbeat.
const (
	// pollInterval is the longest one read on the subscription blocks, and
	// so bounds how late a due ping goes out.
	pollInterval = store.WatchHeartbeat / 4
	// pingInterval is how often the subscription is pinged; each reply
	// calls Alive. Even when a ping goes out a whole pollInterval late, the
	// gap between two Alives stays below WatchHeartbeat, with the round trip
	// to spare.
	pingInterval = store.WatchHeartbeat / 2
	// replyTimeout is how long the server may take to confirm the
	// subscription or to answer a ping before the connection is given up.
	// A connection that went quiet (a partition, a vanished host) fails no
	// read: it just delivers nothing, and only a missing reply shows it.
	replyTimeout = 3 * store.WatchHeartbeat
)

// scanCount is the COUNT hint of ListRevocations' SCAN, and the most
// expiries it asks for in one pipeline.
const scanCount = 1000

// noExpiry is the ExpiresAt listed for a revocation key without a TTL. The
// store never writes one, but an operator may PERSIST a key; IsRevoked then
// reports it revoked for good, and so must a view.
var noExpiry = time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)

// A revocation is announced as "<kind>:<PXAT>:<id>", the kind being that of
// its key (kindGrant or kindJTI) and the PXAT the one the revocation was
// written with. The id goes last, as it may contain ":".
func encodeRevocation(kind byte, id string, pxat int64) string {
	return string(kind) + ":" + strconv.FormatInt(pxat, 10) + ":" + id
}

func decodeRevocation(msg string) (store.Revocation, error) {
	kind, rest, ok1 := strings.Cut(msg, ":")
	at, id, ok2 := strings.Cut(rest, ":")
	ms, err := strconv.ParseInt(at, 10, 64)
	if !ok1 || !ok2 || err != nil || len(kind) != 1 {
		return store.Revocation{}, fmt.Errorf("malformed revocation message %q", msg)
	}
	return newRevocation(kind[0], id, ms)
}

func newRevocation(kind byte, id string, pxat int64) (store.Revocation, error) {
	// A key is gone once the time is past its PXAT, so the revocation ends
	// a millisecond after it (see pxat).
	exp := time.UnixMilli(pxat + 1)
	switch kind {
	case kindGrant:
		return store.Revocation{GrantID: id, ExpiresAt: exp}, nil
	case kindJTI:
		return store.Revocation{JTI: id, ExpiresAt: exp}, nil
	}
	return store.Revocation{}, fmt.Errorf("unknown revocation kind %q", kind)
}

// ListRevocations implements store.RevocationWatcher. It SCANs the
// revocation keys (on every master of a Cluster), then asks for their
// expiries, a pipeline per batch, or on a single node in the same script as
// each page of the SCAN; keys that expire meanwhile are left out.
// It holds the whole live set in memory, as its caller does.
func (s *Store) ListRevocations(ctx context.Context) ([]store.Revocation, error) {
	const op = "list revocations"
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	var (
		mu   sync.Mutex
		seen = make(map[string]struct{})
		out  []store.Revocation
	)
	// add records a batch's revocations. SCAN may return a key twice.
	add := func(keys []string, expiries []int64) error {
		mu.Lock()
		defer mu.Unlock()
		for i, key := range keys {
			if _, dup := seen[key]; dup {
				continue
			}
			seen[key] = struct{}{}
			var r store.Revocation
			var err error
			switch ms := expiries[i]; ms {
			case -2: // expired or deleted since SCAN saw it
				continue
			case -1:
				r, err = newRevocation(key[len(s.prefix)+2], key[len(s.prefix)+4:], 0)
				r.ExpiresAt = noExpiry
			default:
				r, err = newRevocation(key[len(s.prefix)+2], key[len(s.prefix)+4:], ms)
			}
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	}
	pattern := escapeGlob(s.prefix) + "rv[" + string(kindGrant) + string(kindJTI) + "]:*"
	scan := func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, pattern, scanCount).Iterator()
		batch := make([]string, 0, scanCount)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			expiries, err := s.expiries(ctx, batch)
			if err != nil {
				return err
			}
			err = add(batch, expiries)
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == scanCount {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush()
	}

	var err error
	oneNode := s.oneNode.Load()
	if oneNode {
		// A refusal comes at the first page, before anything is added.
		err = s.scanInScripts(ctx, pattern, add)
		oneNode = !s.slotsRefused(err)
	}
	switch cluster, isCluster := s.client.(*redis.ClusterClient); {
	case oneNode:
	case isCluster:
		// Each master SCANs only its own slots.
		err = cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return scan(ctx, node)
		})
	default:
		err = scan(ctx, s.client)
	}
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	return out, nil
}

// scanPageScript is one page of ListRevocations' SCAN with the expiries of
// the keys it found, so that a page costs one round trip; on a single node
// only, as it reads keys it did not declare. A page is bounded by the
// COUNT hint, so the script holds the server no longer than the pipeline
// of expiries it replaces. ARGV[1]: cursor; ARGV[2]: pattern; ARGV[3]:
// count. Returns {next cursor, keys, expiries}.
var scanPageScript = redis.NewScript(`#!lua flags=no-writes
local page = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local expiries = {}
for i, key in ipairs(page[2]) do expiries[i] = redis.call('PEXPIRETIME', key) end
return {page[1], page[2], expiries}
`)

// scanInScripts is ListRevocations' SCAN on a single node: one script per
// page, each page's keys and expiries given to add.
func (s *Store) scanInScripts(ctx context.Context, pattern string, add func(keys []string, expiries []int64) error) error {
	cursor := "0"
	for {
		res, err := scanPageScript.Run(ctx, s.client, nil, cursor, pattern, scanCount).Slice()
		if err != nil {
			return err
		}
		next, keys, expiries, ok := decodeScanPage(res)
		if !ok {
			return fmt.Errorf("unexpected script result %v", res)
		}
		if err := add(keys, expiries); err != nil {
			return err
		}
		if next == "0" {
			return nil
		}
		cursor = next
	}
}

// decodeScanPage reads scanPageScript's {next cursor, keys, expiries}.
func decodeScanPage(res []any) (next string, keys []string, expiries []int64, ok bool) {
	if len(res) != 3 {
		return "", nil, nil, false
	}
	next, ok1 := res[0].(string)
	rawKeys, ok2 := res[1].([]any)
	rawExp, ok3 := res[2].([]any)
	if !ok1 || !ok2 || !ok3 || len(rawKeys) != len(rawExp) {
		return "", nil, nil, false
	}
	keys, expiries = make([]string, len(rawKeys)), make([]int64, len(rawExp))
	for i := range rawKeys {
		key, ok1 := rawKeys[i].(string)
		ms, ok2 := rawExp[i].(int64)
		if !ok1 || !ok2 {
			return "", nil, nil, false
		}
		keys[i], expiries[i] = key, ms
	}
	return next, keys, expiries, true
}

// expiries returns the PEXPIRETIME of each key, in one pipeline through the
// Store's client, which sends each to the node holding it.
func (s *Store) expiries(ctx context.Context, keys []string) ([]int64, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.Cmd, len(keys))
	for i, key := range keys {
		cmds[i] = pipe.Do(ctx, "pexpiretime", key)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	for i, cmd := range cmds {
		ms, err := cmd.Int64()
		if err != nil {
			return nil, fmt.Errorf("PEXPIRETIME %s: %w", keys[i], err)
		}
		out[i] = ms
	}
	return out, nil
}

// escapeGlob makes s match itself in a SCAN MATCH pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// WatchRevocations implements store.RevocationWatcher on Redis pub/sub: it
// subscribes on a connection of its own to the channel the revocation
// script publishes on, calls Alive once Redis has confirmed the
// subscription, then again on each reply to the PING it sends every
// pingInterval.
//
// Redis delivers a message only to those subscribed when it is published,
// and go-redis, when a subscription's connection breaks, quietly reconnects
// and subscribes again: what was published in between is lost, and a view
// that went on trusting itself would never learn of it. So any error ends
// the watch, as does a second subscription confirmation, which only a
// reconnection produces; the caller then subscribes again and resyncs.
func (s *Store) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	const op = "watch revocations"
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	channel := s.revocationChannel()
	// Subscribe drops its error: a failure shows as the confirmation
	// not arriving.
	ps := s.client.Subscribe(ctx, channel)
	defer func() { _ = ps.Close() }()
	// Closing the subscription interrupts a read in progress, as go-redis's
	// own PubSub.Channel does, so the watch ends as soon as ctx does.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	if err := confirmSubscription(ctx, ps, channel); err != nil {
		return fail(ctx, op, err)
	}
	h.Alive()

	var (
		seq      int
		pending  string       // the payload of the PING awaiting its reply, if any
		pingedAt = time.Now() // when the last PING went; the confirmation stands for the first
	)
	for {
		if err := ctx.Err(); err != nil {
			return fail(ctx, op, err)
		}
		now := time.Now()
		switch {
		case pending != "" && now.Sub(pingedAt) > replyTimeout:
			return fmt.Errorf("redisstore: %s: no reply to PING in %s", op, replyTimeout)
		case pending == "" && now.Sub(pingedAt) >= pingInterval:
			seq++
			pending, pingedAt = strconv.Itoa(seq), now
			if err := ps.Ping(ctx, pending); err != nil {
				return fail(ctx, op, err)
			}
		}
		msg, err := ps.ReceiveTimeout(ctx, pollInterval)
		if isTimeout(err) || ctx.Err() != nil {
			continue // the loop's start returns ctx's error
		}
		if err != nil {
			return fail(ctx, op, err)
		}
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel != channel {
				return fmt.Errorf("redisstore: %s: message on %s, subscribed to %s", op, m.Channel, channel)
			}
			r, err := decodeRevocation(m.Payload)
			if err != nil {
				// Perhaps a revocation this version cannot read: ending
				// the watch has the caller resync, and list it.
				return fmt.Errorf("redisstore: %s: %w", op, err)
			}
			h.Revoked(r)
		case *redis.Pong:
			if pending == "" || m.Payload != pending {
				return fmt.Errorf("redisstore: %s: unexpected reply to PING %q: %q", op, pending, m.Payload)
			}
			pending = ""
			h.Alive()
		case *redis.Subscription:
			return fmt.Errorf("redisstore: %s: %s again: the connection was replaced and revocations may have been missed", op, m)
		default:
			return fmt.Errorf("redisstore: %s: unexpected %T on the subscription", op, msg)
		}
	}
}

// confirmSubscription waits for Redis to confirm the subscription to
// channel: from then on, everything published on it is delivered.
func confirmSubscription(ctx context.Context, ps *redis.PubSub, channel string) error {
	deadline := time.Now().Add(replyTimeout)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		wait := min(pollInterval, time.Until(deadline))
		if wait <= 0 { // ReceiveTimeout would take 0 as no limit
			return fmt.Errorf("SUBSCRIBE %s not confirmed in %s", channel, replyTimeout)
		}
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if isTimeout(err) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			return err
		}
		if sub, ok := msg.(*redis.Subscription); ok && sub.Kind == "subscribe" && sub.Channel == channel {
			return nil
		}
		return fmt.Errorf("SUBSCRIBE %s: got %v before the confirmation", channel, msg)
	}
}

// isTimeout reports whether err is a read that timed out with nothing to
// read: go-redis then keeps the connection.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
