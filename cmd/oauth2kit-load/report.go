package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// maxErrorKinds is how many distinct error messages a mix keeps.
const maxErrorKinds = 5

// collector reads the results of a run into vegeta Metrics, for the whole
// run and per mix, and judges each result itself: vegeta counts any status
// below 400 as a success, while here only the status the mix expects is.
// add is called from one goroutine; the counters are atomic for the
// progress line.
type collector struct {
	all    vegeta.Metrics
	mixes  []*mixStats
	byName map[string]*mixStats

	requests, failed atomic.Uint64
}

type mixStats struct {
	mix      *mix
	metrics  vegeta.Metrics
	ok, fail uint64
	errs     errorLog
}

// errorLog keeps the first maxErrorKinds distinct messages with counts.
type errorLog struct {
	kinds []errorCount
}

type errorCount struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

func (l *errorLog) add(msg string) {
	for i := range l.kinds {
		if l.kinds[i].Message == msg {
			l.kinds[i].Count++
			return
		}
	}
	if len(l.kinds) < maxErrorKinds {
		l.kinds = append(l.kinds, errorCount{msg, 1})
	}
}

func newCollector(mixes []*mix) *collector {
	c := &collector{byName: map[string]*mixStats{}}
	for _, m := range mixes {
		s := &mixStats{mix: m}
		c.mixes = append(c.mixes, s)
		c.byName[m.name] = s
	}
	return c
}

// add takes one result. A result without a URL is a targeter failure: no
// request was sent, and the scheduler has the cause.
func (c *collector) add(res *vegeta.Result) {
	name, _ := tagOf(res.URL)
	s, ok := c.byName[name]
	if !ok {
		return
	}
	// vegeta sets a status only once it has read the whole response, and
	// makes any status from 400 an error, its status line: for a mix that
	// expects one (throttled expects 429), that is no error.
	success := res.Code == s.mix.expect && (res.Error == "" || res.Code >= 400)
	var problem string
	if !success {
		problem = describe(res, s.mix.expect)
	}
	if s.mix.after != nil {
		if p := s.mix.after(res, success); p != "" {
			success, problem = false, p
		}
	}
	if success {
		res.Error = ""
	} else {
		res.Error = problem // so that vegeta's Errors say the same
	}
	res.Body = nil
	c.all.Add(res)
	s.metrics.Add(res)
	c.requests.Add(1)
	if success {
		s.ok++
	} else {
		s.fail++
		s.errs.add(problem)
		c.failed.Add(1)
	}
}

// describe says what went wrong with a result that failed.
func describe(res *vegeta.Result, expect uint16) string {
	switch res.Code {
	case 0: // no response
		return strings.ReplaceAll(res.Error, res.URL, untag(res.URL))
	case expect: // the response broke off after its status
		return res.Error
	}
	return describeResponse(int(res.Code), res.Headers, res.Body)
}

// describeResponse makes a message of an unexpected response: its status
// and the OAuth error (RFC 6749 §5.2), or the bearer challenge (RFC 6750
// §3), or the start of its body.
func describeResponse(code int, h http.Header, body []byte) string {
	msg := fmt.Sprintf("%d %s", code, http.StatusText(code))
	var e struct {
		Code        string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		msg += ": " + e.Code
		if e.Description != "" {
			msg += ": " + e.Description
		}
		return msg
	}
	if ch := h.Get("WWW-Authenticate"); ch != "" {
		return msg + ": WWW-Authenticate: " + ch
	}
	if b := strings.Join(strings.Fields(string(body)), " "); b != "" {
		if len(b) > 120 {
			b = b[:120] + "..."
		}
		return msg + ": " + b
	}
	return msg
}

// report is the outcome of a run, and the -json output.
type report struct {
	URL        string   `json:"url"`
	Mix        string   `json:"mix"`
	Rate       float64  `json:"rate"` // asked for, per second; 0: unpaced
	Duration   string   `json:"duration"`
	Workers    uint64   `json:"workers"`
	MaxWorkers uint64   `json:"max_workers"` // 0: unbounded
	Prepared   prepared `json:"prepared"`

	// Judged by the expected status of each mix: 200, or 429 for
	// throttled.
	Requests   uint64  `json:"requests"`
	OK         uint64  `json:"ok"`
	Errors     uint64  `json:"errors"`
	Success    float64 `json:"success"`    // OK / Requests
	Throughput float64 `json:"throughput"` // OK per second of Metrics.Duration+Metrics.Wait

	Metrics *vegeta.Metrics `json:"metrics"`
	Mixes   []mixReport     `json:"mixes"`
	// Stopped says why the run ended before -duration, if it did.
	Stopped string `json:"stopped,omitempty"`
}

type prepared struct {
	AccessTokens  int     `json:"access_tokens"`
	RefreshTokens int     `json:"refresh_tokens"`
	RevokeTokens  int     `json:"revoke_tokens"`
	Seconds       float64 `json:"seconds"` // preparing the tokens
	// Throttle is how the throttled mix's username was throttled, if the
	// mix is in the run.
	Throttle *throttlePrep `json:"throttle,omitempty"`
}

// mixReport is one mix of a run. Its Rate and Throughput are over its own
// window: from its first request to its last, and to its last response.
type mixReport struct {
	Name           string  `json:"name"`
	Weight         int     `json:"weight"`
	ExpectedStatus int     `json:"expected_status"`
	Requests       uint64  `json:"requests"`
	OK             uint64  `json:"ok"`
	Errors         uint64  `json:"errors"`
	Success        float64 `json:"success"`
	Rate           float64 `json:"rate"`
	Throughput     float64 `json:"throughput"`
	// PoolWaits counts requests that waited for a token of their pool.
	PoolWaits   uint64          `json:"pool_waits"`
	FirstErrors []errorCount    `json:"first_errors"`
	Metrics     *vegeta.Metrics `json:"metrics"`
}

// report closes the metrics and makes the report.
func (c *collector) report(cfg config, prep prepared, stopped string) *report {
	c.all.Close()
	r := &report{
		URL:        cfg.baseURL,
		Mix:        formatMix(cfg.mix),
		Rate:       perSecond(cfg.rate),
		Duration:   cfg.duration.String(),
		Workers:    cfg.workers,
		MaxWorkers: cfg.maxWorkers,
		Prepared:   prep,
		Requests:   c.all.Requests,
		Metrics:    &c.all,
		Stopped:    stopped,
	}
	if r.Rate == 0 && r.MaxWorkers == 0 {
		r.MaxWorkers = cfg.workers
	}
	perSec := func(n uint64, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	for _, s := range c.mixes {
		s.metrics.Close()
		m := mixReport{
			Name:           s.mix.name,
			Weight:         s.mix.weight,
			ExpectedStatus: int(s.mix.expect),
			Requests:       s.metrics.Requests,
			OK:             s.ok,
			Errors:         s.fail,
			Rate:           perSec(s.metrics.Requests, s.metrics.Duration),
			Throughput:     perSec(s.ok, s.metrics.Duration+s.metrics.Wait),
			FirstErrors:    s.errs.kinds,
			Metrics:        &s.metrics,
		}
		if m.FirstErrors == nil {
			m.FirstErrors = []errorCount{}
		}
		if m.Requests > 0 {
			m.Success = float64(m.OK) / float64(m.Requests)
		}
		if s.mix.pool != nil {
			m.PoolWaits = s.mix.pool.waits.Load()
		}
		r.OK += s.ok
		r.Errors += s.fail
		r.Mixes = append(r.Mixes, m)
	}
	if r.Requests > 0 {
		r.Success = float64(r.OK) / float64(r.Requests)
	}
	r.Throughput = perSec(r.OK, c.all.Duration+c.all.Wait)
	return r
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText writes the report for people: a table with a row per mix and
// one for the whole run, then the errors.
func (r *report) writeText(w io.Writer) error {
	var b strings.Builder
	rate := "unpaced"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%g/s", r.Rate)
	}
	workers := fmt.Sprint(r.Workers)
	if r.MaxWorkers != r.Workers {
		workers += "+" // vegeta adds workers as needed
	}
	fmt.Fprintf(&b, "oauth2kit-load: %s against %s, %s for %s, %s workers\n", r.Mix, r.URL, rate, r.Duration, workers)
	var prep []string
	for _, p := range []struct {
		n    int
		what string
	}{
		{r.Prepared.AccessTokens, "access tokens for me"},
		{r.Prepared.RefreshTokens, "refresh-token chains for refresh"},
		{r.Prepared.RevokeTokens, "refresh tokens to revoke"},
	} {
		if p.n > 0 {
			prep = append(prep, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(prep) > 0 {
		fmt.Fprintf(&b, "prepared with password grants in %.1fs: %s\n", r.Prepared.Seconds, strings.Join(prep, ", "))
	}
	if t := r.Prepared.Throttle; t != nil {
		fmt.Fprintf(&b, "throttled %s in %.1fs: %d wrong passwords, %d waits sat out; Retry-After %gs, the run needs %gs\n",
			t.Username, t.Seconds, t.WrongPasswords, t.Waits, t.RetryAfter, t.Needed)
	}
	fmt.Fprintf(&b, "sent for %v, last response %v later\n\n", round(r.Metrics.Duration), round(r.Metrics.Wait))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MIX\tREQUESTS\tRATE/S\tOK/S\tSUCCESS\tP50\tP90\tP99\tMAX\tSTATUS CODES")
	row := func(name string, requests uint64, rate, throughput, success float64, m *vegeta.Metrics) {
		l := m.Latencies
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2f%%\t%v\t%v\t%v\t%v\t%s\n", name, requests, rate, throughput, 100*success,
			round(l.P50), round(l.P90), round(l.P99), round(l.Max), statusCodes(m.StatusCodes))
	}
	for _, m := range r.Mixes {
		row(m.Name, m.Requests, m.Rate, m.Throughput, m.Success, m.Metrics)
	}
	if len(r.Mixes) > 1 {
		row("all", r.Requests, r.Metrics.Rate, r.Throughput, r.Success, r.Metrics)
	}
	tw.Flush()
	expected := "the expected 200"
	if slices.ContainsFunc(r.Mixes, func(m mixReport) bool { return m.ExpectedStatus != http.StatusOK }) {
		expected = "the status of their mix (429 slow_down for throttled, 200 for the others)"
	}
	fmt.Fprintf(&b, "\nRATE/S: requests per second as vegeta paced them; OK/S: throughput, requests per second answered with %s.\n", expected)

	for _, m := range r.Mixes {
		if m.PoolWaits > 0 {
			fmt.Fprintf(&b, "%s: %d requests waited for a free token, every chain being in flight: the server answered slower than -rate\n"+
				"  asked, and the wait is in their latency (a larger -pool only moves the queue to the server)\n", m.Name, m.PoolWaits)
		}
	}
	if r.Errors == 0 {
		fmt.Fprintln(&b, "errors: none")
	} else {
		fmt.Fprintf(&b, "errors: %d of %d requests (first %d kinds per mix):\n", r.Errors, r.Requests, maxErrorKinds)
		for _, m := range r.Mixes {
			for _, e := range m.FirstErrors {
				fmt.Fprintf(&b, "  %-8s %6d× %s\n", m.Name, e.Count, e.Message)
			}
		}
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "stopped early: %s\n", r.Stopped)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// statusCodes formats vegeta's status histogram as "200:4500 503:2", with
// 0 for requests that got no response.
func statusCodes(m map[string]int) string {
	codes := make([]string, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	sort.Slice(codes, func(i, j int) bool {
		if len(codes[i]) != len(codes[j]) {
			return len(codes[i]) < len(codes[j])
		}
		return codes[i] < codes[j]
	})
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s:%d", c, m[c])
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// round keeps three significant digits or so of a latency.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
