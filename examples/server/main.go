// Command server is a runnable oauth2kit authorization and resource server
// on demo data: the password and refresh-token grants, revocation,
// introspection, JWKS and metadata endpoints, a /api/me route that requires
// scope profile, and its metrics for Prometheus at /metrics. At start it
// prints curl commands to try it.
//
//	go run ./examples/server [-addr 127.0.0.1:8080] [-issuer URL] [-store memory://]
//	                         [-access-ttl 15m] [-refresh-ttl 336h] [-leeway 30s]
//	                         [-alg EdDSA] [-allow-unencrypted-keys]
//
// On Redis, PostgreSQL or SQLite it refuses to start unless OAUTH2KIT_KEY_ENCRYPTION_KEY
// holds the key that seals the private signing keys in the store, or
// -allow-unencrypted-keys accepts them in the clear.
//
// It stops gracefully on SIGINT or SIGTERM. Flag errors exit with status 2,
// other failures with 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// shutdownTimeout bounds how long in-flight requests may finish after a
// signal before the server closes their connections.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once
		// instead of waiting for the graceful shutdown.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	if code := exitCode(err); code != 0 {
		var usage usageError
		if !errors.As(err, &usage) { // usage errors were reported by parseFlags
			fmt.Fprintln(os.Stderr, "server:", err)
		}
		os.Exit(code)
	}
}

// exitCode is the process status for run's error, as the flag package
// would have it: 0 for -h, 2 for a bad command line, 1 for anything else.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		return 2
	default:
		return 1
	}
}

// run parses args, starts the server and serves until ctx is done, then
// shuts down gracefully and returns nil. It prints the curl walk-through to
// stdout and logs to stderr. ready, if not nil, is called with the address
// being served once the server accepts connections.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	st, closeStore, err := openStore(ctx, cfg.storeURL)
	if err != nil {
		return err
	}
	defer closeStore()
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close() // for the error returns before Serve owns it
	addr := ln.Addr().String()
	if !cfg.issuerSet {
		// With -addr :0 only the bound address says where clients can reach us.
		cfg.issuer = defaultIssuer(addr)
	}
	handler, issuer, err := newHandler(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	// Deletes expired records from stores that do not expire them by
	// themselves; returns at once for Redis. It is stopped, and waited for,
	// before the store is closed.
	sweepCtx, stopSweeping := context.WithCancel(ctx)
	swept := make(chan error, 1)
	go func() { swept <- oauth2.Sweep(sweepCtx, st, 0, logger) }()
	defer func() { stopSweeping(); <-swept }()

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	printCommands(stdout, issuer.Metadata(), cfg.storeURL)
	logger.Info("serving", "addr", addr, "issuer", cfg.issuer, "store", redactURL(cfg.storeURL))
	if ready != nil {
		ready(addr)
	}

	select {
	case err := <-served: // Serve returns only on failure before Shutdown
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	logger.Info("stopped")
	return nil
}
