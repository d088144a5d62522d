package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/store"
)

// The adapter's own requirements, beyond the storage contract. TestConformance
// runs each on its server as a subtest redisstore/<Requirement>.

// testKeysExpire checks the TTL policy: after every kind of write, including
// rejected ones, the keys under the prefix are exactly the records, index
// entries, revocations, attempt records and sessions written, each with a
// TTL, and the key set, the one key without.
func testKeysExpire(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	ctx := t.Context()
	prefix := newPrefix()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(prefix))...)

	base := oauth2test.Now()
	tok := oauth2test.NewToken(base)
	next := oauth2test.Successor(tok, base.Add(time.Minute))
	mustCreate(ctx, t, s, tok)
	mustRotate(ctx, t, s, tok.Hash, next)
	// Rejected calls must leave nothing behind.
	wantErr(t, "RotateRefreshToken(consumed)", s.RotateRefreshToken(ctx, tok.Hash, oauth2test.Successor(tok, base)), store.ErrReused)
	wantErr(t, "RotateRefreshToken(unknown)", s.RotateRefreshToken(ctx, oauth2test.NewHash(), oauth2test.Successor(tok, base)), store.ErrNotFound)
	wantErr(t, "CreateRefreshToken(existing)", s.CreateRefreshToken(ctx, next), store.ErrAlreadyExists)
	expired := oauth2test.NewToken(base.Add(-time.Hour))
	expired.ExpiresAt = base.Add(-time.Second)
	if err := s.CreateRefreshToken(ctx, expired); err != nil {
		t.Fatalf("CreateRefreshToken(expired) = %v, want nil", err)
	}
	jti := oauth2test.NewID("jti")
	for _, exp := range []time.Time{base.Add(time.Hour), base.Add(2 * time.Hour), base.Add(time.Minute)} {
		if err := s.RevokeGrant(ctx, tok.GrantID, exp); err != nil {
			t.Fatalf("RevokeGrant() = %v, want nil", err)
		}
		if err := s.RevokeAccessToken(ctx, jti, exp); err != nil {
			t.Fatalf("RevokeAccessToken() = %v, want nil", err)
		}
	}
	if err := s.RevokeGrant(ctx, oauth2test.NewID("grant"), base.Add(-time.Second)); err != nil {
		t.Fatalf("RevokeGrant(past expiry) = %v, want nil", err)
	}
	if _, err := s.SwapKeySet(ctx, 0, nil); err != nil {
		t.Fatalf("SwapKeySet() = %v, want nil", err)
	}
	attempt, pastAttempt, resetAttempt := oauth2test.NewID("attempt"), oauth2test.NewID("attempt"), oauth2test.NewID("attempt")
	for _, a := range []struct {
		key string
		exp time.Time
	}{
		{attempt, base.Add(time.Hour)}, {attempt, base.Add(time.Minute)},
		{pastAttempt, base.Add(-time.Second)}, {resetAttempt, base.Add(time.Hour)},
	} {
		if _, err := s.AddFailure(ctx, a.key, a.exp); err != nil {
			t.Fatalf("AddFailure(%q) = %v, want nil", a.key, err)
		}
	}
	if err := s.ResetAttempts(ctx, resetAttempt); err != nil {
		t.Fatalf("ResetAttempts() = %v, want nil", err)
	}
	// A subject's sessions share one key, which lasts until the latest of
	// them expires, a touch included; a subject left with none has no key.
	subject, gone, never := oauth2test.NewID("subject"), oauth2test.NewID("subject"), oauth2test.NewID("subject")
	ses1, ses2 := oauth2test.NewSession(subject, base), oauth2test.NewSession(subject, base)
	ses2.ExpiresAt = base.Add(2 * time.Hour)
	mustCreateSession(ctx, t, s, ses1)
	mustCreateSession(ctx, t, s, ses2)
	wantErr(t, "CreateSession(existing)", s.CreateSession(ctx, ses1), store.ErrAlreadyExists)
	if err := s.TouchSession(ctx, subject, ses1.GrantID, base.Add(time.Minute), base.Add(3*time.Hour)); err != nil {
		t.Fatalf("TouchSession() = %v, want nil", err)
	}
	if err := s.TouchSession(ctx, never, oauth2test.NewID("grant"), base, base.Add(time.Hour)); err != nil {
		t.Fatalf("TouchSession(unknown) = %v, want nil", err)
	}
	deleted := oauth2test.NewSession(gone, base)
	mustCreateSession(ctx, t, s, deleted)
	if err := s.DeleteSession(ctx, gone, deleted.GrantID); err != nil {
		t.Fatalf("DeleteSession() = %v, want nil", err)
	}
	pastSession := oauth2test.NewSession(never, base.Add(-time.Hour))
	pastSession.ExpiresAt = base.Add(-time.Second)
	mustCreateSession(ctx, t, s, pastSession)

	var got []string
	iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		got = append(got, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN %s* error = %v", prefix, err)
	}
	slices.Sort(got)
	want := []string{
		prefix + "keyset",
		prefix + "rti:" + hexOf(tok.Hash),
		prefix + "rti:" + hexOf(next.Hash),
		prefix + "rvg:" + tok.GrantID,
		prefix + "rvj:" + jti,
		prefix + "{rt:" + tok.GrantID + "}:" + hexOf(tok.Hash),
		prefix + "{rt:" + tok.GrantID + "}:" + hexOf(next.Hash),
		prefix + "att:" + attempt,
		prefix + "ses:" + subject,
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("SCAN %s* = %q, want %q", prefix, got, want)
	}
	for _, key := range got {
		ttl, err := client.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s error = %v", key, err)
		}
		switch {
		case key == prefix+"keyset" && ttl != -1:
			t.Errorf("PTTL(%s) = %v, want no TTL (-1)", key, ttl)
		case key != prefix+"keyset" && ttl <= 0:
			t.Errorf("PTTL(%s) = %v, want a TTL", key, ttl)
		}
	}
	// The revocations kept the latest of their three expiries, the attempt
	// record the later of its two, and the sessions' key its latest
	// session's, touched: past the second latest, and not past the latest.
	for _, k := range []struct {
		key             string
		earlier, latest time.Time
	}{
		{prefix + "rvg:" + tok.GrantID, base.Add(time.Hour), base.Add(2 * time.Hour)},
		{prefix + "rvj:" + jti, base.Add(time.Hour), base.Add(2 * time.Hour)},
		{prefix + "att:" + attempt, base.Add(time.Minute), base.Add(time.Hour)},
		{prefix + "ses:" + subject, base.Add(2 * time.Hour), base.Add(3 * time.Hour)},
	} {
		ms, err := client.Do(ctx, "pexpiretime", k.key).Int64()
		if err != nil {
			t.Fatalf("PEXPIRETIME %s error = %v", k.key, err)
		}
		if got := time.UnixMilli(ms); !got.After(k.earlier) || got.After(k.latest) {
			t.Errorf("PEXPIRETIME(%s) = %v, want the latest expiry written, %v", k.key, got, k.latest)
		}
	}
}

// testScriptsStayInOneSlot drives every script with grant IDs, subjects and
// prefixes that could defeat a hash tag (empty, with braces) and checks that
// no call spans two Cluster slots.
func testScriptsStayInOneSlot(t *testing.T, url string) {
	ctx := t.Context()
	client := newClient(t, url)
	slots := &slotChecker{}
	client.AddHook(slots)

	for _, prefix := range []string{"", "{tenant}:", "x{", "x}{y"} {
		prefix += newPrefix()
		s := redisstore.New(client, redisstore.WithKeyPrefix(prefix), redisstore.WithSlotScripts())
		for _, grantID := range []string{"", "}", "{", "{}", "a}b", "{g}", "grant-ü"} {
			base := oauth2test.Now()
			tok := oauth2test.NewToken(base)
			tok.GrantID = grantID
			next := oauth2test.Successor(tok, base.Add(time.Minute))
			mustCreate(ctx, t, s, tok)
			mustRotate(ctx, t, s, tok.Hash, next)
			wantToken(ctx, t, s, next)
			wantErr(t, "RotateRefreshToken(consumed)", s.RotateRefreshToken(ctx, tok.Hash, oauth2test.Successor(tok, base)), store.ErrReused)
			if err := s.RevokeGrant(ctx, grantID, base.Add(time.Hour)); err != nil {
				t.Fatalf("RevokeGrant(%q) = %v, want nil", grantID, err)
			}
			if _, err := s.IsRevoked(ctx, grantID, grantID); err != nil {
				t.Fatalf("IsRevoked(%q, %q) = %v, want nil error", grantID, grantID, err)
			}
			// Attempt keys are opaque: the grant IDs serve as awkward ones.
			if _, err := s.AddFailure(ctx, grantID, base.Add(time.Hour)); err != nil {
				t.Fatalf("AddFailure(%q) = %v, want nil", grantID, err)
			}
			if _, err := s.GetAttempts(ctx, grantID, "other", grantID); err != nil {
				t.Fatalf("GetAttempts(%q, ...) = %v, want nil error", grantID, err)
			}
			if err := s.ResetAttempts(ctx, grantID); err != nil {
				t.Fatalf("ResetAttempts(%q) = %v, want nil", grantID, err)
			}
			// So are subjects; each of their sessions is one grant.
			sess := oauth2test.NewSession(grantID, base)
			sess.GrantID = grantID
			mustCreateSession(ctx, t, s, sess)
			if err := s.TouchSession(ctx, grantID, grantID, base.Add(time.Minute), base.Add(2*time.Hour)); err != nil {
				t.Fatalf("TouchSession(%q, %q) = %v, want nil", grantID, grantID, err)
			}
			if _, err := s.ListSessions(ctx, grantID); err != nil {
				t.Fatalf("ListSessions(%q) = %v, want nil error", grantID, err)
			}
			if err := s.DeleteSession(ctx, grantID, grantID); err != nil {
				t.Fatalf("DeleteSession(%q, %q) = %v, want nil", grantID, grantID, err)
			}
		}
		if _, err := s.SwapKeySet(ctx, 0, nil); err != nil {
			t.Fatalf("SwapKeySet() = %v, want nil", err)
		}
	}
	if n := slots.report(t); n == 0 {
		t.Errorf("script calls checked = 0, want the store's scripts checked")
	}
}

// testScriptCacheFlushed checks that the store does not depend on Redis
// still caching its scripts, as after a restart or failover: EVALSHA fails
// with NOSCRIPT and the script must be sent again.
func testScriptCacheFlushed(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	ctx := t.Context()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(newPrefix()))...)
	base := oauth2test.Now()
	tok := oauth2test.NewToken(base)
	mustCreate(ctx, t, s, tok)
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatalf("SCRIPT FLUSH error = %v", err)
	}
	next := oauth2test.Successor(tok, base.Add(time.Minute))
	mustRotate(ctx, t, s, tok.Hash, next)
	wantToken(ctx, t, s, next)
}

// testReuseBeatsTakenHash checks the ranking of RotateRefreshToken's errors
// that the suite does not: when the old token is consumed (or missing) and
// the successor's hash is taken too, the answer is ErrReused (ErrNotFound),
// not ErrAlreadyExists, so that a collision never hides reuse. This store
// finds the hash taken before its script looks at the old token, so it has
// to rank them itself.
func testReuseBeatsTakenHash(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	ctx := t.Context()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(newPrefix()))...)
	base := oauth2test.Now()
	tok := oauth2test.NewToken(base)
	next := oauth2test.Successor(tok, base.Add(time.Minute))
	mustCreate(ctx, t, s, tok)
	mustRotate(ctx, t, s, tok.Hash, next)

	onto := oauth2test.Successor(tok, base.Add(2*time.Minute))
	onto.Hash = next.Hash
	wantErr(t, "RotateRefreshToken(consumed, onto a taken hash)", s.RotateRefreshToken(ctx, tok.Hash, onto), store.ErrReused)
	wantErr(t, "RotateRefreshToken(unknown, onto a taken hash)", s.RotateRefreshToken(ctx, oauth2test.NewHash(), onto), store.ErrNotFound)
	wantToken(ctx, t, s, consumed(tok, next.IssuedAt))
	wantToken(ctx, t, s, next)
}

// testExpiredSuccessor checks a rotation onto a successor that has expired
// already (the zero time included, which the contract calls past): the old
// token is consumed, as the caller asked, and nothing is stored for the
// successor, which could never be returned.
func testExpiredSuccessor(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	ctx := t.Context()
	prefix := newPrefix()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(prefix))...)
	base := oauth2test.Now()
	for _, exp := range []time.Time{base.Add(-time.Second), {}} {
		tok := oauth2test.NewToken(base)
		mustCreate(ctx, t, s, tok)
		next := oauth2test.Successor(tok, base.Add(time.Minute))
		next.ExpiresAt = exp
		mustRotate(ctx, t, s, tok.Hash, next)
		wantToken(ctx, t, s, consumed(tok, next.IssuedAt))
		wantNotFound(ctx, t, s, next.Hash)
		for _, key := range []string{prefix + "rti:" + hexOf(next.Hash), prefix + "{rt:" + next.GrantID + "}:" + hexOf(next.Hash)} {
			if n, err := client.Exists(ctx, key).Result(); n != 0 || err != nil {
				t.Errorf("EXISTS %s after rotating onto a successor expiring at %v = %d, %v, want 0, nil", key, exp, n, err)
			}
		}
	}
}

// sendTwice is a go-redis hook that sends every command a second time once
// the first has run, as go-redis itself does when the connection breaks
// after Redis ran a command but before its reply arrived: the caller sees
// the second reply only.
type sendTwice struct{}

func (sendTwice) DialHook(next redis.DialHook) redis.DialHook { return next }

func (sendTwice) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		_ = next(ctx, cmd) // the reply that was lost
		return next(ctx, cmd)
	}
}

func (sendTwice) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// testResentCommands checks that every write survives being run twice: a
// rotation resent after it succeeded must not report its own consumption as
// reuse, a create its own record as taken, a key swap its own version as
// a conflict, nor a failure count itself twice, nor a session its own
// creation as an existing session. A resent revocation is
// announced twice, the same both times, which a watcher's caller takes as
// one.
func testResentCommands(t *testing.T, url string, opts []redisstore.Option) {
	ctx := t.Context()
	client := newClient(t, url)
	client.AddHook(sendTwice{})
	prefix := newPrefix()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(prefix))...)
	// The watcher's own commands go once, on a client of its own.
	rec, _ := startWatch(ctx, t, redisstore.New(newClient(t, url), redisstore.WithKeyPrefix(prefix)))

	base := oauth2test.Now()
	tok := oauth2test.NewToken(base)
	next := oauth2test.Successor(tok, base.Add(time.Minute))
	mustCreate(ctx, t, s, tok)
	mustRotate(ctx, t, s, tok.Hash, next)
	wantToken(ctx, t, s, consumed(tok, next.IssuedAt))
	wantToken(ctx, t, s, next)
	wantErr(t, "RotateRefreshToken(consumed)", s.RotateRefreshToken(ctx, tok.Hash, oauth2test.Successor(tok, base)), store.ErrReused)
	wantErr(t, "CreateRefreshToken(existing)", s.CreateRefreshToken(ctx, next), store.ErrAlreadyExists)
	if err := s.RevokeGrant(ctx, tok.GrantID, base.Add(time.Hour)); err != nil {
		t.Errorf("RevokeGrant() = %v, want nil", err)
	}
	rec.waitFor(ctx, t, store.Revocation{GrantID: tok.GrantID, ExpiresAt: base.Add(time.Hour)})
	v, err := s.SwapKeySet(ctx, 0, nil)
	if err != nil {
		t.Fatalf("SwapKeySet(0) = %v, want nil", err)
	}
	if _, err := s.SwapKeySet(ctx, v, nil); err != nil {
		t.Errorf("SwapKeySet(%d) = %v, want nil", v, err)
	}
	if _, err := s.SwapKeySet(ctx, v, nil); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SwapKeySet(stale %d) = %v, want error matching %v", v, err, store.ErrConflict)
	}
	key := oauth2test.NewID("attempt")
	for want := 1; want <= 2; want++ {
		if got, err := s.AddFailure(ctx, key, base.Add(time.Hour)); got.Failures != want || err != nil {
			t.Errorf("AddFailure() call %d = %+v, %v, want Failures %d", want, got, err, want)
		}
	}
	sess := oauth2test.NewSession(oauth2test.NewID("subject"), base)
	mustCreateSession(ctx, t, s, sess)
	wantErr(t, "CreateSession(existing)", s.CreateSession(ctx, sess), store.ErrAlreadyExists)
	touched := sess
	touched.RefreshedAt, touched.ExpiresAt = base.Add(time.Minute), base.Add(2*time.Hour)
	if err := s.TouchSession(ctx, sess.Subject, sess.GrantID, touched.RefreshedAt, touched.ExpiresAt); err != nil {
		t.Errorf("TouchSession() = %v, want nil", err)
	}
	wantSessions(ctx, t, s, sess.Subject, touched)
	if err := s.DeleteSession(ctx, sess.Subject, sess.GrantID); err != nil {
		t.Errorf("DeleteSession() = %v, want nil", err)
	}
	wantSessions(ctx, t, s, sess.Subject)
}

// testAttemptsExpireByOwnClock checks that the application's clock ends an
// attempt record, as package store's Expiry rule asks, even while Redis
// still holds it: the key's TTL is removed, as a Redis clock running behind
// would leave it, and the record must still be gone at its expiry.
func testAttemptsExpireByOwnClock(t *testing.T, client *redis.Client) {
	t.Parallel() // to overlap its wait with the suite's
	ctx := t.Context()
	prefix := newPrefix()
	s := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
	key := oauth2test.NewID("attempt")
	exp := oauth2test.Now().Add(500 * time.Millisecond)
	for range 2 {
		if _, err := s.AddFailure(ctx, key, exp); err != nil {
			t.Fatalf("AddFailure() = %v, want nil", err)
		}
	}
	if err := client.Persist(ctx, prefix+"att:"+key).Err(); err != nil {
		t.Fatalf("PERSIST error = %v", err)
	}
	select {
	case <-time.After(time.Until(exp)):
	case <-ctx.Done():
		t.Fatalf("waiting for the record to expire: %v", ctx.Err())
	}
	if n, err := client.Exists(ctx, prefix+"att:"+key).Result(); n != 1 || err != nil {
		t.Fatalf("EXISTS after the expiry = %d, %v, want the key still there (1, nil)", n, err)
	}
	got, err := s.GetAttempts(ctx, key)
	if err != nil || len(got) != 1 || got[0] != (store.Attempts{}) {
		t.Errorf("GetAttempts() after the expiry = %+v, %v, want one zero record", got, err)
	}
	if got, err := s.AddFailure(ctx, key, oauth2test.Now().Add(time.Hour)); got.Failures != 1 || err != nil {
		t.Errorf("AddFailure() after the expiry = %+v, %v, want Failures 1 (a new record)", got, err)
	}
}

// testExpiredHashIsFree checks that a token's keys all go with it: once it
// has expired, its hash can be stored again, by a create or a rotation, as
// the contract requires. An index entry outliving its record would refuse
// both with ErrAlreadyExists.
func testExpiredHashIsFree(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	t.Parallel() // to overlap its wait with the suite's
	ctx := t.Context()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(newPrefix()))...)
	base := oauth2test.Now()
	const ttl, margin = 500 * time.Millisecond, 250 * time.Millisecond

	tests := []struct {
		name  string
		store func(tok store.RefreshToken) error
	}{
		{"create", func(tok store.RefreshToken) error { return s.CreateRefreshToken(ctx, tok) }},
		{"rotate", func(tok store.RefreshToken) error {
			old := oauth2test.NewToken(oauth2test.Now())
			old.GrantID = tok.GrantID
			if err := s.CreateRefreshToken(ctx, old); err != nil {
				return err
			}
			return s.RotateRefreshToken(ctx, old.Hash, tok)
		}},
	}
	var expiring []store.RefreshToken
	for range tests {
		tok := oauth2test.NewToken(base)
		tok.ExpiresAt = base.Add(ttl)
		mustCreate(ctx, t, s, tok)
		expiring = append(expiring, tok)
	}
	select {
	case <-time.After(time.Until(base.Add(ttl + margin))):
	case <-ctx.Done():
		t.Fatalf("waiting for tokens to expire: %v", ctx.Err())
	}
	for i, tt := range tests {
		tok := oauth2test.NewToken(oauth2test.Now())
		tok.Hash = expiring[i].Hash
		if err := tt.store(tok); err != nil {
			t.Errorf("%s onto an expired token's hash = %v, want nil", tt.name, err)
			continue
		}
		wantToken(ctx, t, s, tok)
	}
}

// testSuccessorKeyAsGiven checks what the suite, which compares bytes only,
// does not: a nil SuccessorKey comes back nil and an empty one empty, through
// a create and a rotation alike, as do bytes that are not text.
func testSuccessorKeyAsGiven(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	ctx := t.Context()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(newPrefix()))...)
	tests := []struct {
		name string
		key  []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"binary", []byte{0, 0xff, '\r', '\n', 0xc3}},
	}
	for _, tt := range tests {
		base := oauth2test.Now()
		tok := oauth2test.NewToken(base)
		tok.SuccessorKey = tt.key
		next := oauth2test.Successor(tok, base.Add(time.Minute))
		mustCreate(ctx, t, s, tok)
		wantToken(ctx, t, s, tok)
		mustRotate(ctx, t, s, tok.Hash, next)
		wantToken(ctx, t, s, consumed(tok, next.IssuedAt))
		wantToken(ctx, t, s, next)
	}
}

// testRecordWithoutSuccessorKey checks that a record written before records
// had a successor_key field, by HSET of the fields of then, reads back with
// a nil SuccessorKey rather than failing, and can still be rotated: the
// grant's tokens live on across an upgrade. The field names are spelled out,
// as they are what is stored, not what the package calls them now.
func testRecordWithoutSuccessorKey(t *testing.T, client *redis.Client, opts []redisstore.Option) {
	ctx := t.Context()
	prefix := newPrefix()
	s := redisstore.New(client, append(opts, redisstore.WithKeyPrefix(prefix))...)
	base := oauth2test.Now()
	old := oauth2test.NewToken(base)
	old.SuccessorKey = nil

	const call = "before-successor-key"
	index := prefix + "rti:" + hexOf(old.Hash)
	record := prefix + "{rt:" + old.GrantID + "}:" + hexOf(old.Hash)
	if err := client.Set(ctx, index, call+":"+old.GrantID, 0).Err(); err != nil {
		t.Fatalf("SET %s error = %v", index, err)
	}
	if err := client.HSet(ctx, record,
		"client_id", old.ClientID,
		"subject", old.Subject,
		"scope", `["openid","profile"]`,
		"issued_at", old.IssuedAt.UnixMicro(),
		"expires_at", old.ExpiresAt.UnixMicro(),
		"grant_expires_at", old.GrantExpiresAt.UnixMicro(),
		"call", call,
	).Err(); err != nil {
		t.Fatalf("HSET %s error = %v", record, err)
	}
	for _, key := range []string{index, record} {
		if err := client.PExpireAt(ctx, key, old.ExpiresAt).Err(); err != nil {
			t.Fatalf("PEXPIREAT %s error = %v", key, err)
		}
	}

	got, err := s.GetRefreshToken(ctx, old.Hash)
	if err != nil {
		t.Fatalf("GetRefreshToken(record without successor_key) = %v, want nil", err)
	}
	if got.SuccessorKey != nil {
		t.Errorf("GetRefreshToken(record without successor_key).SuccessorKey = %x, want nil", got.SuccessorKey)
	}
	wantToken(ctx, t, s, old)

	next := oauth2test.Successor(old, base.Add(time.Minute))
	next.SuccessorKey = oauth2test.NewHash()
	mustRotate(ctx, t, s, old.Hash, next)
	wantToken(ctx, t, s, consumed(old, next.IssuedAt))
	wantToken(ctx, t, s, next)
}
