package oauth2test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// Fault is what a call to a Store meets.
type Fault int

const (
	// None passes the call to the wrapped store.
	None Fault = iota
	// Fail fails the call with ErrDown without reaching the wrapped store,
	// as a backend that cannot be reached does.
	Fail
	// Hang blocks the call until its context ends, then fails it with the
	// context's error, as a backend behind a dead network path does.
	Hang
	// LoseReply passes the call to the wrapped store and then fails it with
	// ErrReplyLost whatever happened, as when the reply is lost or the
	// write commits after the caller's deadline.
	LoseReply
)

var (
	// ErrDown is the error of a Fail call. Its text stands for a backend's
	// internals (a host, a credential) that a client must never be shown.
	ErrDown = errors.New("oauth2test: dial tcp db.internal:5432: password=hunter2 rejected")
	// ErrReplyLost is the error of a LoseReply call that reached the store.
	ErrReplyLost = errors.New("oauth2test: read tcp 127.0.0.1:6379: i/o timeout")
)

// The methods of store.Store and store.AttemptStore, as Set and Calls name
// them.
var methods = []string{
	"CreateRefreshToken", "GetRefreshToken", "RotateRefreshToken",
	"RevokeGrant", "RevokeAccessToken", "IsRevoked",
	"AddFailure", "GetAttempts", "ResetAttempts",
}

// Store wraps a store.Store: each of its methods meets the Fault set for it
// (None at first), and every call is counted. It implements store.Store and
// store.AttemptStore (which the wrapped store must then implement too, for
// the calls that reach it), and nothing else, whatever the wrapped store
// implements besides. It is safe for concurrent use.
type Store struct {
	inner store.Store

	mu     sync.Mutex
	faults map[string]Fault
	calls  map[string]int
}

var (
	_ store.Store        = (*Store)(nil)
	_ store.AttemptStore = (*Store)(nil)
)

// New wraps inner, which may be nil for a Store whose every method is set
// to fail or hang before it is called.
func New(inner store.Store) *Store {
	return &Store{inner: inner, faults: make(map[string]Fault), calls: make(map[string]int)}
}

// Down returns a Store that fails every call with ErrDown.
func Down() *Store {
	s := New(nil)
	s.Set(Fail)
	return s
}

// Set makes the named methods, or every method when none is named, meet f
// from now on. It panics on a name that is not a method of store.Store: a
// misspelt name would otherwise leave a test testing nothing.
func (s *Store) Set(f Fault, names ...string) {
	if len(names) == 0 {
		names = methods
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if !isMethod(n) {
			panic(fmt.Sprintf("oauth2test: Set(%q): not a method of store.Store", n))
		}
		s.faults[n] = f
	}
}

// Calls returns how many times the named method has been called, faults
// included.
func (s *Store) Calls(name string) int {
	if !isMethod(name) {
		panic(fmt.Sprintf("oauth2test: Calls(%q): not a method of store.Store", name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

func isMethod(name string) bool {
	for _, m := range methods {
		if m == name {
			return true
		}
	}
	return false
}

// enter counts a call of name and applies its fault before the call: it
// returns a non-nil error for Fail and Hang, and reports whether the reply
// must be lost after a call that went through.
func (s *Store) enter(ctx context.Context, name string) (lose bool, err error) {
	s.mu.Lock()
	s.calls[name]++
	f := s.faults[name]
	s.mu.Unlock()
	switch f {
	case Fail:
		return false, ErrDown
	case Hang:
		<-ctx.Done()
		return false, ctx.Err()
	}
	if s.inner == nil {
		return false, fmt.Errorf("oauth2test: %s on a Store that wraps nothing", name)
	}
	return f == LoseReply, nil
}

// after returns the error of a call that reached the wrapped store.
func after(lose bool, err error) error {
	if lose {
		return ErrReplyLost
	}
	return err
}

// CreateRefreshToken implements store.Store.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	lose, err := s.enter(ctx, "CreateRefreshToken")
	if err != nil {
		return err
	}
	return after(lose, s.inner.CreateRefreshToken(ctx, t))
}

// GetRefreshToken implements store.Store.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	lose, err := s.enter(ctx, "GetRefreshToken")
	if err != nil {
		return store.RefreshToken{}, err
	}
	t, err := s.inner.GetRefreshToken(ctx, hash)
	if lose {
		return store.RefreshToken{}, ErrReplyLost
	}
	return t, err
}

// RotateRefreshToken implements store.Store.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	lose, err := s.enter(ctx, "RotateRefreshToken")
	if err != nil {
		return err
	}
	return after(lose, s.inner.RotateRefreshToken(ctx, oldHash, next))
}

// RevokeGrant implements store.Store.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	lose, err := s.enter(ctx, "RevokeGrant")
	if err != nil {
		return err
	}
	return after(lose, s.inner.RevokeGrant(ctx, grantID, expiresAt))
}

// RevokeAccessToken implements store.Store.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	lose, err := s.enter(ctx, "RevokeAccessToken")
	if err != nil {
		return err
	}
	return after(lose, s.inner.RevokeAccessToken(ctx, jti, expiresAt))
}

// IsRevoked implements store.Store.
func (s *Store) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	lose, err := s.enter(ctx, "IsRevoked")
	if err != nil {
		return false, err
	}
	revoked, err := s.inner.IsRevoked(ctx, jti, grantID)
	if lose {
		return false, ErrReplyLost
	}
	return revoked, err
}

// attempts returns the wrapped store's AttemptStore.
func (s *Store) attempts(name string) (store.AttemptStore, error) {
	a, ok := s.inner.(store.AttemptStore)
	if !ok {
		return nil, fmt.Errorf("oauth2test: %s: %T does not implement store.AttemptStore", name, s.inner)
	}
	return a, nil
}

// AddFailure implements store.AttemptStore.
func (s *Store) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	lose, err := s.enter(ctx, "AddFailure")
	if err != nil {
		return store.Attempts{}, err
	}
	a, err := s.attempts("AddFailure")
	if err != nil {
		return store.Attempts{}, err
	}
	got, err := a.AddFailure(ctx, key, expiresAt)
	if lose {
		return store.Attempts{}, ErrReplyLost
	}
	return got, err
}

// GetAttempts implements store.AttemptStore.
func (s *Store) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	lose, err := s.enter(ctx, "GetAttempts")
	if err != nil {
		return nil, err
	}
	a, err := s.attempts("GetAttempts")
	if err != nil {
		return nil, err
	}
	got, err := a.GetAttempts(ctx, keys...)
	if lose {
		return nil, ErrReplyLost
	}
	return got, err
}

// ResetAttempts implements store.AttemptStore.
func (s *Store) ResetAttempts(ctx context.Context, key string) error {
	lose, err := s.enter(ctx, "ResetAttempts")
	if err != nil {
		return err
	}
	a, err := s.attempts("ResetAttempts")
	if err != nil {
		return err
	}
	return after(lose, a.ResetAttempts(ctx, key))
}
