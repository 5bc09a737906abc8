package dataplane

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// listener serves one VIP port. Its spec is swapped on every sync; the
// socket stays as long as the same VIP port is wanted in the same mode.
type listener struct {
	d      *DataPlane
	key    lkey
	mode   string
	addr   string // where it is served ("127.77.0.10:80" or "127.0.0.1:41234")
	direct bool
	note   string // why a loopback VIP is not served directly
	cur    atomic.Pointer[lspec]

	ln  net.Listener
	pc  *net.UDPConn
	srv *http.Server

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	flows  map[netip.AddrPort]*udpFlow
	wg     sync.WaitGroup
}

// openListener binds the VIP port: the VIP itself when it is a loopback
// address, else (or when that fails) a loopback port, the same one as last
// time when it is still free so that a listener that comes back (a virtual
// service up again) keeps its address. bindErr says why a loopback VIP was
// not bound directly.
func (d *DataPlane) openListener(spec *lspec) (l *listener, bindErr error, err error) {
	k := spec.key
	l = &listener{d: d, key: k, mode: spec.mode, conns: map[net.Conn]struct{}{}, flows: map[netip.AddrPort]*udpFlow{}}
	l.cur.Store(spec)
	var cands []string
	direct := ""
	if ip, perr := netip.ParseAddr(k.ip); perr == nil && ip.IsLoopback() {
		direct = net.JoinHostPort(k.ip, strconv.Itoa(k.port))
		cands = append(cands, direct)
	}
	if p := d.lastPort[k].port; p != 0 {
		cands = append(cands, net.JoinHostPort(d.opts.MapHost, strconv.Itoa(p)))
	}
	cands = append(cands, net.JoinHostPort(d.opts.MapHost, "0"))
	for _, a := range cands {
		if k.proto == "udp" {
			var ua *net.UDPAddr
			if ua, err = net.ResolveUDPAddr("udp", a); err == nil {
				l.pc, err = net.ListenUDP("udp", ua)
			}
			if err == nil {
				l.addr = l.pc.LocalAddr().String()
			}
		} else {
			l.ln, err = net.Listen("tcp", a)
			if err == nil {
				l.addr = l.ln.Addr().String()
			}
		}
		if err == nil {
			l.direct = a == direct
			break
		}
		if a == direct {
			bindErr = err
		}
	}
	if err != nil {
		return nil, bindErr, err
	}
	l.start()
	return l, bindErr, nil
}

var discardLog = log.New(io.Discard, "", 0)

func (l *listener) start() {
	l.wg.Add(1)
	switch l.mode {
	case modeUDP:
		go l.serveUDP()
	case modeL4, modeL4SSL:
		ln := l.ln
		if l.mode == modeL4SSL {
			ln = tls.NewListener(ln, l.tlsConfig(nil))
		}
		go l.acceptLoop(ln)
	default:
		l.srv = &http.Server{
			Handler:           l,
			ErrorLog:          discardLog,
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       60 * time.Second,
			// HTTP/2 only when a service port enables it; vipgate's do not.
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
			ConnState: func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					l.cur.Load().vs.stats.conns.Add(1)
				}
			},
		}
		ln := l.ln
		if l.mode == modeHTTPS {
			ln = tls.NewListener(ln, l.tlsConfig([]string{"http/1.1"}))
		}
		go func() {
			defer l.wg.Done()
			_ = l.srv.Serve(ln)
		}()
	}
}

// tlsConfig terminates TLS with the certificates of the SNI child whose
// vh_domain_name is the client's server name, else the virtual service's own.
func (l *listener) tlsConfig(protos []string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			vs := l.cur.Load().vs
			certs := vs.certs
			if c := vs.child(hi.ServerName); c != nil && len(c.certs) > 0 {
				certs = c.certs
			}
			if len(certs) == 0 {
				vs.stats.fails.Add(1)
				return nil, errors.New("no certificate for this virtual service")
			}
			return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: certs, NextProtos: protos}, nil
		},
	}
}

// track registers a connection so that close can end it; false when the
// listener is already closed.
func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// close stops serving and ends every connection and flow, waiting for the
// goroutines that served them.
func (l *listener) close() {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[net.Conn]struct{}{}
	flows := l.flows
	l.flows = map[netip.AddrPort]*udpFlow{}
	l.mu.Unlock()
	if l.srv != nil {
		_ = l.srv.Close()
	}
	if l.ln != nil {
		_ = l.ln.Close()
	}
	if l.pc != nil {
		_ = l.pc.Close()
	}
	for c := range conns {
		_ = c.Close()
	}
	for _, f := range flows {
		_ = f.conn.Close()
	}
	l.wg.Wait()
}

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// reset closes a client connection with a TCP reset, as the controller's
// default fail action (close connection) does.
func reset(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if t, ok := c.(*net.TCPConn); ok {
		_ = t.SetLinger(0)
	}
	_ = c.Close()
}

func remoteIP(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
