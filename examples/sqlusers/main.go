// Command sqlusers is an authorization server whose users live in a SQL
// table read through database/sql, which is how oauth2kit means a real user
// table to be used: an oauth2.UserLookupFunc reads one row per login and
// oauth2.NewPasswordAuthenticator checks the password, with a dummy check
// for unknown usernames and a bound on concurrent checks. The database is
// SQLite through modernc.org/sqlite, which needs no C compiler. It serves
// the token endpoint (and the issuer's other endpoints) and GET /api/me,
// which needs an access token with scope profile.
//
//	go run ./examples/sqlusers [-addr 127.0.0.1:8080] [-db users.db]
//
// -db names the SQLite file, created if missing; without it the server uses
// a new database in a temporary directory and deletes it on exit. Either
// way it adds the user alice, password wonderland, unless the table has an
// alice already, and prints the commands that get a token and call
// /api/me. Tokens and signing keys are kept in memory.
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
	"path/filepath"
	"syscall"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// The user the demo adds.
const (
	demoUsername = "alice"
	demoPassword = "wonderland"
	demoSubject  = "user-1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "`host:port` to listen on")
	dbPath := flag.String("db", "", "SQLite `file` of the users table, created if missing (default: a temporary one, deleted on exit)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(flag.CommandLine.Output(), "unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// A second signal then kills the process instead of waiting for
		// the graceful shutdown.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, *addr, *dbPath, os.Stdout, os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sqlusers:", err)
		os.Exit(1)
	}
}

// run serves on addr until ctx is done, then shuts down and returns nil.
// It prints how to get a token to stdout and logs to stderr. ready, if not
// nil, is called with the address served once connections are accepted.
func run(ctx context.Context, addr, dbPath string, stdout, stderr io.Writer, ready func(addr string)) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "sqlusers-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "users.db")
	}
	db, err := openUsers(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	added, err := addUser(ctx, db, demoUsername, demoPassword, demoSubject, []string{"profile", "email"})
	if err != nil {
		return err
	}

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close() // for the returns before Serve owns it
	issuerURL := "http://" + ln.Addr().String()

	st := memstore.New()
	// Sweep deletes expired tokens from the store; it is stopped, and
	// waited for, whichever way run returns.
	sweepCtx, stopSweeping := context.WithCancel(ctx)
	swept := make(chan error, 1)
	go func() { swept <- oauth2.Sweep(sweepCtx, st, 0, logger) }()
	defer func() { stopSweeping(); <-swept }()
	handler, err := newHandler(db, st, issuerURL, logger)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	printCommands(stdout, issuerURL, dbPath, added)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// printCommands tells how to get a token from the server at issuerURL and
// use it.
func printCommands(w io.Writer, issuerURL, dbPath string, added bool) {
	who := fmt.Sprintf("Added %s (password %s) to the users table in %s.", demoUsername, demoPassword, dbPath)
	if !added {
		who = fmt.Sprintf("%s was in the users table in %s already: replace %s below with her password.", demoUsername, dbPath, demoPassword)
	}
	fmt.Fprintf(w, `%s
Serving on %[2]s. In another shell:

# Get a token: the password grant, through the public client %[3]s.
ACCESS=$(curl -sS -d grant_type=password -d client_id=%[3]s -d username=%[4]s -d password=%[5]s '%[2]s%[6]s' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'); echo "$ACCESS"

# Call the protected route with it.
curl -sS -H "Authorization: Bearer $ACCESS" '%[2]s/api/me'

# A wrong password and an unknown user get the same answer: 400 invalid_grant.
curl -sS -d grant_type=password -d client_id=%[3]s -d username=%[4]s -d password=wrong '%[2]s%[6]s'
curl -sS -d grant_type=password -d client_id=%[3]s -d username=nobody -d password=wrong '%[2]s%[6]s'
`, who, issuerURL, clientID, demoUsername, demoPassword, oauth2.TokenPath)
}
