package pgstore_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
)

// A Store is made on the application's pool, migrated once at startup by
// every instance, and cleaned up periodically. It has no output to check
// because it needs a server.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	s := pgstore.New(pool, pgstore.WithSchema("oauth2kit"))
	// Safe when every instance does it at once.
	if err := s.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	// The Store runs no goroutine of its own; expired rows go when the
	// application says so.
	go func() {
		for range time.Tick(10 * time.Minute) {
			if n, err := s.DeleteExpired(ctx); err != nil {
				log.Printf("deleting expired tokens: %v", err)
			} else {
				log.Printf("deleted %d expired records", n)
			}
		}
	}()

	// s is a store.Store (and a store.KeyStore): hand it to package
	// oauth2's Issuer and Verifier.
	_ = s
}
