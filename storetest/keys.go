package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// keyStore returns s as a store.KeyStore. Run skips the subtest when the store
// it probed lacks the capability, so a store without it here is a setup
// fault: a NewStore that returns stores of different types.
func keyStore(t *testing.T, s store.Store) store.KeyStore {
	t.Helper()
	k, ok := s.(store.KeyStore)
	if !ok {
		t.Fatalf("storetest: setup: NewStore returned a %T, which lacks store.KeyStore, though the store Run probed for capabilities had it", s)
	}
	return k
}

// newSigningKeys returns n keys with every field set, the first active.
func newSigningKeys(n int) []store.SigningKey {
	base := now()
	keys := make([]store.SigningKey, n)
	for i := range keys {
		private := make([]byte, 48)
		_, _ = rand.Read(private)
		keys[i] = store.SigningKey{
			ID:        newID("kid"),
			Algorithm: "EdDSA",
			Private:   private,
			CreatedAt: base.Add(-time.Duration(i) * time.Hour),
		}
		if i > 0 {
			keys[i].RetiredAt = base.Add(-time.Duration(i) * time.Minute)
		}
	}
	return keys
}

func wantKeySet(ctx context.Context, t *testing.T, ks store.KeyStore, version int64, keys []store.SigningKey) {
	t.Helper()
	got, err := ks.GetKeySet(ctx)
	if err != nil {
		t.Fatalf("GetKeySet() error = %v", err)
	}
	if got.Version != version {
		t.Errorf("GetKeySet() version = %d, want %d", got.Version, version)
	}
	if !slices.EqualFunc(got.Keys, keys, equalSigningKey) {
		t.Errorf("GetKeySet() keys = %s, want %s", keysString(got.Keys), keysString(keys))
	}
}

func equalSigningKey(a, b store.SigningKey) bool {
	return a.ID == b.ID && a.Algorithm == b.Algorithm && slices.Equal(a.Private, b.Private) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.RetiredAt.Equal(b.RetiredAt)
}

func testKeysEmpty(ctx context.Context, t *testing.T, s store.Store) {
	wantKeySet(ctx, t, keyStore(t, s), 0, nil)
}

func testKeysRoundTrip(ctx context.Context, t *testing.T, s store.Store) {
	ks := keyStore(t, s)
	keys := newSigningKeys(3)
	v, err := ks.SwapKeySet(ctx, 0, keys)
	if err != nil {
		t.Fatalf("SwapKeySet(0) error = %v", err)
	}
	if v == 0 {
		t.Fatalf("SwapKeySet(0) version = 0, want a new version")
	}
	wantKeySet(ctx, t, ks, v, keys)
	// The caller's slices are not the store's.
	keys[0].Private[0] ^= 0xff
	keys[0].ID = "changed"
	got, err := ks.GetKeySet(ctx)
	if err != nil {
		t.Fatalf("GetKeySet() error = %v", err)
	}
	if got.Keys[0].ID == "changed" || got.Keys[0].Private[0] == keys[0].Private[0] {
		t.Errorf("GetKeySet() reflects a change the caller made after SwapKeySet")
	}
}

func testKeysStaleSwapConflicts(ctx context.Context, t *testing.T, s store.Store) {
	ks := keyStore(t, s)
	first := newSigningKeys(1)
	v1, err := ks.SwapKeySet(ctx, 0, first)
	if err != nil {
		t.Fatalf("SwapKeySet(0) error = %v", err)
	}
	if _, err := ks.SwapKeySet(ctx, 0, newSigningKeys(1)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SwapKeySet(0) over a stored set error = %v, want %v", err, store.ErrConflict)
	}
	second := newSigningKeys(2)
	v2, err := ks.SwapKeySet(ctx, v1, second)
	if err != nil {
		t.Fatalf("SwapKeySet(%d) error = %v", v1, err)
	}
	if v2 == v1 || v2 == 0 {
		t.Errorf("SwapKeySet(%d) version = %d, want a new non-zero version", v1, v2)
	}
	if _, err := ks.SwapKeySet(ctx, v1, newSigningKeys(1)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SwapKeySet(stale %d) error = %v, want %v", v1, err, store.ErrConflict)
	}
	if _, err := ks.SwapKeySet(ctx, v2+1000, newSigningKeys(1)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SwapKeySet(future version) error = %v, want %v", err, store.ErrConflict)
	}
	wantKeySet(ctx, t, ks, v2, second)
}

func testKeysContext(ctx context.Context, t *testing.T, s store.Store) {
	ks := keyStore(t, s)
	for _, dead := range deadContexts(ctx) {
		_, err := ks.GetKeySet(dead)
		wantDeadErr(t, "GetKeySet", dead, err)
		_, err = ks.SwapKeySet(dead, 0, newSigningKeys(1))
		wantDeadErr(t, "SwapKeySet(0)", dead, err)
	}
	wantKeySet(ctx, t, ks, 0, nil)
	v, err := ks.SwapKeySet(ctx, 0, newSigningKeys(1))
	if err != nil {
		t.Fatalf("SwapKeySet(0) error = %v", err)
	}
	keys := newSigningKeys(2)
	for _, dead := range deadContexts(ctx) {
		_, err := ks.SwapKeySet(dead, v, newSigningKeys(1))
		wantDeadErr(t, fmt.Sprintf("SwapKeySet(%d)", v), dead, err)
	}
	if _, err := ks.SwapKeySet(ctx, v, keys); err != nil {
		t.Errorf("SwapKeySet(%d) after calls with ended contexts error = %v, want nil: they must not have swapped", v, err)
	}
}

// testKeysNoAliasing: a caller that edits the set it was given must not
// edit the stored one, as a cache handing out its own slices would let it.
func testKeysNoAliasing(ctx context.Context, t *testing.T, s store.Store) {
	ks := keyStore(t, s)
	keys := newSigningKeys(2)
	want := slices.Clone(keys)
	for i := range want {
		want[i].Private = slices.Clone(keys[i].Private)
	}
	v, err := ks.SwapKeySet(ctx, 0, keys)
	if err != nil {
		t.Fatalf("SwapKeySet(0) error = %v", err)
	}
	got, err := ks.GetKeySet(ctx)
	if err != nil {
		t.Fatalf("GetKeySet() error = %v", err)
	}
	if len(got.Keys) > 0 {
		got.Keys[0].Private[0] ^= 0xff
		got.Keys[0].ID = "changed"
		got.Keys[len(got.Keys)-1] = store.SigningKey{ID: "replaced"}
	}
	wantKeySet(ctx, t, ks, v, want)
}

func testKeysSwapIsAtomic(ctx context.Context, t *testing.T, s store.Store) {
	ks := keyStore(t, s)
	base, err := ks.SwapKeySet(ctx, 0, newSigningKeys(1))
	if err != nil {
		t.Fatalf("SwapKeySet(0) error = %v", err)
	}
	const n = 64
	sets := make([][]store.SigningKey, n)
	versions := make([]int64, n)
	errs := make([]error, n)
	for i := range sets {
		sets[i] = newSigningKeys(2)
	}
	wait := start(n, func(i int) { versions[i], errs[i] = ks.SwapKeySet(ctx, base, sets[i]) })
	wait(ctx, t)
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("SwapKeySet(%d): goroutines %d and %d both succeeded, want exactly one", base, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("SwapKeySet(%d) error = %v, want %v", base, err, store.ErrConflict)
		}
	}
	if winner < 0 {
		t.Fatalf("SwapKeySet(%d): no goroutine succeeded, want exactly one", base)
	}
	wantKeySet(ctx, t, ks, versions[winner], sets[winner])
}

// keysString formats keys for a failure message with Private in hex.
func keysString(keys []store.SigningKey) string {
	var b strings.Builder
	b.WriteString("[")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "{ID:%q Algorithm:%q Private:%x CreatedAt:%v RetiredAt:%v}", k.ID, k.Algorithm, k.Private, k.CreatedAt, k.RetiredAt)
	}
	b.WriteString("]")
	return b.String()
}
