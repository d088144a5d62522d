package redisstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/store"
)

// sendCounter is a go-redis hook counting what a client sends: a command
// or a pipeline, each one round trip to a single node.
type sendCounter struct{ n atomic.Int64 }

func (c *sendCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *sendCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *sendCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// testRoundTripsPerCall checks how many round trips each call of the Store
// takes once Redis has its scripts: one on a single node; on Cluster one,
// but for creating, reading and rotating a refresh token, which take two
// (see refresh.go).
func testRoundTripsPerCall(t *testing.T, url string) {
	ctx := t.Context()
	client := newClient(t, url)
	sent := &sendCounter{}
	client.AddHook(sent)
	paths := []struct {
		name       string
		opts       []redisstore.Option
		refreshing int64 // round trips to create, get or rotate a token
	}{
		{"OneNode", nil, 1},
		{"SlotScripts", []redisstore.Option{redisstore.WithSlotScripts()}, 2},
	}
	for _, path := range paths {
		s := redisstore.New(client, append(path.opts, redisstore.WithKeyPrefix(newPrefix()))...)
		// The calls, each on records of its own run, so that every run
		// takes the path a successful call takes.
		calls := func() []struct {
			name string
			want int64
			call func() error
		} {
			base := oauth2test.Now()
			exp := base.Add(time.Hour)
			tok := oauth2test.NewToken(base)
			next := oauth2test.Successor(tok, base.Add(time.Minute))
			sess := oauth2test.NewSession(oauth2test.NewID("subject"), base)
			attempt := oauth2test.NewID("attempt")
			return []struct {
				name string
				want int64
				call func() error
			}{
				{"CreateRefreshToken", path.refreshing, func() error { return s.CreateRefreshToken(ctx, tok) }},
				{"GetRefreshToken", path.refreshing, func() error {
					_, err := s.GetRefreshToken(ctx, tok.Hash)
					return err
				}},
				{"RotateRefreshToken", path.refreshing, func() error { return s.RotateRefreshToken(ctx, tok.Hash, next) }},
				{"RevokeAccessToken", 1, func() error { return s.RevokeAccessToken(ctx, oauth2test.NewID("jti"), exp) }},
				{"RevokeGrant", 1, func() error { return s.RevokeGrant(ctx, tok.GrantID, exp) }},
				{"IsRevoked", 1, func() error {
					_, err := s.IsRevoked(ctx, oauth2test.NewID("jti"), tok.GrantID)
					return err
				}},
				{"AddFailure", 1, func() error {
					_, err := s.AddFailure(ctx, attempt, exp)
					return err
				}},
				{"GetAttempts", 1, func() error {
					_, err := s.GetAttempts(ctx, attempt, oauth2test.NewID("attempt"), oauth2test.NewID("attempt"))
					return err
				}},
				{"ResetAttempts", 1, func() error { return s.ResetAttempts(ctx, attempt) }},
				{"CreateSession", 1, func() error { return s.CreateSession(ctx, sess) }},
				{"TouchSession", 1, func() error {
					return s.TouchSession(ctx, sess.Subject, sess.GrantID, base.Add(time.Minute), exp.Add(time.Minute))
				}},
				{"ListSessions", 1, func() error {
					_, err := s.ListSessions(ctx, sess.Subject)
					return err
				}},
				{"DeleteSession", 1, func() error { return s.DeleteSession(ctx, sess.Subject, sess.GrantID) }},
				{"GetKeySet", 1, func() error {
					_, err := s.GetKeySet(ctx)
					return err
				}},
				{"SwapKeySet", 1, func() error {
					set, err := s.GetKeySet(ctx)
					if err != nil {
						return err
					}
					sent.n.Add(-1) // reading the version is not the swap
					_, err = s.SwapKeySet(ctx, set.Version, []store.SigningKey{})
					return err
				}},
			}
		}
		// The first run loads the scripts (EVALSHA fails, EVAL follows).
		for _, c := range calls() {
			if err := c.call(); err != nil {
				t.Fatalf("%s: %s() = %v, want nil", path.name, c.name, err)
			}
		}
		for _, c := range calls() {
			before := sent.n.Load()
			if err := c.call(); err != nil {
				t.Fatalf("%s: %s() = %v, want nil", path.name, c.name, err)
			}
			if got := sent.n.Load() - before; got != c.want {
				t.Errorf("%s: %s() sent %d commands or pipelines, want %d", path.name, c.name, got, c.want)
			}
		}
	}
}
