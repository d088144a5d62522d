package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

var (
	_ store.Store          = (*Store)(nil)
	_ store.ExpiredDeleter = (*Store)(nil)
)

// DefaultSweepInterval is how often, at most, writes sweep expired records
// unless WithSweepInterval says otherwise.
const DefaultSweepInterval = time.Minute

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	now           func() time.Time
	sweepInterval time.Duration

	mu        sync.RWMutex
	refresh   map[string]store.RefreshToken // by string(Hash)
	grants    map[string]time.Time          // revoked grant ID -> expiry
	jtis      map[string]time.Time          // revoked access-token jti -> expiry
	attempts  map[string]attempts           // failed attempts by key
	sessions  map[string]store.Session      // by GrantID
	keySet    store.SigningKeySet
	watchers  map[*watcher]struct{}
	lastSweep time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithSweepInterval sets how often, at most, a write also removes expired
// records. A zero or negative d sweeps on every write.
func WithSweepInterval(d time.Duration) Option {
	return func(s *Store) { s.sweepInterval = d }
}

// WithClock makes the Store read the current time from now instead of
// time.Now. Expiry is judged by this clock (see package store), so tests
// driving a fake clock see records expire on that clock.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns an empty Store. It takes no client, as it has no backend; it
// cannot fail, and, like every adapter's New, panics on a programming error:
// a nil clock.
func New(opts ...Option) *Store {
	s := &Store{
		now:           time.Now,
		sweepInterval: DefaultSweepInterval,
		refresh:       make(map[string]store.RefreshToken),
		grants:        make(map[string]time.Time),
		jtis:          make(map[string]time.Time),
		attempts:      make(map[string]attempts),
		sessions:      make(map[string]store.Session),
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.now == nil {
		panic("memstore: New: nil clock")
	}
	s.lastSweep = s.now()
	return s
}

// CreateRefreshToken implements store.RefreshTokenStore.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.maybeSweepLocked(now)
	if _, ok := s.liveLocked(t.Hash, now); ok {
		return fmt.Errorf("memstore: create refresh token: %w", store.ErrAlreadyExists)
	}
	s.refresh[string(t.Hash)] = clone(t)
	return nil
}

// GetRefreshToken implements store.RefreshTokenStore.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	if err := ctx.Err(); err != nil {
		return store.RefreshToken{}, fmt.Errorf("memstore: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.liveLocked(hash, s.now())
	if !ok {
		return store.RefreshToken{}, fmt.Errorf("memstore: get refresh token: %w", store.ErrNotFound)
	}
	return clone(t), nil
}

// RotateRefreshToken implements store.RefreshTokenStore. Holding the write
// lock across the check and both writes is what makes it atomic.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.maybeSweepLocked(now)
	old, ok := s.liveLocked(oldHash, now)
	switch {
	case !ok, old.GrantID != next.GrantID:
		return fmt.Errorf("memstore: rotate refresh token: %w", store.ErrNotFound)
	case old.Consumed():
		return fmt.Errorf("memstore: rotate refresh token: %w", store.ErrReused)
	}
	if _, taken := s.liveLocked(next.Hash, now); taken {
		return fmt.Errorf("memstore: rotate refresh token: %w", store.ErrAlreadyExists)
	}
	old.ConsumedAt = next.IssuedAt
	s.refresh[string(oldHash)] = old
	s.refresh[string(next.Hash)] = clone(next)
	return nil
}

// RevokeGrant implements store.RevocationStore.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	return s.revoke(ctx, s.grants, grantID, expiresAt, store.Revocation{GrantID: grantID, ExpiresAt: expiresAt})
}

// RevokeAccessToken implements store.RevocationStore.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return s.revoke(ctx, s.jtis, jti, expiresAt, store.Revocation{JTI: jti, ExpiresAt: expiresAt})
}

func (s *Store) revoke(ctx context.Context, m map[string]time.Time, id string, expiresAt time.Time, r store.Revocation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeSweepLocked(s.now())
	if cur, ok := m[id]; !ok || expiresAt.After(cur) {
		m[id] = expiresAt
	}
	s.publishLocked(r)
	return nil
}

// IsRevoked implements store.RevocationStore.
func (s *Store) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memstore: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	live := func(m map[string]time.Time, id string) bool {
		exp, ok := m[id]
		return id != "" && ok && now.Before(exp)
	}
	return live(s.jtis, jti) || live(s.grants, grantID), nil
}

// DeleteExpired implements store.ExpiredDeleter.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.lastSweep = now
	return s.deleteExpiredLocked(now), nil
}

// liveLocked returns the stored record for hash, unless there is none or it
// has expired. The caller holds s.mu.
func (s *Store) liveLocked(hash []byte, now time.Time) (store.RefreshToken, bool) {
	t, ok := s.refresh[string(hash)]
	if !ok || !now.Before(t.ExpiresAt) {
		return store.RefreshToken{}, false
	}
	return t, true
}

// maybeSweepLocked bounds memory for owners that never call DeleteExpired,
// without a background goroutine. The caller holds s.mu for writing.
func (s *Store) maybeSweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < s.sweepInterval {
		return
	}
	s.lastSweep = now
	s.deleteExpiredLocked(now)
}

func (s *Store) deleteExpiredLocked(now time.Time) int {
	n := 0
	for k, t := range s.refresh {
		if !now.Before(t.ExpiresAt) {
			delete(s.refresh, k)
			n++
		}
	}
	for _, m := range []map[string]time.Time{s.grants, s.jtis} {
		for id, exp := range m {
			if !now.Before(exp) {
				delete(m, id)
				n++
			}
		}
	}
	for k, a := range s.attempts {
		if !now.Before(a.expiresAt) {
			delete(s.attempts, k)
			n++
		}
	}
	for id, sess := range s.sessions {
		if !now.Before(sess.ExpiresAt) {
			delete(s.sessions, id)
			n++
		}
	}
	return n
}

// clone returns t with its slices copied, so the stored record and the
// caller's never share memory.
func clone(t store.RefreshToken) store.RefreshToken {
	t.Hash = bytes.Clone(t.Hash)
	t.Scope = slices.Clone(t.Scope)
	t.SuccessorKey = bytes.Clone(t.SuccessorKey)
	return t
}
