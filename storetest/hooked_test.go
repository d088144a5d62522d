package storetest

import (
	"context"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// hooked is memstore with some of its methods replaced: a broken store
// that changes one or two methods is a hooked with those fields set, and
// every other method is memstore's own.
type hooked struct {
	*memstore.Store

	create            func(context.Context, store.RefreshToken) error
	get               func(context.Context, []byte) (store.RefreshToken, error)
	rotate            func(context.Context, []byte, store.RefreshToken) error
	revokeGrant       func(context.Context, string, time.Time) error
	revokeAccessToken func(context.Context, string, time.Time) error
	isRevoked         func(context.Context, string, string) (bool, error)
	deleteExpired     func(context.Context) (int, error)
	getKeySet         func(context.Context) (store.SigningKeySet, error)
	swapKeySet        func(context.Context, int64, []store.SigningKey) (int64, error)
	addFailure        func(context.Context, string, time.Time) (store.Attempts, error)
	getAttempts       func(context.Context, ...string) ([]store.Attempts, error)
	resetAttempts     func(context.Context, string) error
	createSession     func(context.Context, store.Session) error
	touchSession      func(context.Context, string, string, time.Time, time.Time) error
	listSessions      func(context.Context, string) ([]store.Session, error)
	deleteSession     func(context.Context, string, string) error
	listRevocations   func(context.Context) ([]store.Revocation, error)
	watchRevocations  func(context.Context, store.RevocationListener) error
}

func (h *hooked) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	if h.create != nil {
		return h.create(ctx, t)
	}
	return h.Store.CreateRefreshToken(ctx, t)
}

func (h *hooked) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	if h.get != nil {
		return h.get(ctx, hash)
	}
	return h.Store.GetRefreshToken(ctx, hash)
}

func (h *hooked) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
	if h.rotate != nil {
		return h.rotate(ctx, oldHash, next)
	}
	return h.Store.RotateRefreshToken(ctx, oldHash, next)
}

func (h *hooked) RevokeGrant(ctx context.Context, grantID string, expiresAt time.Time) error {
	if h.revokeGrant != nil {
		return h.revokeGrant(ctx, grantID, expiresAt)
	}
	return h.Store.RevokeGrant(ctx, grantID, expiresAt)
}

func (h *hooked) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if h.revokeAccessToken != nil {
		return h.revokeAccessToken(ctx, jti, expiresAt)
	}
	return h.Store.RevokeAccessToken(ctx, jti, expiresAt)
}

func (h *hooked) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	if h.isRevoked != nil {
		return h.isRevoked(ctx, jti, grantID)
	}
	return h.Store.IsRevoked(ctx, jti, grantID)
}

func (h *hooked) DeleteExpired(ctx context.Context) (int, error) {
	if h.deleteExpired != nil {
		return h.deleteExpired(ctx)
	}
	return h.Store.DeleteExpired(ctx)
}

func (h *hooked) GetKeySet(ctx context.Context) (store.SigningKeySet, error) {
	if h.getKeySet != nil {
		return h.getKeySet(ctx)
	}
	return h.Store.GetKeySet(ctx)
}

func (h *hooked) SwapKeySet(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
	if h.swapKeySet != nil {
		return h.swapKeySet(ctx, version, keys)
	}
	return h.Store.SwapKeySet(ctx, version, keys)
}

func (h *hooked) AddFailure(ctx context.Context, key string, expiresAt time.Time) (store.Attempts, error) {
	if h.addFailure != nil {
		return h.addFailure(ctx, key, expiresAt)
	}
	return h.Store.AddFailure(ctx, key, expiresAt)
}

func (h *hooked) GetAttempts(ctx context.Context, keys ...string) ([]store.Attempts, error) {
	if h.getAttempts != nil {
		return h.getAttempts(ctx, keys...)
	}
	return h.Store.GetAttempts(ctx, keys...)
}

func (h *hooked) ResetAttempts(ctx context.Context, key string) error {
	if h.resetAttempts != nil {
		return h.resetAttempts(ctx, key)
	}
	return h.Store.ResetAttempts(ctx, key)
}

func (h *hooked) CreateSession(ctx context.Context, s store.Session) error {
	if h.createSession != nil {
		return h.createSession(ctx, s)
	}
	return h.Store.CreateSession(ctx, s)
}

func (h *hooked) TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
	if h.touchSession != nil {
		return h.touchSession(ctx, subject, grantID, at, expiresAt)
	}
	return h.Store.TouchSession(ctx, subject, grantID, at, expiresAt)
}

func (h *hooked) ListSessions(ctx context.Context, subject string) ([]store.Session, error) {
	if h.listSessions != nil {
		return h.listSessions(ctx, subject)
	}
	return h.Store.ListSessions(ctx, subject)
}

func (h *hooked) DeleteSession(ctx context.Context, subject, grantID string) error {
	if h.deleteSession != nil {
		return h.deleteSession(ctx, subject, grantID)
	}
	return h.Store.DeleteSession(ctx, subject, grantID)
}

func (h *hooked) ListRevocations(ctx context.Context) ([]store.Revocation, error) {
	if h.listRevocations != nil {
		return h.listRevocations(ctx)
	}
	return h.Store.ListRevocations(ctx)
}

func (h *hooked) WatchRevocations(ctx context.Context, l store.RevocationListener) error {
	if h.watchRevocations != nil {
		return h.watchRevocations(ctx, l)
	}
	return h.Store.WatchRevocations(ctx, l)
}
