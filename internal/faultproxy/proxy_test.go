package faultproxy

import (
	"bufio"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// A test that breaks a server through the proxy is only as good as the
// proxy: each fault must do what its doc says, on connections opened before
// it as well as after.

// startEcho serves a line-echo server until t ends.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// echoConn is a client connection through the proxy.
type echoConn struct {
	net.Conn
	r *bufio.Reader
}

func dialEcho(t *testing.T, addr string) (*echoConn, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &echoConn{c, bufio.NewReader(c)}, nil
}

// echo sends msg and waits up to wait for it to come back.
func (c *echoConn) echo(msg string, wait time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return err
	}
	got, err := c.r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		return errors.New("echo: got " + got)
	}
	return nil
}

func newTestProxy(t *testing.T, latency time.Duration) *Proxy {
	t.Helper()
	p, err := New(startEcho(t), latency)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func mustEcho(t *testing.T, c *echoConn, msg string) {
	t.Helper()
	if err := c.echo(msg, 2*time.Second); err != nil {
		t.Fatalf("echo(%q) = %v, want it echoed", msg, err)
	}
}

func mustDialEcho(t *testing.T, addr string) *echoConn {
	t.Helper()
	c, err := dialEcho(t, addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return c
}

func TestProxyRefused(t *testing.T) {
	p := newTestProxy(t, 0)
	old := mustDialEcho(t, p.Addr())
	mustEcho(t, old, "before")
	if err := p.Set(Refused); err != nil {
		t.Fatal(err)
	}
	if err := old.echo("during", time.Second); err == nil {
		t.Errorf("echo on a connection opened before the fault = nil, want it reset")
	}
	if _, err := dialEcho(t, p.Addr()); err == nil {
		t.Errorf("dial while refused = nil error, want refused")
	}
	if err := p.Set(Healthy); err != nil {
		t.Fatalf("recovering = %v, want the same port listened on again", err)
	}
	mustEcho(t, mustDialEcho(t, p.Addr()), "after")
}

func TestProxyHung(t *testing.T) {
	p := newTestProxy(t, 0)
	old := mustDialEcho(t, p.Addr())
	mustEcho(t, old, "before")
	if err := p.Set(Hung); err != nil {
		t.Fatal(err)
	}
	if err := old.echo("during", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("echo on an old connection while hung = %v, want it unanswered", err)
	}
	during := mustDialEcho(t, p.Addr()) // accepted, as by a stopped server's kernel
	if err := during.echo("during", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("echo on a new connection while hung = %v, want it unanswered", err)
	}
	if err := p.Set(Healthy); err != nil {
		t.Fatal(err)
	}
	if err := old.echo("after", time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("echo on a connection that saw the hang = %v, want it reset on recovery", err)
	}
	mustEcho(t, mustDialEcho(t, p.Addr()), "after")
}

func TestProxyReplyLost(t *testing.T) {
	p := newTestProxy(t, 0)
	old := mustDialEcho(t, p.Addr())
	mustEcho(t, old, "before")
	if err := p.Set(ReplyLost); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*echoConn{old, mustDialEcho(t, p.Addr())} {
		if err := c.echo("during", time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("echo while replies are lost = %v, want the connection reset", err)
		}
	}
	if err := p.Set(Healthy); err != nil {
		t.Fatal(err)
	}
	mustEcho(t, mustDialEcho(t, p.Addr()), "after")
}

func TestProxyReplyLostOnce(t *testing.T) {
	p := newTestProxy(t, 0)
	old := mustDialEcho(t, p.Addr())
	mustEcho(t, old, "before")
	if err := p.Set(ReplyLostOnce); err != nil {
		t.Fatal(err)
	}
	if err := old.echo("lost", time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("echo of the first reply after the fault = %v, want the connection reset", err)
	}
	// Without recovering: only one reply is lost.
	mustEcho(t, mustDialEcho(t, p.Addr()), "retried")
}

func TestProxySlow(t *testing.T) {
	const latency = 300 * time.Millisecond
	p := newTestProxy(t, latency)
	old := mustDialEcho(t, p.Addr())
	mustEcho(t, old, "before")
	if err := p.Set(Slow); err != nil {
		t.Fatal(err)
	}
	if err := old.echo("early", latency/3); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("echo within a third of the latency = %v, want no reply yet", err)
	}
	// The reply was held back, not lost: it arrives, late.
	_ = old.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := old.r.ReadString('\n'); err != nil || got != "early\n" {
		t.Errorf("late reply = %q, %v, want \"early\\n\"", got, err)
	}
	if err := p.Set(Healthy); err != nil {
		t.Fatal(err)
	}
	mustEcho(t, old, "after")
}

// A proxy listens below the kernel's range for connections' local ends, so
// that no connection made while it refuses takes its port.
func TestProxyPortOutsideLocalRange(t *testing.T) {
	low, ok := localPortsFrom()
	if !ok {
		t.Skip("the kernel's range of local ports cannot be read here (not Linux)")
	}
	p := newTestProxy(t, 0)
	_, portText, err := net.SplitHostPort(p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	if low > lowestPort && (port < lowestPort || port >= low) {
		t.Errorf("proxy port %d, want one in [%d, %d), below the local port range", port, lowestPort, low)
	}
}
