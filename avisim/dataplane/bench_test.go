package dataplane_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

// BenchmarkDataplaneL4 measures HTTP requests per second through an L4
// virtual service (TCP proxy) to two echo backends, over keep-alive client
// connections. For the record: a simulator's throughput on this machine,
// not a target.
func BenchmarkDataplaneL4(b *testing.B) {
	e := newEnv(b, nil)
	svc := e.l4Service("bench", nil, backend(b, "a", "127.0.10.1"), backend(b, "b", "127.0.10.2"))
	benchRequests(b, e.addr(svc.ip, 80, "tcp"), "bench.example.com")
}

// BenchmarkDataplaneL7 measures HTTP requests per second through an HTTP
// virtual service whose policy routes the host to a pool group of two echo
// backends (the shape vipgate builds for an Ingress).
func BenchmarkDataplaneL7(tb *testing.B) {
	e := newEnv(tb, nil)
	pg := e.poolGroup("pg", backend(tb, "a", "127.0.10.1"), backend(tb, "b", "127.0.10.2"))
	ps := e.create("httppolicyset", &models.HTTPPolicySet{Name: s("bench"), HTTPRequestPolicy: &models.HTTPRequestPolicy{Rules: []*models.HTTPRequestRule{
		{Name: s("r"), Index: i32(1), Enable: b(true), Match: &models.MatchTarget{HostHdr: hostIs("bench.example.com"), Path: pathIs("BEGINS_WITH", "/")}, SwitchingAction: toGroup(pg)},
	}}})
	ip, _ := e.httpVS("bench", func(vs *models.VirtualService) { vs.HTTPPolicies = policies(ps) }, &models.Service{Port: u32(80)})
	benchRequests(tb, e.addr(ip, 80, "tcp"), "bench.example.com")
}

func benchRequests(b *testing.B, addr, host string) {
	// Servers take a health check or two to come up.
	waitFor(b, "a backend answers through "+addr, func() string {
		if r := echo.Get(addr, host, "/"); r.Answer.Backend == "" {
			return r.String()
		}
		return ""
	})
	var failed atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		for pb.Next() {
			resp, err := c.Get("http://" + host + "/")
			if err != nil {
				failed.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
