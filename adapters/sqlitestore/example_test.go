package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/sqlitestore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sqlitestore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sql.Open("sqlite", sqlitestore.DSN(filepath.Join(dir, "oauth2kit.db")))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	s := sqlitestore.New(db)
	if err := s.Migrate(ctx); err != nil { // at every start-up; idempotent
		log.Fatal(err)
	}

	if err := s.RevokeGrant(ctx, "grant-1", time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	revoked, err := s.IsRevoked(ctx, "", "grant-1")
	fmt.Println(revoked, err)
	// Output: true <nil>
}
