package pgstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFS holds the schema's history, one file per version, named
// NNNN_description.sql. A released file is never edited: a change is a new
// file with the next number.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered step of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Versions must
// run 1, 2, 3, ... without gaps, so that a file lost in a merge is an error
// here rather than a step silently skipped.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, file := range files {
		base := path.Base(file)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migration file %s: name is not NNNN_description.sql", base)
		}
		sql, err := migrationFS.ReadFile(file)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: strings.TrimSuffix(base, ".sql"), sql: string(sql)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", m.name, m.version, i+1)
		}
	}
	return ms, nil
}

// Migrate creates the Store's schema and tables, or brings them up to date,
// by applying in order every embedded migration not yet recorded in the
// schema's schema_migrations table. It is idempotent: once the schema is
// current, it changes nothing.
//
// Several instances may call Migrate at once, as they do when a deployment
// starts: they serialize on a transaction-scoped advisory lock derived from
// the schema name, and each applies whatever the previous ones left to do,
// which is nothing. All pending migrations are applied in one transaction, so
// a failure leaves the schema as it was.
//
// Call Migrate before any other method. Once the schema is current, Migrate
// needs no privilege beyond reading it, so an instance whose role may not
// create tables can still call it at startup.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return s.migrate(ctx, ms)
}

// migrate applies those of ms not yet recorded, as Migrate describes. Tests
// pass fewer than all, to build the schema of an earlier release and
// migrate forward from it.
func (s *Store) migrate(ctx context.Context, ms []migration) error {
	schema := pgx.Identifier{s.schema}.Sanitize()
	return s.retry.do(ctx, "migrate", func() error {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return err
		}
		// A no-op after Commit; after a failure it ends the transaction,
		// releasing the lock. Its own error would only repeat the one
		// being returned.
		defer func() { _ = tx.Rollback(ctx) }()

		// Under READ COMMITTED each statement after the lock sees what
		// the instance that held it before committed.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey(s.schema)); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		applied, err := appliedMigrations(ctx, tx, schema)
		if err != nil {
			return err
		}
		pending := slices.DeleteFunc(slices.Clone(ms), func(m migration) bool { return applied[m.version] })
		if len(pending) == 0 {
			return tx.Commit(ctx)
		}

		setup := []string{
			"CREATE SCHEMA IF NOT EXISTS " + schema,
			`CREATE TABLE IF NOT EXISTS ` + schema + `.schema_migrations (
				version    integer     PRIMARY KEY,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`,
			// Migrations name their tables unqualified; this is the only
			// place the schema is chosen. LOCAL: it ends with the
			// transaction and never leaks into the caller's pool.
			"SET LOCAL search_path TO " + schema,
		}
		for _, stmt := range setup {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		for _, m := range pending {
			// Exec without arguments uses the simple protocol, which runs
			// a file of several statements as one.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("applying %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+schema+".schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("recording %s: %w", m.name, err)
			}
		}
		return tx.Commit(ctx)
	})
}

// appliedMigrations returns the versions recorded in schema, none if the
// schema or its schema_migrations table does not exist yet. It creates
// nothing, so that a current schema needs no CREATE privilege.
func appliedMigrations(ctx context.Context, tx pgx.Tx, schema string) (map[int]bool, error) {
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", schema+".schema_migrations").Scan(&exists); err != nil {
		return nil, err
	}
	applied := make(map[int]bool)
	if !exists {
		return applied, nil
	}
	rows, err := tx.Query(ctx, "SELECT version FROM "+schema+".schema_migrations")
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		applied[int(v)] = true
	}
	return applied, nil
}

// migrationLockKey is the advisory lock that Migrate holds for schema. It is
// derived from the name, so stores in different schemas migrate without
// waiting for each other, and prefixed, so that it is unlikely to equal a key
// that the application locks for its own purposes.
func migrationLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/oauth2kit/oauth2kit/adapters/pgstore.Migrate\x00" + schema))
	return int64(h.Sum64())
}
