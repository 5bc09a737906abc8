package dataplane

import (
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

// counters are the traffic counters of a virtual service or a pool server.
type counters struct {
	conns, reqs, bytesIn, bytesOut, fails atomic.Int64
}

// Counters is a snapshot of counters.
type Counters struct {
	// Connections accepted (virtual service) or opened (server).
	Connections int64 `json:"connections"`
	// Requests: HTTP requests, or UDP datagrams from clients.
	Requests int64 `json:"requests"`
	// BytesIn from clients, BytesOut to clients.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// Failures: connections or requests that got no answer from a server
	// (no server up, connection refused, 502).
	Failures int64 `json:"failures"`
}

func (c *counters) snapshot() Counters {
	return Counters{Connections: c.conns.Load(), Requests: c.reqs.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(), Failures: c.fails.Load()}
}

// poolState is what outlives rebuilds of a pool (or the round-robin counter
// of a pool group): server health and counters.
type poolState struct {
	rr      atomic.Uint64
	mu      sync.Mutex
	servers map[string]*serverState
	// sticky is client-IP persistence: client → server key, until when.
	sticky map[netip.Addr]stickyEntry
}

func (p *poolState) server(key string) *serverState {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.servers[key]
	if s == nil {
		s = &serverState{results: map[string]bool{}, reasons: map[string]string{}}
		p.servers[key] = s
	}
	return s
}

// retain drops the state of servers no longer in the pool and returns how
// many it dropped.
func (p *poolState) retain(keep map[string]bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k := range p.servers {
		if !keep[k] {
			delete(p.servers, k)
			n++
		}
	}
	return n
}

// serverState is a pool server's health and counters.
type serverState struct {
	counters
	active  atomic.Int64
	healthy atomic.Bool
	mu      sync.Mutex
	want    []string          // the pool's monitor uuids
	results map[string]bool   // monitor uuid -> up
	reasons map[string]string // monitor uuid -> why the last check failed
}

// setMonitors records which monitors decide the server's health; with none
// the server is up.
func (s *serverState) setMonitors(uuids []string) {
	s.mu.Lock()
	s.want = uuids
	s.recompute()
	s.mu.Unlock()
}

// setResult records a monitor's verdict and reports whether the server's
// overall health changed.
func (s *serverState) setResult(monitor string, up bool, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[monitor] = up
	s.reasons[monitor] = reason
	return s.recompute()
}

// recompute: up when every wanted monitor says up. Callers hold s.mu.
func (s *serverState) recompute() bool {
	up := true
	for _, m := range s.want {
		if !s.results[m] {
			up = false
		}
	}
	for m := range s.results {
		if !slices.Contains(s.want, m) {
			delete(s.results, m)
			delete(s.reasons, m)
		}
	}
	return s.healthy.Swap(up) != up
}

func (s *serverState) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.want {
		if !s.results[m] {
			if r := s.reasons[m]; r != "" {
				return r
			}
			return "not checked yet"
		}
	}
	return ""
}

func (d *DataPlane) poolState(uuid string) *poolState {
	p := d.pools[uuid]
	if p == nil {
		p = &poolState{servers: map[string]*serverState{}}
		d.pools[uuid] = p
	}
	return p
}

func (d *DataPlane) vsCounters(uuid string) *counters {
	c := d.vsStats[uuid]
	if c == nil {
		c = &counters{}
		d.vsStats[uuid] = c
	}
	return c
}

// flow is what a server is picked for: the client's address and port and,
// for HTTP, the request (consistent hashes on the URI or a header).
type flow struct {
	client netip.Addr
	port   uint16
	req    *http.Request
}

// pick chooses a pool and server for a connection or request to a virtual
// service port. It returns the fail action to apply when nothing is up
// (nil: close the connection).
func (t *target) pick(f flow, vsPort int) (*poolConf, *serverConf, *models.FailAction) {
	if t == nil {
		return nil, nil, nil
	}
	if t.pool != nil {
		s := t.pool.pick(f)
		if s == nil {
			return t.pool, nil, t.pool.fail
		}
		return t.pool, s, nil
	}
	g := t.group
	for i := 0; i < len(g.members); {
		j := i
		var cands []groupMember
		total := 0
		for ; j < len(g.members) && g.members[j].priority == g.members[i].priority; j++ {
			if m := g.members[j]; m.ratio > 0 && m.pool.up() {
				cands = append(cands, m)
				total += m.ratio
			}
		}
		if total > 0 {
			n := int(g.rr.rr.Add(1)-1) % total
			for _, m := range cands {
				if n < m.ratio {
					if s := m.pool.pick(f); s != nil {
						return m.pool, s, nil
					}
					break
				}
				n -= m.ratio
			}
		}
		i = j
	}
	return nil, nil, g.fail
}

// pick chooses an eligible server by the pool's persistence, then its
// algorithm, or nil.
func (p *poolConf) pick(f flow) *serverConf {
	if !p.enabled {
		return nil
	}
	var cands []*serverConf
	for _, s := range p.servers {
		for i := 0; i < s.ratio && s.eligible(); i++ {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	if p.persist > 0 {
		if s := p.st.persisted(f.client, cands); s != nil {
			return s
		}
		s := p.choose(f, cands)
		p.st.persist(f.client, s.key, p.persist)
		return s
	}
	return p.choose(f, cands)
}

// choose applies the load-balancing algorithm.
func (p *poolConf) choose(f flow, cands []*serverConf) *serverConf {
	switch p.alg {
	case "LB_ALGORITHM_ROUND_ROBIN":
		return cands[int(p.st.rr.Add(1)-1)%len(cands)]
	case "LB_ALGORITHM_RANDOM":
		return cands[rand.IntN(len(cands))]
	case "LB_ALGORITHM_CONSISTENT_HASH":
		h := fnv.New32a()
		_, _ = h.Write(p.hashKey(f))
		return cands[int(h.Sum32()%uint32(len(cands)))]
	default:
		// Least connections (the default and the load-based algorithms):
		// ties rotate, so sequential clients spread over the servers.
		start := int(p.st.rr.Add(1)-1) % len(cands)
		best := cands[start]
		for i := 1; i < len(cands); i++ {
			c := cands[(start+i)%len(cands)]
			if c.st.active.Load() < best.st.active.Load() {
				best = c
			}
		}
		return best
	}
}

// hashKey is what a consistent hash hashes: the client address (and port),
// the request URI, or a request header, by lb_algorithm_hash. Keys the data
// plane cannot see (a connection has no URI) fall back to the client
// address, as do the hashes it does not implement (listed as problems).
func (p *poolConf) hashKey(f flow) []byte {
	ip, _ := f.client.MarshalBinary()
	switch p.hash {
	case "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS_AND_PORT":
		return append(ip, byte(f.port>>8), byte(f.port))
	case "LB_ALGORITHM_CONSISTENT_HASH_URI":
		if f.req != nil {
			return []byte(f.req.URL.RequestURI())
		}
	case "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER":
		if f.req != nil && p.hashHdr != "" {
			return []byte(f.req.Header.Get(p.hashHdr))
		}
	}
	return ip
}

// persisted returns the server a client was sent to before, while its
// persistence lasts and the server is still a candidate.
func (p *poolState) persisted(client netip.Addr, cands []*serverConf) *serverConf {
	p.mu.Lock()
	e, ok := p.sticky[client]
	p.mu.Unlock()
	if !ok || time.Now().After(e.until) {
		return nil
	}
	for _, s := range cands {
		if s.key == e.server {
			return s
		}
	}
	return nil
}

// persist sends client to server for d from now.
func (p *poolState) persist(client netip.Addr, server string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sticky == nil {
		p.sticky = map[netip.Addr]stickyEntry{}
	}
	now := time.Now()
	if len(p.sticky) >= maxSticky {
		for c, e := range p.sticky {
			if now.After(e.until) {
				delete(p.sticky, c)
			}
		}
	}
	if len(p.sticky) < maxSticky {
		p.sticky[client] = stickyEntry{server: server, until: now.Add(d)}
	}
}

// maxSticky bounds a pool's persistence table (clients beyond it are
// balanced without persistence).
const maxSticky = 1 << 16

// stickyEntry is a client's persisted server.
type stickyEntry struct {
	server string
	until  time.Time
}

// ipMatch is an IpAddrMatch without IP groups.
type ipMatch struct {
	not      bool
	addrs    []netip.Addr
	prefixes []netip.Prefix
	ranges   [][2]netip.Addr
}

func newIPMatch(m *models.IPAddrMatch) (*ipMatch, bool) {
	im := &ipMatch{not: str(m.MatchCriteria) == "IS_NOT_IN"}
	for _, a := range m.Addrs {
		if a != nil {
			if ip, err := netip.ParseAddr(str(a.Addr)); err == nil {
				im.addrs = append(im.addrs, ip)
			}
		}
	}
	for _, p := range m.Prefixes {
		if p != nil && p.IPAddr != nil && p.Mask != nil {
			if ip, err := netip.ParseAddr(str(p.IPAddr.Addr)); err == nil {
				if pf, err := ip.Prefix(int(*p.Mask)); err == nil {
					im.prefixes = append(im.prefixes, pf)
				}
			}
		}
	}
	for _, r := range m.Ranges {
		if r != nil && r.Begin != nil && r.End != nil {
			lo, err1 := netip.ParseAddr(str(r.Begin.Addr))
			hi, err2 := netip.ParseAddr(str(r.End.Addr))
			if err1 == nil && err2 == nil {
				im.ranges = append(im.ranges, [2]netip.Addr{lo, hi})
			}
		}
	}
	return im, len(m.GroupRefs) == 0
}

func (m *ipMatch) match(ip netip.Addr) bool {
	in := slices.Contains(m.addrs, ip)
	for _, p := range m.prefixes {
		in = in || p.Contains(ip)
	}
	for _, r := range m.ranges {
		in = in || (ip.Compare(r[0]) >= 0 && ip.Compare(r[1]) <= 0)
	}
	return in != m.not
}
