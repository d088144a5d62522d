package oauth2

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// DefaultMaxStaleness is how long a RevocationView trusts itself without
// hearing from its subscription.
const DefaultMaxStaleness = 3 * time.Second

// RevocationViewConfig configures a RevocationView.
type RevocationViewConfig struct {
	// Store is the store revocations are written to. It must implement
	// store.RevocationWatcher; its IsRevoked answers while the view is not
	// trustworthy.
	Store Store
	// MaxStaleness is how long after the last sign of life from the
	// subscription the view is still trusted; past it, IsRevoked asks the
	// store (and so fails closed if the store is down too). 0 means
	// DefaultMaxStaleness.
	MaxStaleness time.Duration
	// StoreTimeout bounds each store call made while the view is not
	// trusted; 0 means DefaultStoreTimeout.
	StoreTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// RevocationView is an in-process copy of the revoked grants and access
// tokens, kept current by the store pushing each revocation to it (Redis
// pub/sub, PostgreSQL LISTEN/NOTIFY, in process for memstore), so that
// VerifierConfig.Revocations costs no round trip. It resynchronises in full
// whenever its subscription is (re)established, and stops trusting itself
// MaxStaleness after its subscription last proved alive, asking the store
// instead until it has caught up again. It is safe for concurrent use; Close
// it when done.
type RevocationView struct {
	cfg     RevocationViewConfig
	watcher store.RevocationWatcher

	mu     sync.RWMutex
	grants map[string]time.Time
	jtis   map[string]time.Time

	// trustedUntil is the UnixNano time until which the view is trusted:
	// set on each sign of life once synchronised, cleared when the
	// subscription fails.
	trustedUntil atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

// NewRevocationView starts a view over cfg.Store. It returns at once; until
// its first synchronisation completes, IsRevoked asks the store.
func NewRevocationView(cfg RevocationViewConfig) (*RevocationView, error) {
	w, ok := cfg.Store.(store.RevocationWatcher)
	if !ok {
		return nil, fmt.Errorf("oauth2: %T does not implement store.RevocationWatcher", cfg.Store)
	}
	if cfg.MaxStaleness < 0 || cfg.StoreTimeout < 0 {
		return nil, errors.New("oauth2: RevocationViewConfig durations must not be negative")
	}
	if cfg.MaxStaleness == 0 {
		cfg.MaxStaleness = DefaultMaxStaleness
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &RevocationView{
		cfg: cfg, watcher: w,
		grants: make(map[string]time.Time), jtis: make(map[string]time.Time),
		cancel: cancel, done: make(chan struct{}),
	}
	go v.run(ctx)
	return v, nil
}

// Close stops the view's subscription.
func (v *RevocationView) Close() {
	v.cancel()
	<-v.done
}

// Trusted reports whether IsRevoked currently answers from memory.
func (v *RevocationView) Trusted() bool {
	return v.cfg.Now().UnixNano() < v.trustedUntil.Load()
}

// IsRevoked implements RevocationChecker: from memory while the view is
// trusted, from the store (within StoreTimeout) otherwise.
func (v *RevocationView) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	now := v.cfg.Now()
	if now.UnixNano() >= v.trustedUntil.Load() {
		ctx, cancel := context.WithTimeout(ctx, v.cfg.StoreTimeout)
		defer cancel()
		return v.cfg.Store.IsRevoked(ctx, jti, grantID)
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if exp, ok := v.jtis[jti]; ok && jti != "" && now.Before(exp) {
		return true, nil
	}
	if exp, ok := v.grants[grantID]; ok && grantID != "" && now.Before(exp) {
		return true, nil
	}
	return false, nil
}

func (v *RevocationView) boundsStoreCalls() {}

// run keeps the subscription up, resynchronising after every
// (re)subscription, with a capped backoff between failures.
func (v *RevocationView) run(ctx context.Context) {
	defer close(v.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		h := &viewHandler{v: v, ctx: ctx}
		// An error, or the subscription ending at all, means revocations may
		// have been missed: the view asks the store until it resubscribes.
		_ = v.watcher.WatchRevocations(ctx, h)
		v.trustedUntil.Store(0)
		if ctx.Err() != nil {
			return
		}
		if h.synced.Load() {
			backoff = 50 * time.Millisecond // it worked for a while: retry soon
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// viewHandler receives one subscription's reports. On the first Alive it
// lists every live revocation: revocations made from then on arrive through
// Revoked, those made before are in the list, so nothing is missed.
type viewHandler struct {
	v         *RevocationView
	ctx       context.Context
	synced    atomic.Bool
	lastPrune time.Time
}

func (h *viewHandler) Alive() {
	v := h.v
	if !h.synced.Load() {
		ctx, cancel := context.WithTimeout(h.ctx, DefaultStoreTimeout)
		list, err := v.watcher.ListRevocations(ctx)
		cancel()
		if err != nil {
			return // stay untrusted; the next Alive retries the list
		}
		for _, r := range list {
			v.apply(r)
		}
		h.synced.Store(true)
	}
	if now := v.cfg.Now(); now.Sub(h.lastPrune) >= pruneInterval {
		v.prune(now)
		h.lastPrune = now
	}
	v.trustedUntil.Store(v.cfg.Now().Add(v.cfg.MaxStaleness).UnixNano())
}

func (h *viewHandler) Revoked(r store.Revocation) { h.v.apply(r) }

// apply records r, keeping the later expiry as the store does.
func (v *RevocationView) apply(r store.Revocation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, id := v.jtis, r.JTI
	if r.GrantID != "" {
		m, id = v.grants, r.GrantID
	}
	if id == "" {
		return
	}
	if cur, ok := m[id]; !ok || r.ExpiresAt.After(cur) {
		m[id] = r.ExpiresAt
	}
}

// pruneInterval is how often a view drops expired revocations, so that it
// stays as small as the live set.
const pruneInterval = time.Minute

func (v *RevocationView) prune(now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, m := range []map[string]time.Time{v.grants, v.jtis} {
		for id, exp := range m {
			if !now.Before(exp) {
				delete(m, id)
			}
		}
	}
}
