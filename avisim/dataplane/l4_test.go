package dataplane_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/dataplane"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

// l4 is an L4 virtual service with a TCP port 80 and a UDP port 53 whose
// pools (System-TCP and System-UDP monitored) hold backends, selected per
// port with service_pool_select, as vipgate builds a Service.
type l4 struct {
	vsvip, vs, tcpPool, udpPool string
	ip                          string
}

func (e *env) l4Service(name string, vsMod func(*models.VirtualService), bs ...*echo.Server) l4 {
	e.t.Helper()
	var o l4
	o.tcpPool = e.create("pool", &models.Pool{Name: s(name + "-TCP-80"), Servers: servers(bs...),
		HealthMonitorRefs: []string{"/api/healthmonitor/?name=System-TCP"}})
	o.udpPool = e.create("pool", &models.Pool{Name: s(name + "-UDP-53"), Servers: servers(bs...),
		HealthMonitorRefs: []string{"/api/healthmonitor/?name=System-UDP"}})
	o.vsvip = e.create("vsvip", &models.VsVip{Name: s(name), Vip: []*models.Vip{{VipID: s("1"), AutoAllocateIP: b(true)}}})
	o.ip = e.vip(o.vsvip)
	vs := &models.VirtualService{
		Name: s(name), VsvipRef: s("/api/vsvip/" + o.vsvip),
		ApplicationProfileRef: s("/api/applicationprofile/?name=System-L4-Application"),
		NetworkProfileRef:     s("/api/networkprofile/?name=System-TCP-Proxy"),
		Services: []*models.Service{{Port: u32(53), OverrideNetworkProfileRef: s("/api/networkprofile/?name=System-UDP-Fast-Path")},
			{Port: u32(80)}},
		ServicePoolSelect: []*models.ServicePoolSelector{
			{ServicePort: u32(53), ServiceProtocol: s("PROTOCOL_TYPE_UDP_FAST_PATH"), ServicePoolRef: s("/api/pool/" + o.udpPool)},
			{ServicePort: u32(80), ServiceProtocol: s("PROTOCOL_TYPE_TCP_PROXY"), ServicePoolRef: s("/api/pool/" + o.tcpPool)},
		},
	}
	if vsMod != nil {
		vsMod(vs)
	}
	o.vs = e.create("virtualservice", vs)
	return o
}

// answeredBy sends requests until every wanted backend answered or 200
// tries, and returns who answered (sorted, unique); send returns the
// backend's name or "".
func answeredBy(want []string, send func() string) []string {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		if n := send(); n != "" {
			seen[n] = true
		}
		all := true
		for _, w := range want {
			all = all && seen[w]
		}
		if all && i >= max(10, 4*len(want)) {
			break
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// lineBackend is the backend that echoed a line sent to addr, or "".
func lineBackend(addr string) string {
	n, _ := echo.Line(addr, "hello")
	return n
}

// udpBackend is the backend that echoed a datagram sent to addr, or "".
func udpBackend(addr string) string {
	n, _ := echo.Datagram(addr, "ping")
	return n
}

// TestL4TCPAndUDP: the VIP answers on its TCP port (bytes proxied to a pool
// server: raw lines and HTTP alike) and its UDP port (datagrams to a server
// and back), balancing over both backends; the loopback VIP is bound
// directly and listed at /admin/dataplane.
func TestL4TCPAndUDP(t *testing.T) {
	e := newEnv(t, nil)
	a, bb := backend(t, "a", "127.0.10.1"), backend(t, "b", "127.0.10.2")
	svc := e.l4Service("web", nil, a, bb)

	tcp := e.addr(svc.ip, 80, "tcp")
	if want := svc.ip + ":80"; tcp != want {
		t.Fatalf("TCP port served on %s, want the VIP itself %s", tcp, want)
	}
	udp := e.addr(svc.ip, 53, "udp")
	want := []string{"a", "b"}
	waitFor(t, "both backends answer on TCP", func() string {
		if got := answeredBy(want, func() string { return lineBackend(tcp) }); !slices.Equal(got, want) {
			return fmt.Sprintf("answered by %v", got)
		}
		return ""
	})
	if got := answeredBy(want, func() string { return echo.Get(tcp, "web.example.com", "/x").Answer.Backend }); !slices.Equal(got, want) {
		t.Errorf("HTTP through the L4 VIP answered by %v, want %v", got, want)
	}
	if r := echo.Get(tcp, "web.example.com", "/x"); r.Answer.Host != "web.example.com" || r.Answer.Path != "/x" {
		t.Errorf("HTTP through the L4 VIP: %v, want the request passed on unchanged", r)
	}
	waitFor(t, "both backends answer on UDP", func() string {
		if got := answeredBy(want, func() string { return udpBackend(udp) }); !slices.Equal(got, want) {
			return fmt.Sprintf("answered by %v", got)
		}
		return ""
	})

	// /admin/dataplane, as a person would read it.
	st := adminStatus(t, e.sim)
	var maps []string
	for _, l := range st.Listeners {
		maps = append(maps, l.Map)
	}
	wantMaps := []string{svc.ip + ":53/udp → " + svc.ip + ":53", svc.ip + ":80/tcp → " + svc.ip + ":80"}
	if !slices.Equal(maps, wantMaps) {
		t.Errorf("/admin/dataplane listeners %v, want %v", maps, wantMaps)
	}
	vs := findVS(st, "web")
	if vs == nil || vs.State != "up" || vs.Connections == 0 || vs.Requests == 0 || vs.BytesIn == 0 || vs.BytesOut == 0 {
		t.Errorf("virtual service status %+v, want up with connections, datagrams and bytes counted", vs)
	}
	if vs != nil {
		for _, p := range vs.Pools {
			for _, srv := range p.Servers {
				if srv.State != "up" || srv.Connections == 0 {
					t.Errorf("pool %s server %s: %+v, want up with connections", p.Name, srv.Address, srv)
				}
			}
		}
	}
}

// TestPoolFollowsServers: a scale-down is followed by traffic at once (the
// removed backend gets nothing), a scale-up once the new server passes its
// health checks.
func TestPoolFollowsServers(t *testing.T) {
	e := newEnv(t, nil)
	a, bb := backend(t, "a", "127.0.10.1"), backend(t, "b", "127.0.10.2")
	svc := e.l4Service("web", nil, a, bb)
	tcp, udp := e.addr(svc.ip, 80, "tcp"), e.addr(svc.ip, 53, "udp")
	both := []string{"a", "b"}
	waitFor(t, "both backends answer", func() string {
		if got := answeredBy(both, func() string { return lineBackend(tcp) }); !slices.Equal(got, both) {
			return fmt.Sprintf("TCP answered by %v", got)
		}
		return ""
	})

	for _, typ := range []struct{ pool, hm string }{{svc.tcpPool, "System-TCP"}, {svc.udpPool, "System-UDP"}} {
		e.update("pool", typ.pool, &models.Pool{Name: s(poolName(e, typ.pool)), Servers: servers(a), HealthMonitorRefs: []string{"/api/healthmonitor/?name=" + typ.hm}})
	}
	waitFor(t, "only a answers after the scale-down", func() string {
		got := answeredBy([]string{"a"}, func() string { return lineBackend(tcp) })
		gotU := answeredBy([]string{"a"}, func() string { return udpBackend(udp) })
		if !slices.Equal(got, []string{"a"}) || !slices.Equal(gotU, []string{"a"}) {
			return fmt.Sprintf("TCP answered by %v, UDP by %v", got, gotU)
		}
		return ""
	})

	for _, typ := range []struct{ pool, hm string }{{svc.tcpPool, "System-TCP"}, {svc.udpPool, "System-UDP"}} {
		e.update("pool", typ.pool, &models.Pool{Name: s(poolName(e, typ.pool)), Servers: servers(a, bb), HealthMonitorRefs: []string{"/api/healthmonitor/?name=" + typ.hm}})
	}
	waitFor(t, "both answer after the scale-up", func() string {
		got := answeredBy(both, func() string { return lineBackend(tcp) })
		gotU := answeredBy(both, func() string { return udpBackend(udp) })
		if !slices.Equal(got, both) || !slices.Equal(gotU, both) {
			return fmt.Sprintf("TCP answered by %v, UDP by %v", got, gotU)
		}
		return ""
	})
}

func poolName(e *env, uuid string) string {
	var p models.Pool
	if err := e.sess.Get("api/pool/"+uuid, &p); err != nil {
		e.t.Fatal(err)
	}
	return *p.Name
}

// TestNoServerUp: a pool with no server, or none up, gets the fail action:
// by default the connection is closed with a reset and datagrams dropped.
func TestNoServerUp(t *testing.T) {
	e := newEnv(t, nil)
	svc := e.l4Service("empty", nil)
	tcp, udp := e.addr(svc.ip, 80, "tcp"), e.addr(svc.ip, 53, "udp")
	if got, err := echo.Line(tcp, "hello"); !echo.IsReset(err) {
		t.Errorf("TCP to an empty pool: %q, %v; want the connection reset", got, err)
	}
	if got, err := echo.Datagram(udp, "ping"); err == nil {
		t.Errorf("UDP to an empty pool answered %q; want the datagram dropped", got)
	}
	st := e.dp.Status()
	if vs := findVS(st, "empty"); vs == nil || vs.State != "down" || vs.Failures < 2 {
		t.Errorf("status %+v, want down with both failures counted", vs)
	}
}

// TestMappedVIP: a VIP outside 127.0.0.0/8 (the demo seed's 10.50.0.0/24) is
// served on a loopback port that /admin/dataplane maps it to.
func TestMappedVIP(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed())
	a := backend(t, "a", "127.0.10.1")
	svc := e.l4Service("web", nil, a)
	if !strings.HasPrefix(svc.ip, "10.50.0.") {
		t.Fatalf("VIP %s is not from the demo seed's vip-net-a", svc.ip)
	}
	tcp := e.addr(svc.ip, 80, "tcp")
	if !strings.HasPrefix(tcp, "127.0.0.1:") {
		t.Fatalf("%s:80 served on %s, want a 127.0.0.1 port", svc.ip, tcp)
	}
	st := adminStatus(t, e.sim)
	found := false
	for _, l := range st.Listeners {
		if l.Map == svc.ip+":80/tcp → "+tcp && !l.Direct && l.VirtualService == "web" && l.Mode == "L4" {
			found = true
		}
	}
	if !found {
		t.Errorf("/admin/dataplane lacks %s:80/tcp → %s; has %+v", svc.ip, tcp, st.Listeners)
	}
	waitFor(t, "the mapped port answers", func() string {
		if n := lineBackend(tcp); n != "a" {
			return "answered by " + n
		}
		return ""
	})
	text := adminText(t, e.sim)
	if !strings.Contains(text, svc.ip+":80/tcp → "+tcp+"  L4  web\n") {
		t.Errorf("/admin/dataplane?format=text:\n%s\nlacks the line for %s:80/tcp", text, svc.ip)
	}
}

// TestEnabledFlags: a disabled virtual service, a disabled vip and
// traffic_enabled false do not answer; enabling brings the listener back.
func TestEnabledFlags(t *testing.T) {
	e := newEnv(t, nil)
	a := backend(t, "a", "127.0.10.1")
	var vsModel *models.VirtualService
	svc := e.l4Service("web", func(vs *models.VirtualService) { vsModel = vs }, a)
	e.addr(svc.ip, 80, "tcp")

	cases := []struct {
		name string
		off  func()
		on   func()
	}{
		{"enabled false", func() { vsModel.Enabled = b(false) }, func() { vsModel.Enabled = nil }},
		{"traffic_enabled false", func() { vsModel.TrafficEnabled = b(false) }, func() { vsModel.TrafficEnabled = nil }},
	}
	for _, tc := range cases {
		tc.off()
		e.update("virtualservice", svc.vs, vsModel)
		e.waitGone(svc.ip, 80, "tcp")
		if got, err := echo.Line(svc.ip+":80", "hello"); err == nil {
			t.Errorf("%s: the VIP answered %q", tc.name, got)
		}
		tc.on()
		e.update("virtualservice", svc.vs, vsModel)
		e.addr(svc.ip, 80, "tcp")
	}

	var vv models.VsVip
	if err := e.sess.Get("api/vsvip/"+svc.vsvip, &vv); err != nil {
		t.Fatal(err)
	}
	vv.Vip[0].Enabled = b(false)
	vv.LastModified = nil
	e.update("vsvip", svc.vsvip, &vv)
	e.waitGone(svc.ip, 80, "tcp")
	vv.Vip[0].Enabled = nil
	e.update("vsvip", svc.vsvip, &vv)
	e.addr(svc.ip, 80, "tcp")
}

// TestL4PolicySet: L4 policy rules pick the pool per port ahead of the
// virtual service's default pool; a disabled rule is ignored.
func TestL4PolicySet(t *testing.T) {
	e := newEnv(t, nil)
	a, bb := backend(t, "a", "127.0.10.1"), backend(t, "b", "127.0.10.2")
	pa := e.create("pool", &models.Pool{Name: s("pa"), Servers: servers(a)})
	pb := e.create("pool", &models.Pool{Name: s("pb"), Servers: servers(bb)})
	ps := e.create("l4policyset", &models.L4PolicySet{Name: s("ps"), L4ConnectionPolicy: &models.L4ConnectionPolicy{Rules: []*models.L4Rule{
		{Name: s("off"), Index: i32(1), Enable: b(false), Match: &models.L4RuleMatchTarget{Port: &models.L4RulePortMatch{MatchCriteria: s("IS_IN"), Ports: []int64{81}}},
			Action: &models.L4RuleAction{SelectPool: &models.L4RuleActionSelectPool{ActionType: s("L4_RULE_ACTION_SELECT_POOL"), PoolRef: s("/api/pool/" + pa)}}},
		{Name: s("81-to-b"), Index: i32(2), Match: &models.L4RuleMatchTarget{Port: &models.L4RulePortMatch{MatchCriteria: s("IS_IN"), Ports: []int64{81}}},
			Action: &models.L4RuleAction{SelectPool: &models.L4RuleActionSelectPool{ActionType: s("L4_RULE_ACTION_SELECT_POOL"), PoolRef: s("/api/pool/" + pb)}}},
	}}})
	vsvip := e.create("vsvip", &models.VsVip{Name: s("pol"), Vip: []*models.Vip{{VipID: s("1"), AutoAllocateIP: b(true)}}})
	ip := e.vip(vsvip)
	e.create("virtualservice", &models.VirtualService{Name: s("pol"), VsvipRef: s("/api/vsvip/" + vsvip),
		ApplicationProfileRef: s("/api/applicationprofile/?name=System-L4-Application"),
		Services:              []*models.Service{{Port: u32(80)}, {Port: u32(81)}},
		PoolRef:               s("/api/pool/" + pa),
		L4Policies:            []*models.L4Policies{{Index: i32(1), L4PolicySetRef: s("/api/l4policyset/" + ps)}}})
	for port, want := range map[int]string{80: "a", 81: "b"} {
		addr := e.addr(ip, port, "tcp")
		if got := answeredBy([]string{want}, func() string { return lineBackend(addr) }); !slices.Equal(got, []string{want}) {
			t.Errorf("port %d answered by %v, want only %s", port, got, want)
		}
	}
}

// TestSSLPort: an SSL-enabled L4 port terminates TLS with the virtual
// service's certificate and proxies the plain stream.
func TestSSLPort(t *testing.T) {
	e := newEnv(t, nil)
	a := backend(t, "a", "127.0.10.1")
	crt, key := selfSigned(t, "l4.example.com")
	cert := e.create("sslkeyandcertificate", &models.SSLKeyAndCertificate{Name: s("l4"), Type: s("SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"),
		Certificate: &models.SSLCertificate{Certificate: s(string(crt))}, Key: s(string(key))})
	pool := e.create("pool", &models.Pool{Name: s("p"), Servers: servers(a)})
	vsvip := e.create("vsvip", &models.VsVip{Name: s("ssl"), Vip: []*models.Vip{{VipID: s("1"), AutoAllocateIP: b(true)}}})
	ip := e.vip(vsvip)
	e.create("virtualservice", &models.VirtualService{Name: s("ssl"), VsvipRef: s("/api/vsvip/" + vsvip),
		ApplicationProfileRef:    s("/api/applicationprofile/?name=System-SSL-Application"),
		Services:                 []*models.Service{{Port: u32(8443), EnableSsl: b(true)}},
		SslKeyAndCertificateRefs: []string{"/api/sslkeyandcertificate/" + cert},
		PoolRef:                  s("/api/pool/" + pool)})
	addr := e.addr(ip, 8443, "tcp")
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "l4.example.com", InsecureSkipVerify: true}) //nolint:gosec // checked below
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "l4.example.com" {
		t.Errorf("served certificate %q, want the virtual service's l4.example.com", cn)
	}
	_, _ = io.WriteString(c, "hello\n")
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	if got := string(buf[:n]); got != "a: hello\n" {
		t.Errorf("through TLS: %q, want %q", got, "a: hello\n")
	}
}

func findVS(st dataplane.Status, name string) *dataplane.VSStatus {
	for i := range st.VirtualServices {
		if st.VirtualServices[i].Name == name {
			return &st.VirtualServices[i]
		}
	}
	return nil
}

// adminStatus reads /admin/dataplane over HTTPS, as a person would.
func adminStatus(t testing.TB, sim *avisim.Sim) dataplane.Status {
	t.Helper()
	var st dataplane.Status
	if err := json.Unmarshal([]byte(adminGet(t, sim, "/admin/dataplane")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func adminText(t testing.TB, sim *avisim.Sim) string {
	t.Helper()
	return adminGet(t, sim, "/admin/dataplane?format=text")
}

func adminGet(t testing.TB, sim *avisim.Sim, path string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // local simulator
	resp, err := c.Get(sim.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// TestServersOnLoopback: with ServersOnLoopback a pool server at
// 10.0.10.1 is reached at 127.0.10.1 (pods whose addresses Kubernetes
// refuses to be loopback); without it the same pool reaches nothing.
func TestServersOnLoopback(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			e := newEnvWith(t, nil, dataplane.Options{MonitorTimeScale: timeScale, ServersOnLoopback: on})
			a := backend(t, "a", "127.0.10.1")
			pool := e.create("pool", &models.Pool{Name: s("p"), Servers: []*models.Server{
				{IP: &models.IPAddr{Addr: s("10.0.10.1"), Type: s("V4")}, Port: i32(int32(a.Port()))}}})
			vsvip := e.create("vsvip", &models.VsVip{Name: s("v"), Vip: []*models.Vip{{VipID: s("1"), AutoAllocateIP: b(true)}}})
			ip := e.vip(vsvip)
			e.create("virtualservice", &models.VirtualService{Name: s("v"), VsvipRef: s("/api/vsvip/" + vsvip), PoolRef: s("/api/pool/" + pool),
				ApplicationProfileRef: s("/api/applicationprofile/?name=System-L4-Application"), Services: []*models.Service{{Port: u32(80)}}})
			addr := e.addr(ip, 80, "tcp")
			got, err := echo.Line(addr, "hello")
			if on && got != "a" || !on && err == nil {
				t.Errorf("server 10.0.10.1: answered by %q (%v)", got, err)
			}
			if srv := findServer(e, "v", "p", fmt.Sprintf("10.0.10.1:%d", a.Port())); srv.State != "up" {
				t.Errorf("server state %+v", srv)
			}
			if on {
				st := findVS(e.dp.Status(), "v")
				if st == nil || st.Pools[0].Servers[0].ReachedAt != a.Addr() {
					t.Errorf("status %+v, want the server reached at %s", st, a.Addr())
				}
			}
		})
	}
}
