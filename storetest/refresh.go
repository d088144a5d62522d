package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

func testRoundTrip(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	many := make([]string, 40)
	for i := range many {
		// Descending, so an adapter that sorts is caught.
		many[i] = fmt.Sprintf("scope-%02d", len(many)-i)
	}
	binary := newHash()
	// Bytes that are not valid UTF-8 or that end C strings, up front where
	// a text column or a NUL-terminated copy would lose them.
	copy(binary, []byte{0x00, 0xff, 0xfe, 0xc3, 0x28, 0x00})

	tests := []struct {
		name string
		edit func(*store.RefreshToken)
	}{
		{"typical", func(*store.RefreshToken) {}},
		{"nil scope", func(tok *store.RefreshToken) { tok.Scope = nil }},
		{"empty scope", func(tok *store.RefreshToken) { tok.Scope = []string{} }},
		{"one scope", func(tok *store.RefreshToken) { tok.Scope = []string{"openid"} }},
		{"many scopes", func(tok *store.RefreshToken) { tok.Scope = many }},
		{"binary hash", func(tok *store.RefreshToken) { tok.Hash = binary }},
		{"issued in the past", func(tok *store.RefreshToken) {
			tok.IssuedAt = base.Add(-72*time.Hour - 444*time.Microsecond)
		}},
	}
	for _, tt := range tests {
		tok := newToken(base)
		tt.edit(&tok)
		if err := s.CreateRefreshToken(ctx, tok); err != nil {
			t.Errorf("%s: CreateRefreshToken() = %v, want nil", tt.name, err)
			continue
		}
		got, err := s.GetRefreshToken(ctx, tok.Hash)
		if err != nil {
			t.Errorf("%s: GetRefreshToken() = %v, want nil", tt.name, err)
			continue
		}
		for _, d := range diffToken(got, tok) {
			t.Errorf("%s: GetRefreshToken().%s", tt.name, d)
		}
		if got.Consumed() {
			t.Errorf("%s: GetRefreshToken().Consumed() = true, want false", tt.name)
		}
	}
}

func testNoAliasing(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	want := cloneToken(tok)
	mustCreate(ctx, t, s, tok)
	scribble(&tok)
	got, err := s.GetRefreshToken(ctx, want.Hash)
	if err != nil {
		t.Fatalf("GetRefreshToken() = %v, want nil", err)
	}
	scribble(&got)
	wantToken(ctx, t, s, want)

	next := successor(want, base.Add(time.Minute))
	nextWant := cloneToken(next)
	mustRotate(ctx, t, s, want.Hash, next)
	scribble(&next)
	wantToken(ctx, t, s, nextWant)
}

// scribble overwrites the slices of tok in place, as a careless caller
// reusing its buffers would.
func scribble(tok *store.RefreshToken) {
	tok.Hash[0] ^= 0xff
	tok.Scope[0] = "admin"
	tok.SuccessorKey[0] ^= 0xff
}

func testCreateExisting(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	mustCreate(ctx, t, s, tok)

	wantErr(t, "CreateRefreshToken(same token)", s.CreateRefreshToken(ctx, tok), store.ErrAlreadyExists)
	other := newToken(base.Add(time.Second))
	other.Hash = tok.Hash
	wantErr(t, "CreateRefreshToken(other token, same hash)", s.CreateRefreshToken(ctx, other), store.ErrAlreadyExists)
	wantToken(ctx, t, s, tok)
}

func testGetUnknown(ctx context.Context, t *testing.T, s store.Store) {
	wantNotFound(ctx, t, s, newHash())

	tok := newToken(now())
	mustCreate(ctx, t, s, tok)
	lastByte := append([]byte(nil), tok.Hash...)
	lastByte[len(lastByte)-1] ^= 1
	for _, hash := range [][]byte{lastByte, tok.Hash[:len(tok.Hash)-1], append(append([]byte(nil), tok.Hash...), 0)} {
		wantNotFound(ctx, t, s, hash)
	}
}

func testRotate(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	mustCreate(ctx, t, s, tok)
	next := successor(tok, base.Add(time.Minute+555*time.Microsecond))
	mustRotate(ctx, t, s, tok.Hash, next)

	wantToken(ctx, t, s, consumed(tok, next.IssuedAt))
	wantToken(ctx, t, s, next)
}

func testRotateChain(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	a := newToken(base)
	b := successor(a, base.Add(time.Minute))
	c := successor(b, base.Add(2*time.Minute))
	mustCreate(ctx, t, s, a)
	mustRotate(ctx, t, s, a.Hash, b)
	mustRotate(ctx, t, s, b.Hash, c)

	wantToken(ctx, t, s, consumed(a, b.IssuedAt))
	wantToken(ctx, t, s, consumed(b, c.IssuedAt))
	wantToken(ctx, t, s, c)
}

func testConsumedIsReuse(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	mustCreate(ctx, t, s, tok)
	next := successor(tok, base.Add(time.Minute))
	mustRotate(ctx, t, s, tok.Hash, next)

	again := successor(tok, base.Add(2*time.Minute))
	wantErr(t, "RotateRefreshToken(consumed token)", s.RotateRefreshToken(ctx, tok.Hash, again), store.ErrReused)
	wantNotFound(ctx, t, s, again.Hash)
	// The rejected rotation must not move ConsumedAt or touch the successor.
	wantToken(ctx, t, s, consumed(tok, next.IssuedAt))
	wantToken(ctx, t, s, next)
}

func testRotateOtherGrant(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	mustCreate(ctx, t, s, tok)
	next := successor(tok, base.Add(time.Minute))
	next.GrantID = newID("grant")
	wantErr(t, "RotateRefreshToken(successor in another grant)", s.RotateRefreshToken(ctx, tok.Hash, next), store.ErrNotFound)
	wantToken(ctx, t, s, tok)
	wantNotFound(ctx, t, s, next.Hash)
}

func testRotateUnknown(ctx context.Context, t *testing.T, s store.Store) {
	tok := newToken(now())
	next := successor(tok, tok.IssuedAt.Add(time.Minute))
	wantErr(t, "RotateRefreshToken(unknown hash)", s.RotateRefreshToken(ctx, tok.Hash, next), store.ErrNotFound)
	wantNotFound(ctx, t, s, next.Hash)
	wantNotFound(ctx, t, s, tok.Hash)
}

func testRotateOntoTaken(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	taken := newToken(base)
	mustCreate(ctx, t, s, tok)
	mustCreate(ctx, t, s, taken)

	next := successor(tok, base.Add(time.Minute))
	next.Hash = taken.Hash
	wantErr(t, "RotateRefreshToken(next.Hash of another token)", s.RotateRefreshToken(ctx, tok.Hash, next), store.ErrAlreadyExists)
	self := successor(tok, base.Add(time.Minute))
	self.Hash = tok.Hash
	wantErr(t, "RotateRefreshToken(next.Hash == oldHash)", s.RotateRefreshToken(ctx, tok.Hash, self), store.ErrAlreadyExists)

	// Neither half of a failed rotation may have happened.
	wantToken(ctx, t, s, tok)
	wantToken(ctx, t, s, taken)
	mustRotate(ctx, t, s, tok.Hash, successor(tok, base.Add(2*time.Minute)))

	// Once the old token is consumed, reuse outranks the taken hash: an
	// adapter that checked the hash first would hide the reuse.
	onto := successor(tok, base.Add(3*time.Minute))
	onto.Hash = taken.Hash
	wantErr(t, "RotateRefreshToken(consumed token, onto a taken hash)", s.RotateRefreshToken(ctx, tok.Hash, onto), store.ErrReused)
	wantToken(ctx, t, s, taken)
}

// testRefreshCaseSensitive: a successor whose GrantID differs from the old
// token's in letter case only is of another grant.
func testRefreshCaseSensitive(ctx context.Context, t *testing.T, s store.Store) {
	base := now()
	tok := newToken(base)
	tok.GrantID = newID("Grant")
	mustCreate(ctx, t, s, tok)
	next := successor(tok, base.Add(time.Millisecond))
	next.GrantID = swapCase(tok.GrantID)
	wantErr(t, fmt.Sprintf("RotateRefreshToken(successor of grant %q for a token of grant %q)", next.GrantID, tok.GrantID),
		s.RotateRefreshToken(ctx, tok.Hash, next), store.ErrNotFound)
	wantToken(ctx, t, s, tok)
	wantNotFound(ctx, t, s, next.Hash)
}
