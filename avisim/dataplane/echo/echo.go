// Package echo runs small backends that stand in for pods and nodes behind
// avisim's data plane: each listens on one address for TCP and UDP and
// answers with its own name and what it saw, so a test or the demo can tell
// which backend a request reached and how.
//
//   - HTTP (plain, or TLS with a self-signed certificate, told apart by the
//     first byte): a JSON Answer with the backend's name, the Host header,
//     path, method, X-Forwarded-For and the TLS SNI name seen.
//   - Any other TCP stream: each line comes back as "<name>: <line>".
//   - UDP: each datagram comes back as "<name>: <datagram>".
//
// Stop makes the backend stop answering (connections refused, UDP port
// unreachable) and Start brings it back on the same address.
package echo

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Answer is what a backend says to an HTTP request.
type Answer struct {
	Backend string `json:"backend"`
	Host    string `json:"host"`
	Path    string `json:"path"`
	Method  string `json:"method"`
	// SNI is the server name the client sent in its TLS hello; TLS says
	// whether the request came over TLS at all.
	SNI string `json:"sni,omitempty"`
	TLS bool   `json:"tls"`
	// XFF is the X-Forwarded-For header.
	XFF string `json:"xff,omitempty"`
	// Query is the raw query and Headers every header the backend got,
	// to check what a load balancer rewrote on the way.
	Query   string              `json:"query,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
}

// EchoHeader is a header every answer carries (the backend's name), for
// checks that a load balancer changes the headers of answers.
const EchoHeader = "X-Echo-Backend"

// ParseAnswer decodes a backend's HTTP answer body.
func ParseAnswer(body []byte) (Answer, error) {
	var a Answer
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("not an echo answer: %q", strings.TrimSpace(string(body)))
	}
	return a, nil
}

// Server is one backend.
type Server struct {
	name string
	ip   string
	port int
	cert tls.Certificate

	mu      sync.Mutex
	running bool
	tcp     net.Listener
	udp     *net.UDPConn
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// New starts a backend named name on ip (a loopback address such as
// 127.0.10.1) and port; port 0 picks one free for both TCP and UDP.
func New(name, ip string, port int) (*Server, error) {
	cert, err := selfSigned(name)
	if err != nil {
		return nil, err
	}
	s := &Server{name: name, ip: ip, port: port, cert: cert, conns: map[net.Conn]struct{}{}}
	for attempt := 0; ; attempt++ {
		err := s.Start()
		if err == nil {
			return s, nil
		}
		// A free TCP port whose UDP twin is taken: try another.
		if port != 0 || attempt >= 20 {
			return nil, err
		}
		s.port = 0
	}
}

// Name is the backend's name.
func (s *Server) Name() string { return s.name }

// IP is the backend's address and Port its TCP and UDP port.
func (s *Server) IP() string { return s.ip }

// Port is the backend's TCP and UDP port.
func (s *Server) Port() int { return s.port }

// Addr is "ip:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.ip, strconv.Itoa(s.port)) }

// Start (re)starts answering on the backend's address.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	tl, err := net.Listen("tcp", net.JoinHostPort(s.ip, strconv.Itoa(s.port)))
	if err != nil {
		return fmt.Errorf("echo %s: %w", s.name, err)
	}
	port := tl.Addr().(*net.TCPAddr).Port
	ul, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(s.ip), Port: port})
	if err != nil {
		tl.Close()
		return fmt.Errorf("echo %s: udp: %w", s.name, err)
	}
	s.port, s.tcp, s.udp, s.running = port, tl, ul, true
	s.wg.Add(2)
	go s.acceptLoop(tl)
	go s.udpLoop(ul)
	return nil
}

// Stop stops answering: new connections are refused, open ones closed, and
// UDP datagrams get a port-unreachable.
func (s *Server) Stop() {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return
	}
	s.running = false
	_ = s.tcp.Close()
	_ = s.udp.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	s.wg.Wait()
}

// Close is Stop; the backend is not meant to start again.
func (s *Server) Close() { s.Stop() }

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
	s.wg.Done()
}

func (s *Server) acceptLoop(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if !s.track(c) {
			_ = c.Close()
			return
		}
		go func() {
			defer s.untrack(c)
			s.serve(c)
		}()
	}
}

func (s *Server) udpLoop(u *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, from, err := u.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		_, _ = u.WriteToUDPAddrPort([]byte(s.name+": "+string(buf[:n])), from)
	}
}

// peeked is a connection whose first bytes were read ahead.
type peeked struct {
	net.Conn
	r   *bufio.Reader
	sni string
	tls bool
}

func (p *peeked) Read(b []byte) (int, error) { return p.r.Read(b) }

var methods = []string{"GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC", "CONN", "TRAC"}

// serve tells TLS from plain text and HTTP from a raw stream.
func (s *Server) serve(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	pc := &peeked{Conn: c, r: bufio.NewReader(c)}
	first, err := pc.r.Peek(1)
	if err != nil {
		return
	}
	if first[0] == 0x16 {
		var sni string
		// The peeked byte is still in pc.r: the TLS server reads through it.
		tc := tls.Server(pc, &tls.Config{
			Certificates: []tls.Certificate{s.cert},
			GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
				sni = hi.ServerName
				return nil, nil
			},
		})
		if err := tc.Handshake(); err != nil {
			return
		}
		pc = &peeked{Conn: tc, r: bufio.NewReader(tc), sni: sni, tls: true}
	}
	// Classify by what the first read brought (clients send a request line
	// in one write), never waiting for more: a raw stream may be shorter.
	if _, err := pc.r.Peek(1); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	head, _ := pc.r.Peek(min(4, pc.r.Buffered()))
	isHTTP := false
	for _, m := range methods {
		isHTTP = isHTTP || string(head) == m
	}
	if !isHTTP {
		s.lines(pc)
		return
	}
	s.serveHTTP(pc)
}

// lines echoes each line of a raw stream, prefixed with the backend's name.
func (s *Server) lines(pc *peeked) {
	sc := bufio.NewScanner(pc.r)
	for sc.Scan() {
		if _, err := io.WriteString(pc.Conn, s.name+": "+sc.Text()+"\n"); err != nil {
			return
		}
	}
}

type sniKey struct{}

// serveHTTP serves one connection with net/http, keep-alive included.
func (s *Server) serveHTTP(pc *peeked) {
	l := &oneConn{c: pc, done: make(chan struct{})}
	srv := &http.Server{
		Handler:  http.HandlerFunc(s.answer),
		ErrorLog: log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, sniKey{}, pc)
		},
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				l.finish()
			}
		},
	}
	go func() { _ = srv.Serve(l) }()
	<-l.done
	_ = srv.Close()
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	pc, _ := r.Context().Value(sniKey{}).(*peeked)
	a := Answer{Backend: s.name, Host: r.Host, Path: r.URL.Path, Method: r.Method, XFF: r.Header.Get("X-Forwarded-For"), Query: r.URL.RawQuery, Headers: r.Header}
	if pc != nil {
		a.SNI, a.TLS = pc.sni, pc.tls
	}
	_, _ = io.Copy(io.Discard, r.Body)
	b, _ := json.Marshal(a)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(EchoHeader, s.name)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	_, _ = w.Write(append(b, '\n'))
}

// oneConn is a listener that yields one connection, then blocks until the
// connection is done.
type oneConn struct {
	c    net.Conn
	once sync.Once
	used bool
	mu   sync.Mutex
	done chan struct{}
}

func (o *oneConn) Accept() (net.Conn, error) {
	o.mu.Lock()
	if !o.used {
		o.used = true
		o.mu.Unlock()
		return o.c, nil
	}
	o.mu.Unlock()
	<-o.done
	return nil, net.ErrClosed
}

func (o *oneConn) finish()        { o.once.Do(func() { close(o.done) }) }
func (o *oneConn) Close() error   { o.finish(); return nil }
func (o *oneConn) Addr() net.Addr { return o.c.LocalAddr() }

func selfSigned(name string) (tls.Certificate, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, nil
}
