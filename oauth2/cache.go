package oauth2

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// tokenCache holds the claims of tokens whose signature, issuer and
// audience were verified, so that a token presented again skips parsing
// and signature verification. It is keyed by the whole token (Go's map
// hashes it; equality is exact, so no collision can substitute one token for
// another), bounded in entries, and split into shards so that concurrent
// hits do not contend on one lock. Eviction is CLOCK (second chance): a hit
// only sets a flag, and inserting into a full shard evicts the first entry
// not used since the hand last passed, or any expired one.
//
// What the cache skips is exactly what cannot change for a given token
// string: its signature and signed claims. Expiry, not-before and
// revocation are checked on every hit, and so is that the key which
// verified the signature is still the one its kid resolves to. The cached
// claims are never handed out, only copies of them.
type tokenCache struct {
	seed   maphash.Seed
	shards []cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu      sync.RWMutex
	entries map[string]*cacheEntry
	ring    []*cacheEntry // insertion ring the CLOCK hand walks
	hand    int
	limit   int
}

type cacheEntry struct {
	raw   string
	token atomic.Pointer[verifiedToken] // replaced, never modified
	used  atomic.Bool
}

func newTokenCache(size int) *tokenCache {
	per := max(1, size/cacheShards)
	c := &tokenCache{seed: maphash.MakeSeed(), shards: make([]cacheShard, cacheShards)}
	for i := range c.shards {
		c.shards[i] = cacheShard{entries: make(map[string]*cacheEntry, per), limit: per}
	}
	return c
}

func (c *tokenCache) shard(raw string) *cacheShard {
	return &c.shards[maphash.String(c.seed, raw)%cacheShards]
}

// get returns what is cached of raw, if anything.
func (c *tokenCache) get(raw string) *verifiedToken {
	s := c.shard(raw)
	s.mu.RLock()
	e := s.entries[raw]
	s.mu.RUnlock()
	if e == nil {
		return nil
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	return e.token.Load()
}

// put caches t for raw, replacing what was cached for it (verified with a
// key since replaced) or evicting an old entry if the shard is full.
func (c *tokenCache) put(raw string, t *verifiedToken, now time.Time) {
	s := c.shard(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[raw]; ok {
		e.token.Store(t)
		return
	}
	e := &cacheEntry{raw: raw}
	e.token.Store(t)
	if len(s.ring) < s.limit {
		s.ring = append(s.ring, e)
		s.entries[raw] = e
		return
	}
	// Walk at most two laps: the first clears the flags it passes.
	for range 2 * len(s.ring) {
		victim := s.ring[s.hand]
		if victim.used.Load() && now.Before(victim.token.Load().claims.ExpiresAt) {
			victim.used.Store(false)
			s.hand = (s.hand + 1) % len(s.ring)
			continue
		}
		break
	}
	delete(s.entries, s.ring[s.hand].raw)
	s.ring[s.hand] = e
	s.entries[raw] = e
	s.hand = (s.hand + 1) % len(s.ring)
}

// len reports the number of cached tokens.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
