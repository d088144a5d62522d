package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oauth2kit/oauth2kit/store"
)

// Kinds of revocation notification, the first field of a payload.
const (
	kindGrant = 'g'
	kindJTI   = 'j'
	// kindResync announces a revocation whose id did not fit in a payload:
	// a watcher cannot apply it, so it ends and its caller lists again.
	kindResync = 'r'
)

// maxPayloadID is the longest id, in bytes, that a notification carries.
// PostgreSQL takes payloads shorter than 8000 bytes; the kind, the expiry
// and two colons need at most 23 of them.
const maxPayloadID = 7900

// channelPrefix starts the name of every revocation channel, so that an
// operator reading pg_listening_channels or pg_stat_activity knows whose it is.
const channelPrefix = "oauth2kit_revocations"

// channelName returns the channel that revocations in schema are announced
// on. Channels are per database, like schemas, so stores in different schemas
// of one database must not share one. A channel name is an identifier, of at
// most 63 bytes, which a long schema name would exceed: such a name is
// replaced by a hash. The separators differ, so that no schema's plain name
// can equal another's hashed one.
func channelName(schema string) string {
	if name := channelPrefix + "." + schema; len(name) <= maxIdentifierLen {
		return name
	}
	sum := sha256.Sum256([]byte(schema))
	return channelPrefix + "#" + hex.EncodeToString(sum[:])[:maxIdentifierLen-len(channelPrefix)-1]
}

// Timing of a watch. A quiet connection is asked a trivial query once it has
// been silent for aliveEvery, since only an answer proves it: a server that
// vanished without closing the TCP connection (a network partition, a
// killed host) leaves reads blocked, not failed. aliveEvery plus a normal
// round trip is well within store.WatchHeartbeat, and a ping slower than
// pingTimeout ends the watch, so a dead connection is reported within about
// aliveEvery+pingTimeout.
const (
	aliveEvery   = store.WatchHeartbeat / 2
	pingTimeout  = store.WatchHeartbeat
	closeTimeout = time.Second
)

// ListRevocations implements store.RevocationWatcher. Both tables are read
// by one statement, so from one snapshot.
func (s *Store) ListRevocations(ctx context.Context) ([]store.Revocation, error) {
	now := s.clock()
	var list []store.Revocation
	err := s.retry.do(ctx, "list revocations", func() error {
		rows, err := s.pool.Query(ctx, s.q.listRevocations, now)
		if err != nil {
			return err
		}
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Revocation, error) {
			var (
				grant bool
				r     store.Revocation
			)
			if err := row.Scan(&grant, &r.JTI, &r.ExpiresAt); err != nil {
				return r, err
			}
			if grant {
				r.GrantID, r.JTI = r.JTI, ""
			}
			return r, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// WatchRevocations implements store.RevocationWatcher with LISTEN on a
// connection of its own, which it takes from the pool for good (it does
// not count against the pool's MaxConns while the watch lasts) and closes
// when it returns, which ends the LISTEN with the session. Alive follows a
// successful LISTEN, then every notification received or trivial query
// answered once the previous Alive is aliveEvery old. Any failure of the
// connection ends the watch with an error.
//
// The pool must reach the server directly or through a pooler in session
// mode: a transaction-mode pooler does not keep a LISTEN.
func (s *Store) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return watchError(ctx, "acquiring a connection", err)
	}
	// The session will LISTEN: no other caller may ever get it from the
	// pool, so it leaves the pool now rather than on return.
	conn := pc.Hijack()
	dl := newConnDeadline(ctx, conn.PgConn().Conn())
	defer closeWatchConn(conn, dl)
	return s.watch(ctx, conn, dl, h)
}

// watch runs a watch on conn, which is dedicated to it.
//
// Every call on conn gets context.Background(), which pgx never watches,
// and is bounded by dl instead: the network connection's deadline, moved to
// the past when ctx ends. The pool's context watcher handler is the
// caller's choice and would make a poll costly: pgx's default sets the same
// deadline, but pgconn.CancelRequestContextWatcherHandler, which the package
// documentation recommends, would send a cancel request (a new connection to
// the server) every poll and wait its DeadlineDelay before returning. A read
// that times out this way leaves the connection usable: pgx keeps the bytes
// of a message read in part and reads on (as its own deadline handler relies
// on).
func (s *Store) watch(ctx context.Context, conn *pgx.Conn, dl *connDeadline, h store.RevocationListener) error {
	bg := context.Background()
	dl.set(time.Now().Add(pingTimeout))
	if _, err := conn.Exec(bg, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return watchError(ctx, "listening", err)
	}
	// Committed (LISTEN ran in its own implicit transaction): every
	// revocation that commits from now on is delivered on this session.
	h.Alive()
	lastAlive := time.Now()
	for {
		next := lastAlive.Add(aliveEvery)
		dl.set(next)
		n, err := conn.WaitForNotification(bg)
		switch {
		case err == nil:
			if n == nil {
				return errors.New("pgstore: watching revocations: the pool's ConnConfig.OnNotification takes the notifications; leave it nil")
			}
			if n.Channel == s.channel {
				if err := deliver(n.Payload, h); err != nil {
					return err
				}
			}
			// A notification just read proves the connection as well
			// as a ping would.
			if now := time.Now(); !now.Before(next) {
				h.Alive()
				lastAlive = now
			}
		case pgconn.Timeout(err) && ctx.Err() == nil:
			dl.set(time.Now().Add(pingTimeout))
			if _, err := conn.Exec(bg, "SELECT 1"); err != nil {
				return watchError(ctx, "checking the connection", err)
			}
			h.Alive()
			lastAlive = time.Now()
		default:
			return watchError(ctx, "waiting for notifications", err)
		}
	}
}

// deliver reports the revocation in payload to h. A payload that announces a
// revocation without saying which, or that this version cannot read, is an
// error: the watch ends, and its caller lists again.
func deliver(payload string, h store.RevocationListener) error {
	r, err := parsePayload(payload)
	if err != nil {
		return fmt.Errorf("pgstore: watching revocations: %w", err)
	}
	// An empty id is never looked up, and a Revocation has exactly one id.
	if r.GrantID != "" || r.JTI != "" {
		h.Revoked(r)
	}
	return nil
}

// parsePayload reads a payload written by revokeSQL: kind:micros:id.
func parsePayload(payload string) (store.Revocation, error) {
	if payload == string(kindResync) {
		return store.Revocation{}, errors.New("a revocation was announced without its id (longer than a notification carries): list again")
	}
	kind, rest, ok1 := strings.Cut(payload, ":")
	micros, id, ok2 := strings.Cut(rest, ":")
	us, err := strconv.ParseInt(micros, 10, 64)
	if !ok1 || !ok2 || err != nil || len(kind) != 1 {
		return store.Revocation{}, fmt.Errorf("unreadable notification %.40q", payload)
	}
	r := store.Revocation{ExpiresAt: time.UnixMicro(us)}
	switch kind[0] {
	case kindGrant:
		r.GrantID = id
	case kindJTI:
		r.JTI = id
	default:
		return store.Revocation{}, fmt.Errorf("notification of unknown kind %q", kind)
	}
	return r, nil
}

// watchError wraps err, which interrupted doing what. Once ctx has ended, it
// is the reason, whatever pgx reported (a deadline in the past, to
// interrupt it).
func watchError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("pgstore: watching revocations: %w", ctx.Err())
	}
	return fmt.Errorf("pgstore: watching revocations: %s: %w", what, err)
}

// connDeadline sets the deadline of a watch's network connection, and
// moves it to the past once ctx ends, so that a blocked read or write fails
// at once.
type connDeadline struct {
	nc    net.Conn
	stop  func() bool
	mu    sync.Mutex
	ended bool // no longer moved by set
}

func newConnDeadline(ctx context.Context, nc net.Conn) *connDeadline {
	d := &connDeadline{nc: nc}
	d.stop = context.AfterFunc(ctx, func() { d.end(time.Unix(1, 0)) })
	return d
}

// set moves the deadline to t, unless ctx has ended.
func (d *connDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ended {
		// Its error says the connection is closed, which the next read
		// or write reports anyway.
		_ = d.nc.SetDeadline(t)
	}
}

// end sets the deadline to t for good.
func (d *connDeadline) end(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ended = true
	_ = d.nc.SetDeadline(t)
}

// closeWatchConn closes a watch's connection, giving it closeTimeout to
// say goodbye to the server, so that the server does not log the session as
// lost; the LISTEN ends with it.
func closeWatchConn(conn *pgx.Conn, dl *connDeadline) {
	dl.stop()
	dl.end(time.Now().Add(closeTimeout))
	// Close reports only what it failed to tell a server that is ending
	// the session anyway.
	_ = conn.Close(context.Background())
}
