package storetest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// netstore is the smallest network adapter the fault tier can judge: a TCP
// server holding a memstore per namespace, and a client that dials it for
// every call and exchanges one JSON request and reply. Dialling per call
// makes it recover by itself once the server is reachable again, as a
// pooled client does by replacing broken connections.

// netRequest is one call; Op names the method, the other fields are its
// arguments.
type netRequest struct {
	NS        string
	Op        string
	Token     store.RefreshToken `json:",omitzero"`
	Hash      []byte             `json:",omitempty"`
	ID        string             `json:",omitempty"`
	GrantID   string             `json:",omitempty"`
	Key       string             `json:",omitempty"`
	Keys      []string           `json:",omitempty"`
	At        time.Time          `json:",omitzero"`
	ExpiresAt time.Time          `json:",omitzero"`
	Version   int64              `json:",omitempty"`
	Signing   []store.SigningKey `json:",omitempty"`
	Session   store.Session      `json:",omitzero"`
}

// netReply is the answer to one call, or one event of a watch.
type netReply struct {
	// Err is the error's text, and Kind the sentinel it matched, if any.
	Err, Kind   string              `json:",omitempty"`
	Token       store.RefreshToken  `json:",omitzero"`
	Bool        bool                `json:",omitempty"`
	N           int64               `json:",omitempty"`
	KeySet      store.SigningKeySet `json:",omitzero"`
	Attempts    []store.Attempts    `json:",omitempty"`
	Sessions    []store.Session     `json:",omitempty"`
	Revocations []store.Revocation  `json:",omitempty"`
	// Event is "alive" or "revoked" on a watch.
	Event string `json:",omitempty"`
}

var netSentinels = map[string]error{
	"notfound": store.ErrNotFound,
	"reused":   store.ErrReused,
	"exists":   store.ErrAlreadyExists,
	"conflict": store.ErrConflict,
}

// netServer serves netstore clients.
type netServer struct {
	ln     net.Listener
	mu     sync.Mutex
	stores map[string]*memstore.Store
}

// startNetServer serves on a free local port until t ends.
func startNetServer(t *testing.T) *netServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &netServer{ln: ln, stores: make(map[string]*memstore.Store)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { srv.serve(c) })
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return srv
}

func (srv *netServer) addr() string { return srv.ln.Addr().String() }

func (srv *netServer) store(ns string) *memstore.Store {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	s, ok := srv.stores[ns]
	if !ok {
		s = memstore.New()
		srv.stores[ns] = s
	}
	return s
}

func (srv *netServer) serve(c net.Conn) {
	defer c.Close()
	var req netRequest
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	s := srv.store(req.NS)
	// The connection's end ends the call, as a closed client socket
	// makes a database abandon a query.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, c)
		cancel()
	}()
	enc := json.NewEncoder(c)
	if req.Op == "watch" {
		_ = s.WatchRevocations(ctx, &netListener{enc: enc, cancel: cancel})
		return
	}
	rep, err := srv.call(ctx, s, req)
	if err != nil {
		rep = netReply{Err: err.Error()}
		for kind, sentinel := range netSentinels {
			if errors.Is(err, sentinel) {
				rep.Kind = kind
			}
		}
	}
	_ = enc.Encode(rep)
}

func (srv *netServer) call(ctx context.Context, s *memstore.Store, req netRequest) (netReply, error) {
	var rep netReply
	var err error
	switch req.Op {
	case "create":
		err = s.CreateRefreshToken(ctx, req.Token)
	case "get":
		rep.Token, err = s.GetRefreshToken(ctx, req.Hash)
	case "rotate":
		err = s.RotateRefreshToken(ctx, req.Hash, req.Token)
	case "revokeGrant":
		err = s.RevokeGrant(ctx, req.ID, req.ExpiresAt)
	case "revokeAccessToken":
		err = s.RevokeAccessToken(ctx, req.ID, req.ExpiresAt)
	case "isRevoked":
		rep.Bool, err = s.IsRevoked(ctx, req.ID, req.GrantID)
	case "deleteExpired":
		var n int
		n, err = s.DeleteExpired(ctx)
		rep.N = int64(n)
	case "getKeySet":
		rep.KeySet, err = s.GetKeySet(ctx)
	case "swapKeySet":
		rep.N, err = s.SwapKeySet(ctx, req.Version, req.Signing)
	case "addFailure":
		var a store.Attempts
		a, err = s.AddFailure(ctx, req.Key, req.ExpiresAt)
		rep.Attempts = []store.Attempts{a}
	case "getAttempts":
		rep.Attempts, err = s.GetAttempts(ctx, req.Keys...)
	case "resetAttempts":
		err = s.ResetAttempts(ctx, req.Key)
	case "createSession":
		err = s.CreateSession(ctx, req.Session)
	case "touchSession":
		err = s.TouchSession(ctx, req.ID, req.GrantID, req.At, req.ExpiresAt)
	case "listSessions":
		rep.Sessions, err = s.ListSessions(ctx, req.ID)
	case "deleteSession":
		err = s.DeleteSession(ctx, req.ID, req.GrantID)
	case "listRevocations":
		rep.Revocations, err = s.ListRevocations(ctx)
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	return rep, err
}

// netListener sends a watch's events to the client; a failed send ends
// the watch.
type netListener struct {
	enc    *json.Encoder
	cancel context.CancelFunc
}

func (l *netListener) send(rep netReply) {
	if err := l.enc.Encode(rep); err != nil {
		l.cancel()
	}
}

func (l *netListener) Alive() { l.send(netReply{Event: "alive"}) }
func (l *netListener) Revoked(r store.Revocation) {
	l.send(netReply{Event: "revoked", Revocations: []store.Revocation{r}})
}

// netStore is the client.
type netStore struct {
	addr, ns string
	// replyTimeout, if set, is how long a call waits for the reply to a
	// request it sent, whatever its context says: the bug of a client
	// that applies the context only until the request is written (go-redis
	// without ContextTimeoutEnabled).
	replyTimeout time.Duration
	// timeoutIsFatal, if set, makes the client give up for good once a
	// call has timed out: every later call fails at once, without
	// dialling. It is the bug of a client that keeps the connection a
	// timed-out call left with an unread reply and never redials (a
	// single-connection client with no reconnect).
	timeoutIsFatal bool
	// dead is set once timeoutIsFatal has given up.
	dead atomic.Bool
}

var (
	_ store.Store             = (*netStore)(nil)
	_ store.ExpiredDeleter    = (*netStore)(nil)
	_ store.KeyStore          = (*netStore)(nil)
	_ store.AttemptStore      = (*netStore)(nil)
	_ store.SessionStore      = (*netStore)(nil)
	_ store.RevocationWatcher = (*netStore)(nil)
)

// newNetStore returns a client of a namespace of its own on the server at
// addr.
func newNetStore(addr string) *netStore { return &netStore{addr: addr, ns: rand.Text()} }

// fail wraps err, which ended op; once ctx has ended, it is the reason.
func netFail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("netstore: %s: %w (%v)", op, ctx.Err(), err)
	}
	return fmt.Errorf("netstore: %s: %w", op, err)
}

// dial connects to the server and sends req; the connection's deadline
// follows ctx.
func (c *netStore) dial(ctx context.Context, req netRequest) (net.Conn, func() bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("netstore: %s: %w", req.Op, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, nil, netFail(ctx, req.Op, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	req.NS = c.ns
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		stop()
		conn.Close()
		return nil, nil, netFail(ctx, req.Op, err)
	}
	return conn, stop, nil
}

func (c *netStore) do(ctx context.Context, req netRequest) (netReply, error) {
	if !c.timeoutIsFatal {
		return c.exchange(ctx, req)
	}
	if c.dead.Load() {
		return netReply{}, fmt.Errorf("netstore: %s: connection broken by an earlier timeout", req.Op)
	}
	live := ctx.Err() == nil
	rep, err := c.exchange(ctx, req)
	if live && errors.Is(err, context.DeadlineExceeded) {
		c.dead.Store(true)
	}
	return rep, err
}

// exchange sends req on a connection of its own and reads the reply.
func (c *netStore) exchange(ctx context.Context, req netRequest) (netReply, error) {
	conn, stop, err := c.dial(ctx, req)
	if err != nil {
		return netReply{}, err
	}
	defer conn.Close()
	defer stop()
	if c.replyTimeout > 0 && stop() {
		_ = conn.SetDeadline(time.Now().Add(c.replyTimeout))
	}
	var rep netReply
	if err := json.NewDecoder(conn).Decode(&rep); err != nil {
		return netReply{}, netFail(ctx, req.Op, err)
	}
	if rep.Err != "" {
		if sentinel, ok := netSentinels[rep.Kind]; ok {
			return netReply{}, fmt.Errorf("netstore: %s: %w", req.Op, sentinel)
		}
		return netReply{}, fmt.Errorf("netstore: %s: server: %s", req.Op, rep.Err)
	}
	return rep, nil
}

func (c *netStore) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	_, err := c.do(ctx, netRequest{Op: "create", Token: t})
	return err
}

func (c *netStore) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	rep, err := c.do(ctx, netRequest{Op: "get", Hash: hash})
	return rep.Token, err
}

func (c *netStore) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	_, err := c.do(ctx, netRequest{Op: "rotate", Hash: oldHash, Token: next})
	return err
}

func (c *netStore) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	_, err := c.do(ctx, netRequest{Op: "revokeGrant", ID: grantID, ExpiresAt: expiresAt})
	return err
}

func (c *netStore) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	_, err := c.do(ctx, netRequest{Op: "revokeAccessToken", ID: jti, ExpiresAt: expiresAt})
	return err
}

func (c *netStore) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	rep, err := c.do(ctx, netRequest{Op: "isRevoked", ID: jti, GrantID: grantID})
	return rep.Bool, err
}

func (c *netStore) DeleteExpired(ctx context.Context) (int, error) {
	rep, err := c.do(ctx, netRequest{Op: "deleteExpired"})
	return int(rep.N), err
}

func (c *netStore) GetKeySet(ctx context.Context) (store.SigningKeySet, error) {
	rep, err := c.do(ctx, netRequest{Op: "getKeySet"})
	return rep.KeySet, err
}

func (c *netStore) SwapKeySet(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
	rep, err := c.do(ctx, netRequest{Op: "swapKeySet", Version: version, Signing: keys})
	return rep.N, err
}

func (c *netStore) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	rep, err := c.do(ctx, netRequest{Op: "addFailure", Key: key, ExpiresAt: expiresAt})
	if err != nil {
		return store.Attempts{}, err
	}
	return rep.Attempts[0], nil
}

func (c *netStore) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	rep, err := c.do(ctx, netRequest{Op: "getAttempts", Keys: keys})
	return rep.Attempts, err
}

func (c *netStore) ResetAttempts(ctx context.Context, key string) error {
	_, err := c.do(ctx, netRequest{Op: "resetAttempts", Key: key})
	return err
}

func (c *netStore) CreateSession(ctx context.Context, s store.Session) error {
	_, err := c.do(ctx, netRequest{Op: "createSession", Session: s})
	return err
}

func (c *netStore) TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
	_, err := c.do(ctx, netRequest{Op: "touchSession", ID: subject, GrantID: grantID, At: at, ExpiresAt: expiresAt})
	return err
}

func (c *netStore) ListSessions(ctx context.Context, subject string) ([]store.Session, error) {
	rep, err := c.do(ctx, netRequest{Op: "listSessions", ID: subject})
	return rep.Sessions, err
}

func (c *netStore) DeleteSession(ctx context.Context, subject, grantID string) error {
	_, err := c.do(ctx, netRequest{Op: "deleteSession", ID: subject, GrantID: grantID})
	return err
}

func (c *netStore) ListRevocations(ctx context.Context) ([]store.Revocation, error) {
	rep, err := c.do(ctx, netRequest{Op: "listRevocations"})
	return rep.Revocations, err
}

// netHeartbeat is how long a watch waits for the server's next event: the
// server's memstore sends Alive every half store.WatchHeartbeat.
const netHeartbeat = 3 * store.WatchHeartbeat / 2

// WatchRevocations holds one connection on which the server streams the
// watch's events. A server silent for netHeartbeat ends it.
func (c *netStore) WatchRevocations(ctx context.Context, h store.RevocationListener) error {
	const op = "watch"
	conn, stop, err := c.dial(ctx, netRequest{Op: op})
	if err != nil {
		return err
	}
	defer conn.Close()
	defer stop()
	dec := json.NewDecoder(conn)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("netstore: %s: %w", op, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(netHeartbeat))
		var rep netReply
		if err := dec.Decode(&rep); err != nil {
			return netFail(ctx, op, err)
		}
		switch {
		case rep.Event == "alive":
			h.Alive()
		case rep.Event == "revoked" && len(rep.Revocations) == 1:
			h.Revoked(rep.Revocations[0])
		default:
			return fmt.Errorf("netstore: %s: unexpected event %+v", op, rep)
		}
	}
}
