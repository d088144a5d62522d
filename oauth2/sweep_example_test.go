package oauth2_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// Start Sweep once, next to the server, whatever the adapter: for one that
// deletes expired records by itself it returns at once.
func ExampleSweep() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	st := memstore.New()                // or pgstore.New(pool), redisstore.New(client)
	go oauth2.Sweep(ctx, st, 0, logger) // 0: every DefaultSweepInterval

	// ... build the Issuer on st and serve until ctx ends.
}
