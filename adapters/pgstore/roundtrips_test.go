package pgstore_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/store"
)

// countingConn counts the writes on a connection: pgx writes each statement
// it sends, with its Sync, at once, and then waits for the answer, so every
// write is one round trip.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// testRoundTripsPerCall checks that each call of the Store that succeeds is
// one round trip once the pool's connection has prepared its statements:
// one statement, sent as Bind, Execute and Sync together, in its own
// implicit transaction, with no BEGIN or COMMIT of its own.
func (db testDB) testRoundTripsPerCall(t *testing.T) {
	ctx := t.Context()
	var writes atomic.Int64
	pool := newPool(t, db.url, func(cfg *pgxpool.Config) {
		// One connection, so that the statements it prepares are the
		// ones every call after the first uses.
		cfg.MaxConns = 1
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: conn, writes: &writes}, nil
		}
	})
	s := newMigrated(t, pool, newSchema(t, pool))
	calls := func() []struct {
		name string
		call func() error
	} {
		base := now()
		exp := base.Add(time.Hour)
		tok := token(base, exp)
		next := successor(tok, base.Add(time.Minute))
		sess := session("subject-"+tok.GrantID, base, exp)
		return []struct {
			name string
			call func() error
		}{
			{"CreateRefreshToken", func() error { return s.CreateRefreshToken(ctx, tok) }},
			{"GetRefreshToken", func() error {
				_, err := s.GetRefreshToken(ctx, tok.Hash)
				return err
			}},
			{"RotateRefreshToken", func() error { return s.RotateRefreshToken(ctx, tok.Hash, next) }},
			{"RevokeAccessToken", func() error { return s.RevokeAccessToken(ctx, "jti-"+tok.GrantID, exp) }},
			{"RevokeGrant", func() error { return s.RevokeGrant(ctx, tok.GrantID, exp) }},
			{"IsRevoked", func() error {
				_, err := s.IsRevoked(ctx, "jti", tok.GrantID)
				return err
			}},
			{"ListRevocations", func() error {
				_, err := s.ListRevocations(ctx)
				return err
			}},
			{"AddFailure", func() error {
				_, err := s.AddFailure(ctx, tok.GrantID, exp)
				return err
			}},
			{"GetAttempts", func() error {
				_, err := s.GetAttempts(ctx, tok.GrantID, "other", "another")
				return err
			}},
			{"ResetAttempts", func() error { return s.ResetAttempts(ctx, tok.GrantID) }},
			{"CreateSession", func() error { return s.CreateSession(ctx, sess) }},
			{"TouchSession", func() error {
				return s.TouchSession(ctx, sess.Subject, sess.GrantID, base.Add(time.Minute), exp.Add(time.Minute))
			}},
			{"ListSessions", func() error {
				_, err := s.ListSessions(ctx, sess.Subject)
				return err
			}},
			{"DeleteSession", func() error { return s.DeleteSession(ctx, sess.Subject, sess.GrantID) }},
			{"GetKeySet", func() error {
				_, err := s.GetKeySet(ctx)
				return err
			}},
			{"SwapKeySet", func() error {
				set, err := s.GetKeySet(ctx)
				if err != nil {
					return err
				}
				writes.Add(-1) // reading the version is not the swap
				_, err = s.SwapKeySet(ctx, set.Version, []store.SigningKey{})
				return err
			}},
		}
	}
	// The first run prepares the statements; SwapKeySet from version 0
	// inserts, and from then on updates, so it runs twice.
	for range 2 {
		for _, c := range calls() {
			if err := c.call(); err != nil {
				t.Fatalf("%s() = %v, want nil", c.name, err)
			}
		}
	}
	for _, c := range calls() {
		before := writes.Load()
		if err := c.call(); err != nil {
			t.Fatalf("%s() = %v, want nil", c.name, err)
		}
		if got := writes.Load() - before; got != 1 {
			t.Errorf("%s() took %d round trips, want 1", c.name, got)
		}
	}
}
