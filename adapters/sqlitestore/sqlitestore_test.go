package sqlitestore_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/oauth2kit/oauth2kit/adapters/sqlitestore"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// open returns a migrated Store on a new database file in t's temporary
// directory, opened with dsn.
func open(t testing.TB, dsn func(path string) string) *sqlitestore.Store {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "oauth2kit.db")))
	if err != nil {
		t.Fatalf("sql.Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s := sqlitestore.New(db)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	newStore := func(t *testing.T) store.Store { return open(t, sqlitestore.DSN) }
	storetest.Run(t, newStore)
	storetest.RunConcurrency(t, newStore)
}

// TestConformanceWithoutBusyTimeout runs the concurrency tier on a pool whose
// connections have no busy timeout, where SQLite answers every contended
// write with SQLITE_BUSY at once: the adapter's own retries must hide it.
func TestConformanceWithoutBusyTimeout(t *testing.T) {
	plain := func(path string) string { return "file:" + path }
	storetest.RunConcurrency(t, func(t *testing.T) store.Store { return open(t, plain) })
}

func BenchmarkStore(b *testing.B) { storetest.Benchmark(b, open(b, sqlitestore.DSN)) }
