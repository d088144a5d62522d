package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code := exitCode(err); code != 0 {
		var usage usageError
		if !errors.As(err, &usage) { // usage errors were reported by parseFlags
			fmt.Fprintln(os.Stderr, "oauth2kit-load:", err)
		}
		os.Exit(code)
	}
}

// exitCode is the process status for run's error: 0 for none or -h, 2 for
// a bad command line, 1 for anything else, failed requests included.
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

// failuresError says that some requests of a run failed; the report has
// the details.
type failuresError struct{ failed, requests uint64 }

func (e *failuresError) Error() string {
	return fmt.Sprintf("%d of %d requests failed", e.failed, e.requests)
}

// run parses args, prepares the tokens the mixes need (and throttles the
// username of the throttled mix), runs the attack for the -duration (or
// until ctx is done) and writes the report to stdout.
// The progress line, if any, goes to stderr. The error is a usageError
// for a bad command line, a *failuresError if any request failed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var progressOut io.Writer
	if cfg.progress {
		progressOut = stderr
	}

	sizes := sizesFor(cfg)
	prepStart := time.Now()
	var grantsDone atomic.Int64
	prepOut := progressOut
	if sizes.total() == 0 {
		prepOut = nil
	}
	bar := startProgress(prepOut, func() string {
		return fmt.Sprintf("preparing tokens: %d/%d password grants", grantsDone.Load(), sizes.total())
	})
	tokens, err := prepare(ctx, cfg, sizes, func() { grantsDone.Add(1) })
	bar.stop()
	if err != nil {
		return fmt.Errorf("preparing tokens: %w", err)
	}
	prep := prepared{
		AccessTokens:  len(tokens.access),
		RefreshTokens: len(tokens.refresh),
		RevokeTokens:  len(tokens.revoke),
		Seconds:       time.Since(prepStart).Seconds(),
	}
	// Last before the clock starts, since the throttle's wait runs from
	// the last failure.
	if slices.ContainsFunc(cfg.mix, func(m mixWeight) bool { return m.name == mixThrottled }) {
		p := newPrimer(cfg)
		bar := startProgress(progressOut, p.status)
		t, err := p.prime(ctx)
		bar.stop()
		if err != nil {
			return fmt.Errorf("throttling %s for the throttled mix: %w", throttledUsername, err)
		}
		prep.Throttle = &t
	}

	mixes := buildMixes(cfg, tokens, ctx.Done())
	sched := newScheduler(mixes)
	col := newCollector(mixes)
	atk := attackerFor(cfg)

	start := time.Now()
	results := atk.Attack(sched.targeter(), cfg.rate, cfg.duration, "oauth2kit-load")
	attackDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-attackDone:
		}
	}()
	bar = startProgress(progressOut, attackStatus(start, cfg.duration, col))
	for res := range results {
		col.add(res)
	}
	close(attackDone)
	bar.stop()

	var stopped string
	if err := sched.err(); err != nil {
		stopped = err.Error()
	} else if ctx.Err() != nil {
		stopped = "interrupted"
	}
	rep := col.report(cfg, prep, stopped)
	if cfg.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	switch {
	case err != nil:
		return err
	case stopped != "":
		return errors.New("stopped early: " + stopped)
	case rep.Errors > 0:
		return &failuresError{rep.Errors, rep.Requests}
	case rep.Requests == 0:
		return errors.New("no requests were sent")
	}
	return nil
}

// attackerFor makes the vegeta attacker of cfg. Unpaced, vegeta would add
// a worker whenever all are busy, without end: there -max-workers
// defaults to -workers, so the concurrency is what was asked. Redirects
// are not followed, so that only -url is ever requested; a redirect is
// then an unexpected status, an error.
func attackerFor(cfg config) *vegeta.Attacker {
	maxWorkers := cfg.maxWorkers
	switch {
	case maxWorkers == 0 && cfg.rate.Freq == 0:
		maxWorkers = cfg.workers
	case maxWorkers == 0:
		maxWorkers = vegeta.DefaultMaxWorkers
	}
	return vegeta.NewAttacker(
		vegeta.Workers(cfg.workers),
		vegeta.MaxWorkers(maxWorkers),
		vegeta.Timeout(cfg.timeout),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.KeepAlive(true),
	)
}
