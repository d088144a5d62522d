package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/store"
)

// A real serialization failure from the server is retried, and the retry
// succeeds: the first attempt's SERIALIZABLE transaction reads a row, another
// session updates it, and the transaction's own update then cannot be
// serialized (SQLSTATE 40001).
func (db testDB) testRetrySerializationFailure(t *testing.T) {
	ctx := t.Context()
	s, schema := db.newStore(t)
	counter := pgx.Identifier{schema, "counter"}.Sanitize()
	if _, err := db.pool.Exec(ctx, "CREATE TABLE "+counter+" (n int NOT NULL); INSERT INTO "+counter+" VALUES (0)"); err != nil {
		t.Fatalf("creating the counter: %v", err)
	}

	attempts := 0
	err := s.Retry(ctx, func() error {
		attempts++
		tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		var n int
		if err := tx.QueryRow(ctx, "SELECT n FROM "+counter).Scan(&n); err != nil {
			return err
		}
		if attempts == 1 {
			if _, err := db.pool.Exec(ctx, "UPDATE "+counter+" SET n = n + 1"); err != nil {
				return fmt.Errorf("concurrent update: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE "+counter+" SET n = $1", n+1); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil || attempts != 2 {
		t.Errorf("Retry(conflicting transaction) = %v after %d attempts, want nil after 2", err, attempts)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT n FROM "+counter).Scan(&n); err != nil || n != 2 {
		t.Errorf("counter after Retry() = %d, %v, want 2 (both increments), nil", n, err)
	}
}

// With SERIALIZABLE as the sessions' default, the losers of a rotation race
// fail with serialization failures instead of waiting and re-checking as
// under READ COMMITTED. Retried, they see the token consumed: still exactly
// one winner, and every loser reports reuse.
//
// Left to themselves the racers rarely overlap on a small machine, so the
// test makes them: a transaction locks the token's row, the racers queue
// behind it, and once all of them wait it lets go.
func (db testDB) testRotateUnderSerializable(t *testing.T) {
	const racers = 8 // with the locker and the watcher, within newPool's 16
	ctx := t.Context()
	pool := newPool(t, db.url, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	})
	var isolation string
	if err := pool.QueryRow(ctx, "SHOW default_transaction_isolation").Scan(&isolation); err != nil || isolation != "serializable" {
		t.Fatalf("SHOW default_transaction_isolation = %q, %v, want serializable", isolation, err)
	}
	schema := db.newSchema(t)
	s := newMigrated(t, pool, schema)
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

	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			errs[i] = s.RotateRefreshToken(ctx, tok.Hash, successor(tok, base.Add(time.Duration(i+1)*time.Microsecond)))
		})
	}
	returned := make(chan struct{})
	go func() { wg.Wait(); close(returned) }()
	waitForLockWaiters(t, db, schema, racers, returned)
	if err := locker.Commit(ctx); err != nil {
		t.Fatalf("Commit() = %v, want nil", err)
	}
	<-returned

	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrReused):
			t.Errorf("RotateRefreshToken() #%d = %v, want nil or error matching %v", i, err, store.ErrReused)
		}
	}
	if wins != 1 {
		t.Errorf("RotateRefreshToken() succeeded %d times of %d, want exactly once", wins, racers)
	}
}

// With SERIALIZABLE as the sessions' default, concurrent failures of one key
// abort each other (SQLSTATE 40001) instead of queueing on the row lock, and
// the aborted statements are run again. An aborted statement counted
// nothing, so however the attempts end no failure is counted twice: the
// calls that succeed return distinct counts, the record holds exactly as
// many, and a call that runs out of attempts says so and counted nothing.
//
// As in testRotateUnderSerializable, a transaction holding the row lock
// makes every racer wait, so that they meet.
func (db testDB) testAddFailureUnderSerializable(t *testing.T) {
	const racers = 8 // with the locker and the watcher, within newPool's 16
	ctx := t.Context()
	pool := newPool(t, db.url, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	})
	schema := db.newSchema(t)
	s := newMigrated(t, pool, schema)
	const key = "key"
	exp := now().Add(time.Hour)
	if _, err := s.AddFailure(ctx, key, exp); err != nil {
		t.Fatalf("AddFailure() = %v, want nil", err)
	}

	locker, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin() = %v, want nil", err)
	}
	defer func() { _ = locker.Rollback(ctx) }()
	if _, err := locker.Exec(ctx, "SELECT FROM "+pgx.Identifier{schema, "attempts"}.Sanitize()+" WHERE key = $1 FOR UPDATE", key); err != nil {
		t.Fatalf("locking the key's row: %v", err)
	}

	counts := make([]int, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			var got store.Attempts
			got, errs[i] = s.AddFailure(ctx, key, exp)
			counts[i] = got.Failures
		})
	}
	returned := make(chan struct{})
	go func() { wg.Wait(); close(returned) }()
	waitForLockWaiters(t, db, schema, racers, returned)
	if err := locker.Commit(ctx); err != nil {
		t.Fatalf("Commit() = %v, want nil", err)
	}
	<-returned

	var won []int
	for i, err := range errs {
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			won = append(won, counts[i])
		case !errors.As(err, &pgErr) || pgErr.Code != "40001" || !strings.Contains(err.Error(), "giving up after"):
			t.Errorf("AddFailure() #%d = %v, want nil or a serialization failure given up on", i, err)
		}
	}
	// The first call counted 1, so the winners count from 2.
	slices.Sort(won)
	for i, c := range won {
		if c != i+2 {
			t.Fatalf("the %d successful AddFailure calls returned Failures %v, want each of 2 to %d once", len(won), won, len(won)+1)
		}
	}
	// The first to get the lock wins at once and aborts every other; one
	// of those wins when run again, as only a winner aborts the others.
	if len(won) < 2 {
		t.Errorf("AddFailure() succeeded %d times of %d, want at least 2: an aborted call run again", len(won), racers)
	}
	if got, err := s.GetAttempts(ctx, key); err != nil || got[0].Failures != 1+len(won) {
		t.Errorf("GetAttempts() = %+v, %v, want %d failures, one for each successful call", got, err, 1+len(won))
	}
}

// waitForLockWaiters returns once n statements on schema wait for a lock, or
// once returned is closed: the calls that were to wait are over.
func waitForLockWaiters(t *testing.T, db testDB, schema string, n int, returned <-chan struct{}) {
	t.Helper()
	// A bound, so that calls that never block fail the test rather than
	// hang it; they block within milliseconds.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const q = `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position($1 in query) > 0`
	for {
		var waiting int
		if err := db.pool.QueryRow(ctx, q, schema).Scan(&waiting); err != nil {
			t.Fatalf("counting lock waiters: %v", err)
		}
		if waiting >= n {
			return
		}
		select {
		case <-returned:
			return
		case <-ctx.Done():
			t.Fatalf("%d of %d calls wait for the row lock, want all", waiting, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
