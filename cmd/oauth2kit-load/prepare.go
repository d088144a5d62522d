package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// preparedTokens are the tokens obtained before the run, each from its own
// password grant, so that the mixes never disturb each other: revoking a
// grant kills its access tokens, which must not be the ones /api/me uses.
type preparedTokens struct {
	access  []string // for me
	refresh []string // seeds of the refresh chains
	revoke  []string // one per revocation
}

// poolSizes is how many tokens each mix of cfg needs.
type poolSizes struct {
	access, refresh, revoke int
}

func (s poolSizes) total() int { return s.access + s.refresh + s.revoke }

// minRefreshSeeds is the least number of refresh chains without -pool.
// The chains bound the refreshes in flight, so they must outnumber what
// the server serves at once; each costs a password grant.
const minRefreshSeeds = 16

// sizesFor sizes the pools. The refresh chains need only cover the
// refreshes in flight, since they refill themselves: twice the workers
// that start the run. Revocations consume their tokens, so their pool
// covers the whole run, from the rate with 10% and a token per worker to
// spare for a pacer catching up; unpaced, parseFlags demands -pool.
func sizesFor(cfg config) poolSizes {
	var s poolSizes
	total := 0
	for _, m := range cfg.mix {
		total += m.weight
	}
	concurrency := int(min(cfg.workers, 1<<16))
	if cfg.rate.Freq == 0 && cfg.maxWorkers > cfg.workers {
		concurrency = int(min(cfg.maxWorkers, 1<<16))
	}
	for _, m := range cfg.mix {
		switch m.name {
		case mixMe:
			s.access = cfg.accessTokens
		case mixRefresh:
			s.refresh = cfg.pool
			if s.refresh == 0 {
				s.refresh = max(minRefreshSeeds, 2*concurrency)
			}
		case mixRevoke:
			s.revoke = cfg.pool
			if s.revoke == 0 {
				perSec := perSecond(cfg.rate) * float64(m.weight) / float64(total)
				need := perSec * cfg.duration.Seconds() * 1.1
				s.revoke = int(math.Ceil(need-1e-9)) + int(min(cfg.workers, 1<<16)) // 1e-9: float noise must not add a grant
			}
		}
	}
	return s
}

// prepareParallelism is how many password grants are prepared at once.
// The demo server checks at most four passwords at once and answers 503
// past that; more would only queue.
const prepareParallelism = 4

// prepare obtains the tokens sizes asks for with password grants, through
// a plain client outside the measurement. It retries a 503 or 429, which a
// server shedding password checks answers, and fails on anything else:
// without its tokens a mix cannot run. done, if not nil, is called after
// each grant obtained.
func prepare(ctx context.Context, cfg config, sizes poolSizes, done func()) (preparedTokens, error) {
	n := sizes.total()
	if n == 0 {
		return preparedTokens{}, nil
	}
	hc := &http.Client{
		Timeout:       cfg.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	type grant struct{ access, refresh string }
	grants := make([]grant, n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(prepareParallelism, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				access, refresh, err := passwordGrant(ctx, hc, cfg)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				grants[i] = grant{access, refresh}
				if done != nil {
					done()
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return preparedTokens{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return preparedTokens{}, err
	}
	var p preparedTokens
	for i, g := range grants {
		switch {
		case i < sizes.access:
			p.access = append(p.access, g.access)
		case i < sizes.access+sizes.refresh:
			p.refresh = append(p.refresh, g.refresh)
		default:
			p.revoke = append(p.revoke, g.refresh)
		}
	}
	return p, nil
}

// passwordGrant runs one password grant, retrying while the server sheds
// load, and returns its tokens.
func passwordGrant(ctx context.Context, hc *http.Client, cfg config) (access, refresh string, err error) {
	body := client{cfg.clientID, cfg.clientSecret}.form(passwordForm(cfg.username, cfg.password))
	code, h, b, err := postToken(ctx, hc, cfg, body, http.StatusServiceUnavailable, http.StatusTooManyRequests)
	if err != nil {
		return "", "", fmt.Errorf("password grant for %s: %w", cfg.username, err)
	}
	if code != http.StatusOK {
		return "", "", fmt.Errorf("password grant for %s: %s", cfg.username, describeResponse(code, h, b))
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
		return "", "", fmt.Errorf("password grant for %s: 200 OK without an access_token and a refresh_token", cfg.username)
	}
	return tok.AccessToken, tok.RefreshToken, nil
}

// postToken posts body to the token endpoint as the client of cfg and
// returns the answer. It retries, backing off, while the answer is one of
// the retry statuses, up to 20 attempts: the last answer is returned
// whatever its status.
func postToken(ctx context.Context, hc *http.Client, cfg config, body []byte, retry ...int) (code int, h http.Header, b []byte, err error) {
	header := client{cfg.clientID, cfg.clientSecret}.header()
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.baseURL+tokenPath, bytes.NewReader(body))
		if err != nil {
			return 0, nil, nil, err
		}
		req.Header = header.Clone()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return 0, nil, nil, fmt.Errorf("reading the response: %w", err)
		}
		if !slices.Contains(retry, resp.StatusCode) || attempt == 20 {
			return resp.StatusCode, resp.Header, b, nil
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return 0, nil, nil, ctx.Err()
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
