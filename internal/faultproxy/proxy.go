// Package faultproxy is a TCP proxy, in process, in front of one server,
// which tests break on purpose: refusing connections, hanging, losing
// replies or holding them back. The storetest fault tier puts one in front
// of each backend server; a benchmark can use its Slow fault to add latency
// to every reply.
package faultproxy

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is what a proxy does to the traffic it carries.
type Fault int

const (
	// Healthy: traffic passes both ways unchanged.
	Healthy Fault = iota
	// Refused: the listener is closed and every connection reset, so a
	// dial fails at once, as when the server is down.
	Refused
	// Hung: connections are accepted and kept open, and nothing is passed
	// on either way, as when the server is stopped or a partition drops
	// every packet.
	Hung
	// ReplyLost: requests reach the server, and the first bytes it answers
	// on a connection are dropped and the connection reset, so the client
	// cannot know whether what it asked for happened.
	ReplyLost
	// ReplyLostOnce is ReplyLost for one reply only: the first reply after
	// the fault is armed, on whichever connection. Later replies pass, so a
	// client that retries gets an answer, to its retry.
	ReplyLostOnce
	// Slow: every reply is held back for the latency given to New, then
	// delivered.
	Slow
)

// String names f as a failure message does: "refused connections", "a hung
// server", and so on.
func (f Fault) String() string {
	switch f {
	case Healthy:
		return "healthy"
	case Refused:
		return "refused connections"
	case Hung:
		return "a hung server"
	case ReplyLost:
		return "lost replies"
	case ReplyLostOnce:
		return "one lost reply"
	case Slow:
		return "slow replies"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Proxy is a TCP proxy in front of one server, which tests break on
// purpose with Set. Its address does not change when it refuses
// connections: a client dials the same address throughout, as a client of a
// restarted server does.
type Proxy struct {
	target  string
	addr    string
	latency time.Duration

	mu    sync.Mutex
	ln    net.Listener // nil while refusing
	fault Fault
	// lostOnce is set while ReplyLostOnce has not yet dropped its reply.
	lostOnce bool
	// conns is every open connection pair, each with the fault it was
	// opened or last carried traffic under.
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// proxyConn is a client's connection and, unless the proxy was hung when
// it was accepted, the proxy's connection to the server for it.
type proxyConn struct {
	client net.Conn
	mu     sync.Mutex
	server net.Conn // nil until dialled
	dead   bool
	// duringHang is set on connections that carried no traffic because
	// the server was hung: recovery resets them, since what they swallowed
	// is lost.
	duringHang bool
}

// reset closes both sides, the client's with a TCP reset rather than an
// orderly close, as a crashed server or a middlebox does.
func (c *proxyConn) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return
	}
	c.dead = true
	if tc, ok := c.client.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.client.Close()
	if c.server != nil {
		_ = c.server.Close()
	}
}

// setServer records server as the other side of c, and reports false
// (closing it) if c was reset while it was being dialled.
func (c *proxyConn) setServer(server net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		_ = server.Close()
		return false
	}
	c.server = server
	return true
}

// New listens on a free local port and forwards each connection to target,
// Healthy until Set says otherwise. latency is how long the Slow fault holds
// a reply back. Close the proxy when done with it.
func New(target string, latency time.Duration) (*Proxy, error) {
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), latency: latency, ln: ln, conns: make(map[*proxyConn]struct{})}
	p.wg.Add(1)
	go p.accept(ln)
	return p, nil
}

// lowestPort is the lowest port listen picks.
const lowestPort = 10000

// listen listens on a free port of the loopback interface, below the range
// the kernel gives connections' local ends where it can tell that range.
// While the proxy refuses connections its port is free, and the tests
// using it open connections meanwhile (the store's pool, containers): a
// port of the kernel's range could be given to one of them, and the proxy
// could not listen on it again. Proxies pick their ports at random, so two
// of them, even in different test processes, are unlikely to meet.
func listen() (net.Listener, error) {
	if low, ok := localPortsFrom(); ok && low > lowestPort {
		for range 100 {
			port := lowestPort + rand.IntN(low-lowestPort)
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				return ln, nil
			}
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// localPortsFrom returns the lowest port of the range the kernel gives
// connections' local ends, on Linux.
func localPortsFrom() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 0, false
	}
	low, err := strconv.Atoi(fields[0])
	return low, err == nil
}

// Addr is the address clients dial in place of the target's, host:port on
// the loopback interface. It stays the same while the proxy refuses
// connections and after.
func (p *Proxy) Addr() string {
	return p.addr
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed: refusing, or the proxy is closed
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	pc := &proxyConn{client: client}
	p.mu.Lock()
	// Accepted just before the listener closed: refused like the rest.
	if p.closed || p.fault == Refused {
		p.mu.Unlock()
		pc.reset()
		return
	}
	f := p.fault
	pc.duringHang = f == Hung
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	defer p.forget(pc)

	if f == Hung {
		// Accepted, and never answered: what the client sends is read
		// and dropped.
		_, _ = io.Copy(io.Discard, client)
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		pc.reset()
		return
	}
	if !pc.setServer(server) {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pump(pc, client, server, false)
	}()
	p.pump(pc, server, client, true)
	<-done
}

func (p *Proxy) forget(pc *proxyConn) {
	pc.reset()
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

// pump copies src to dst, chunk by chunk, applying the proxy's fault at the
// time each chunk is read; reply is set for the server-to-client direction.
func (p *Proxy) pump(pc *proxyConn, src, dst net.Conn, reply bool) {
	defer pc.reset()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			f := p.fault
			lose := reply && (f == ReplyLost || (f == ReplyLostOnce && p.lostOnce))
			if lose && f == ReplyLostOnce {
				p.lostOnce = false
			}
			if f == Hung {
				pc.duringHang = true
			}
			p.mu.Unlock()
			switch {
			case lose:
				return // the deferred reset drops the reply with the connection
			case f == Hung:
				continue // swallowed
			case f == Slow && reply:
				time.Sleep(p.latency)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Set arms fault f, or with Healthy recovers from the one armed.
func (p *Proxy) Set(f Fault) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.fault
	p.fault = f
	p.lostOnce = f == ReplyLostOnce
	switch {
	case f == Refused:
		if p.ln != nil {
			_ = p.ln.Close()
			p.ln = nil
		}
		// Connections the pool holds break too, as when a server dies.
		for pc := range p.conns {
			pc.reset()
		}
	case f == Healthy && prev == Refused:
		return p.relisten()
	case f == Healthy && prev == Hung:
		// What the hung connections swallowed is gone: they cannot carry
		// a conversation on, so they end, as when the server restarts.
		for pc := range p.conns {
			if pc.duringHang {
				pc.reset()
			}
		}
	}
	return nil
}

// relisten listens on the proxy's address again, retrying briefly: the
// port was ours a moment ago, but the kernel may take a moment to free it.
func (p *Proxy) relisten() error {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.ln = ln
			p.wg.Add(1)
			go p.accept(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("listening on %s again: %w", p.addr, err)
}

// Close ends the proxy and every connection through it.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for pc := range p.conns {
		pc.reset()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
