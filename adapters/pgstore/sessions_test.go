package pgstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/store"
)

// session returns a new grant's session of subject, created at createdAt
// and expiring at expiresAt.
func session(subject string, createdAt, expiresAt time.Time) store.Session {
	return store.Session{
		GrantID:     "grant-" + rand.Text(),
		Subject:     subject,
		ClientID:    "client",
		Scope:       []string{"openid", "profile"},
		CreatedAt:   createdAt,
		RefreshedAt: createdAt,
		ExpiresAt:   expiresAt,
	}
}

// Sessions created at the same instant are listed in the byte order of their
// grant ids, as Go compares strings and memstore sorts, whatever the
// database's default collation. The test server's is C, where the two
// agree, so the store runs in a database of its own whose default is ICU's
// English, as many production databases' en_US is: there "grant-a" sorts
// before "grant-B".
func (db testDB) testSessionTiesInByteOrder(t *testing.T) {
	ctx := t.Context()
	name := "pgstore_test_" + strings.ToLower(rand.Text())
	_, err := db.pool.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+
		" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en'")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "0A000") {
		t.Skipf("creating a database with an ICU collation: %v", err)
	}
	if err != nil {
		t.Fatalf("creating a database with an ICU collation: %v", err)
	}
	// Registered before the pool's Close, so it runs after it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	pool := newPool(t, db.url, func(cfg *pgxpool.Config) { cfg.ConnConfig.Database = name })
	s := newMigrated(t, pool, "oauth2kit")

	at := now()
	want := []string{"grant-a", "grant-B", "grant-\u00e9", "grant-_", "grant-Z"}
	for _, id := range want {
		sess := session("subject", at, at.Add(time.Hour))
		sess.GrantID = id
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession(%s) = %v, want nil", id, err)
		}
	}
	slices.Sort(want)
	got, err := s.ListSessions(ctx, "subject")
	if err != nil {
		t.Fatalf("ListSessions() = %v, want nil", err)
	}
	ids := make([]string, len(got))
	for i, sess := range got {
		ids[i] = sess.GrantID
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ListSessions() grant ids = %q, want %q", ids, want)
	}
}
