package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// sessionStore returns s as a store.SessionStore. Run skips the subtest when the store
// it probed lacks the capability, so a store without it here is a setup
// fault: a NewStore that returns stores of different types.
func sessionStore(t *testing.T, s store.Store) store.SessionStore {
	t.Helper()
	ss, ok := s.(store.SessionStore)
	if !ok {
		t.Fatalf("storetest: setup: NewStore returned a %T, which lacks store.SessionStore, though the store Run probed for capabilities had it", s)
	}
	return ss
}

// newSession returns a session of subject created at createdAt. Its times
// have distinct sub-millisecond parts and its scope is not sorted, so an
// adapter that truncates, mixes up or reorders fields is caught.
func newSession(subject string, createdAt time.Time) store.Session {
	return store.Session{
		GrantID:     newID("grant"),
		Subject:     subject,
		ClientID:    newID("client"),
		Scope:       []string{"profile", "email", "https://api.example.com/read"},
		CreatedAt:   createdAt,
		RefreshedAt: createdAt,
		ExpiresAt:   createdAt.Add(time.Hour + 444*time.Microsecond),
	}
}

func mustCreateSession(ctx context.Context, t *testing.T, s store.SessionStore, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession(%s) error = %v", sess.GrantID, err)
	}
}

// wantSessions checks that subject's sessions are want, in order, field by
// field.
func wantSessions(ctx context.Context, t *testing.T, s store.SessionStore, subject string, want ...store.Session) {
	t.Helper()
	got, err := s.ListSessions(ctx, subject)
	if err != nil {
		t.Fatalf("ListSessions(%q) error = %v", subject, err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListSessions(%q) = %d sessions %v, want %d %v", subject, len(got), grantIDs(got), len(want), grantIDs(want))
	}
	reported := 0
	for i := range want {
		if d := diffSession(got[i], want[i]); d != "" {
			if reported++; reported > maxReported {
				t.Errorf("ListSessions(%q): more sessions differ, not shown", subject)
				return
			}
			t.Errorf("ListSessions(%q)[%d]: %s", subject, i, d)
		}
	}
}

func grantIDs(ss []store.Session) []string {
	ids := make([]string, 0, min(len(ss), maxReported+1))
	for i, s := range ss {
		if i == maxReported {
			ids = append(ids, fmt.Sprintf("... %d more", len(ss)-maxReported))
			break
		}
		ids = append(ids, s.GrantID)
	}
	return ids
}

func diffSession(got, want store.Session) string {
	switch {
	case got.GrantID != want.GrantID:
		return fmt.Sprintf("GrantID = %q, want %q", got.GrantID, want.GrantID)
	case got.Subject != want.Subject:
		return fmt.Sprintf("Subject = %q, want %q", got.Subject, want.Subject)
	case got.ClientID != want.ClientID:
		return fmt.Sprintf("ClientID = %q, want %q", got.ClientID, want.ClientID)
	case !slices.Equal(got.Scope, want.Scope):
		return fmt.Sprintf("Scope = %q, want %q", got.Scope, want.Scope)
	case !got.CreatedAt.Equal(want.CreatedAt):
		return fmt.Sprintf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	case !got.RefreshedAt.Equal(want.RefreshedAt):
		return fmt.Sprintf("RefreshedAt = %v, want %v", got.RefreshedAt, want.RefreshedAt)
	case !got.ExpiresAt.Equal(want.ExpiresAt):
		return fmt.Sprintf("ExpiresAt = %v, want %v", got.ExpiresAt, want.ExpiresAt)
	}
	return ""
}

func testSessionsRoundTrip(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject-ü")
	wantSessions(ctx, t, ss, subject)
	sess := newSession(subject, now())
	want := sess
	want.Scope = slices.Clone(sess.Scope)
	mustCreateSession(ctx, t, ss, sess)
	sess.Scope[0] = "admin" // the caller's slice is the caller's
	wantSessions(ctx, t, ss, subject, want)
	if err := ss.CreateSession(ctx, want); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateSession(same GrantID again) error = %v, want %v", err, store.ErrAlreadyExists)
	}
}

func testSessionsBySubject(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	alice, bob := newID("alice"), newID("bob")
	base := now()
	// Created out of order: the list is oldest first whatever the order
	// of creation.
	a2 := newSession(alice, base.Add(2*time.Second))
	a1 := newSession(alice, base.Add(time.Second))
	b1 := newSession(bob, base)
	for _, sess := range []store.Session{a2, b1, a1} {
		mustCreateSession(ctx, t, ss, sess)
	}
	wantSessions(ctx, t, ss, alice, a1, a2)
	wantSessions(ctx, t, ss, bob, b1)
	wantSessions(ctx, t, ss, newID("nobody"))
}

func testSessionsTouch(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject")
	sess := newSession(subject, now())
	mustCreateSession(ctx, t, ss, sess)
	at, exp := sess.CreatedAt.Add(time.Minute+555*time.Microsecond), sess.ExpiresAt.Add(time.Hour)
	if err := ss.TouchSession(ctx, subject, sess.GrantID, at, exp); err != nil {
		t.Fatalf("TouchSession() error = %v", err)
	}
	want := sess
	want.RefreshedAt, want.ExpiresAt = at, exp
	wantSessions(ctx, t, ss, subject, want)
	// An earlier touch, arriving late, changes nothing.
	if err := ss.TouchSession(ctx, subject, sess.GrantID, sess.CreatedAt, sess.ExpiresAt); err != nil {
		t.Fatalf("TouchSession(earlier) error = %v", err)
	}
	wantSessions(ctx, t, ss, subject, want)
	if err := ss.TouchSession(ctx, subject, newID("grant"), at, exp); err != nil {
		t.Errorf("TouchSession(unknown grant) error = %v, want nil", err)
	}
	wantSessions(ctx, t, ss, subject, want)
}

func testSessionsDelete(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	alice, bob := newID("alice"), newID("bob")
	base := now()
	a1, a2 := newSession(alice, base), newSession(alice, base.Add(time.Second))
	mustCreateSession(ctx, t, ss, a1)
	mustCreateSession(ctx, t, ss, a2)
	// Another subject cannot end alice's session by naming its grant.
	if err := ss.DeleteSession(ctx, bob, a1.GrantID); err != nil {
		t.Fatalf("DeleteSession(another subject) error = %v", err)
	}
	wantSessions(ctx, t, ss, alice, a1, a2)
	if err := ss.DeleteSession(ctx, alice, a1.GrantID); err != nil {
		t.Fatalf("DeleteSession() error = %v", err)
	}
	wantSessions(ctx, t, ss, alice, a2)
	if err := ss.DeleteSession(ctx, alice, a1.GrantID); err != nil {
		t.Errorf("DeleteSession(deleted already) error = %v, want nil", err)
	}
}

func testSessionsExpire(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject")
	base := now()
	short, long := newSession(subject, base), newSession(subject, base.Add(time.Millisecond))
	short.ExpiresAt = base.Add(shortTTL)
	mustCreateSession(ctx, t, ss, short)
	mustCreateSession(ctx, t, ss, long)
	wantSessions(ctx, t, ss, subject, short, long)
	checkedBeforeExpiry(t, short.ExpiresAt)
	sleepPast(ctx, t, short.ExpiresAt)
	wantSessions(ctx, t, ss, subject, long)
	// Its GrantID is free again once it expired.
	again := short
	again.ExpiresAt = now().Add(time.Hour)
	if err := ss.CreateSession(ctx, again); err != nil {
		t.Errorf("CreateSession(expired GrantID) error = %v, want nil", err)
	}
}

func testSessionsContext(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject")
	sess := newSession(subject, now())
	for _, dead := range deadContexts(ctx) {
		wantDeadErr(t, "CreateSession", dead, ss.CreateSession(dead, sess))
		_, err := ss.ListSessions(dead, subject)
		wantDeadErr(t, "ListSessions", dead, err)
	}
	wantSessions(ctx, t, ss, subject)
	mustCreateSession(ctx, t, ss, sess)
	for _, dead := range deadContexts(ctx) {
		wantDeadErr(t, "TouchSession", dead, ss.TouchSession(dead, subject, sess.GrantID, now(), now().Add(2*time.Hour)))
		wantDeadErr(t, "DeleteSession", dead, ss.DeleteSession(dead, subject, sess.GrantID))
	}
	wantSessions(ctx, t, ss, subject, sess)
}

// testSessionsTies: sessions created at one instant are listed by GrantID
// in byte order, as Go compares strings, and not in a database's
// locale-aware collation, which interleaves upper and lower case.
func testSessionsTies(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject")
	at := now()
	id := newID("grant")
	var want []store.Session
	for _, suffix := range []string{"-A", "-Z", "-a", "-z"} {
		sess := newSession(subject, at)
		sess.GrantID = id + suffix
		want = append(want, sess)
	}
	for _, sess := range slices.Backward(want) {
		mustCreateSession(ctx, t, ss, sess)
	}
	wantSessions(ctx, t, ss, subject, want...)
}

// testSessionsCaseSensitive: subjects and grant ids that differ in letter
// case only name different sessions.
func testSessionsCaseSensitive(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	alice := newID("Subject")
	other := swapCase(alice)
	base := now()
	mine, theirs := newSession(alice, base), newSession(other, base.Add(time.Millisecond))
	theirs.GrantID = swapCase(mine.GrantID)
	mustCreateSession(ctx, t, ss, mine)
	if err := ss.CreateSession(ctx, theirs); err != nil {
		t.Fatalf("CreateSession(%q) with a session of %q stored = %v, want nil", theirs.GrantID, mine.GrantID, err)
	}
	wantSessions(ctx, t, ss, alice, mine)
	wantSessions(ctx, t, ss, other, theirs)
	// Neither subject names the other's grant, whatever the case.
	if err := ss.DeleteSession(ctx, other, mine.GrantID); err != nil {
		t.Fatalf("DeleteSession(%q, %q) error = %v", other, mine.GrantID, err)
	}
	if err := ss.TouchSession(ctx, alice, theirs.GrantID, base.Add(time.Minute), base.Add(48*time.Hour)); err != nil {
		t.Fatalf("TouchSession(%q, %q) error = %v", alice, theirs.GrantID, err)
	}
	if err := ss.DeleteSession(ctx, alice, theirs.GrantID); err != nil {
		t.Fatalf("DeleteSession(%q, %q) error = %v", alice, theirs.GrantID, err)
	}
	wantSessions(ctx, t, ss, alice, mine)
	wantSessions(ctx, t, ss, other, theirs)
}

// testSessionsNoAliasing: the sessions ListSessions returns are the
// caller's to change.
func testSessionsNoAliasing(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject")
	sess := newSession(subject, now())
	want := sess
	want.Scope = slices.Clone(sess.Scope)
	mustCreateSession(ctx, t, ss, sess)
	got, err := ss.ListSessions(ctx, subject)
	if err != nil {
		t.Fatalf("ListSessions(%q) error = %v", subject, err)
	}
	if len(got) > 0 {
		got[0].Scope[0] = "admin"
		got[0].GrantID = "changed"
	}
	wantSessions(ctx, t, ss, subject, want)
}

// testSessionsTouchedExpires: a touch moves the session's end, so it is
// listed past the expiry it was created with and gone after the new one.
func testSessionsTouchedExpires(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject")
	base := now()
	sess := newSession(subject, base)
	sess.ExpiresAt = base.Add(shortTTL)
	mustCreateSession(ctx, t, ss, sess)
	want := sess
	want.RefreshedAt, want.ExpiresAt = base.Add(time.Millisecond), base.Add(2*shortTTL)
	if err := ss.TouchSession(ctx, subject, sess.GrantID, want.RefreshedAt, want.ExpiresAt); err != nil {
		t.Fatalf("TouchSession() error = %v", err)
	}
	checkedBeforeExpiry(t, sess.ExpiresAt)
	sleepPast(ctx, t, sess.ExpiresAt)
	wantSessions(ctx, t, ss, subject, want)
	checkedBeforeExpiry(t, want.ExpiresAt)
	sleepPast(ctx, t, want.ExpiresAt)
	wantSessions(ctx, t, ss, subject)
}

// testSessionsMany: a subject with more sessions than a page sees them all.
func testSessionsMany(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject")
	base := now()
	want := make([]store.Session, volume)
	for i := range want {
		want[i] = newSession(subject, base.Add(time.Duration(i)*time.Microsecond))
	}
	forEach(ctx, t, volume, func(i int) error { return ss.CreateSession(ctx, want[i]) })
	mustCreateSession(ctx, t, ss, newSession(newID("subject"), base))
	wantSessions(ctx, t, ss, subject, want...)
}

// testSessionsConcurrent: logins racing for one subject are all kept.
func testSessionsConcurrent(ctx context.Context, t *testing.T, s store.Store) {
	ss := sessionStore(t, s)
	subject := newID("subject")
	base := now()
	sessions := make([]store.Session, racers)
	for i := range sessions {
		sessions[i] = newSession(subject, base.Add(time.Duration(i)*time.Microsecond))
	}
	errs := make([]error, racers)
	start(racers, func(i int) { errs[i] = ss.CreateSession(ctx, sessions[i]) })(ctx, t)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("CreateSession() call %d error = %v", i, err)
		}
	}
	wantSessions(ctx, t, ss, subject, sessions...)
}
