package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"time"

	"modernc.org/sqlite"

	"github.com/oauth2kit/oauth2kit/store"
)

var (
	_ store.Store             = (*Store)(nil)
	_ store.ExpiredDeleter    = (*Store)(nil)
	_ store.KeyStore          = (*Store)(nil)
	_ store.AttemptStore      = (*Store)(nil)
	_ store.SessionStore      = (*Store)(nil)
	_ store.RevocationWatcher = (*Store)(nil)
)

// DefaultTablePrefix is the prefix of the Store's table names unless
// WithTablePrefix gives another.
const DefaultTablePrefix = "oauth2kit_"

// busyRetryLimit bounds how long a call retries a write that SQLite refused
// as busy, so that a stuck writer elsewhere fails the call instead of
// hanging it when its context has no deadline.
const busyRetryLimit = 10 * time.Second

// Store is an oauth2kit store in a SQLite database. It is safe for
// concurrent use, and several processes may share one database file.
type Store struct {
	db     *sql.DB
	now    func() time.Time
	prefix string
	t      tables
	// writer is held by the one write of this Store in progress: SQLite
	// allows one writer at a time, and writers queued here take turns
	// instead of meeting SQLITE_BUSY and retrying at random, which under
	// load can starve one of them for longer than busyRetryLimit.
	writer chan struct{}
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the Store decide expiry by now rather than time.Now.
func WithClock(now func() time.Time) Option {
	if now == nil {
		panic("sqlitestore: WithClock(nil)")
	}
	return func(s *Store) { s.now = now }
}

var prefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// WithTablePrefix names the Store's tables with prefix instead of
// DefaultTablePrefix. It must be a SQL identifier: letters, digits and
// underscores, not starting with a digit.
func WithTablePrefix(prefix string) Option {
	if !prefixRE.MatchString(prefix) {
		panic(fmt.Sprintf("sqlitestore: WithTablePrefix(%q): not a SQL identifier", prefix))
	}
	return func(s *Store) { s.prefix = prefix }
}

// New returns a Store on db, which must be opened with the "sqlite" driver.
// The caller owns db and closes it. New does not touch the database: call
// Migrate before first use.
func New(db *sql.DB, opts ...Option) *Store {
	if db == nil {
		panic("sqlitestore: New(nil)")
	}
	s := &Store{db: db, now: time.Now, prefix: DefaultTablePrefix, writer: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	s.t = newTables(s.prefix)
	return s
}

// DSN returns the data source name that opens the database file at path with
// a busy timeout of five seconds and in WAL mode, on every connection of the
// pool.
func DSN(path string) string {
	q := url.Values{"_pragma": {"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(NORMAL)"}}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// clock returns the adapter's current time in microseconds.
func (s *Store) clock() int64 { return s.now().UnixMicro() }

// isBusy reports whether err is SQLite refusing for now a lock another
// connection holds: SQLITE_BUSY or SQLITE_LOCKED, with any extended code.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
		return true
	}
	return false
}

// retry calls f until it does not fail with SQLITE_BUSY, ctx ends or
// busyRetryLimit has passed. Only whole statements or whole transactions are
// retried, so a retry never repeats part of a write.
func retry(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(busyRetryLimit)
	delay := time.Millisecond
	for {
		err := f()
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(delay/2 + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %w)", ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// write runs f, a write of one statement or one transaction, once the
// Store's other writes have finished, retrying it as retry does: the busy
// timeout and the retries then only arbitrate with other processes (or
// Stores) writing to the same file.
func (s *Store) write(ctx context.Context, f func() error) error {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writer }()
	return retry(ctx, f)
}

// immediate runs f in a BEGIN IMMEDIATE transaction, which takes the write
// lock at its start: a transaction that read first and wrote later could
// fail at its first write, after its reads had decided what to write.
func (s *Store) immediate(ctx context.Context, f func(c *sql.Conn) error) error {
	return s.write(ctx, func() error {
		c, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		if err := f(c); err != nil {
			rollback(ctx, c)
			return err
		}
		if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
			rollback(ctx, c)
			return err
		}
		return nil
	})
}

// rollback ends c's transaction even if ctx has ended, and discards the
// connection if it cannot: a connection must not go back to the pool inside
// a transaction.
func rollback(ctx context.Context, c *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// fail wraps err for the caller: with the package name and what failed, and
// with ctx's error when ctx has ended, since the driver reports an
// interrupted statement with an error of its own.
func fail(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlitestore: %s: %w: %w", what, cerr, err)
	}
	return fmt.Errorf("sqlitestore: %s: %w", what, err)
}

// micro is t as stored; the zero time is stored as NULL.
func micro(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// fromMicro is the time stored as v; NULL is the zero time.
func fromMicro(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// expiry is an expiry as stored: never NULL, so that comparing it with the
// clock needs no special case (a zero expiry is already past).
func expiry(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromExpiry(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}
