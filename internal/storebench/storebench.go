// Package storebench measures each call of a networked store against a bare
// round trip to its server, in the same run: the benchmark behind the
// "Round trips per store call" tables of BENCHMARKS.md, shared by the
// adapters' BenchmarkRoundTrips.
package storebench

import (
	"context"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/store"
)

// Store is what RoundTrips calls: a store with every capability but
// ExpiredDeleter, which no request path calls.
type Store interface {
	store.Store
	store.KeyStore
	store.AttemptStore
	store.SessionStore
	store.RevocationWatcher
}

// RoundTrips runs each call of s as a sub-benchmark of b, after RoundTrip,
// the floor they are compared with. Every iteration of a call's
// sub-benchmark also makes a bare round trip right after the call, timed
// apart: ns/op is the call's time alone, and roundtrips/op the call's time
// over the round trips', so that the ratio holds however busy the machine
// was. What a call is given, and any record it acts on, is made in its
// iteration, untimed. settle, if not nil, runs once the sessions are
// written, before they are read.
func RoundTrips(b *testing.B, s Store, roundTrip func(context.Context) error, settle func(context.Context) error) {
	ctx := b.Context()
	at := oauth2test.Now()
	b.Run("RoundTrip", func(b *testing.B) {
		for b.Loop() {
			if err := roundTrip(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	call := func(name string, setup func() error, op func() error) {
		b.Run(name, func(b *testing.B) {
			var inCall, inRoundTrip time.Duration
			n := 0
			for b.Loop() {
				if setup != nil {
					if err := setup(); err != nil {
						b.Fatalf("before %s: %v", name, err)
					}
				}
				start := time.Now()
				if err := op(); err != nil {
					b.Fatalf("%s: %v", name, err)
				}
				called := time.Now()
				if err := roundTrip(ctx); err != nil {
					b.Fatal(err)
				}
				inCall += called.Sub(start)
				inRoundTrip += time.Since(called)
				n++
			}
			b.ReportMetric(float64(inCall.Nanoseconds())/float64(n), "ns/op")
			b.ReportMetric(float64(inCall)/float64(inRoundTrip), "roundtrips/op")
		})
	}
	run := func(name string, op func() error) { call(name, nil, op) }

	// A small set, as a watcher resyncing after a reconnection lists it.
	for range 10 {
		if err := s.RevokeGrant(ctx, oauth2test.NewID("listed"), at.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	run("ListRevocations", func() error {
		_, err := s.ListRevocations(ctx)
		return err
	})

	var created store.RefreshToken
	call("CreateRefreshToken", func() error {
		created = oauth2test.NewToken(at)
		return nil
	}, func() error { return s.CreateRefreshToken(ctx, created) })
	tok := oauth2test.NewToken(at)
	mustCreate(ctx, b, s, tok)
	run("GetRefreshToken", func() error {
		_, err := s.GetRefreshToken(ctx, tok.Hash)
		return err
	})
	// The chain goes on across the -count runs of the sub-benchmark.
	var next store.RefreshToken
	call("RotateRefreshToken", func() error {
		next = oauth2test.Successor(tok, at)
		return nil
	}, func() error {
		if err := s.RotateRefreshToken(ctx, tok.Hash, next); err != nil {
			return err
		}
		tok = next
		return nil
	})

	exp := at.Add(time.Hour)
	var id string
	newRevoked := func() error {
		id = oauth2test.NewID("revoked")
		return nil
	}
	call("RevokeAccessToken", newRevoked, func() error { return s.RevokeAccessToken(ctx, id, exp) })
	call("RevokeGrant", newRevoked, func() error { return s.RevokeGrant(ctx, id, exp) })
	run("IsRevoked", func() error {
		_, err := s.IsRevoked(ctx, "live-jti", "live-grant")
		return err
	})

	keys := []string{oauth2test.NewID("attempt"), oauth2test.NewID("attempt"), oauth2test.NewID("attempt")}
	run("AddFailure", func() error {
		_, err := s.AddFailure(ctx, keys[0], exp)
		return err
	})
	run("GetAttempts", func() error {
		_, err := s.GetAttempts(ctx, keys...)
		return err
	})
	call("ResetAttempts", func() error {
		_, err := s.AddFailure(ctx, keys[2], exp)
		return err
	}, func() error { return s.ResetAttempts(ctx, keys[2]) })

	var sess store.Session
	call("CreateSession", func() error {
		sess = oauth2test.NewSession(oauth2test.NewID("subject"), at)
		return nil
	}, func() error { return s.CreateSession(ctx, sess) })
	subject := oauth2test.NewID("subject")
	for i := range 5 {
		mustCreateSession(ctx, b, s, oauth2test.NewSession(subject, at.Add(time.Duration(i)*time.Second)))
	}
	if settle != nil {
		if err := settle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	touched := oauth2test.NewSession(subject, at)
	mustCreateSession(ctx, b, s, touched)
	refreshed := at
	run("TouchSession", func() error {
		refreshed = refreshed.Add(time.Microsecond)
		return s.TouchSession(ctx, subject, touched.GrantID, refreshed, refreshed.Add(time.Hour))
	})
	run("ListSessions", func() error {
		_, err := s.ListSessions(ctx, subject)
		return err
	})
	var deleted store.Session
	call("DeleteSession", func() error {
		deleted = oauth2test.NewSession(subject, at)
		return s.CreateSession(ctx, deleted)
	}, func() error { return s.DeleteSession(ctx, subject, deleted.GrantID) })

	var version int64
	run("SwapKeySet", func() error {
		v, err := s.SwapKeySet(ctx, version, []store.SigningKey{{ID: oauth2test.NewID("key"), Algorithm: "EdDSA", Private: oauth2test.NewHash(), CreatedAt: at}})
		version = v
		return err
	})
	run("GetKeySet", func() error {
		_, err := s.GetKeySet(ctx)
		return err
	})
}

func mustCreate(ctx context.Context, b *testing.B, s store.Store, tok store.RefreshToken) {
	b.Helper()
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		b.Fatalf("CreateRefreshToken(%x) = %v, want nil", tok.Hash, err)
	}
}

func mustCreateSession(ctx context.Context, b *testing.B, s store.SessionStore, sess store.Session) {
	b.Helper()
	if err := s.CreateSession(ctx, sess); err != nil {
		b.Fatalf("CreateSession(%s) = %v, want nil", sess.GrantID, err)
	}
}
