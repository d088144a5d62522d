package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errStopped ends a wait for a token when the run is interrupted.
var errStopped = errors.New("stopped")

// errNoToken ends a wait for a token that lasted the whole -timeout.
var errNoToken = errors.New("no token came back in time")

// tokenPool hands out refresh tokens, each once: rotation makes a refresh
// token good for one use, and presenting it twice would revoke its whole
// grant. vegeta calls targeters from many workers at once, so every method
// is safe for concurrent use.
//
// A chained pool is fed by responses: each token taken is in flight until
// settle is called with its result, and a successful refresh puts the
// successor token back (or putBack the same token, when the server said it
// did nothing with it). Its size bounds how many refreshes are in flight;
// a take beyond that waits for a response, for up to maxWait. The wait
// counts in the request's latency, as vegeta starts the clock before
// asking for a target, which is right: the request was due. A chain ends
// when its refresh fails in a way that may have consumed the token; the
// pool is exhausted when every chain has ended.
//
// A pool that is not chained (for revocations) only shrinks.
type tokenPool struct {
	name    string
	chained bool
	stop    <-chan struct{}
	maxWait time.Duration

	mu       sync.Mutex
	tokens   []string
	inFlight map[uint64]string // by flight id, for chained pools
	lastID   uint64
	wake     chan struct{} // closed and replaced on every settle
	prepared int

	waits atomic.Uint64 // takes that had to wait
}

func newTokenPool(name string, chained bool, tokens []string, maxWait time.Duration, stop <-chan struct{}) *tokenPool {
	return &tokenPool{
		name:     name,
		chained:  chained,
		stop:     stop,
		maxWait:  maxWait,
		tokens:   tokens,
		inFlight: map[uint64]string{},
		wake:     make(chan struct{}),
		prepared: len(tokens),
	}
}

// exhaustedError says a pool ran dry, which ends the run early: the mix
// could no longer be sent as asked.
type exhaustedError struct {
	pool     string
	prepared int
	chained  bool
}

func (e *exhaustedError) Error() string {
	if e.chained {
		return fmt.Sprintf("%s pool exhausted: every one of the %d refresh-token chains ended in a failed request", e.pool, e.prepared)
	}
	return fmt.Sprintf("%s pool exhausted: all %d prepared refresh tokens were used; raise -pool", e.pool, e.prepared)
}

// take returns an unused token and, from a chained pool, the id of its
// flight, which settle or putBack must end.
func (p *tokenPool) take() (id uint64, token string, err error) {
	waited := false
	var timeout <-chan time.Time
	for {
		p.mu.Lock()
		if n := len(p.tokens); n > 0 {
			tok := p.tokens[n-1]
			p.tokens = p.tokens[:n-1]
			if p.chained {
				p.lastID++
				id = p.lastID
				p.inFlight[id] = tok
			}
			p.mu.Unlock()
			return id, tok, nil
		}
		if !p.chained || len(p.inFlight) == 0 {
			p.mu.Unlock()
			return 0, "", &exhaustedError{pool: p.name, prepared: p.prepared, chained: p.chained}
		}
		wake := p.wake
		p.mu.Unlock()
		if !waited {
			waited = true
			p.waits.Add(1)
			t := time.NewTimer(p.maxWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-wake:
		case <-timeout:
			return 0, "", errNoToken
		case <-p.stop:
			return 0, "", errStopped
		}
	}
}

// settle ends flight id with next, the successor of its token, or "" if
// the chain ended: the request failed in a way that may have consumed
// the token, and presenting it again could look like reuse.
func (p *tokenPool) settle(id uint64, next string) { p.land(id, next, false) }

// putBack ends flight id with its token unused, for another request: the
// server answered that it did nothing with it.
func (p *tokenPool) putBack(id uint64) { p.land(id, "", true) }

func (p *tokenPool) land(id uint64, next string, same bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tok, ok := p.inFlight[id]
	if !ok {
		return
	}
	delete(p.inFlight, id)
	if same {
		next = tok
	}
	if next != "" {
		p.tokens = append(p.tokens, next)
	}
	close(p.wake)
	p.wake = make(chan struct{})
}

// cycle hands out access tokens round-robin: unlike refresh tokens they
// stay good for their whole lifetime.
type cycle[T any] struct {
	items []T
	next  atomic.Uint64
}

func (c *cycle[T]) get() T {
	i := c.next.Add(1) - 1
	return c.items[i%uint64(len(c.items))]
}
