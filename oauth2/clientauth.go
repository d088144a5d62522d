package oauth2

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultClientAuthCacheTTL is how long a verified client secret is
// remembered by default.
const DefaultClientAuthCacheTTL = 5 * time.Minute

// clientAuthCacheSize bounds the remembered verifications: one per live
// client secret is all a server needs.
const clientAuthCacheSize = 1024

// clientAuthCache remembers client secrets that verified, so that a client
// refreshing every few minutes does not pay a deliberately slow password
// hash each time. Nothing about a secret is kept but an HMAC of it under a
// key that lives only in this process; failed attempts are never remembered,
// so guessing gains nothing from the cache; and an entry counts only for the
// SecretHash it was verified against, so changing a client's secret ends it.
type clientAuthCache struct {
	key []byte
	ttl time.Duration

	mu      sync.Mutex
	entries map[[sha256.Size]byte]clientAuthEntry
}

type clientAuthEntry struct {
	secretHash string
	until      time.Time
}

func newClientAuthCache(ttl time.Duration) *clientAuthCache {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand does not fail on supported platforms
	return &clientAuthCache{key: key, ttl: ttl, entries: make(map[[sha256.Size]byte]clientAuthEntry)}
}

func (c *clientAuthCache) mac(clientID, secret string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(clientID))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// verified reports whether secret was verified for the client with this
// SecretHash within the TTL.
func (c *clientAuthCache) verified(cl *Client, secret string, now time.Time) bool {
	k := c.mac(cl.ID, secret)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return ok && e.secretHash == cl.SecretHash && now.Before(e.until)
}

// remember records a successful verification.
func (c *clientAuthCache) remember(cl *Client, secret string, now time.Time) {
	k := c.mac(cl.ID, secret)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= clientAuthCacheSize {
		for key, e := range c.entries { // drop the expired, or failing that any one
			if !now.Before(e.until) || len(c.entries) >= clientAuthCacheSize {
				delete(c.entries, key)
			}
			if len(c.entries) < clientAuthCacheSize/2 {
				break
			}
		}
	}
	c.entries[k] = clientAuthEntry{secretHash: cl.SecretHash, until: now.Add(c.ttl)}
}
