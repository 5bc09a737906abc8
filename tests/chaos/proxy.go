package chaos

import (
	"net"
	"sync"
	"time"
)

// fanIn stands where the API server calls the webhooks and forwards each
// connection to a live replica, as a Service in front of the replicas'
// pods would: the first one that accepts, round robin. When none accepts,
// the connection is closed and the API server reports the webhook
// unreachable.
type fanIn struct {
	l net.Listener

	mu       sync.Mutex
	backends []string
	next     int
}

func newFanIn(addr string) (*fanIn, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f := &fanIn{l: l}
	go f.serve()
	return f, nil
}

// setBackends replaces the replicas' addresses.
func (f *fanIn) setBackends(addrs []string) {
	f.mu.Lock()
	f.backends = addrs
	f.mu.Unlock()
}

func (f *fanIn) serve() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		go f.handle(c)
	}
}

func (f *fanIn) handle(c net.Conn) {
	f.mu.Lock()
	bs := append([]string(nil), f.backends...)
	start := f.next
	f.next++
	f.mu.Unlock()
	for i := range bs {
		b := bs[(start+i)%len(bs)]
		up, err := net.DialTimeout("tcp", b, time.Second)
		if err != nil {
			continue
		}
		pipe(c, up, nil)
		return
	}
	c.Close()
}

func (f *fanIn) close() { f.l.Close() }

// ctlProxy stands between the vipgate processes and the simulated
// controller. Blackhole stalls every byte in both directions (established
// connections too) until it ends: requests hang as they do on a partitioned
// network, and those that outlast the client's timeout time out.
type ctlProxy struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	paused bool
	until  time.Time
	conns  map[net.Conn]bool
}

func newCtlProxy(target string) (*ctlProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &ctlProxy{l: l, target: target, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	return p, nil
}

func (p *ctlProxy) addr() string { return p.l.Addr().String() }

func (p *ctlProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go func() {
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				c.Close()
				return
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			pipe(c, up, p.wait)
			p.mu.Lock()
			delete(p.conns, c)
			delete(p.conns, up)
			p.mu.Unlock()
		}()
	}
}

// blackhole stalls traffic for d (0 ends a blackhole now).
func (p *ctlProxy) blackhole(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d <= 0 {
		p.paused = false
		p.cond.Broadcast()
		return
	}
	p.paused, p.until = true, time.Now().Add(d)
	until := p.until
	time.AfterFunc(d, func() {
		p.mu.Lock()
		if p.until.Equal(until) {
			p.paused = false
			p.cond.Broadcast()
		}
		p.mu.Unlock()
	})
}

func (p *ctlProxy) wait() {
	p.mu.Lock()
	for p.paused {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

func (p *ctlProxy) close() {
	p.blackhole(0)
	p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// pipe copies both ways until either side ends; gate, when set, runs before
// every write (the blackhole).
func pipe(a, b net.Conn, gate func()) {
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if gate != nil {
					gate()
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// Half-close so the other side sees EOF, then let the other copy end.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}
