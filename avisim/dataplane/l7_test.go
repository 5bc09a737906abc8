package dataplane_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

// poolGroup creates a pool holding bs (no monitor) and a pool group with it,
// both named name, and returns the group's uuid.
func (e *env) poolGroup(name string, bs ...*echo.Server) string {
	e.t.Helper()
	p := e.create("pool", &models.Pool{Name: s(name), Servers: servers(bs...)})
	return e.create("poolgroup", &models.PoolGroup{Name: s(name), Members: []*models.PoolGroupMember{{PoolRef: s("/api/pool/" + p)}}})
}

func hostIs(host string) *models.HostHdrMatch {
	return &models.HostHdrMatch{MatchCriteria: s("HDR_EQUALS"), MatchCase: s("INSENSITIVE"), Value: []string{host}}
}

func pathIs(criteria, path string) *models.PathMatch {
	return &models.PathMatch{MatchCriteria: s(criteria), MatchCase: s("SENSITIVE"), MatchStr: []string{path}}
}

func toGroup(pg string) *models.HttpswitchingAction {
	return &models.HttpswitchingAction{Action: s("HTTP_SWITCHING_SELECT_POOLGROUP"), PoolGroupRef: s("/api/poolgroup/" + pg)}
}

// httpVS creates a VsVip and an HTTP virtual service with the given
// services and policy set, and returns the VIP.
func (e *env) httpVS(name string, mod func(*models.VirtualService), services ...*models.Service) (ip, uuid string) {
	e.t.Helper()
	vsvip := e.create("vsvip", &models.VsVip{Name: s(name), Vip: []*models.Vip{{VipID: s("1"), AutoAllocateIP: b(true)}}})
	vs := &models.VirtualService{Name: s(name), VsvipRef: s("/api/vsvip/" + vsvip),
		ApplicationProfileRef: s("/api/applicationprofile/?name=System-HTTP"), Services: services}
	if mod != nil {
		mod(vs)
	}
	return e.vip(vsvip), e.create("virtualservice", vs)
}

func policies(ps string) []*models.HTTPPolicies {
	return []*models.HTTPPolicies{{Index: i32(11), HTTPPolicySetRef: s("/api/httppolicyset/" + ps)}}
}

// TestHTTPRouting: requests follow the HTTP policy set's enabled rules in
// index order (host header and path criteria as configured); a redirect
// rule answers with its redirect; a request no rule routes, on a virtual
// service without a pool, gets no answer.
func TestHTTPRouting(t *testing.T) {
	e := newEnv(t, nil)
	a, bb := backend(t, "a", "127.0.10.1"), backend(t, "b", "127.0.10.2")
	pgA, pgB := e.poolGroup("pg-a", a), e.poolGroup("pg-b", bb)
	rules := []*models.HTTPRequestRule{
		// Listed out of order: the index decides.
		{Name: s("foo-root"), Index: i32(3), Enable: b(true), Match: &models.MatchTarget{HostHdr: hostIs("foo.example.com"), Path: pathIs("BEGINS_WITH", "/")}, SwitchingAction: toGroup(pgA)},
		{Name: s("disabled"), Index: i32(1), Enable: b(false), Match: &models.MatchTarget{HostHdr: hostIs("foo.example.com")}, SwitchingAction: toGroup(pgB)},
		{Name: s("foo-api"), Index: i32(2), Enable: b(true), Match: &models.MatchTarget{HostHdr: hostIs("foo.example.com"), Path: pathIs("BEGINS_WITH", "/api")}, SwitchingAction: toGroup(pgB)},
		{Name: s("bar-exact"), Index: i32(4), Enable: b(true), Match: &models.MatchTarget{HostHdr: hostIs("bar.example.com"), Path: pathIs("EQUALS", "/exact")}, SwitchingAction: toGroup(pgB)},
		{Name: s("old"), Index: i32(5), Enable: b(true), Match: &models.MatchTarget{HostHdr: hostIs("old.example.com")},
			RedirectAction: &models.HTTPRedirectAction{Protocol: s("HTTPS"), Port: u32(443), StatusCode: s("HTTP_REDIRECT_STATUS_CODE_301")}},
		{Name: s("moved"), Index: i32(6), Enable: b(true), Match: &models.MatchTarget{HostHdr: hostIs("moved.example.com")},
			RedirectAction: &models.HTTPRedirectAction{Protocol: s("HTTP"), Port: u32(8080), KeepQuery: b(false), StatusCode: s("HTTP_REDIRECT_STATUS_CODE_307")}},
		{Name: s("gone"), Index: i32(7), Enable: b(true), Match: &models.MatchTarget{Path: pathIs("EQUALS", "/gone")},
			SwitchingAction: &models.HttpswitchingAction{Action: s("HTTP_SWITCHING_SELECT_LOCAL"), StatusCode: s("HTTP_LOCAL_RESPONSE_STATUS_CODE_404")}},
	}
	ps := e.create("httppolicyset", &models.HTTPPolicySet{Name: s("routes"), HTTPRequestPolicy: &models.HTTPRequestPolicy{Rules: rules}})
	ip, _ := e.httpVS("l7", func(vs *models.VirtualService) { vs.HTTPPolicies = policies(ps) }, &models.Service{Port: u32(80)})
	addr := e.addr(ip, 80, "tcp")

	cases := []struct {
		host, path string
		backend    string // "" when no backend may answer
		code       int
		location   string
	}{
		{"foo.example.com", "/", "a", 200, ""},
		{"FOO.Example.com", "/x", "a", 200, ""}, // host match is case-insensitive
		{"foo.example.com", "/api/v1", "b", 200, ""},
		{"foo.example.com", "/API", "a", 200, ""}, // path match is case-sensitive
		{"bar.example.com", "/exact", "b", 200, ""},
		{"old.example.com", "/p?q=1", "", 301, "https://old.example.com/p?q=1"},
		{"moved.example.com", "/p?q=1", "", 307, "http://moved.example.com:8080/p"},
		{"foo.example.com", "/gone", "a", 200, ""}, // foo-root (index 3) matches before gone (index 7)
		{"bar.example.com", "/gone", "", 404, ""},
	}
	for _, tc := range cases {
		r := echo.Get(addr, tc.host, tc.path)
		if r.Err != nil || r.Code != tc.code || r.Answer.Backend != tc.backend || r.Header.Get("Location") != tc.location {
			t.Errorf("GET http://%s%s: %v; want %d from %q location %q", tc.host, tc.path, r, tc.code, tc.backend, tc.location)
		}
		if tc.backend != "" && (r.Answer.Host != tc.host || r.Answer.XFF != "127.0.0.1") {
			t.Errorf("GET http://%s%s reached the backend as host %q with X-Forwarded-For %q; want the Host header unchanged and the client's address",
				tc.host, tc.path, r.Answer.Host, r.Answer.XFF)
		}
	}
	for _, tc := range []struct{ host, path string }{{"bar.example.com", "/exact/more"}, {"nobody.example.com", "/"}} {
		if r := echo.Get(addr, tc.host, tc.path); !echo.IsReset(r.Err) {
			t.Errorf("GET http://%s%s (no rule, no default pool): %v; want the connection closed without an answer", tc.host, tc.path, r)
		}
	}
}

// TestSNI: an SNI parent serves a child's certificate, policies and pools
// to clients naming the child's vh_domain_name, and its own certificate
// (System-Default-Cert) and policies to every other name; on port 80 the
// parent's redirect sends the secure host to HTTPS. A rotated certificate
// is served to the next client.
func TestSNI(t *testing.T) {
	e := newEnv(t, nil)
	plain, sec := backend(t, "plain", "127.0.10.1"), backend(t, "secure", "127.0.10.2")
	pgPlain, pgSec := e.poolGroup("pg-plain", plain), e.poolGroup("pg-secure", sec)
	parentPS := e.create("httppolicyset", &models.HTTPPolicySet{Name: s("parent"), HTTPRequestPolicy: &models.HTTPRequestPolicy{Rules: []*models.HTTPRequestRule{
		{Name: s("redirect"), Index: i32(1), Enable: b(true),
			Match:          &models.MatchTarget{HostHdr: hostIs("secure.example.com"), VsPort: &models.PortMatch{MatchCriteria: s("IS_IN"), Ports: []int64{80}}},
			RedirectAction: &models.HTTPRedirectAction{Protocol: s("HTTPS"), Port: u32(443), KeepQuery: b(true), StatusCode: s("HTTP_REDIRECT_STATUS_CODE_302")}},
		{Name: s("plain"), Index: i32(2), Enable: b(true), Match: &models.MatchTarget{HostHdr: hostIs("plain.example.com"), Path: pathIs("BEGINS_WITH", "/")}, SwitchingAction: toGroup(pgPlain)},
	}}})
	ip, parent := e.httpVS("parent", func(vs *models.VirtualService) {
		vs.Type = s("VS_TYPE_VH_PARENT")
		vs.HTTPPolicies = policies(parentPS)
		vs.SslKeyAndCertificateRefs = []string{"/api/sslkeyandcertificate/?name=System-Default-Cert"}
	}, &models.Service{Port: u32(80)}, &models.Service{Port: u32(443), EnableSsl: b(true)})
	crt, key := selfSigned(t, "secure.example.com")
	certModel := &models.SSLKeyAndCertificate{Name: s("secure"), Type: s("SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"),
		Certificate: &models.SSLCertificate{Certificate: s(string(crt))}, Key: s(string(key))}
	cert := e.create("sslkeyandcertificate", certModel)
	childPS := e.create("httppolicyset", &models.HTTPPolicySet{Name: s("child"), HTTPRequestPolicy: &models.HTTPRequestPolicy{Rules: []*models.HTTPRequestRule{
		{Name: s("secure"), Index: i32(1), Enable: b(true), Match: &models.MatchTarget{HostHdr: hostIs("secure.example.com"), Path: pathIs("BEGINS_WITH", "/")}, SwitchingAction: toGroup(pgSec)},
	}}})
	e.create("virtualservice", &models.VirtualService{Name: s("child"), Type: s("VS_TYPE_VH_CHILD"), VhParentVsRef: s("/api/virtualservice/" + parent),
		VhDomainName: []string{"secure.example.com"}, ApplicationProfileRef: s("/api/applicationprofile/?name=System-Secure-HTTP"),
		SslKeyAndCertificateRefs: []string{"/api/sslkeyandcertificate/" + cert}, HTTPPolicies: policies(childPS)})
	http80, https443 := e.addr(ip, 80, "tcp"), e.addr(ip, 443, "tcp")

	waitFor(t, "the child serves its host", func() string {
		if r := echo.GetTLS(https443, "secure.example.com", "/", "secure.example.com"); r.Answer.Backend != "secure" {
			return r.String()
		}
		return ""
	})
	r := echo.GetTLS(https443, "secure.example.com", "/app", "secure.example.com")
	if r.Answer.Backend != "secure" || r.Cert == nil || fingerprint(r.Cert) != fingerprintPEM(t, crt) {
		t.Errorf("https://secure.example.com/app: %v with certificate %v; want the secure backend and the child's certificate", r, subject(r.Cert))
	}
	if r.Answer.TLS {
		t.Errorf("the backend saw TLS; the virtual service terminates it and talks plain HTTP to the pool")
	}
	for _, name := range []string{"plain.example.com", ""} {
		r := echo.GetTLS(https443, "plain.example.com", "/", name)
		if r.Answer.Backend != "plain" || subject(r.Cert) != "System Default Cert" {
			t.Errorf("https://plain.example.com/ with SNI %q: %v certificate %q; want the parent's policies and System-Default-Cert", name, r, subject(r.Cert))
		}
	}
	if r := echo.Get(http80, "secure.example.com", "/a?b=c"); r.Code != http.StatusFound || r.Header.Get("Location") != "https://secure.example.com/a?b=c" {
		t.Errorf("http://secure.example.com/a?b=c: %v; want 302 to https://secure.example.com/a?b=c", r)
	}
	if r := echo.Get(http80, "plain.example.com", "/"); r.Answer.Backend != "plain" {
		t.Errorf("http://plain.example.com/: %v; want the plain backend", r)
	}
	// A name no child claims is the parent's: it routes only plain.example.com.
	if r := echo.GetTLS(https443, "secure.example.com", "/", "other.example.com"); !echo.IsReset(r.Err) {
		t.Errorf("https with SNI other.example.com and Host secure.example.com: %v; want no answer (the parent routes only plain.example.com)", r)
	}

	// Rotation: the next handshake gets the new certificate.
	crt2, key2 := selfSigned(t, "secure.example.com")
	certModel.Certificate = &models.SSLCertificate{Certificate: s(string(crt2))}
	certModel.Key = s(string(key2))
	e.update("sslkeyandcertificate", cert, certModel)
	waitFor(t, "the rotated certificate is served", func() string {
		r := echo.GetTLS(https443, "secure.example.com", "/", "secure.example.com")
		if r.Cert == nil || fingerprint(r.Cert) != fingerprintPEM(t, crt2) {
			return fmt.Sprintf("%v", r)
		}
		return ""
	})
}

// TestFailActions: a pool with no up server answers HTTP with its fail
// action: a local response or a redirect when configured, else nothing.
func TestFailActions(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name     string
		fail     *models.FailAction
		code     int
		location string
	}{
		{"close", nil, 0, ""},
		{"local", &models.FailAction{Type: s("FAIL_ACTION_HTTP_LOCAL_RSP"), LocalRsp: &models.FailActionHTTPLocalResponse{StatusCode: s("FAIL_HTTP_STATUS_CODE_503")}}, 503, ""},
		{"redirect", &models.FailAction{Type: s("FAIL_ACTION_HTTP_REDIRECT"), Redirect: &models.FailActionHTTPRedirect{Host: s("sorry.example.com"), Protocol: s("HTTPS"), StatusCode: s("HTTP_REDIRECT_STATUS_CODE_302")}}, 302, "https://sorry.example.com/x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := e.create("pool", &models.Pool{Name: s("p-" + tc.name), FailAction: tc.fail})
			ip, _ := e.httpVS("vs-"+tc.name, func(vs *models.VirtualService) { vs.PoolRef = s("/api/pool/" + p) }, &models.Service{Port: u32(80)})
			r := echo.Get(e.addr(ip, 80, "tcp"), "any.example.com", "/x")
			if tc.code == 0 {
				if !echo.IsReset(r.Err) {
					t.Errorf("%v; want the connection closed", r)
				}
				return
			}
			if r.Err != nil || r.Code != tc.code || r.Header.Get("Location") != tc.location {
				t.Errorf("%v; want %d location %q", r, tc.code, tc.location)
			}
		})
	}
}

// TestPoolGroupPriority: a pool group sends traffic to its highest
// priority pool with an up server, and to the next when that one is down.
func TestPoolGroupPriority(t *testing.T) {
	e := newEnv(t, nil)
	a, bb := backend(t, "a", "127.0.10.1"), backend(t, "b", "127.0.10.2")
	hi := e.create("pool", &models.Pool{Name: s("hi"), Servers: servers(a), HealthMonitorRefs: []string{"/api/healthmonitor/?name=System-TCP"}})
	lo := e.create("pool", &models.Pool{Name: s("lo"), Servers: servers(bb)})
	pg := e.create("poolgroup", &models.PoolGroup{Name: s("pg"), Members: []*models.PoolGroupMember{
		{PoolRef: s("/api/pool/" + lo), PriorityLabel: s("1")}, {PoolRef: s("/api/pool/" + hi), PriorityLabel: s("10")}}})
	ip, _ := e.httpVS("prio", func(vs *models.VirtualService) { vs.PoolGroupRef = s("/api/poolgroup/" + pg) }, &models.Service{Port: u32(80)})
	addr := e.addr(ip, 80, "tcp")
	waitFor(t, "the high-priority pool serves", func() string {
		if got := answeredBy([]string{"a"}, func() string { return echo.Get(addr, "x", "/").Answer.Backend }); !slices.Equal(got, []string{"a"}) {
			return fmt.Sprintf("answered by %v", got)
		}
		return ""
	})
	a.Stop()
	waitFor(t, "the low-priority pool serves once a is down", func() string {
		if got := answeredBy([]string{"b"}, func() string { return echo.Get(addr, "x", "/").Answer.Backend }); !slices.Equal(got, []string{"b"}) {
			return fmt.Sprintf("answered by %v", got)
		}
		return ""
	})
}

// TestMonitorTypes: each monitor type marks a live echo backend up only
// when its answer is what the monitor expects; a type avisim cannot run
// leaves the server down.
func TestMonitorTypes(t *testing.T) {
	e := newEnv(t, nil)
	a := backend(t, "a", "127.0.10.1")
	httpMon := func(typ string, codes ...string) *models.HealthMonitor {
		m := &models.HealthMonitor{Type: s(typ)}
		h := &models.HealthMonitorHTTP{HTTPRequest: s("GET /healthz HTTP/1.0"), HTTPResponseCode: codes}
		if typ == "HEALTH_MONITOR_HTTPS" {
			m.HTTPSMonitor = h
		} else {
			m.HTTPMonitor = h
		}
		return m
	}
	cases := []struct {
		name string
		hm   *models.HealthMonitor
		up   bool
	}{
		{"http-2xx", httpMon("HEALTH_MONITOR_HTTP", "HTTP_2XX"), true},
		{"http-4xx", httpMon("HEALTH_MONITOR_HTTP", "HTTP_4XX"), false},
		{"https-2xx", httpMon("HEALTH_MONITOR_HTTPS", "HTTP_2XX"), true},
		{"http-body", func() *models.HealthMonitor {
			m := httpMon("HEALTH_MONITOR_HTTP", "HTTP_2XX")
			m.HTTPMonitor.HTTPResponse = s(`"path":"/healthz"`)
			return m
		}(), true},
		{"tcp-request", &models.HealthMonitor{Type: s("HEALTH_MONITOR_TCP"), TCPMonitor: &models.HealthMonitorTCP{TCPRequest: s("hi\n"), TCPResponse: s("a: hi")}}, true},
		{"tcp-wrong-answer", &models.HealthMonitor{Type: s("HEALTH_MONITOR_TCP"), TCPMonitor: &models.HealthMonitorTCP{TCPRequest: s("hi\n"), TCPResponse: s("b: hi")}}, false},
		{"tcp-maintenance", &models.HealthMonitor{Type: s("HEALTH_MONITOR_TCP"), TCPMonitor: &models.HealthMonitorTCP{TCPRequest: s("hi\n"), MaintenanceResponse: s("a:")}}, false},
		{"udp-answer", &models.HealthMonitor{Type: s("HEALTH_MONITOR_UDP"), UDPMonitor: &models.HealthMonitorUDP{UDPRequest: s("x"), UDPResponse: s("a: x")}}, true},
		{"ping", &models.HealthMonitor{Type: s("HEALTH_MONITOR_PING")}, true},
		{"dns-unsupported", &models.HealthMonitor{Type: s("HEALTH_MONITOR_DNS")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.hm.Name = s("hm-" + tc.name)
			tc.hm.SendInterval, tc.hm.ReceiveTimeout, tc.hm.SuccessfulChecks, tc.hm.FailedChecks = i32(1), i32(1), i32(1), i32(1)
			hm := e.create("healthmonitor", tc.hm)
			p := e.create("pool", &models.Pool{Name: s("p-" + tc.name), Servers: servers(a), HealthMonitorRefs: []string{"/api/healthmonitor/" + hm}})
			ip, _ := e.httpVS("vs-"+tc.name, func(vs *models.VirtualService) { vs.PoolRef = s("/api/pool/" + p) }, &models.Service{Port: u32(80)})
			addr := e.addr(ip, 80, "tcp")
			want := "up"
			if !tc.up {
				want = "down"
			}
			// A server starts down: wait for a verdict (a reason, or up).
			waitFor(t, "server "+want, func() string {
				srv := findServer(e, "vs-"+tc.name, "p-"+tc.name, a.Addr())
				if srv.State != want || !tc.up && (srv.Reason == "" || srv.Reason == "not checked yet") {
					return fmt.Sprintf("%+v", srv)
				}
				return ""
			})
			r := echo.Get(addr, "x", "/")
			if tc.up && r.Answer.Backend != "a" || !tc.up && !echo.IsReset(r.Err) {
				t.Errorf("request with the server %s: %v", want, r)
			}
		})
	}
}

func fingerprint(c *x509.Certificate) [32]byte { return sha256.Sum256(c.Raw) }

func fingerprintPEM(t testing.TB, p []byte) [32]byte {
	t.Helper()
	blk, _ := pem.Decode(p)
	if blk == nil {
		t.Fatal("no PEM")
	}
	return sha256.Sum256(blk.Bytes)
}

func subject(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return c.Subject.CommonName
}
