package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// now returns the current time at the precision every adapter must keep:
// PostgreSQL stores microseconds, so the suite never asks for more.
func now() time.Time { return time.Now().Truncate(time.Microsecond) }

// newHash returns what oauth2 stores: the SHA-256 digest of a random token,
// 32 arbitrary bytes that are rarely valid UTF-8.
func newHash() []byte {
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}

func newID(prefix string) string { return prefix + "-" + rand.Text() }

// newToken returns the first token of a new grant, issued at issuedAt. Its
// times have distinct sub-millisecond parts and its scope is not sorted, so
// an adapter that truncates, mixes up or reorders fields is caught.
func newToken(issuedAt time.Time) store.RefreshToken {
	return store.RefreshToken{
		Hash:           newHash(),
		GrantID:        newID("grant"),
		ClientID:       newID("client"),
		Subject:        newID("subject-ü"),
		Scope:          []string{"openid", "profile", "email", "https://api.example.com/write"},
		IssuedAt:       issuedAt,
		ExpiresAt:      issuedAt.Add(time.Hour + 111*time.Microsecond),
		GrantExpiresAt: issuedAt.Add(24*time.Hour + 222*time.Microsecond),
		SuccessorKey:   newHash(),
	}
}

// successor returns the token that rotating prev at issuedAt would store.
func successor(prev store.RefreshToken, issuedAt time.Time) store.RefreshToken {
	next := cloneToken(prev)
	next.Hash = newHash()
	next.IssuedAt = issuedAt
	next.ExpiresAt = issuedAt.Add(time.Hour + 333*time.Microsecond)
	next.ConsumedAt = time.Time{}
	return next
}

func cloneToken(tok store.RefreshToken) store.RefreshToken {
	tok.Hash = slices.Clone(tok.Hash)
	tok.Scope = slices.Clone(tok.Scope)
	tok.SuccessorKey = slices.Clone(tok.SuccessorKey)
	return tok
}

// consumed returns tok as the store must hold it after a rotation at at.
func consumed(tok store.RefreshToken, at time.Time) store.RefreshToken {
	tok.ConsumedAt = at
	return tok
}

func mustCreate(ctx context.Context, t *testing.T, s store.Store, tok store.RefreshToken) {
	t.Helper()
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken(%x) = %v, want nil", tok.Hash, err)
	}
}

func mustRotate(ctx context.Context, t *testing.T, s store.Store, oldHash []byte, next store.RefreshToken) {
	t.Helper()
	if err := s.RotateRefreshToken(ctx, oldHash, next); err != nil {
		t.Fatalf("RotateRefreshToken(%x, next %x) = %v, want nil", oldHash, next.Hash, err)
	}
}

func mustRevokeGrant(ctx context.Context, t *testing.T, s store.Store, grantID string, expiresAt time.Time) {
	t.Helper()
	if err := s.RevokeGrant(ctx, grantID, expiresAt); err != nil {
		t.Fatalf("RevokeGrant(%q, %v) = %v, want nil", grantID, expiresAt, err)
	}
}

func mustRevokeAccessToken(ctx context.Context, t *testing.T, s store.Store, jti string, expiresAt time.Time) {
	t.Helper()
	if err := s.RevokeAccessToken(ctx, jti, expiresAt); err != nil {
		t.Fatalf("RevokeAccessToken(%q, %v) = %v, want nil", jti, expiresAt, err)
	}
}

// wantToken checks that the store returns want for want.Hash, field by field.
func wantToken(ctx context.Context, t *testing.T, s store.Store, want store.RefreshToken) {
	t.Helper()
	got, err := s.GetRefreshToken(ctx, want.Hash)
	if err != nil {
		t.Errorf("GetRefreshToken(%x) = %v, want nil", want.Hash, err)
		return
	}
	for _, d := range diffToken(got, want) {
		t.Errorf("GetRefreshToken(%x).%s", want.Hash, d)
	}
}

// wantNotFound checks that the store returns no record for hash.
func wantNotFound(ctx context.Context, t *testing.T, s store.Store, hash []byte) {
	t.Helper()
	got, err := s.GetRefreshToken(ctx, hash)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefreshToken(%x) = %s, %v, want error matching %v", hash, tokenString(got), err, store.ErrNotFound)
	}
}

// wantErr checks that err, returned by call, matches target under errors.Is.
func wantErr(t *testing.T, call string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v, want error matching %v", call, err, target)
	}
}

func wantRevoked(ctx context.Context, t *testing.T, s store.Store, jti, grantID string, want bool) {
	t.Helper()
	got, err := s.IsRevoked(ctx, jti, grantID)
	if err != nil {
		t.Errorf("IsRevoked(%q, %q) = %v, want nil error", jti, grantID, err)
		return
	}
	if got != want {
		t.Errorf("IsRevoked(%q, %q) = %v, want %v", jti, grantID, got, want)
	}
}

// tokenString formats tok for a failure message with its byte fields in
// hex: %+v would print a hash as 32 decimal numbers.
func tokenString(tok store.RefreshToken) string {
	return fmt.Sprintf("{Hash:%x GrantID:%q ClientID:%q Subject:%q Scope:%q IssuedAt:%v ExpiresAt:%v GrantExpiresAt:%v ConsumedAt:%v SuccessorKey:%x}",
		tok.Hash, tok.GrantID, tok.ClientID, tok.Subject, tok.Scope, tok.IssuedAt, tok.ExpiresAt, tok.GrantExpiresAt, tok.ConsumedAt, tok.SuccessorKey)
}

// maxReported caps how many failures of one kind a check reports: past the
// first few, more say nothing new and push the summary off the screen.
const maxReported = 10

// diffToken describes every field in which got differs from want. Times are
// compared with time.Equal, so location and monotonic readings do not
// matter; a nil and an empty Scope are the same scope.
func diffToken(got, want store.RefreshToken) []string {
	var diffs []string
	field := func(name string, g, w any) {
		diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", name, g, w))
	}
	if string(got.Hash) != string(want.Hash) {
		field("Hash", fmt.Sprintf("%x", got.Hash), fmt.Sprintf("%x", want.Hash))
	}
	if got.GrantID != want.GrantID {
		field("GrantID", got.GrantID, want.GrantID)
	}
	if got.ClientID != want.ClientID {
		field("ClientID", got.ClientID, want.ClientID)
	}
	if got.Subject != want.Subject {
		field("Subject", got.Subject, want.Subject)
	}
	if !slices.Equal(got.Scope, want.Scope) {
		field("Scope", fmt.Sprintf("%q", got.Scope), fmt.Sprintf("%q", want.Scope))
	}
	if string(got.SuccessorKey) != string(want.SuccessorKey) {
		field("SuccessorKey", fmt.Sprintf("%x", got.SuccessorKey), fmt.Sprintf("%x", want.SuccessorKey))
	}
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{
		{"IssuedAt", got.IssuedAt, want.IssuedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"GrantExpiresAt", got.GrantExpiresAt, want.GrantExpiresAt},
		{"ConsumedAt", got.ConsumedAt, want.ConsumedAt},
	} {
		if !tm.got.Equal(tm.want) {
			field(tm.name, tm.got, tm.want)
		}
	}
	return diffs
}

// sleepPast blocks until expiryMargin after deadline, failing the subtest if
// its context ends first.
func sleepPast(ctx context.Context, t *testing.T, deadline time.Time) {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline.Add(expiryMargin)))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		t.Fatalf("storetest: timing: the subtest ran out of time (%v) while the suite waited for records to expire, not in a call to the store; %s", ctx.Err(), timingHint())
	}
}

// start runs n goroutines that block until it returns, then are released
// together so that their calls race, and returns a func that waits for all
// of them. The goroutines must not use t: the wait may give up on them.
func start(n int, f func(i int)) (wait func(ctx context.Context, t *testing.T)) {
	var (
		ready, done sync.WaitGroup
		gate        = make(chan struct{})
	)
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-gate
			f(i)
		})
	}
	ready.Wait()
	close(gate)
	return func(ctx context.Context, t *testing.T) {
		t.Helper()
		finished := make(chan struct{})
		go func() { done.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-ctx.Done():
			t.Fatalf("storetest: timing: goroutines still in calls to the store when the subtest ran out of time (%v): either the store ignores its context or deadlocks, or %s", ctx.Err(), timingHint())
		}
	}
}

// failures collects violations seen by goroutines, which must not call t.
type failures struct {
	mu   sync.Mutex
	msgs []string
}

func (f *failures) addf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

// report fails t with the first few violations and how many there were.
func (f *failures) report(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.msgs {
		if i == maxReported {
			t.Errorf("... and %d more", len(f.msgs)-maxReported)
			break
		}
		t.Error(m)
	}
}

// volume is how many records the subtests about volume store: just past
// the 1000 by which adapters page and batch (a Redis SCAN COUNT, a
// PostgreSQL DELETE ... LIMIT), so that a store that reads or deletes only
// its first page or batch is caught.
const volume = 1025

// forEach calls f for every i in [0, n), one after the other, and fails
// t at the first error. One at a time, because a backend with one writer
// (SQLite) is slowed down by concurrent writers, not sped up, and the
// volume subtests are about what is stored, not how fast.
func forEach(ctx context.Context, t *testing.T, n int, f func(i int) error) {
	t.Helper()
	for i := range n {
		if err := f(i); err != nil {
			t.Fatalf("storing record %d of %d: %v", i, n, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("storetest: timing: the subtest ran out of time (%v) after storing %d of %d records; %s", ctx.Err(), i+1, n, timingHint())
		}
	}
}

// swapCase returns id with the case of every ASCII letter swapped, an id
// that a store which folds case would confuse with id.
func swapCase(id string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, id)
}
