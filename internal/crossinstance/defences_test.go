package crossinstance_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// Failed logins counted by one instance hold up the next attempt on the
// other: the counts live in the store.
func TestThrottleAcrossInstances(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { testThrottleAcrossInstances(t, be.open) })
	}
}

func testThrottleAcrossInstances(t *testing.T, open opener) {
	a, b := twoInstances(t, open)
	for i := range oauth2.DefaultThrottleThreshold {
		if _, err := a.issuer.PasswordGrant(t.Context(), a.client, "alice", "wrong", nil); !errors.Is(err, oauth2.ErrInvalidGrant) {
			t.Fatalf("PasswordGrant(wrong password %d) error = %v, want %v", i+1, err, oauth2.ErrInvalidGrant)
		}
	}
	_, err := b.issuer.PasswordGrant(t.Context(), b.client, "alice", "pw", nil)
	var e *oauth2.Error
	if !errors.As(err, &e) || e.Code != oauth2.ErrSlowDown || e.RetryAfter <= 0 {
		t.Fatalf("PasswordGrant(right password, other instance) error = %v, want %v with a RetryAfter", err, oauth2.ErrSlowDown)
	}
}

// Within the grace window, refreshes of one token spread over two
// instances all succeed, with one successor between them.
func TestRefreshGraceAcrossInstances(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { testRefreshGraceAcrossInstances(t, be.open) })
	}
}

func testRefreshGraceAcrossInstances(t *testing.T, open opener) {
	a, b := twoInstances(t, open, func(c *oauth2.IssuerConfig) { c.RefreshGrace = time.Minute })
	first, err := a.issuer.PasswordGrant(t.Context(), a.client, "alice", "pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	successors := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		inst := a
		if i%2 == 1 {
			inst = b
		}
		wg.Go(func() {
			resp, err := inst.issuer.RefreshGrant(t.Context(), inst.client, first.RefreshToken, nil)
			errs[i] = err
			if err == nil {
				successors[i] = resp.RefreshToken
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("RefreshGrant() call %d error = %v, want success within the grace window", i, err)
		}
		if successors[i] != successors[0] {
			t.Fatalf("Got successors %q and %q, want one", successors[0], successors[i])
		}
	}
	if _, err := b.issuer.RefreshGrant(t.Context(), b.client, successors[0], nil); err != nil {
		t.Errorf("RefreshGrant(the successor) error = %v", err)
	}
}

// Signing out everywhere through one instance ends the sessions started on
// either, and the other instance's verifier, answering from its
// RevocationView and its cache, refuses their access tokens once the
// revocations arrive.
func TestSignOutEverywhereAcrossInstances(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { testSignOutEverywhereAcrossInstances(t, be.open) })
	}
}

func testSignOutEverywhereAcrossInstances(t *testing.T, open opener) {
	a, b := twoInstances(t, open)
	var toks []string
	for _, inst := range []*instance{a, b} {
		tok, err := inst.issuer.PasswordGrant(t.Context(), inst.client, "alice", "pw", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.verifier.Verify(t.Context(), tok.AccessToken); err != nil { // cached at b
			t.Fatal(err)
		}
		toks = append(toks, tok.AccessToken)
	}
	if list, err := a.issuer.Sessions(t.Context(), "alice"); err != nil || len(list) != 2 {
		t.Fatalf("Sessions() = %d, %v, want both instances' sessions", len(list), err)
	}
	if err := a.issuer.RevokeAllSessions(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks {
		for {
			_, err := b.verifier.Verify(t.Context(), tok)
			if errors.Is(err, oauth2.ErrTokenRevoked) {
				break
			}
			if err != nil {
				t.Fatalf("Verify(token %d) error = %v, want success until the revocation arrives, then %v", i, err, oauth2.ErrTokenRevoked)
			}
			select {
			case <-t.Context().Done():
				t.Fatalf("the sign-out never reached the other instance for token %d", i)
			case <-time.After(time.Millisecond):
			}
		}
	}
}
