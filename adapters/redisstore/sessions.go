package redisstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/store"
)

var _ store.SessionStore = (*Store)(nil)

// A subject's sessions are one Redis hash, sessionsKey(subject), with a field
// per grant ID. One key rather than one per session because ListSessions,
// the call that matters to the owner, then is a single HGETALL: with a key
// per session the list would have to name every session's key, which only an
// index knows, costing a second round trip or a script reading keys it did
// not declare, which Redis does not support on Cluster. Every call touches
// this one key alone, so it needs no hash tag.
//
// Each field's value is
//
//	<expires_at>:<refreshed_at>:<created_at>:<call id>:<JSON {client_id, scope}>
//
// with the times in Unix microseconds as decimal text. The scripts read and
// rewrite the leading fields by position, without a JSON library, and never
// format a number: what they write back is text Go formatted. The JSON comes
// last as it may hold any character, ":" included.
//
// Like attempt records, sessions follow package store's Expiry rule: a
// session is live while the application's time.Now is before its
// expires_at, and the scripts, which read the values anyway, are given that
// time. Redis only removes the whole key, at the latest PXAT any of its
// sessions was given; a session that has expired before then stays in the
// hash, unlisted, until the next CreateSession of its subject prunes it. So
// the hash holds no more than the subject's live sessions and those expired
// since their last login.

// sessionData is the part of a session's value that the scripts never read.
type sessionData struct {
	ClientID string   `json:"client_id"`
	Scope    []string `json:"scope"`
}

// createSessionScript stores a session unless a live one of the grant is
// stored, pruning the expired sessions of its subject first, and keeps the
// key until at least the session's expiry. A session already expired is not
// stored: it could never be listed. A field holding this call's id was
// written by this very call, sent again by go-redis after a lost reply, and
// is not a conflict. Times are compared as Lua numbers, exact for
// microseconds up to the year 2255. HDEL goes field by field, as unpack
// fails beyond a few thousand values.
// KEYS[1]: the subject's sessions. ARGV[1]: grant ID; ARGV[2]: now (µs);
// ARGV[3]: expiry (µs); ARGV[4]: PXAT of the expiry; ARGV[5]: call id;
// ARGV[6]: the value. Returns 0, or 3 when a live session exists.
var createSessionScript = redis.NewScript(`#!lua
local now = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local dead = {}
for i = 1, #all, 2 do
	local exp, call = string.match(all[i+1], '^([^:]*):[^:]*:[^:]*:([^:]*):')
	if all[i] == ARGV[1] and call == ARGV[5] then return 0 end
	if tonumber(exp) > now then
		if all[i] == ARGV[1] then return 3 end
	else
		dead[#dead+1] = all[i]
	end
end
for _, f in ipairs(dead) do redis.call('HDEL', KEYS[1], f) end
if tonumber(ARGV[3]) <= now then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[6])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[4]) then
	redis.call('PEXPIREAT', KEYS[1], ARGV[4])
end
return 0
`)

// touchSessionScript moves a live session's expiry and refresh time to
// those given where they are later, and keeps the key until at least the
// new expiry. It writes only what changes; run twice it changes nothing
// more, so it needs no call id.
// KEYS[1]: the subject's sessions. ARGV[1]: grant ID; ARGV[2]: now (µs);
// ARGV[3]: refreshed at (µs); ARGV[4]: expiry (µs); ARGV[5]: PXAT of the
// expiry.
var touchSessionScript = redis.NewScript(`#!lua
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local exp, ref, rest = string.match(v, '^([^:]*):([^:]*):(.*)$')
if tonumber(exp) <= tonumber(ARGV[2]) then return 0 end
local later = tonumber(ARGV[4]) > tonumber(exp)
if later then exp = ARGV[4] end
local fresher = tonumber(ARGV[3]) > tonumber(ref)
if fresher then ref = ARGV[3] end
if not later and not fresher then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], exp .. ':' .. ref .. ':' .. rest)
if later and redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[5]) then
	redis.call('PEXPIREAT', KEYS[1], ARGV[5])
end
return 0
`)

// sessionsKey is where subject's sessions are.
func (s *Store) sessionsKey(subject string) string { return s.prefix + "ses:" + subject }

// CreateSession implements store.SessionStore in one script. A GrantID is
// looked for among subject's sessions only: grants of different subjects do
// not share ids (package oauth2 makes them random), and checking across
// subjects would take a key per grant, written and extended beside the
// subject's at every call, in another Cluster slot.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	const op = "create session"
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	id := rand.Text()
	res, err := s.run(ctx, createSessionScript, []string{s.sessionsKey(sess.Subject)},
		sess.GrantID, micros(time.Now()), micros(sess.ExpiresAt), pxat(sess.ExpiresAt), id, encodeSession(sess, id)).Int64()
	if err != nil {
		return fail(ctx, op, err)
	}
	if res != resultOK {
		return resultError(op, res)
	}
	return nil
}

// TouchSession implements store.SessionStore in one script. Another
// subject's grant is not in subject's hash, so it is never touched.
func (s *Store) TouchSession(ctx context.Context, subject, grantID string, at, expiresAt time.Time) error {
	const op = "touch session"
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	err := s.run(ctx, touchSessionScript, []string{s.sessionsKey(subject)},
		grantID, micros(time.Now()), micros(at), micros(expiresAt), pxat(expiresAt)).Err()
	if err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// ListSessions implements store.SessionStore with one HGETALL. Sessions that
// have expired by the application's clock but are still stored are left
// out; pruning them is CreateSession's part, so that a read never writes.
func (s *Store) ListSessions(ctx context.Context, subject string) ([]store.Session, error) {
	const op = "list sessions"
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, op, err)
	}
	fields, err := s.client.HGetAll(ctx, s.sessionsKey(subject)).Result()
	if err != nil {
		return nil, fail(ctx, op, err)
	}
	now := time.Now()
	var out []store.Session
	for grantID, value := range fields {
		sess, err := decodeSession(subject, grantID, value)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		if now.Before(sess.ExpiresAt) {
			out = append(out, sess)
		}
	}
	slices.SortFunc(out, func(a, b store.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.GrantID, b.GrantID))
	})
	return out, nil
}

// DeleteSession implements store.SessionStore with one HDEL, which only
// ever finds subject's own sessions. Redis deletes the key with its last
// field; otherwise the key keeps its expiry, which is then later than it
// needs to be, never earlier.
func (s *Store) DeleteSession(ctx context.Context, subject, grantID string) error {
	const op = "delete session"
	if err := ctx.Err(); err != nil {
		return fail(ctx, op, err)
	}
	if err := s.client.HDel(ctx, s.sessionsKey(subject), grantID).Err(); err != nil {
		return fail(ctx, op, err)
	}
	return nil
}

// encodeSession returns the value of sess's field, written by call id.
func encodeSession(sess store.Session, id string) string {
	// Strings always encode, and JSON keeps order and the characters
	// OAuth allows in client IDs and scopes.
	data, _ := json.Marshal(sessionData{ClientID: sess.ClientID, Scope: sess.Scope})
	var b strings.Builder
	for _, us := range []int64{micros(sess.ExpiresAt), micros(sess.RefreshedAt), micros(sess.CreatedAt)} {
		b.WriteString(strconv.FormatInt(us, 10))
		b.WriteByte(':')
	}
	b.WriteString(id)
	b.WriteByte(':')
	b.Write(data)
	return b.String()
}

// decodeSession reads the value of grantID's field in subject's hash.
func decodeSession(subject, grantID, value string) (store.Session, error) {
	parts := strings.SplitN(value, ":", 5)
	if len(parts) != 5 {
		return store.Session{}, fmt.Errorf("malformed session %q: %d parts, want 5", grantID, len(parts))
	}
	var times [3]time.Time
	for i := range times {
		us, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil {
			return store.Session{}, fmt.Errorf("malformed session %q: %w", grantID, err)
		}
		times[i] = time.UnixMicro(us)
	}
	var data sessionData
	if err := json.Unmarshal([]byte(parts[4]), &data); err != nil {
		return store.Session{}, fmt.Errorf("malformed session %q: %w", grantID, err)
	}
	return store.Session{
		GrantID:     grantID,
		Subject:     subject,
		ClientID:    data.ClientID,
		Scope:       data.Scope,
		CreatedAt:   times[2],
		RefreshedAt: times[1],
		ExpiresAt:   times[0],
	}, nil
}
