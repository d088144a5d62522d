package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// never is the expiry a broken store gives a record it means to keep for
// good, as a TTL of 0 or a NULL column would.
var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// pageSize is the page or batch of the broken stores that read or count
// only their first one.
const pageSize = 1000

// hookedCases are broken stores built on hooked: each is memstore with
// one promise broken the way a real adapter could break it.
var hookedCases = []brokenCase{
	{
		// A SELECT whose sql.ErrNoRows is mistaken for an empty row.
		name: "GetUnknownReturnsZero",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, get: func(ctx context.Context, hash []byte) (store.RefreshToken, error) {
				tok, err := ms.GetRefreshToken(ctx, hash)
				if errors.Is(err, store.ErrNotFound) {
					return store.RefreshToken{}, nil
				}
				return tok, err
			}}
		},
		wantFail: []string{"Refresh/GetUnknownIsNotFound"},
	},
	{
		// INSERT ... ON CONFLICT DO NOTHING, its row count never read.
		name: "CreateIgnoresConflict",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, create: func(ctx context.Context, t store.RefreshToken) error {
				if err := ms.CreateRefreshToken(ctx, t); !errors.Is(err, store.ErrAlreadyExists) {
					return err
				}
				return nil
			}}
		},
		wantFail: []string{"Refresh/CreateExistingIsAlreadyExists", "Refresh/CreateIsAtomic"},
	},
	{
		// ConsumedAt kept in a column of whole seconds.
		name: "ConsumedAtInSeconds",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, get: func(ctx context.Context, hash []byte) (store.RefreshToken, error) {
				tok, err := ms.GetRefreshToken(ctx, hash)
				tok.ConsumedAt = tok.ConsumedAt.Truncate(time.Second)
				return tok, err
			}}
		},
		wantFail: []string{"Refresh/RotateConsumesAndStores"},
	},
	{
		// UPDATE ... SET consumed_at = $1 WHERE grant_id = $2: every
		// token of the grant, not the one rotated.
		name: "RotateConsumesWholeGrant",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			byGrant := map[string][]string{}
			consumedAt := map[string]time.Time{}
			return &hooked{
				Store: ms,
				create: func(ctx context.Context, t store.RefreshToken) error {
					mu.Lock()
					byGrant[t.GrantID] = append(byGrant[t.GrantID], string(t.Hash))
					mu.Unlock()
					return ms.CreateRefreshToken(ctx, t)
				},
				rotate: func(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
					if err := ms.RotateRefreshToken(ctx, oldHash, next); err != nil {
						return err
					}
					mu.Lock()
					defer mu.Unlock()
					for _, h := range byGrant[next.GrantID] {
						consumedAt[h] = next.IssuedAt
					}
					byGrant[next.GrantID] = append(byGrant[next.GrantID], string(next.Hash))
					return nil
				},
				get: func(ctx context.Context, hash []byte) (store.RefreshToken, error) {
					tok, err := ms.GetRefreshToken(ctx, hash)
					mu.Lock()
					defer mu.Unlock()
					if at, ok := consumedAt[string(hash)]; ok && err == nil {
						tok.ConsumedAt = at
					}
					return tok, err
				},
			}
		},
		wantFail: []string{"Refresh/RotateChain"},
	},
	{
		// INSERT of the successor before the old token is looked up,
		// outside a transaction.
		name: "RotateStoresSuccessorOfUnknown",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, rotate: func(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
				err := ms.RotateRefreshToken(ctx, oldHash, next)
				if errors.Is(err, store.ErrNotFound) {
					_ = ms.CreateRefreshToken(ctx, next)
				}
				return err
			}}
		},
		wantFail: []string{"Refresh/RotateUnknownIsNotFound"},
	},
	{
		// The old token looked up by hash alone, not under next.GrantID.
		name: "RotateIgnoresGrant",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, rotate: func(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
				if old, err := ms.GetRefreshToken(ctx, oldHash); err == nil {
					next.GrantID = old.GrantID
				}
				return ms.RotateRefreshToken(ctx, oldHash, next)
			}}
		},
		wantFail: []string{"Refresh/RotateOtherGrantIsNotFound", "Refresh/CaseSensitiveIDs"},
	},
	{
		// grant_id compared under a case-insensitive collation.
		name: "RotateFoldsGrantCase",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, rotate: func(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
				if old, err := ms.GetRefreshToken(ctx, oldHash); err == nil && strings.EqualFold(old.GrantID, next.GrantID) {
					next.GrantID = old.GrantID
				}
				return ms.RotateRefreshToken(ctx, oldHash, next)
			}}
		},
		wantFail: []string{"Refresh/CaseSensitiveIDs"},
	},
	{
		// A shared scratch record for the successor, as a reused
		// prepared buffer would be: concurrent rotations swap successors.
		name: "RotateSharesBuffer",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			var pending store.RefreshToken
			return &hooked{Store: ms, rotate: func(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
				mu.Lock()
				pending = next
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				next = pending
				mu.Unlock()
				return ms.RotateRefreshToken(ctx, oldHash, next)
			}}
		},
		wantFail: []string{"Refresh/ConcurrentChainsIndependent"},
	},
	{
		name:     "OneCallAtATime",
		newStore: newOneCallAtATime,
		wantFail: []string{"Refresh/ConcurrentCallsOfOneRefresh"},
	},
	{
		// A zero expiry turned into a TTL of 0 or a NULL column: never.
		name: "ZeroExpiryMeansNever",
		newStore: func() store.Store {
			ms := memstore.New()
			forever := func(t time.Time) time.Time {
				if t.IsZero() {
					return never
				}
				return t
			}
			return &hooked{
				Store: ms,
				create: func(ctx context.Context, t store.RefreshToken) error {
					t.ExpiresAt = forever(t.ExpiresAt)
					return ms.CreateRefreshToken(ctx, t)
				},
				revokeGrant: func(ctx context.Context, id string, exp time.Time) error {
					return ms.RevokeGrant(ctx, id, forever(exp))
				},
				revokeAccessToken: func(ctx context.Context, id string, exp time.Time) error {
					return ms.RevokeAccessToken(ctx, id, forever(exp))
				},
			}
		},
		wantFail: []string{"Expiry/ZeroExpiresAtIsPast", "Revocation/ZeroExpiryNotRevoked"},
	},
	{
		// The successor's TTL taken from what is left of the old key's.
		name: "SuccessorCappedByOld",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, rotate: func(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
				if old, err := ms.GetRefreshToken(ctx, oldHash); err == nil && old.ExpiresAt.Before(next.ExpiresAt) {
					next.ExpiresAt = old.ExpiresAt
				}
				return ms.RotateRefreshToken(ctx, oldHash, next)
			}}
		},
		wantFail: []string{"Expiry/SuccessorKeepsOwnExpiry"},
	},
	{
		name: "RevokeAccessTokenForgotten",
		newStore: func() store.Store {
			return &hooked{Store: memstore.New(), revokeAccessToken: func(ctx context.Context, _ string, _ time.Time) error { return ctx.Err() }}
		},
		wantFail: []string{"Revocation/AccessToken"},
	},
	{
		// jti LIKE $1 || '%', or a key scan by prefix.
		name: "RevokedByPrefix",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			var jtis []string
			return &hooked{
				Store: ms,
				revokeAccessToken: func(ctx context.Context, jti string, exp time.Time) error {
					mu.Lock()
					jtis = append(jtis, jti)
					mu.Unlock()
					return ms.RevokeAccessToken(ctx, jti, exp)
				},
				isRevoked: func(ctx context.Context, jti, grantID string) (bool, error) {
					revoked, err := ms.IsRevoked(ctx, jti, grantID)
					if err != nil || revoked || jti == "" {
						return revoked, err
					}
					mu.Lock()
					defer mu.Unlock()
					return slices.ContainsFunc(jtis, func(j string) bool {
						return strings.HasPrefix(j, jti) || strings.HasPrefix(jti, j)
					}), nil
				},
			}
		},
		wantFail: []string{"Revocation/UnrelatedNotRevoked"},
	},
	{
		// One key space, "revoked:<id>", for jtis and grants alike.
		name: "OneRevocationNamespace",
		newStore: func() store.Store {
			ms := memstore.New()
			both := func(ctx context.Context, id string, exp time.Time) error {
				if err := ms.RevokeGrant(ctx, id, exp); err != nil {
					return err
				}
				return ms.RevokeAccessToken(ctx, id, exp)
			}
			return &hooked{Store: ms, revokeGrant: both, revokeAccessToken: both}
		},
		wantFail: []string{"Revocation/JTIAndGrantAreDistinct"},
	},
	{
		// WHERE jti = $1 OR grant_id = $2, with no test for the empty id.
		name: "EmptyIDLookedUp",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			emptyRevoked := false
			noteEmpty := func(id string) {
				if id == "" {
					mu.Lock()
					emptyRevoked = true
					mu.Unlock()
				}
			}
			return &hooked{
				Store: ms,
				revokeGrant: func(ctx context.Context, id string, exp time.Time) error {
					noteEmpty(id)
					return ms.RevokeGrant(ctx, id, exp)
				},
				revokeAccessToken: func(ctx context.Context, id string, exp time.Time) error {
					noteEmpty(id)
					return ms.RevokeAccessToken(ctx, id, exp)
				},
				isRevoked: func(ctx context.Context, jti, grantID string) (bool, error) {
					revoked, err := ms.IsRevoked(ctx, jti, grantID)
					mu.Lock()
					defer mu.Unlock()
					return revoked || (emptyRevoked && (jti == "" || grantID == "")), err
				},
			}
		},
		wantFail: []string{"Revocation/EmptyIDsNotLookedUp"},
	},
	{
		// A past expiry turned into a negative TTL, which Redis refuses.
		name: "PastRevocationRejected",
		newStore: func() store.Store {
			ms := memstore.New()
			refuse := func(revoke func(context.Context, string, time.Time) error) func(context.Context, string, time.Time) error {
				return func(ctx context.Context, id string, exp time.Time) error {
					if !exp.After(time.Now()) {
						return errors.New("broken: ERR invalid expire time in 'set' command")
					}
					return revoke(ctx, id, exp)
				}
			}
			return &hooked{Store: ms, revokeGrant: refuse(ms.RevokeGrant), revokeAccessToken: refuse(ms.RevokeAccessToken)}
		},
		wantFail: []string{"Revocation/PastExpiryNotRevoked", "Revocation/ZeroExpiryNotRevoked"},
	},
	{
		// Revocations written with no TTL at all.
		name: "RevocationsNeverExpire",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{
				Store:             ms,
				revokeGrant:       func(ctx context.Context, id string, _ time.Time) error { return ms.RevokeGrant(ctx, id, never) },
				revokeAccessToken: func(ctx context.Context, id string, _ time.Time) error { return ms.RevokeAccessToken(ctx, id, never) },
			}
		},
		wantFail: []string{"Revocation/GrantExpires", "Revocation/AccessTokenExpires", "Revocation/RevokedAgainExpires"},
	},
	{
		// INSERT ... ON CONFLICT DO NOTHING: the first revocation stays.
		name: "FirstRevocationWins",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{
				Store: ms,
				revokeGrant: func(ctx context.Context, id string, exp time.Time) error {
					if revoked, err := ms.IsRevoked(ctx, "", id); err != nil || revoked {
						return err
					}
					return ms.RevokeGrant(ctx, id, exp)
				},
				revokeAccessToken: func(ctx context.Context, id string, exp time.Time) error {
					if revoked, err := ms.IsRevoked(ctx, id, ""); err != nil || revoked {
						return err
					}
					return ms.RevokeAccessToken(ctx, id, exp)
				},
			}
		},
		wantFail: []string{"Revocation/RevokeAgainKeepsLaterExpiry"},
	},
	{
		// An update of a revoked key that rewrites the value and loses
		// its TTL, as a Redis SET without PX or KEEPTTL does.
		name: "RevokeAgainDropsExpiry",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{
				Store: ms,
				revokeGrant: func(ctx context.Context, id string, exp time.Time) error {
					if revoked, err := ms.IsRevoked(ctx, "", id); err == nil && revoked {
						exp = never
					}
					return ms.RevokeGrant(ctx, id, exp)
				},
				revokeAccessToken: func(ctx context.Context, id string, exp time.Time) error {
					if revoked, err := ms.IsRevoked(ctx, id, ""); err == nil && revoked {
						exp = never
					}
					return ms.RevokeAccessToken(ctx, id, exp)
				},
			}
		},
		wantFail: []string{"Revocation/RevokedAgainExpires"},
	},
	{
		// Write acknowledged before it lands: a replica read, or an
		// asynchronous pipeline.
		name: "RevocationVisibleLate",
		newStore: func() store.Store {
			ms := memstore.New()
			later := func(revoke func(context.Context, string, time.Time) error) func(context.Context, string, time.Time) error {
				return func(ctx context.Context, id string, exp time.Time) error {
					if err := ctx.Err(); err != nil {
						return err
					}
					go func() {
						time.Sleep(5 * time.Millisecond)
						_ = revoke(context.WithoutCancel(ctx), id, exp)
					}()
					return nil
				}
			}
			return &hooked{Store: ms, revokeGrant: later(ms.RevokeGrant), revokeAccessToken: later(ms.RevokeAccessToken)}
		},
		wantFail: []string{"Revocation/ConcurrentRevokeAndCheck"},
	},
	{
		// Ids and keys lowercased on the way in, as a case-insensitive
		// collation or a normalising key builder would.
		name: "FoldsCase",
		newStore: func() store.Store {
			ms := memstore.New()
			lower := strings.ToLower
			return &hooked{
				Store:       ms,
				revokeGrant: func(ctx context.Context, id string, exp time.Time) error { return ms.RevokeGrant(ctx, lower(id), exp) },
				revokeAccessToken: func(ctx context.Context, id string, exp time.Time) error {
					return ms.RevokeAccessToken(ctx, lower(id), exp)
				},
				isRevoked: func(ctx context.Context, jti, grantID string) (bool, error) {
					return ms.IsRevoked(ctx, lower(jti), lower(grantID))
				},
				addFailure: func(ctx context.Context, key string, exp time.Time) (store.Attempts, error) {
					return ms.AddFailure(ctx, lower(key), exp)
				},
				getAttempts: func(ctx context.Context, keys ...string) ([]store.Attempts, error) {
					folded := make([]string, len(keys))
					for i, k := range keys {
						folded[i] = lower(k)
					}
					return ms.GetAttempts(ctx, folded...)
				},
				resetAttempts: func(ctx context.Context, key string) error { return ms.ResetAttempts(ctx, lower(key)) },
			}
		},
		wantFail: []string{"Revocation/CaseSensitiveIDs", "Attempts/CaseSensitiveIDs"},
	},
	{
		// Every store from the factory on one key prefix or schema.
		name:     "SharedStore",
		newStore: func() store.Store { return &hooked{Store: sharedMemstore()} },
		wantFail: []string{"Isolation/StoresShareNothing"},
	},
	{
		// The attempts table swept with the comparison the wrong way round.
		name: "DeleteExpiredDropsLiveAttempts",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			keys := map[string]bool{}
			return &hooked{
				Store: ms,
				addFailure: func(ctx context.Context, key string, exp time.Time) (store.Attempts, error) {
					mu.Lock()
					keys[key] = true
					mu.Unlock()
					return ms.AddFailure(ctx, key, exp)
				},
				deleteExpired: func(ctx context.Context) (int, error) {
					n, err := ms.DeleteExpired(ctx)
					mu.Lock()
					defer mu.Unlock()
					for k := range keys {
						if a, _ := ms.GetAttempts(ctx, k); a[0].Failures > 0 {
							_ = ms.ResetAttempts(ctx, k)
							n++
						}
					}
					return n, err
				},
			}
		},
		wantFail: []string{"DeleteExpired/KeepsLive"},
	},
	{
		// A batched DELETE whose loop reports its first batch only.
		name: "DeleteExpiredCountsOneBatch",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, deleteExpired: func(ctx context.Context) (int, error) {
				n, err := ms.DeleteExpired(ctx)
				return min(n, pageSize), err
			}}
		},
		wantFail: []string{"DeleteExpired/RemovesMany"},
	},
	{
		// SELECT the expired keys, then DELETE by key without checking
		// the expiry again: a record revived in between is lost.
		name:     "DeleteExpiredByListedKeys",
		newStore: func() store.Store { return newDeleteByListedKeys() },
		wantFail: []string{"DeleteExpired/ConcurrentRevivalKept"},
	},
	{
		// A key-set row seeded at version 1.
		name: "KeysStartAtOne",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, getKeySet: func(ctx context.Context) (store.SigningKeySet, error) {
				ks, err := ms.GetKeySet(ctx)
				if err == nil && ks.Version == 0 {
					ks.Version = 1
				}
				return ks, err
			}}
		},
		wantFail: []string{"Keys/EmptyIsVersionZero"},
	},
	{
		// A column forgotten in the encoding of the set.
		name: "KeysDropRetiredAt",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, swapKeySet: func(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
				keys = slices.Clone(keys)
				for i := range keys {
					keys[i].RetiredAt = time.Time{}
				}
				return ms.SwapKeySet(ctx, version, keys)
			}}
		},
		wantFail: []string{"Keys/RoundTrip"},
	},
	{
		name: "KeysIgnoreContext",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{
				Store: ms,
				getKeySet: func(ctx context.Context) (store.SigningKeySet, error) {
					return ms.GetKeySet(context.WithoutCancel(ctx))
				},
				swapKeySet: func(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
					return ms.SwapKeySet(context.WithoutCancel(ctx), version, keys)
				},
			}
		},
		wantFail: []string{"Keys/Context"},
	},
	{
		// A cache that hands out the set it holds.
		name: "KeysHandOutCache",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			var cached *store.SigningKeySet
			return &hooked{
				Store: ms,
				getKeySet: func(ctx context.Context) (store.SigningKeySet, error) {
					mu.Lock()
					defer mu.Unlock()
					if cached == nil {
						ks, err := ms.GetKeySet(ctx)
						if err != nil {
							return ks, err
						}
						cached = &ks
					}
					return *cached, ctx.Err()
				},
				swapKeySet: func(ctx context.Context, version int64, keys []store.SigningKey) (int64, error) {
					mu.Lock()
					defer mu.Unlock()
					cached = nil
					return ms.SwapKeySet(ctx, version, keys)
				},
			}
		},
		wantFail: []string{"Keys/NoAliasing"},
	},
	{
		// MGET with the missing keys filtered out of the answer.
		name: "AttemptsOmitUnknown",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, getAttempts: func(ctx context.Context, keys ...string) ([]store.Attempts, error) {
				got, err := ms.GetAttempts(ctx, keys...)
				return slices.DeleteFunc(got, func(a store.Attempts) bool { return a.Failures == 0 }), err
			}}
		},
		wantFail: []string{"Attempts/EmptyIsZero"},
	},
	{
		// GET before INCR: the count as it was before this failure.
		name: "AttemptsReturnPrevious",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, addFailure: func(ctx context.Context, key string, exp time.Time) (store.Attempts, error) {
				a, err := ms.AddFailure(ctx, key, exp)
				a.Failures--
				return a, err
			}}
		},
		wantFail: []string{"Attempts/AddCounts"},
	},
	{
		// WHERE key = ANY($1), answered in the order of the rows.
		name: "AttemptsInRowOrder",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, getAttempts: func(ctx context.Context, keys ...string) ([]store.Attempts, error) {
				return ms.GetAttempts(ctx, slices.Sorted(slices.Values(keys))...)
			}}
		},
		wantFail: []string{"Attempts/KeysIndependent"},
	},
	{
		name: "AttemptsNeverExpire",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, addFailure: func(ctx context.Context, key string, _ time.Time) (store.Attempts, error) {
				return ms.AddFailure(ctx, key, never)
			}}
		},
		wantFail: []string{"Attempts/Expires"},
	},
	{
		name: "AttemptsIgnoreContext",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{
				Store: ms,
				addFailure: func(ctx context.Context, key string, exp time.Time) (store.Attempts, error) {
					return ms.AddFailure(context.WithoutCancel(ctx), key, exp)
				},
				getAttempts: func(ctx context.Context, keys ...string) ([]store.Attempts, error) {
					return ms.GetAttempts(context.WithoutCancel(ctx), keys...)
				},
				resetAttempts: func(ctx context.Context, key string) error { return ms.ResetAttempts(context.WithoutCancel(ctx), key) },
			}
		},
		wantFail: []string{"Attempts/Context"},
	},
	{
		// A read cache that hands out the slice it keeps.
		name: "AttemptsHandOutCache",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			cache := map[string][]store.Attempts{}
			forget := func() {
				mu.Lock()
				clear(cache)
				mu.Unlock()
			}
			return &hooked{
				Store: ms,
				addFailure: func(ctx context.Context, key string, exp time.Time) (store.Attempts, error) {
					forget()
					return ms.AddFailure(ctx, key, exp)
				},
				resetAttempts: func(ctx context.Context, key string) error {
					forget()
					return ms.ResetAttempts(ctx, key)
				},
				getAttempts: func(ctx context.Context, keys ...string) ([]store.Attempts, error) {
					mu.Lock()
					defer mu.Unlock()
					k := strings.Join(keys, "\x00")
					if got, ok := cache[k]; ok {
						return got, ctx.Err()
					}
					got, err := ms.GetAttempts(ctx, keys...)
					if err == nil {
						cache[k] = got
					}
					return got, err
				},
			}
		},
		wantFail: []string{"Attempts/NoAliasing"},
	},
	{
		// A batched MGET that sends its first batch only.
		name: "AttemptsFirstPage",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, getAttempts: func(ctx context.Context, keys ...string) ([]store.Attempts, error) {
				got, err := ms.GetAttempts(ctx, keys[:min(len(keys), pageSize)]...)
				if err != nil {
					return nil, err
				}
				return append(got, make([]store.Attempts, len(keys)-len(got))...), nil
			}}
		},
		wantFail: []string{"Attempts/ManyKeys"},
	},
	{
		// Session times kept to the millisecond.
		name: "SessionsKeepMilliseconds",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, createSession: func(ctx context.Context, s store.Session) error {
				s.CreatedAt = s.CreatedAt.Truncate(time.Millisecond)
				s.RefreshedAt = s.RefreshedAt.Truncate(time.Millisecond)
				return ms.CreateSession(ctx, s)
			}}
		},
		wantFail: []string{"Sessions/RoundTrip"},
	},
	{
		// DELETE ... WHERE grant_id = $1, the subject forgotten.
		name: "SessionsDeleteAnyones",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			owner := map[string]string{}
			return &hooked{
				Store: ms,
				createSession: func(ctx context.Context, s store.Session) error {
					mu.Lock()
					owner[s.GrantID] = s.Subject
					mu.Unlock()
					return ms.CreateSession(ctx, s)
				},
				deleteSession: func(ctx context.Context, _, grantID string) error {
					mu.Lock()
					subject := owner[grantID]
					mu.Unlock()
					return ms.DeleteSession(ctx, subject, grantID)
				},
			}
		},
		wantFail: []string{"Sessions/DeleteOwnOnly"},
	},
	{
		// ListSessions without "AND expires_at > now".
		name:     "SessionsListExpired",
		newStore: func() store.Store { return newSessionsListExpired() },
		wantFail: []string{"Sessions/Expire"},
	},
	{
		name: "SessionsIgnoreContext",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{
				Store: ms,
				createSession: func(ctx context.Context, s store.Session) error {
					return ms.CreateSession(context.WithoutCancel(ctx), s)
				},
				touchSession: func(ctx context.Context, subject, grantID string, at, exp time.Time) error {
					return ms.TouchSession(context.WithoutCancel(ctx), subject, grantID, at, exp)
				},
				listSessions: func(ctx context.Context, subject string) ([]store.Session, error) {
					return ms.ListSessions(context.WithoutCancel(ctx), subject)
				},
				deleteSession: func(ctx context.Context, subject, grantID string) error {
					return ms.DeleteSession(context.WithoutCancel(ctx), subject, grantID)
				},
			}
		},
		wantFail: []string{"Sessions/Context"},
	},
	{
		// ORDER BY created_at, grant_id under a locale's collation.
		name: "SessionsTiesByLocale",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, listSessions: func(ctx context.Context, subject string) ([]store.Session, error) {
				got, err := ms.ListSessions(ctx, subject)
				slices.SortStableFunc(got, func(a, b store.Session) int {
					return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(strings.ToLower(a.GrantID), strings.ToLower(b.GrantID)))
				})
				return got, err
			}}
		},
		wantFail: []string{"Sessions/TiesByGrantID"},
	},
	{
		// WHERE subject = $1 under a case-insensitive collation.
		name: "SessionsFoldSubjects",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, listSessions: func(ctx context.Context, subject string) ([]store.Session, error) {
				got, err := ms.ListSessions(ctx, subject)
				if err != nil || swapCase(subject) == subject {
					return got, err
				}
				more, err := ms.ListSessions(ctx, swapCase(subject))
				got = append(got, more...)
				slices.SortFunc(got, func(a, b store.Session) int {
					return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.GrantID, b.GrantID))
				})
				return got, err
			}}
		},
		wantFail: []string{"Sessions/CaseSensitiveIDs"},
	},
	{
		// A cache of scopes by grant, handed out as it is.
		name: "SessionsShareScope",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			scopes := map[string][]string{}
			return &hooked{
				Store: ms,
				createSession: func(ctx context.Context, s store.Session) error {
					mu.Lock()
					scopes[s.GrantID] = slices.Clone(s.Scope)
					mu.Unlock()
					return ms.CreateSession(ctx, s)
				},
				listSessions: func(ctx context.Context, subject string) ([]store.Session, error) {
					got, err := ms.ListSessions(ctx, subject)
					mu.Lock()
					defer mu.Unlock()
					for i := range got {
						if sc, ok := scopes[got[i].GrantID]; ok {
							got[i].Scope = sc
						}
					}
					return got, err
				},
			}
		},
		wantFail: []string{"Sessions/NoAliasing"},
	},
	{
		// A touch that rewrites the ExpiresAt field but not the key's
		// TTL: the session vanishes at the expiry it was created with.
		name:     "SessionsTouchKeepsTTL",
		newStore: func() store.Store { return newSessionsTouchKeepsTTL() },
		wantFail: []string{"Sessions/TouchedExpires"},
	},
	{
		// A paged query that returns its first page only.
		name: "SessionsFirstPage",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, listSessions: func(ctx context.Context, subject string) ([]store.Session, error) {
				got, err := ms.ListSessions(ctx, subject)
				return got[:min(len(got), pageSize)], err
			}}
		},
		wantFail: []string{"Sessions/ManyListed"},
	},
	{
		// A subject's index kept as one value, read, extended and
		// written back: concurrent logins overwrite each other.
		name:     "SessionsIndexLosesUpdates",
		newStore: func() store.Store { return newSessionsIndexLosesUpdates() },
		wantFail: []string{"Sessions/ConcurrentCreatesKept"},
	},
	{
		name: "WatchNoHeartbeat",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, watchRevocations: func(ctx context.Context, l store.RevocationListener) error {
				return ms.WatchRevocations(ctx, &firstAliveOnly{RevocationListener: l})
			}}
		},
		wantFail: []string{"Watch/Alive"},
	},
	{
		// The subscription's end taken for a clean one.
		name: "WatchEndsWithoutError",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, watchRevocations: func(ctx context.Context, l store.RevocationListener) error {
				err := ms.WatchRevocations(ctx, l)
				if ctx.Err() != nil {
					return nil
				}
				return err
			}}
		},
		wantFail: []string{"Watch/EndsWithContext"},
	},
	{
		// One of the two tables forgotten in the listing.
		name: "ListOmitsAccessTokens",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, listRevocations: func(ctx context.Context) ([]store.Revocation, error) {
				got, err := ms.ListRevocations(ctx)
				return slices.DeleteFunc(got, func(r store.Revocation) bool { return r.JTI != "" }), err
			}}
		},
		wantFail: []string{"Watch/ListRevocations"},
	},
	{
		name: "ListIgnoresContext",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, listRevocations: func(ctx context.Context) ([]store.Revocation, error) {
				return ms.ListRevocations(context.WithoutCancel(ctx))
			}}
		},
		wantFail: []string{"Watch/Context"},
	},
	{
		// A listing cached and handed out as it is.
		name: "ListHandsOutCache",
		newStore: func() store.Store {
			ms := memstore.New()
			var mu sync.Mutex
			var cached []store.Revocation
			forget := func(revoke func(context.Context, string, time.Time) error) func(context.Context, string, time.Time) error {
				return func(ctx context.Context, id string, exp time.Time) error {
					mu.Lock()
					cached = nil
					mu.Unlock()
					return revoke(ctx, id, exp)
				}
			}
			return &hooked{
				Store:             ms,
				revokeGrant:       forget(ms.RevokeGrant),
				revokeAccessToken: forget(ms.RevokeAccessToken),
				listRevocations: func(ctx context.Context) ([]store.Revocation, error) {
					mu.Lock()
					defer mu.Unlock()
					if cached == nil {
						got, err := ms.ListRevocations(ctx)
						if err != nil {
							return nil, err
						}
						cached = got
					}
					return cached, ctx.Err()
				},
			}
		},
		wantFail: []string{"Watch/NoAliasing"},
	},
	{
		// A SCAN that stops after its first page.
		name: "ListFirstPage",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, listRevocations: func(ctx context.Context) ([]store.Revocation, error) {
				got, err := ms.ListRevocations(ctx)
				return got[:min(len(got), pageSize)], err
			}}
		},
		wantFail: []string{"Watch/ListManyRevocations"},
	},
	{
		// Heartbeats beaten by a ticker goroutine of their own, beside
		// the one that delivers revocations.
		name: "WatchHeartbeatGoroutine",
		newStore: func() store.Store {
			ms := memstore.New()
			return &hooked{Store: ms, watchRevocations: func(ctx context.Context, l store.RevocationListener) error {
				go func() {
					tick := time.NewTicker(store.WatchHeartbeat / 4)
					defer tick.Stop()
					for {
						select {
						case <-ctx.Done():
							return
						case <-tick.C:
							l.Alive()
						}
					}
				}()
				return ms.WatchRevocations(ctx, &firstAliveOnly{RevocationListener: l})
			}}
		},
		wantFail: []string{"Watch/NoConcurrentListenerCalls"},
	},
}

// sharedMemstore is the one store every SharedStore wraps.
var sharedMemstore = sync.OnceValue(func() *memstore.Store { return memstore.New() })

// firstAliveOnly passes on the first Alive and drops the others.
type firstAliveOnly struct {
	store.RevocationListener
	once sync.Once
}

func (f *firstAliveOnly) Alive() { f.once.Do(f.RevocationListener.Alive) }

// newDeleteByListedKeys returns the DeleteExpiredByListedKeys store. It
// shadows memstore's tokens and grant revocations with a set of deleted
// keys, which it fills the way a two-statement sweep would: the keys it
// found expired, a moment before.
func newDeleteByListedKeys() store.Store {
	ms := memstore.New()
	var mu sync.Mutex
	tokens := map[string]time.Time{} // hash -> expiry as last written
	grants := map[string]time.Time{}
	deleted := map[string]bool{} // "t:" + hash or "g:" + grant id
	h := &hooked{Store: ms}
	h.create = func(ctx context.Context, t store.RefreshToken) error {
		err := ms.CreateRefreshToken(ctx, t)
		if err == nil {
			mu.Lock()
			tokens[string(t.Hash)] = t.ExpiresAt
			delete(deleted, "t:"+string(t.Hash))
			mu.Unlock()
		}
		return err
	}
	h.get = func(ctx context.Context, hash []byte) (store.RefreshToken, error) {
		mu.Lock()
		gone := deleted["t:"+string(hash)]
		mu.Unlock()
		if gone {
			return store.RefreshToken{}, fmt.Errorf("broken: %w", store.ErrNotFound)
		}
		return ms.GetRefreshToken(ctx, hash)
	}
	h.revokeGrant = func(ctx context.Context, id string, exp time.Time) error {
		err := ms.RevokeGrant(ctx, id, exp)
		if err == nil {
			mu.Lock()
			if exp.After(grants[id]) {
				grants[id] = exp
			}
			delete(deleted, "g:"+id)
			mu.Unlock()
		}
		return err
	}
	h.isRevoked = func(ctx context.Context, jti, grantID string) (bool, error) {
		mu.Lock()
		if deleted["g:"+grantID] {
			grantID = ""
		}
		mu.Unlock()
		return ms.IsRevoked(ctx, jti, grantID)
	}
	h.deleteExpired = func(ctx context.Context) (int, error) {
		now := time.Now()
		var expired []string
		mu.Lock()
		for hash, exp := range tokens {
			if !now.Before(exp) {
				expired = append(expired, "t:"+hash)
			}
		}
		for id, exp := range grants {
			if !now.Before(exp) {
				expired = append(expired, "g:"+id)
			}
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		for _, k := range expired {
			deleted[k] = true
		}
		mu.Unlock()
		return ms.DeleteExpired(ctx)
	}
	return h
}

// newSessionsListExpired returns the SessionsListExpired store: sessions
// are kept for good, and listed with the ExpiresAt they were given.
func newSessionsListExpired() store.Store {
	ms := memstore.New()
	var mu sync.Mutex
	expires := map[string]time.Time{}
	h := &hooked{Store: ms}
	h.createSession = func(ctx context.Context, s store.Session) error {
		mu.Lock()
		expires[s.GrantID] = s.ExpiresAt
		mu.Unlock()
		s.ExpiresAt = never
		return ms.CreateSession(ctx, s)
	}
	h.listSessions = func(ctx context.Context, subject string) ([]store.Session, error) {
		got, err := ms.ListSessions(ctx, subject)
		mu.Lock()
		defer mu.Unlock()
		for i := range got {
			got[i].ExpiresAt = expires[got[i].GrantID]
		}
		return got, err
	}
	return h
}

// newSessionsTouchKeepsTTL returns the SessionsTouchKeepsTTL store.
func newSessionsTouchKeepsTTL() store.Store {
	ms := memstore.New()
	var mu sync.Mutex
	ttl := map[string]time.Time{} // grant -> expiry at creation
	h := &hooked{Store: ms}
	h.createSession = func(ctx context.Context, s store.Session) error {
		err := ms.CreateSession(ctx, s)
		if err == nil {
			mu.Lock()
			ttl[s.GrantID] = s.ExpiresAt
			mu.Unlock()
		}
		return err
	}
	h.listSessions = func(ctx context.Context, subject string) ([]store.Session, error) {
		got, err := ms.ListSessions(ctx, subject)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		return slices.DeleteFunc(got, func(s store.Session) bool { return !now.Before(ttl[s.GrantID]) }), err
	}
	return h
}

// newSessionsIndexLosesUpdates returns the SessionsIndexLosesUpdates store.
func newSessionsIndexLosesUpdates() store.Store {
	ms := memstore.New()
	var mu sync.Mutex
	index := map[string][]string{} // subject -> grant ids
	h := &hooked{Store: ms}
	h.createSession = func(ctx context.Context, s store.Session) error {
		if err := ms.CreateSession(ctx, s); err != nil {
			return err
		}
		mu.Lock()
		ids := slices.Clone(index[s.Subject])
		mu.Unlock()
		runtime.Gosched()
		mu.Lock()
		index[s.Subject] = append(ids, s.GrantID)
		mu.Unlock()
		return nil
	}
	h.listSessions = func(ctx context.Context, subject string) ([]store.Session, error) {
		got, err := ms.ListSessions(ctx, subject)
		mu.Lock()
		defer mu.Unlock()
		return slices.DeleteFunc(got, func(s store.Session) bool { return !slices.Contains(index[subject], s.GrantID) }), err
	}
	return h
}

// newOneCallAtATime returns the OneCallAtATime store: an adapter on one
// connection it does not guard, which fails a call made while another is
// in flight. Each call holds the connection for a millisecond, as a round
// trip would, so that overlapping calls meet.
func newOneCallAtATime() store.Store {
	ms := memstore.New()
	var busy atomic.Bool
	exclusive := func(call func() error) error {
		if !busy.CompareAndSwap(false, true) {
			return errors.New("connection busy: another call is in flight")
		}
		defer busy.Store(false)
		time.Sleep(time.Millisecond)
		return call()
	}
	return &hooked{
		Store: ms,
		get: func(ctx context.Context, hash []byte) (tok store.RefreshToken, err error) {
			err = exclusive(func() error { tok, err = ms.GetRefreshToken(ctx, hash); return err })
			return tok, err
		},
		isRevoked: func(ctx context.Context, jti, grantID string) (revoked bool, err error) {
			err = exclusive(func() error { revoked, err = ms.IsRevoked(ctx, jti, grantID); return err })
			return revoked, err
		},
		rotate: func(ctx context.Context, oldHash []byte, next store.RefreshToken) error {
			return exclusive(func() error { return ms.RotateRefreshToken(ctx, oldHash, next) })
		},
		touchSession: func(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
			return exclusive(func() error { return ms.TouchSession(ctx, subject, grantID, at, expiresAt) })
		},
	}
}
