package dataplane

import (
	"cmp"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

// Object types, profile types and enum values the data plane reads.
const (
	vsTypeNormal = "VS_TYPE_NORMAL"
	vsTypeParent = "VS_TYPE_VH_PARENT"
	vsTypeChild  = "VS_TYPE_VH_CHILD"

	appHTTP = "APPLICATION_PROFILE_TYPE_HTTP"
	appSSL  = "APPLICATION_PROFILE_TYPE_SSL"

	// The network profile type's swagger default, and what a virtual
	// service without network_profile_ref gets (System-TCP-Proxy).
	netTCPProxy = "PROTOCOL_TYPE_TCP_PROXY"

	modeL4    = "L4"
	modeL4SSL = "L4-SSL"
	modeUDP   = "UDP"
	modeHTTP  = "HTTP"
	modeHTTPS = "HTTPS"

	// maxPortRange bounds the listeners one services[] entry may open.
	maxPortRange = 64
)

// lkey identifies a listener: a VIP, a port and a transport.
type lkey struct {
	ip    string
	port  int
	proto string // "tcp" or "udp"
}

func (k lkey) String() string {
	return net.JoinHostPort(k.ip, strconv.Itoa(k.port)) + "/" + k.proto
}

// lspec is what one listener serves, rebuilt on every sync and swapped into
// the running listener atomically.
type lspec struct {
	key     lkey
	mode    string
	netType string // the port's network profile type, for service_pool_select
	vs      *vsConf
}

// vsConf is one virtual service as the data plane uses it.
type vsConf struct {
	uuid, name, tenant, typ string
	stats                   *counters
	// def is the virtual service's pool_ref or pool_group_ref.
	def       *target
	spSelect  []spSel
	l4Rules   []*l4Rule
	httpRules []*httpRule
	// rspRules are the response rules of the same policy sets.
	rspRules    []*httpRule
	certs       []tls.Certificate
	children    []*vsConf // enabled SNI children (parent only)
	domains     []string  // vh_domain_name (child only)
	hasRedirect bool
	// targets lists every pool and pool group the virtual service may use.
	targets []*target
}

// child returns the SNI child whose vh_domain_name equals name (DNS names
// compare case-insensitively), or nil.
func (v *vsConf) child(name string) *vsConf {
	if name == "" {
		return nil
	}
	for _, c := range v.children {
		for _, d := range c.domains {
			if strings.EqualFold(d, name) {
				return c
			}
		}
	}
	return nil
}

// up reports whether the virtual service has a pool with an up server, or a
// redirect that needs none: what the controller calls a virtual service up.
func (v *vsConf) up() bool {
	if v.hasRedirect {
		return true
	}
	for _, t := range v.targets {
		if t.up() {
			return true
		}
	}
	for _, c := range v.children {
		if c.up() {
			return true
		}
	}
	return false
}

// target is a pool or a pool group.
type target struct {
	pool  *poolConf
	group *groupConf
}

func (t *target) up() bool {
	if t == nil {
		return false
	}
	if t.pool != nil {
		return t.pool.up()
	}
	for _, m := range t.group.members {
		if m.pool.up() {
			return true
		}
	}
	return false
}

func (t *target) name() string {
	switch {
	case t == nil:
		return ""
	case t.pool != nil:
		return "pool " + t.pool.name
	default:
		return "pool group " + t.group.name
	}
}

type spSel struct {
	lo, hi int
	proto  string // "" matches any
	tgt    *target
}

type portRange struct{ lo, hi int }

type l4Rule struct {
	ports       []portRange
	portNot     bool
	hasPort     bool
	proto       string
	protoNot    bool
	client      *ipMatch
	tgt         *target
	unsupported bool
}

// poolConf is one pool; its state (health, counters) lives in st and
// outlives rebuilds.
type poolConf struct {
	uuid, name string
	enabled    bool
	alg        string
	// hash and hashHdr are lb_algorithm_hash and the header it hashes.
	hash, hashHdr string
	// persist is how long client-IP persistence keeps a client on its
	// server (0: no persistence).
	persist  time.Duration
	servers  []*serverConf
	monitors []*monitorConf
	fail     *models.FailAction
	// tls: the pool re-encrypts (ssl_profile_ref); sni is the server name
	// to send ("" means the request's host), when sniEnabled.
	tls        bool
	sni        string
	sniEnabled bool
	st         *poolState
}

func (p *poolConf) up() bool {
	if !p.enabled {
		return false
	}
	for _, s := range p.servers {
		if s.eligible() {
			return true
		}
	}
	return false
}

type serverConf struct {
	ip      string
	dialIP  string // where the server is reached (see Options.ServersOnLoopback)
	port    int    // 0: the virtual service port (use_service_port)
	enabled bool
	ratio   int
	key     string
	st      *serverState
}

func (s *serverConf) eligible() bool { return s.enabled && s.st.healthy.Load() }

// addr is where a connection for a virtual service port goes.
func (s *serverConf) addr(vsPort int) string {
	p := s.port
	if p == 0 {
		p = vsPort
	}
	return net.JoinHostPort(s.dialIP, strconv.Itoa(p))
}

type groupConf struct {
	uuid, name string
	members    []groupMember // by priority, highest first
	fail       *models.FailAction
	rr         *poolState // the group's round-robin counter
}

type groupMember struct {
	pool     *poolConf
	priority int
	ratio    int
}

// build is one rebuild in progress: it resolves references by uuid, once
// each, against a consistent view of the store.
type build struct {
	d        *DataPlane
	v        View
	pools    map[string]*poolConf
	groups   map[string]*groupConf
	monitors map[string]*monitorConf
	problems []string
	vss      []*vsConf // every virtual service that is not an SNI child
	all      map[string]*vsConf
	state    map[string]string // vs uuid -> "up", "down", "disabled"
	specs    map[lkey]*lspec
	// active are the pools an enabled virtual service uses: only they are
	// health-monitored.
	active   map[string]*poolConf
	certSeen map[string]bool
	// orphans are SNI children without a parent: down whatever their pools.
	orphans map[string]bool
}

func (b *build) problem(format string, a ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, a...))
}

func refUUID(ref *string) string {
	if ref == nil || *ref == "" {
		return ""
	}
	r := *ref
	if i := strings.IndexByte(r, '#'); i >= 0 {
		r = r[:i]
	}
	return r[strings.LastIndexByte(r, '/')+1:]
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolOr(p *bool, d bool) bool {
	if p == nil {
		return d
	}
	return *p
}

func intOr[T ~int32 | ~uint32 | ~int64](p *T, d int) int {
	if p == nil {
		return d
	}
	return int(*p)
}

// compile turns the stored objects into listener specs. Callers hold d.mu.
func (d *DataPlane) compile(v View) *build {
	b := &build{d: d, v: v, pools: map[string]*poolConf{}, groups: map[string]*groupConf{}, monitors: map[string]*monitorConf{},
		all: map[string]*vsConf{}, state: map[string]string{}, specs: map[lkey]*lspec{}, active: map[string]*poolConf{},
		certSeen: map[string]bool{}, orphans: map[string]bool{}}
	type vsObj struct {
		uuid string
		m    *models.VirtualService
	}
	var objs []vsObj
	v.Each("virtualservice", func(uuid string, m any) {
		objs = append(objs, vsObj{uuid, m.(*models.VirtualService)})
	})
	// By name, so that when two virtual services claim one VIP port the
	// same one wins every time.
	slices.SortFunc(objs, func(a, c vsObj) int { return cmp.Compare(str(a.m.Name), str(c.m.Name)) })

	enabled := func(m *models.VirtualService) bool {
		return boolOr(m.Enabled, true) && boolOr(m.TrafficEnabled, true)
	}
	// Parents and normal virtual services first, then children attach.
	for _, o := range objs {
		typ := cmp.Or(str(o.m.Type), vsTypeNormal)
		if typ == vsTypeChild {
			continue
		}
		vs := b.vsConf(o.uuid, o.m, typ)
		b.vss = append(b.vss, vs)
		b.all[o.uuid] = vs
		if !enabled(o.m) {
			b.state[o.uuid] = "disabled"
		}
	}
	for _, o := range objs {
		if cmp.Or(str(o.m.Type), vsTypeNormal) != vsTypeChild {
			continue
		}
		vs := b.vsConf(o.uuid, o.m, vsTypeChild)
		b.all[o.uuid] = vs
		parent := b.all[refUUID(o.m.VhParentVsRef)]
		switch {
		case !enabled(o.m):
			b.state[o.uuid] = "disabled"
		case parent == nil || parent.typ != vsTypeParent:
			b.state[o.uuid] = "down"
			b.orphans[o.uuid] = true
			b.problem("virtual service %s: vh_parent_vs_ref does not name an SNI parent", vs.name)
		case b.state[parent.uuid] == "disabled":
			b.state[o.uuid] = "disabled"
		default:
			parent.children = append(parent.children, vs)
		}
	}
	for _, o := range objs {
		vs := b.all[o.uuid]
		if vs.typ == vsTypeChild || b.state[vs.uuid] == "disabled" {
			continue
		}
		for _, t := range vs.targets {
			b.activate(t)
		}
		for _, c := range vs.children {
			for _, t := range c.targets {
				b.activate(t)
			}
		}
	}
	for _, o := range objs {
		vs := b.all[o.uuid]
		if vs.typ == vsTypeChild {
			if b.state[vs.uuid] == "" {
				b.state[vs.uuid] = upDown(vs.up())
			}
			continue
		}
		if b.state[vs.uuid] == "disabled" {
			continue
		}
		up := vs.up()
		b.state[vs.uuid] = upDown(up)
		if !up && boolOr(o.m.RemoveListeningPortOnVsDown, false) {
			continue
		}
		b.listen(vs, o.m)
	}
	return b
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func (b *build) activate(t *target) {
	if t == nil {
		return
	}
	if t.pool != nil {
		b.active[t.pool.uuid] = t.pool
		return
	}
	for _, m := range t.group.members {
		b.active[m.pool.uuid] = m.pool
	}
}

// vsConf resolves a virtual service's pools, policies and certificates.
func (b *build) vsConf(uuid string, m *models.VirtualService, typ string) *vsConf {
	vs := &vsConf{uuid: uuid, name: str(m.Name), tenant: b.v.TenantOf(uuid), typ: typ, stats: b.d.vsCounters(uuid), domains: m.VhDomainName}
	add := func(t *target) *target {
		if t != nil {
			vs.targets = append(vs.targets, t)
		}
		return t
	}
	vs.def = add(b.target(vs.name, m.PoolRef, m.PoolGroupRef))
	for _, s := range m.ServicePoolSelect {
		if s == nil || s.ServicePort == nil {
			continue
		}
		lo := int(*s.ServicePort)
		hi := max(intOr(s.ServicePortRangeEnd, 0), lo)
		t := add(b.target(vs.name, s.ServicePoolRef, s.ServicePoolGroupRef))
		vs.spSelect = append(vs.spSelect, spSel{lo: lo, hi: hi, proto: str(s.ServiceProtocol), tgt: t})
	}
	l4 := slices.Clone(m.L4Policies)
	slices.SortStableFunc(l4, func(a, c *models.L4Policies) int { return cmp.Compare(intOr(a.Index, 0), intOr(c.Index, 0)) })
	for _, p := range l4 {
		if p == nil {
			continue
		}
		for _, r := range b.l4Rules(vs.name, p.L4PolicySetRef) {
			add(r.tgt)
			vs.l4Rules = append(vs.l4Rules, r)
		}
	}
	hp := slices.Clone(m.HTTPPolicies)
	slices.SortStableFunc(hp, func(a, c *models.HTTPPolicies) int { return cmp.Compare(intOr(a.Index, 0), intOr(c.Index, 0)) })
	for _, p := range hp {
		if p == nil {
			continue
		}
		for _, r := range b.httpRules(vs.name, p.HTTPPolicySetRef) {
			if r.redirect != nil {
				vs.hasRedirect = true
			}
			add(r.tgt)
			vs.httpRules = append(vs.httpRules, r)
		}
		vs.rspRules = append(vs.rspRules, b.responseRules(p.HTTPPolicySetRef)...)
	}
	for _, ref := range m.SslKeyAndCertificateRefs {
		if c, err := b.cert(refUUID(&ref)); err != nil {
			b.problem("virtual service %s: certificate: %v", vs.name, err)
		} else {
			vs.certs = append(vs.certs, c)
		}
	}
	return vs
}

// target resolves a pool or pool group reference; nil when neither is set
// or the object is missing.
func (b *build) target(owner string, poolRef, groupRef *string) *target {
	if u := refUUID(poolRef); u != "" {
		if p := b.pool(u); p != nil {
			return &target{pool: p}
		}
		b.problem("%s: pool %s not found", owner, u)
	}
	if u := refUUID(groupRef); u != "" {
		if g := b.group(u); g != nil {
			return &target{group: g}
		}
		b.problem("%s: pool group %s not found", owner, u)
	}
	return nil
}

func (b *build) pool(uuid string) *poolConf {
	if p, ok := b.pools[uuid]; ok {
		return p
	}
	kind, m := b.v.Get(uuid)
	if kind != "pool" {
		b.pools[uuid] = nil
		return nil
	}
	pm := m.(*models.Pool)
	p := &poolConf{uuid: uuid, name: str(pm.Name), enabled: boolOr(pm.Enabled, true),
		alg: cmp.Or(str(pm.LbAlgorithm), "LB_ALGORITHM_LEAST_CONNECTIONS"), fail: pm.FailAction,
		tls: refUUID(pm.SslProfileRef) != "", sni: str(pm.ServerName), sniEnabled: boolOr(pm.SniEnabled, true),
		st: b.d.poolState(uuid)}
	p.hash, p.hashHdr = cmp.Or(str(pm.LbAlgorithmHash), "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS"), str(pm.LbAlgorithmConsistentHashHdr)
	if p.alg == "LB_ALGORITHM_CONSISTENT_HASH" && !slices.Contains(supportedHashes, p.hash) {
		b.problem("pool %s: lb_algorithm_hash %s is not simulated; hashed on the client address", p.name, p.hash)
	}
	p.persist = b.persistence(p.name, pm.ApplicationPersistenceProfileRef)
	b.pools[uuid] = p
	useSvc := boolOr(pm.UseServicePort, false)
	defPort := intOr(pm.DefaultServerPort, 80)
	for _, s := range pm.Servers {
		if s == nil || s.IP == nil || str(s.IP.Addr) == "" {
			if s != nil && str(s.Hostname) != "" {
				b.problem("pool %s: server %s has no IP address (avisim does not resolve hostnames)", p.name, str(s.Hostname))
			}
			continue
		}
		port := intOr(s.Port, 0)
		if port == 0 {
			port = defPort
		}
		if useSvc {
			port = 0
		}
		sc := &serverConf{ip: str(s.IP.Addr), port: port, enabled: boolOr(s.Enabled, true), ratio: max(intOr(s.Ratio, 1), 1)}
		sc.dialIP = sc.ip
		if b.d.opts.ServersOnLoopback {
			sc.dialIP = onLoopback(sc.ip)
		}
		sc.key = net.JoinHostPort(sc.ip, strconv.Itoa(port))
		sc.st = p.st.server(sc.key)
		p.servers = append(p.servers, sc)
	}
	for _, ref := range pm.HealthMonitorRefs {
		if hm := b.monitor(refUUID(&ref)); hm != nil {
			p.monitors = append(p.monitors, hm)
		} else {
			b.problem("pool %s: health monitor %s not found", p.name, ref)
		}
	}
	var keys []string
	for _, hm := range p.monitors {
		keys = append(keys, hm.uuid)
	}
	for _, s := range p.servers {
		s.st.setMonitors(keys)
	}
	return p
}

// supportedHashes are the consistent-hash keys the data plane hashes on.
var supportedHashes = []string{"LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS", "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS_AND_PORT",
	"LB_ALGORITHM_CONSISTENT_HASH_URI", "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER"}

// persistence is how long a pool's persistence profile keeps a client on a
// server: client-IP persistence (ip_persistence_profile.ip_persistent_timeout
// minutes, 5 by default) is simulated; other types are listed as problems
// and the pool balances without persistence.
func (b *build) persistence(pool string, ref *string) time.Duration {
	uuid := refUUID(ref)
	if uuid == "" {
		return 0
	}
	kind, m := b.v.Get(uuid)
	if kind != "applicationpersistenceprofile" {
		b.problem("pool %s: persistence profile %s not found", pool, str(ref))
		return 0
	}
	pp := m.(*models.ApplicationPersistenceProfile)
	switch typ := str(pp.PersistenceType); typ {
	case "", "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS", "PERSISTENCE_TYPE_CLIENT_IPV6_ADDRESS":
		minutes := 5
		if ip := pp.IPPersistenceProfile; ip != nil {
			minutes = intOr(ip.IPPersistentTimeout, 5)
		}
		return time.Duration(max(minutes, 1)) * time.Minute
	default:
		b.problem("pool %s: persistence type %s of %s is not simulated; the pool balances without persistence", pool, typ, str(pp.Name))
		return 0
	}
}

func (b *build) group(uuid string) *groupConf {
	if g, ok := b.groups[uuid]; ok {
		return g
	}
	kind, m := b.v.Get(uuid)
	if kind != "poolgroup" {
		b.groups[uuid] = nil
		return nil
	}
	gm := m.(*models.PoolGroup)
	g := &groupConf{uuid: uuid, name: str(gm.Name), fail: gm.FailAction, rr: b.d.poolState(uuid)}
	b.groups[uuid] = g
	for _, mem := range gm.Members {
		if mem == nil {
			continue
		}
		p := b.pool(refUUID(mem.PoolRef))
		if p == nil {
			b.problem("pool group %s: member pool %s not found", g.name, str(mem.PoolRef))
			continue
		}
		// Without a PriorityLabels object the label is a number, higher
		// first; an absent label ranks below every number.
		prio := -1
		if l := str(mem.PriorityLabel); l != "" {
			if n, err := strconv.Atoi(l); err == nil {
				prio = n
			} else {
				b.problem("pool group %s: priority_label %q is not a number (avisim does not read PriorityLabels)", g.name, l)
			}
		}
		g.members = append(g.members, groupMember{pool: p, priority: prio, ratio: intOr(mem.Ratio, 1)})
	}
	slices.SortStableFunc(g.members, func(a, c groupMember) int { return cmp.Compare(c.priority, a.priority) })
	return g
}

func (b *build) netType(ref *string) string {
	u := refUUID(ref)
	if u == "" {
		return netTCPProxy
	}
	kind, m := b.v.Get(u)
	if kind != "networkprofile" {
		return ""
	}
	np := m.(*models.NetworkProfile)
	if np.Profile == nil {
		return netTCPProxy
	}
	return cmp.Or(str(np.Profile.Type), netTCPProxy)
}

func (b *build) appType(ref *string) string {
	u := refUUID(ref)
	if u == "" {
		// The controller gives a virtual service without one System-HTTP.
		return appHTTP
	}
	kind, m := b.v.Get(u)
	if kind != "applicationprofile" {
		return ""
	}
	return str(m.(*models.ApplicationProfile).Type)
}

// listen adds the listener specs of an enabled virtual service.
func (b *build) listen(vs *vsConf, m *models.VirtualService) {
	kind, vm := b.v.Get(refUUID(m.VsvipRef))
	if kind != "vsvip" {
		b.problem("virtual service %s: no VsVip (vsvip_ref %q)", vs.name, str(m.VsvipRef))
		return
	}
	var ips []string
	for _, vip := range vm.(*models.VsVip).Vip {
		if vip == nil || !boolOr(vip.Enabled, true) {
			continue
		}
		for _, a := range []*models.IPAddr{vip.IPAddress, vip.Ip6Address} {
			if a == nil {
				continue
			}
			if ip, err := netip.ParseAddr(str(a.Addr)); err == nil && !ip.IsUnspecified() {
				ips = append(ips, ip.String())
			}
		}
	}
	for _, svc := range m.Services {
		if svc == nil || svc.Port == nil {
			continue
		}
		lo := int(*svc.Port)
		hi := max(intOr(svc.PortRangeEnd, 0), lo)
		if hi-lo >= maxPortRange {
			b.problem("virtual service %s: port range %d-%d is wider than avisim serves (%d ports); serving %d-%d", vs.name, lo, hi, maxPortRange, lo, lo+maxPortRange-1)
			hi = lo + maxPortRange - 1
		}
		netRef := m.NetworkProfileRef
		if svc.OverrideNetworkProfileRef != nil {
			netRef = svc.OverrideNetworkProfileRef
		}
		appRef := m.ApplicationProfileRef
		if svc.OverrideApplicationProfileRef != nil {
			appRef = svc.OverrideApplicationProfileRef
		}
		nt, at := b.netType(netRef), b.appType(appRef)
		ssl := boolOr(svc.EnableSsl, false)
		proto := "tcp"
		switch {
		case strings.HasPrefix(nt, "PROTOCOL_TYPE_UDP"):
			proto = "udp"
		case strings.HasPrefix(nt, "PROTOCOL_TYPE_TCP"):
		default:
			b.problem("virtual service %s port %d: network profile type %q is not served by avisim", vs.name, lo, nt)
			continue
		}
		var mode string
		switch {
		case at == "":
			b.problem("virtual service %s port %d: application profile not found", vs.name, lo)
			continue
		case at == appHTTP && proto == "udp":
			b.problem("virtual service %s port %d: an HTTP application profile over UDP", vs.name, lo)
			continue
		case at == appHTTP && ssl:
			mode = modeHTTPS
		case at == appHTTP:
			mode = modeHTTP
		case proto == "udp":
			mode = modeUDP
		case ssl || at == appSSL:
			mode = modeL4SSL
		default:
			mode = modeL4
		}
		if (mode == modeHTTPS || mode == modeL4SSL) && len(vs.certs) == 0 {
			b.problem("virtual service %s port %d: SSL without a usable certificate; TLS handshakes fail", vs.name, lo)
		}
		for port := lo; port <= hi; port++ {
			for _, ip := range ips {
				k := lkey{ip: ip, port: port, proto: proto}
				if other := b.specs[k]; other != nil {
					b.problem("%s: claimed by virtual services %s and %s; %s serves it", k, other.vs.name, vs.name, other.vs.name)
					continue
				}
				b.specs[k] = &lspec{key: k, mode: mode, netType: nt, vs: vs}
			}
		}
	}
}

func (b *build) l4Rules(owner string, ref *string) []*l4Rule {
	kind, m := b.v.Get(refUUID(ref))
	if kind != "l4policyset" {
		b.problem("virtual service %s: L4 policy set %s not found", owner, str(ref))
		return nil
	}
	ps := m.(*models.L4PolicySet)
	if ps.L4ConnectionPolicy == nil {
		return nil
	}
	rules := slices.Clone(ps.L4ConnectionPolicy.Rules)
	slices.SortStableFunc(rules, func(a, c *models.L4Rule) int { return cmp.Compare(intOr(a.Index, 0), intOr(c.Index, 0)) })
	var out []*l4Rule
	for _, r := range rules {
		if r == nil || !boolOr(r.Enable, true) {
			continue
		}
		lr := &l4Rule{}
		if mt := r.Match; mt != nil {
			if pm := mt.Port; pm != nil {
				lr.hasPort, lr.portNot = true, str(pm.MatchCriteria) == "IS_NOT_IN"
				for _, p := range pm.Ports {
					lr.ports = append(lr.ports, portRange{int(p), int(p)})
				}
				for _, pr := range pm.PortRanges {
					if pr != nil {
						lr.ports = append(lr.ports, portRange{intOr(pr.Start, 0), intOr(pr.End, 0)})
					}
				}
			}
			if pm := mt.Protocol; pm != nil {
				lr.proto, lr.protoNot = str(pm.Protocol), str(pm.MatchCriteria) == "IS_NOT_IN"
			}
			if cm := mt.ClientIP; cm != nil {
				im, ok := newIPMatch(cm)
				if !ok {
					lr.unsupported = true
					b.problem("L4 policy set %s rule %s: client_ip with IP groups is not supported; the rule never matches", str(ps.Name), str(r.Name))
				}
				lr.client = im
			}
		}
		if a := r.Action; a != nil && a.SelectPool != nil {
			lr.tgt = b.target("L4 policy set "+str(ps.Name), a.SelectPool.PoolRef, a.SelectPool.PoolGroupRef)
		}
		out = append(out, lr)
	}
	return out
}

// certEntry caches a parsed certificate by the object's _last_modified.
type certEntry struct {
	lastMod string
	cert    tls.Certificate
	err     error
}

func (b *build) cert(uuid string) (tls.Certificate, error) {
	kind, m := b.v.Get(uuid)
	if kind != "sslkeyandcertificate" {
		return tls.Certificate{}, fmt.Errorf("sslkeyandcertificate %s not found", uuid)
	}
	c := m.(*models.SSLKeyAndCertificate)
	b.certSeen[uuid] = true
	lm := str(c.LastModified)
	if e, ok := b.d.certs[uuid]; ok && e.lastMod == lm {
		return e.cert, e.err
	}
	cert, err := parseCert(c)
	b.d.certs[uuid] = certEntry{lastMod: lm, cert: cert, err: err}
	return cert, err
}

func parseCert(c *models.SSLKeyAndCertificate) (tls.Certificate, error) {
	var crt string
	if c.Certificate != nil {
		crt = str(c.Certificate.Certificate)
	}
	key := str(c.Key)
	if crt == "" || key == "" {
		return tls.Certificate{}, fmt.Errorf("%s has no certificate or key", str(c.Name))
	}
	dec := func(s string, b64 *bool) ([]byte, error) {
		if boolOr(b64, false) {
			return base64.StdEncoding.DecodeString(s)
		}
		return []byte(s), nil
	}
	cb, err := dec(crt, c.CertificateBase64)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: certificate is not base64: %v", str(c.Name), err)
	}
	kb, err := dec(key, c.KeyBase64)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: key is not base64", str(c.Name))
	}
	cert, err := tls.X509KeyPair(cb, kb)
	if err != nil {
		// The error names no key material.
		return tls.Certificate{}, fmt.Errorf("%s: %v", str(c.Name), err)
	}
	return cert, nil
}

func (b *build) monitor(uuid string) *monitorConf {
	if hm, ok := b.monitors[uuid]; ok {
		return hm
	}
	kind, m := b.v.Get(uuid)
	if kind != "healthmonitor" {
		b.monitors[uuid] = nil
		return nil
	}
	hm := newMonitorConf(uuid, m.(*models.HealthMonitor), b.d.opts.MonitorTimeScale)
	if hm.unsupported != "" {
		b.problem("health monitor %s: %s; servers it monitors stay down", hm.name, hm.unsupported)
	}
	b.monitors[uuid] = hm
	return hm
}

// onLoopback is the loopback address standing in for an IPv4 server
// address: 127 and the address's last three octets.
func onLoopback(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() || a.IsLoopback() {
		return ip
	}
	b := a.As4()
	b[0] = 127
	return netip.AddrFrom4(b).String()
}

// scaled applies the time scale to a monitor duration in seconds, keeping
// at least 10 ms so that a scaled monitor still lets a connection happen.
func scaled(seconds int, scale float64) time.Duration {
	d := time.Duration(float64(seconds) * scale * float64(time.Second))
	return max(d, 10*time.Millisecond)
}
