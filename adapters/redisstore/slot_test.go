package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A single Redis runs a script whose keys lie in different Cluster slots
// without complaint; Cluster rejects it with CROSSSLOT. So that a key layout
// mistake shows in these tests and not in production, slotChecker watches
// every command a client sends and records each multi-key one whose keys do
// not share a slot, computing slots as Redis Cluster does.

// slotChecker is a go-redis hook; add it with client.AddHook.
type slotChecker struct {
	mu         sync.Mutex
	scripts    int // script calls checked
	violations []string
}

func (c *slotChecker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *slotChecker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.check(cmd.Args())
		return next(ctx, cmd)
	}
}

func (c *slotChecker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.check(cmd.Args())
		}
		return next(ctx, cmds)
	}
}

func (c *slotChecker) check(args []any) {
	keys, script := commandKeys(args)
	c.mu.Lock()
	defer c.mu.Unlock()
	if script {
		c.scripts++
	}
	for _, key := range keys[min(1, len(keys)):] {
		if slot(key) != slot(keys[0]) {
			c.violations = append(c.violations, fmt.Sprintf("%q: key %q is in slot %d, key %q in slot %d",
				args[0], keys[0], slot(keys[0]), key, slot(key)))
			return
		}
	}
}

// report fails t if any command crossed slots, and returns how many script
// calls were checked.
func (c *slotChecker) report(t testing.TB) (scripts int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.violations {
		t.Errorf("command spans Cluster slots: %s", v)
	}
	return c.scripts
}

// commandKeys returns the keys of a command that can take several (a
// script, or a variadic key command), and whether it is a script call.
func commandKeys(args []any) (keys []string, script bool) {
	if len(args) == 0 {
		return nil, false
	}
	strs := make([]string, len(args))
	for i, a := range args {
		strs[i] = fmt.Sprint(a)
	}
	switch strings.ToLower(strs[0]) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
		if len(strs) < 3 {
			return nil, true
		}
		n, err := strconv.Atoi(strs[2])
		if err != nil || n < 0 || 3+n > len(strs) {
			return nil, true
		}
		return strs[3 : 3+n], true
	case "exists", "del", "unlink", "touch", "mget", "watch", "sinter", "sunion", "sdiff":
		return strs[1:], false
	}
	return nil, false
}

// slot is the Redis Cluster hash slot of key: CRC16 of its hash tag (the
// text between the first "{" and the next "}", if not empty) or else of the
// whole key, modulo 16384.
func slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16([]byte(key)) % 16384)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum
// Redis Cluster uses.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// The wanted slots are what CLUSTER KEYSLOT answered on a Redis 7.0 Cluster
// node, covering each rule for hash tags.
func TestSlot(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"123456789", 12739},
		{"foo", 12182},
		{"somekey", 11058},
		{"", 0},
		{"foo{hash_tag}", 2515},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363},    // empty tag: the whole key
		{"foo{{bar}}zap", 4015}, // the tag is "{bar"
		{"foo{bar}{zap}", 5061}, // the first tag only
		{"oauth2kit:{rt:grant-1}:00ff", 7960},
	}
	for _, tt := range tests {
		if got := slot(tt.key); got != tt.want {
			t.Errorf("slot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

// The checker must flag what Cluster would reject, or it checks nothing.
func TestSlotCheckerFlagsCrossSlot(t *testing.T) {
	tests := []struct {
		name string
		args []any
		want bool // a violation
	}{
		{"script, one tag", []any{"evalsha", "sha", 2, "a{g}:1", "b{g}:2", "arg"}, false},
		{"script, two slots", []any{"evalsha", "sha", 2, "a{g}:1", "a{h}:1", "arg"}, true},
		{"eval fallback, two slots", []any{"eval", "src", "2", "foo", "bar"}, true},
		{"keys among args are not keys", []any{"evalsha", "sha", 1, "foo", "bar"}, false},
		{"exists, two slots", []any{"exists", "foo", "bar"}, true},
		{"single-key command", []any{"get", "foo"}, false},
	}
	for _, tt := range tests {
		var c slotChecker
		c.check(tt.args)
		if got := len(c.violations) > 0; got != tt.want {
			t.Errorf("%s: check(%v) flagged = %v, want %v", tt.name, tt.args, got, tt.want)
		}
	}
}
