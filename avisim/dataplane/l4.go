package dataplane

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Timeouts of the simulated Service Engine's connections to servers.
const (
	dialTimeout = 5 * time.Second
	// udpIdle is how long a UDP flow lives without datagrams: the UDP
	// fast path profile's default session_idle_timeout.
	udpIdle = 10 * time.Second
	// maxFlows bounds the UDP flows of one listener.
	maxFlows = 1024
)

// l4Target picks the pool or pool group for a new connection or flow:
// L4 policy rules first, then service_pool_select, then the virtual
// service's own pool or pool group.
func (s *lspec) l4Target(vs *vsConf, client netip.Addr, proto string) *target {
	for _, r := range vs.l4Rules {
		if r.matches(s.key.port, proto, client) {
			return r.tgt
		}
	}
	if t, ok := s.spTarget(vs); ok {
		return t
	}
	return vs.def
}

// spTarget is the service_pool_select entry for the listener's port and
// protocol (the network profile type, exactly, when the entry names one).
func (s *lspec) spTarget(vs *vsConf) (*target, bool) {
	for _, sel := range vs.spSelect {
		if s.key.port >= sel.lo && s.key.port <= sel.hi && (sel.proto == "" || sel.proto == s.netType) {
			return sel.tgt, true
		}
	}
	return nil, false
}

func (r *l4Rule) matches(port int, proto string, client netip.Addr) bool {
	if r.unsupported {
		return false
	}
	if r.hasPort {
		in := false
		for _, pr := range r.ports {
			in = in || (port >= pr.lo && port <= pr.hi)
		}
		if in == r.portNot {
			return false
		}
	}
	if r.proto != "" && (r.proto == proto) == r.protoNot {
		return false
	}
	if r.client != nil && !r.client.match(client) {
		return false
	}
	return true
}

func (l *listener) acceptLoop(ln net.Listener) {
	defer l.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if !l.track(c) {
			_ = c.Close()
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.untrack(c)
			l.serveTCP(c)
		}()
	}
}

// serveTCP proxies one client connection to a pool server.
func (l *listener) serveTCP(c net.Conn) {
	spec := l.cur.Load()
	vs := spec.vs
	vs.stats.conns.Add(1)
	if tc, ok := c.(*tls.Conn); ok {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			vs.stats.fails.Add(1)
			_ = c.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
	}
	client := remoteIP(c.RemoteAddr())
	_, srv, _ := spec.l4Target(vs, client, "PROTOCOL_TCP").pick(flow{client: client, port: clientPort(c.RemoteAddr().String())}, spec.key.port)
	if srv == nil {
		vs.stats.fails.Add(1)
		reset(c)
		return
	}
	st := srv.st
	st.conns.Add(1)
	st.active.Add(1)
	defer st.active.Add(-1)
	b, err := net.DialTimeout("tcp", srv.addr(spec.key.port), dialTimeout)
	if err != nil {
		st.fails.Add(1)
		vs.stats.fails.Add(1)
		reset(c)
		return
	}
	if !l.track(b) {
		_ = b.Close()
		_ = c.Close()
		return
	}
	defer l.untrack(b)
	pipe(c, b, []*counters{vs.stats, &st.counters})
}

// pipe copies both ways until both directions end, passing half-closes on,
// and counts bytes in (client to server) and out.
func pipe(client, server net.Conn, cs []*counters) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(countWriter{server, cs, true}, client)
		closeWrite(server)
	}()
	_, _ = io.Copy(countWriter{client, cs, false}, server)
	closeWrite(client)
	<-done
	_ = client.Close()
	_ = server.Close()
}

func closeWrite(c net.Conn) {
	type cw interface{ CloseWrite() error }
	if w, ok := c.(cw); ok {
		_ = w.CloseWrite()
		return
	}
	_ = c.Close()
}

// countWriter counts the bytes written through it as bytes in (from the
// client) or out (to the client).
type countWriter struct {
	w  io.Writer
	cs []*counters
	in bool
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	for _, k := range c.cs {
		if c.in {
			k.bytesIn.Add(int64(n))
		} else {
			k.bytesOut.Add(int64(n))
		}
	}
	return n, err
}

// udpFlow relays one client's datagrams to one server and its answers back.
type udpFlow struct {
	conn   *net.UDPConn
	client netip.AddrPort
	spec   *lspec
	srv    *serverConf
}

func (l *listener) serveUDP() {
	defer l.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, caddr, err := l.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		spec := l.cur.Load()
		vs := spec.vs
		vs.stats.reqs.Add(1)
		vs.stats.bytesIn.Add(int64(n))
		f := l.flow(caddr, spec)
		if f == nil {
			// Close connection, for UDP: the datagram is dropped.
			vs.stats.fails.Add(1)
			continue
		}
		f.srv.st.reqs.Add(1)
		f.srv.st.bytesIn.Add(int64(n))
		if _, err := f.conn.Write(buf[:n]); err != nil {
			f.srv.st.fails.Add(1)
			vs.stats.fails.Add(1)
		}
	}
}

// flow returns the client's flow, opening one to a newly picked server when
// there is none, the configuration changed, or its server is no longer up.
func (l *listener) flow(caddr netip.AddrPort, spec *lspec) *udpFlow {
	l.mu.Lock()
	f := l.flows[caddr]
	n := len(l.flows)
	l.mu.Unlock()
	if f != nil && f.spec == spec && f.srv.eligible() {
		return f
	}
	if f != nil {
		l.dropFlow(f)
	} else if n >= maxFlows {
		return nil
	}
	client := caddr.Addr().Unmap()
	_, srv, _ := spec.l4Target(spec.vs, client, "PROTOCOL_UDP").pick(flow{client: client, port: caddr.Port()}, spec.key.port)
	if srv == nil {
		return nil
	}
	ua, err := net.ResolveUDPAddr("udp", srv.addr(spec.key.port))
	if err != nil {
		return nil
	}
	conn, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		srv.st.fails.Add(1)
		return nil
	}
	f = &udpFlow{conn: conn, client: caddr, spec: spec, srv: srv}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = conn.Close()
		return nil
	}
	l.flows[caddr] = f
	l.wg.Add(1)
	l.mu.Unlock()
	srv.st.conns.Add(1)
	srv.st.active.Add(1)
	go l.relayBack(f)
	return f
}

func (l *listener) dropFlow(f *udpFlow) {
	l.mu.Lock()
	if l.flows[f.client] == f {
		delete(l.flows, f.client)
	}
	l.mu.Unlock()
	_ = f.conn.Close()
}

// relayBack sends the server's answers to the client until the flow is
// idle for udpIdle or closed.
func (l *listener) relayBack(f *udpFlow) {
	defer l.wg.Done()
	defer f.srv.st.active.Add(-1)
	defer l.dropFlow(f)
	buf := make([]byte, 64*1024)
	for {
		_ = f.conn.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := f.conn.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				// The server's port is closed (ICMP unreachable).
				f.srv.st.fails.Add(1)
				f.spec.vs.stats.fails.Add(1)
				continue
			}
			return
		}
		if _, err := l.pc.WriteToUDPAddrPort(buf[:n], f.client); err != nil {
			return
		}
		f.srv.st.bytesOut.Add(int64(n))
		f.spec.vs.stats.bytesOut.Add(int64(n))
	}
}
