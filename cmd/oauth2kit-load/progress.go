package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressInterval is how often the progress line is redrawn.
const progressInterval = 250 * time.Millisecond

// progressLine redraws one status line in place with \r until stopped,
// then leaves its last state on its own line.
type progressLine struct {
	w      io.Writer
	status func() string
	done   chan struct{}
	wg     sync.WaitGroup
	width  int // of the last line drawn, to blank what a shorter one leaves
}

// startProgress draws status every progressInterval on w; nil w draws
// nothing.
func startProgress(w io.Writer, status func() string) *progressLine {
	p := &progressLine{w: w, status: status, done: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Go(func() {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				p.draw()
			case <-p.done:
				p.draw()
				fmt.Fprintln(p.w)
				return
			}
		}
	})
	return p
}

func (p *progressLine) draw() {
	s := p.status()
	pad := max(0, p.width-len(s))
	p.width = len(s)
	fmt.Fprint(p.w, "\r"+s+strings.Repeat(" ", pad))
}

func (p *progressLine) stop() {
	close(p.done)
	p.wg.Wait()
}

// attackStatus is the status of a run: a bar of elapsed/total time,
// requests done, the rate over the last second and the errors so far.
func attackStatus(start time.Time, total time.Duration, c *collector) func() string {
	type sample struct {
		at time.Time
		n  uint64
	}
	samples := []sample{{start, 0}}
	return func() string {
		now := time.Now()
		n := c.requests.Load()
		samples = append(samples, sample{now, n})
		for len(samples) > 1 && now.Sub(samples[0].at) > time.Second {
			samples = samples[1:]
		}
		rate := 0.0
		if first := samples[0]; now.Sub(first.at) > 0 {
			rate = float64(n-first.n) / now.Sub(first.at).Seconds()
		}
		elapsed := min(now.Sub(start), total)
		const width = 24
		filled := int(float64(width) * elapsed.Seconds() / total.Seconds())
		bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		if filled > 0 && filled < width {
			bar = bar[:filled-1] + ">" + bar[filled:]
		}
		return fmt.Sprintf("[%s] %v/%v  %d requests  %.0f req/s  %d errors",
			bar, elapsed.Round(100*time.Millisecond), total, n, rate, c.failed.Load())
	}
}
