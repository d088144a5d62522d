package pgstore_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
	"github.com/oauth2kit/oauth2kit/store"
)

// appliedMigration is one row of schema_migrations.
type appliedMigration struct {
	Version   int32
	Name      string
	AppliedAt time.Time
}

func (db testDB) applied(t *testing.T, schema string) []appliedMigration {
	t.Helper()
	q := "SELECT version, name, applied_at FROM " + pgx.Identifier{schema, "schema_migrations"}.Sanitize() + " ORDER BY version"
	rows, err := db.pool.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("%s = %v, want nil", q, err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[appliedMigration])
	if err != nil {
		t.Fatalf("%s = %v, want nil", q, err)
	}
	return got
}

func wantVersions(t *testing.T, got []appliedMigration) {
	t.Helper()
	want, err := pgstore.MigrationVersions()
	if err != nil {
		t.Fatalf("MigrationVersions() = %v, want nil", err)
	}
	var versions []int
	for _, m := range got {
		versions = append(versions, int(m.Version))
	}
	if !slices.Equal(versions, want) {
		t.Errorf("schema_migrations versions = %v, want %v, each once", versions, want)
	}
}

// Instances of a deployment start together, and each calls Migrate on a
// schema that may not exist yet.
func (db testDB) testMigrateConcurrent(t *testing.T) {
	const instances = 8
	schema := db.newSchema(t)
	stores := make([]*pgstore.Store, instances)
	for i := range stores {
		stores[i] = pgstore.New(db.pool, pgstore.WithSchema(schema))
	}

	errs := make([]error, instances)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-gate
			errs[i] = s.Migrate(t.Context())
		})
	}
	close(gate)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Migrate() = %v, want nil", i, err)
		}
	}
	wantVersions(t, db.applied(t, schema))
	// Every instance can use what the others migrated.
	for i, s := range stores {
		if _, err := s.IsRevoked(t.Context(), "jti", "grant"); err != nil {
			t.Errorf("instance %d: IsRevoked() after Migrate = %v, want nil", i, err)
		}
	}
}

// A second Migrate, as every restart runs, changes nothing: no migration is
// applied again and no data is touched.
func (db testDB) testMigrateTwice(t *testing.T) {
	s, schema := db.newStore(t)
	before := db.applied(t, schema)
	wantVersions(t, before)
	tok := token(now(), now().Add(time.Hour))
	if err := s.CreateRefreshToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateRefreshToken() = %v, want nil", err)
	}

	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() again = %v, want nil", err)
	}
	if after := db.applied(t, schema); !slices.EqualFunc(after, before, func(a, b appliedMigration) bool {
		return a.Version == b.Version && a.Name == b.Name && a.AppliedAt.Equal(b.AppliedAt)
	}) {
		t.Errorf("schema_migrations after Migrate again = %+v, want %+v", after, before)
	}
	if _, err := s.GetRefreshToken(t.Context(), tok.Hash); err != nil {
		t.Errorf("GetRefreshToken() after Migrate again = %v, want nil", err)
	}
}

// A Store used before Migrate finds no tables. That is a failure to report,
// never a missing record.
func (db testDB) testUnmigrated(t *testing.T) {
	s := pgstore.New(db.pool, pgstore.WithSchema(db.newSchema(t)))
	for name, err := range everyMethod(t.Context(), s, token(now(), now().Add(time.Hour))) {
		wantFailed(t, name+" before Migrate", err)
	}
}

// A schema migrated by an earlier release, with records in it, is brought up
// to date by Migrate from whichever version it is at, and keeps its records.
func (db testDB) testMigrateForward(t *testing.T) {
	versions, err := pgstore.MigrationVersions()
	if err != nil {
		t.Fatalf("MigrationVersions() = %v, want nil", err)
	}
	for _, from := range versions[:len(versions)-1] {
		t.Run(fmt.Sprint("from version ", from), func(t *testing.T) {
			ctx := t.Context()
			schema := db.newSchema(t)
			s := pgstore.New(db.pool, pgstore.WithSchema(schema))
			if err := s.MigrateTo(ctx, from); err != nil {
				t.Fatalf("MigrateTo(%d) = %v, want nil", from, err)
			}
			// Records of the tables of version 1, which every
			// version has.
			tok := token(now(), now().Add(time.Hour))
			db.insertAsVersion1(t, schema, tok)
			if err := s.RevokeGrant(ctx, tok.GrantID, now().Add(time.Hour)); err != nil {
				t.Fatalf("RevokeGrant() at version %d = %v, want nil", from, err)
			}
			// From version 3 on, refresh_tokens has every column the
			// Store names, so it stores a token with a SuccessorKey
			// itself, which must survive the later migrations.
			var keyed store.RefreshToken
			if from >= 3 {
				keyed = token(now(), now().Add(time.Hour))
				keyed.SuccessorKey = []byte("the grant's successor key")
				if err := s.CreateRefreshToken(ctx, keyed); err != nil {
					t.Fatalf("CreateRefreshToken() at version %d = %v, want nil", from, err)
				}
			}

			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate() from version %d = %v, want nil", from, err)
			}
			wantVersions(t, db.applied(t, schema))
			// Stored without a SuccessorKey, it has none now: a nil
			// one, which package oauth2 reads as a grant without a
			// grace window, never an empty one.
			if got, err := s.GetRefreshToken(ctx, tok.Hash); err != nil || !sameToken(got, tok) || got.SuccessorKey != nil {
				t.Errorf("GetRefreshToken() after Migrate = %+v, %v, want %+v, nil", got, err, tok)
			}
			if got, err := s.IsRevoked(ctx, "", tok.GrantID); !got || err != nil {
				t.Errorf("IsRevoked() after Migrate = %v, %v, want true, nil", got, err)
			}
			if got, err := s.AddFailure(ctx, "key", now().Add(time.Hour)); got.Failures != 1 || err != nil {
				t.Errorf("AddFailure() after Migrate = %+v, %v, want 1 failure, nil", got, err)
			}
			if keyed.Hash != nil {
				if got, err := s.GetRefreshToken(ctx, keyed.Hash); err != nil || !sameToken(got, keyed) {
					t.Errorf("GetRefreshToken(stored at version %d) after Migrate = %+v, %v, want %+v, nil", from, got, err, keyed)
				}
			}
			sess := session("subject", now(), now().Add(time.Hour))
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Errorf("CreateSession() after Migrate = %v, want nil", err)
			}
			if got, err := s.ListSessions(ctx, sess.Subject); len(got) != 1 || got[0].GrantID != sess.GrantID || err != nil {
				t.Errorf("ListSessions() after Migrate = %+v, %v, want the session of grant %s, nil", got, err, sess.GrantID)
			}
		})
	}
}

// insertAsVersion1 stores tok as releases before schema version 3 did,
// naming only the columns of version 1, which every version has. The Store
// cannot: its statements name the columns of the current version, which an
// earlier schema lacks.
func (db testDB) insertAsVersion1(t *testing.T, schema string, tok store.RefreshToken) {
	t.Helper()
	q := "INSERT INTO " + pgx.Identifier{schema, "refresh_tokens"}.Sanitize() + `
	(hash, grant_id, client_id, subject, scope, issued_at, expires_at, grant_expires_at, consumed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)`
	if _, err := db.pool.Exec(t.Context(), q,
		tok.Hash, tok.GrantID, tok.ClientID, tok.Subject, tok.Scope,
		tok.IssuedAt, tok.ExpiresAt, tok.GrantExpiresAt); err != nil {
		t.Fatalf("%s = %v, want nil", q, err)
	}
}
