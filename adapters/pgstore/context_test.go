package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/store"
)

// cancelOnServer configures a pool as the package documentation recommends:
// a statement whose context ends is cancelled on the server, not only
// abandoned by the client.
func cancelOnServer(cfg *pgxpool.Config) {
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
}

// The suite ends contexts before each call; here a context ends while the
// call waits in the server (for a row lock). The call must still fail with
// the context's error, never ErrNotFound. Whether the statement then changes
// anything depends on the pool: pgx's default closes the connection and
// leaves the statement to run once the lock is released, while a pool that
// cancels on the server leaves nothing changed.
func (db testDB) testContextEndsWhileWaiting(t *testing.T) {
	pools := []struct {
		name string
		pool *pgxpool.Pool
		// changesNothing is whether the ended call must leave no trace.
		changesNothing bool
	}{
		{"default pool", db.pool, false},
		{"pool cancelling on the server", newPool(t, db.url, cancelOnServer), true},
	}
	ends := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		end     func(cancel context.CancelFunc)
		wantErr error
	}{
		{
			name:    "cancelled",
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(t.Context()) },
			end:     func(cancel context.CancelFunc) { cancel() },
			wantErr: context.Canceled,
		},
		{
			// The row stays locked until the call returns, so the
			// deadline passes while it waits, however slow the machine.
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(t.Context(), 100*time.Millisecond)
			},
			end:     func(context.CancelFunc) {},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, p := range pools {
		for _, e := range ends {
			t.Run(fmt.Sprintf("%s/%s", p.name, e.name), func(t *testing.T) {
				ctx := t.Context()
				schema := db.newSchema(t)
				s := newMigrated(t, p.pool, schema)
				base := now()
				tok := token(base, base.Add(time.Hour))
				if err := s.CreateRefreshToken(ctx, tok); err != nil {
					t.Fatalf("CreateRefreshToken() = %v, want nil", err)
				}
				locker, err := db.pool.Begin(ctx)
				if err != nil {
					t.Fatalf("Begin() = %v, want nil", err)
				}
				defer func() { _ = locker.Rollback(ctx) }()
				if _, err := locker.Exec(ctx, "SELECT FROM "+pgx.Identifier{schema, "refresh_tokens"}.Sanitize()+" WHERE hash = $1 FOR UPDATE", tok.Hash); err != nil {
					t.Fatalf("locking the token's row: %v", err)
				}

				callCtx, cancel := e.ctx()
				defer cancel()
				next := successor(tok, base.Add(time.Minute))
				var rotateErr error
				returned := make(chan struct{})
				go func() {
					defer close(returned)
					rotateErr = s.RotateRefreshToken(callCtx, tok.Hash, next)
				}()
				// A deadline may pass before the call waits; its error
				// must be the same.
				waitForLockWaiters(t, db, schema, 1, returned)
				e.end(cancel)
				<-returned
				if !errors.Is(rotateErr, e.wantErr) || errors.Is(rotateErr, store.ErrNotFound) {
					t.Errorf("RotateRefreshToken() ended while waiting = %v, want error matching %v and not %v", rotateErr, e.wantErr, store.ErrNotFound)
				}
				if !p.changesNothing {
					return
				}

				if err := locker.Rollback(ctx); err != nil {
					t.Fatalf("Rollback() = %v, want nil", err)
				}
				if got, err := s.GetRefreshToken(ctx, tok.Hash); err != nil || got.Consumed() {
					t.Errorf("GetRefreshToken() after the ended rotation = %+v, %v, want it live", got, err)
				}
				if _, err := s.GetRefreshToken(ctx, next.Hash); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetRefreshToken(successor of the ended rotation) = %v, want error matching %v", err, store.ErrNotFound)
				}
			})
		}
	}
}
