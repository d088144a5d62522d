package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The server's endpoints, relative to -url.
const (
	tokenPath  = "/oauth2/token"
	revokePath = "/oauth2/revoke"
	mePath     = "/api/me"
	pingPath   = "/api/ping"
)

// mix is one kind of request: how to build its target and how to judge
// its result.
type mix struct {
	name   string
	weight int
	expect uint16 // the status of a success
	// url is the endpoint tagged with "#name", to which refresh targets
	// add "/flight" (see tagOf). vegeta's results carry the target's URL
	// but not its body, and password and refresh grants share an
	// endpoint; the fragment tells them apart, and net/http never sends a
	// fragment, so the server sees the plain endpoint.
	url    string
	target func(*vegeta.Target) error
	// after, if set, sees every result of the mix, ok saying whether its
	// status was the expected one; a problem it returns makes the result a
	// failure with that message.
	after func(res *vegeta.Result, ok bool) (problem string)
	pool  *tokenPool // nil for mixes without one
}

// noTokenMethod is the method of a request that cannot be made, since no
// token came back in time. vegeta stops the whole attack when a targeter
// fails, so such a request is a target that fails at once, before any
// traffic: net/http refuses a method with a space.
const noTokenMethod = "NO TOKEN"

// tagOf parses the tag of a result's URL: the name of the mix that built
// its target and, for a chained pool, the id of the token's flight.
func tagOf(taggedURL string) (name string, flight uint64) {
	_, tag, _ := strings.Cut(taggedURL, "#")
	name, id, _ := strings.Cut(tag, "/")
	flight, _ = strconv.ParseUint(id, 10, 64)
	return name, flight
}

// untag strips the mix tag from a URL, for messages.
func untag(taggedURL string) string {
	u, _, _ := strings.Cut(taggedURL, "#")
	return u
}

// client holds what every request to the token and revocation endpoints
// carries to authenticate the client.
type client struct {
	id, secret string
}

// header returns the headers of a form POST by the client: HTTP Basic
// (client_secret_basic, with the form-encoding of RFC 6749 §2.3.1) for a
// confidential client.
func (c client) header() http.Header {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if c.secret != "" {
		cred := url.QueryEscape(c.id) + ":" + url.QueryEscape(c.secret)
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	return h
}

// form adds client_id to a public client's request body.
func (c client) form(v url.Values) []byte {
	if c.secret == "" {
		v.Set("client_id", c.id)
	}
	return []byte(v.Encode())
}

// passwordForm is the body of a password grant. It asks for scope profile
// explicitly, since /api/me requires it whatever the client's defaults.
func passwordForm(username, password string) url.Values {
	return url.Values{
		"grant_type": {"password"},
		"username":   {username},
		"password":   {password},
		"scope":      {"profile"},
	}
}

// buildMixes makes the mixes of cfg from the tokens prepared for them.
func buildMixes(cfg config, p preparedTokens, stop <-chan struct{}) []*mix {
	c := client{cfg.clientID, cfg.clientSecret}
	formHeader := c.header()
	var mixes []*mix
	for _, mw := range cfg.mix {
		m := &mix{name: mw.name, weight: mw.weight, expect: http.StatusOK}
		switch mw.name {
		case mixPassword:
			m.url = cfg.baseURL + tokenPath + "#" + m.name
			body := c.form(passwordForm(cfg.username, cfg.password))
			m.target = func(t *vegeta.Target) error {
				*t = vegeta.Target{Method: http.MethodPost, URL: m.url, Body: body, Header: formHeader}
				return nil
			}
		case mixThrottled:
			// The same request as password's, but for a username throttled
			// before the run: the server must answer 429 slow_down from
			// its attempt counts alone.
			m.url = cfg.baseURL + tokenPath + "#" + m.name
			m.expect = http.StatusTooManyRequests
			body := c.form(passwordForm(throttledUsername, throttledPassword))
			m.target = func(t *vegeta.Target) error {
				*t = vegeta.Target{Method: http.MethodPost, URL: m.url, Body: body, Header: formHeader}
				return nil
			}
			m.after = func(res *vegeta.Result, ok bool) string {
				switch {
				case ok && oauthError(res.Body) != "slow_down":
					return describeResponse(int(res.Code), res.Headers, res.Body) + ", want error slow_down"
				case res.Code == http.StatusBadRequest:
					return describeResponse(int(res.Code), res.Headers, res.Body) + ": the throttle let a password check through"
				case res.Code == http.StatusOK: // not the body: it holds tokens
					return "200 OK: a token was issued for " + throttledUsername
				}
				return ""
			}
		case mixRefresh:
			m.url = cfg.baseURL + tokenPath + "#" + m.name
			m.pool = newTokenPool(m.name, true, p.refresh, cfg.timeout, stop)
			m.target = func(t *vegeta.Target) error {
				flight, tok, err := m.pool.take()
				if errors.Is(err, errNoToken) {
					*t = vegeta.Target{Method: noTokenMethod, URL: m.url}
					return nil
				}
				if err != nil {
					return err
				}
				body := c.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
				u := m.url + "/" + strconv.FormatUint(flight, 10)
				*t = vegeta.Target{Method: http.MethodPost, URL: u, Body: body, Header: formHeader}
				return nil
			}
			m.after = func(res *vegeta.Result, ok bool) string {
				if res.Method == noTokenMethod {
					return fmt.Sprintf("not sent: no refresh token came back within -timeout %v, every chain being in flight", cfg.timeout)
				}
				_, flight := tagOf(res.URL)
				switch {
				case ok:
					next := refreshTokenIn(res.Body)
					m.pool.settle(flight, next)
					if next == "" {
						return "200 OK without a refresh_token"
					}
				case res.Code == http.StatusServiceUnavailable || res.Code == http.StatusTooManyRequests:
					// The server shed the request: oauth2kit answers 503
					// only when presenting the token again is safe.
					m.pool.putBack(flight)
				default:
					m.pool.settle(flight, "")
				}
				return ""
			}
		case mixMe:
			m.url = cfg.baseURL + mePath + "#" + m.name
			headers := &cycle[http.Header]{}
			for _, tok := range p.access {
				headers.items = append(headers.items, http.Header{"Authorization": {"Bearer " + tok}})
			}
			m.target = func(t *vegeta.Target) error {
				*t = vegeta.Target{Method: http.MethodGet, URL: m.url, Header: headers.get()}
				return nil
			}
		case mixPublic:
			m.url = cfg.baseURL + pingPath + "#" + m.name
			m.target = func(t *vegeta.Target) error {
				*t = vegeta.Target{Method: http.MethodGet, URL: m.url}
				return nil
			}
		case mixRevoke:
			m.url = cfg.baseURL + revokePath + "#" + m.name
			m.pool = newTokenPool(m.name, false, p.revoke, cfg.timeout, stop)
			m.target = func(t *vegeta.Target) error {
				_, tok, err := m.pool.take()
				if err != nil {
					return err
				}
				body := c.form(url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}})
				*t = vegeta.Target{Method: http.MethodPost, URL: m.url, Body: body, Header: formHeader}
				return nil
			}
		}
		mixes = append(mixes, m)
	}
	return mixes
}

// refreshTokenIn returns the refresh_token of a token response, or "".
func refreshTokenIn(body []byte) string {
	var r struct {
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	return r.RefreshToken
}

// scheduler interleaves the mixes by weight, with the smooth weighted
// round-robin of nginx: over every sum-of-weights requests each mix gets
// exactly its weight, spread out rather than in bursts.
type scheduler struct {
	mu      sync.Mutex
	mixes   []*mix
	current []int
	total   int
	failure error // why a target could not be built; ends the run
}

func newScheduler(mixes []*mix) *scheduler {
	s := &scheduler{mixes: mixes, current: make([]int, len(mixes))}
	for _, m := range mixes {
		s.total += m.weight
	}
	return s
}

func (s *scheduler) pick() *mix {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := 0
	for i, m := range s.mixes {
		s.current[i] += m.weight
		if s.current[i] > s.current[best] {
			best = i
		}
	}
	s.current[best] -= s.total
	return s.mixes[best]
}

// targeter is the vegeta.Targeter of the run. vegeta stops the attack when
// a targeter fails, which is what an exhausted pool should do; the cause
// is kept for the report.
func (s *scheduler) targeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		err := s.pick().target(t)
		if err != nil && !errors.Is(err, errStopped) {
			s.mu.Lock()
			if s.failure == nil {
				s.failure = err
			}
			s.mu.Unlock()
		}
		return err
	}
}

// err is the first failure to build a target, if any.
func (s *scheduler) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}
