package dataplane_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

// TestHealthMonitorTakesServerOut: a backend that stops answering is marked
// down by the pools' System-TCP and System-UDP monitors and gets no more
// traffic while the other keeps serving; when it answers again it is back in
// rotation.
func TestHealthMonitorTakesServerOut(t *testing.T) {
	e := newEnv(t, nil)
	a, bb := backend(t, "a", "127.0.10.1"), backend(t, "b", "127.0.10.2")
	svc := e.l4Service("web", nil, a, bb)
	tcp := e.addr(svc.ip, 80, "tcp")
	both := []string{"a", "b"}
	waitFor(t, "both backends answer", func() string {
		if got := answeredBy(both, func() string { return lineBackend(tcp) }); !slices.Equal(got, both) {
			return fmt.Sprintf("answered by %v", got)
		}
		return ""
	})

	a.Stop()
	waitFor(t, "a is marked down", func() string {
		st := findServer(e, "web", "web-TCP-80", a.Addr())
		if st.State != "down" || !strings.Contains(st.Reason, "connection refused") {
			return fmt.Sprintf("%+v", st)
		}
		return ""
	})
	// Once a is down every connection goes to b and none fails.
	for i := 0; i < 20; i++ {
		if n := lineBackend(tcp); n != "b" {
			t.Fatalf("connection %d after a went down answered by %q, want b", i, n)
		}
	}
	// System-UDP sees a's closed port (port unreachable) too.
	udp := e.addr(svc.ip, 53, "udp")
	waitFor(t, "only b answers on UDP", func() string {
		if got := answeredBy([]string{"b"}, func() string { return udpBackend(udp) }); !slices.Equal(got, []string{"b"}) {
			return fmt.Sprintf("answered by %v; a: %+v", got, findServer(e, "web", "web-UDP-53", a.Addr()))
		}
		return ""
	})

	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a is back in rotation", func() string {
		if got := answeredBy(both, func() string { return lineBackend(tcp) }); !slices.Equal(got, both) {
			return fmt.Sprintf("answered by %v", got)
		}
		return ""
	})
}

// TestRemoveListeningPort: with remove_listening_port_on_vs_down, a virtual
// service whose pools have no up server stops listening, and listens again
// when a server is up.
func TestRemoveListeningPort(t *testing.T) {
	e := newEnv(t, nil)
	a := backend(t, "a", "127.0.10.1")
	svc := e.l4Service("web", func(vs *models.VirtualService) { vs.RemoveListeningPortOnVsDown = b(true) }, a)
	e.addr(svc.ip, 80, "tcp")
	a.Stop()
	e.waitGone(svc.ip, 80, "tcp")
	e.waitGone(svc.ip, 53, "udp")
	if vs := findVS(e.dp.Status(), "web"); vs == nil || vs.State != "down" {
		t.Errorf("status %+v, want down", vs)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	e.addr(svc.ip, 80, "tcp")
}

// TestListenersFollowObjects: ports added, removed and moved on the virtual
// service, and the virtual service deleted, are followed by the listeners.
func TestListenersFollowObjects(t *testing.T) {
	e := newEnv(t, nil)
	a := backend(t, "a", "127.0.10.1")
	pool := e.create("pool", &models.Pool{Name: s("p"), Servers: servers(a)})
	vsvip := e.create("vsvip", &models.VsVip{Name: s("v"), Vip: []*models.Vip{{VipID: s("1"), AutoAllocateIP: b(true)}}})
	ip := e.vip(vsvip)
	vs := &models.VirtualService{Name: s("v"), VsvipRef: s("/api/vsvip/" + vsvip), PoolRef: s("/api/pool/" + pool),
		ApplicationProfileRef: s("/api/applicationprofile/?name=System-L4-Application"), Services: []*models.Service{{Port: u32(80)}}}
	uuid := e.create("virtualservice", vs)
	e.addr(ip, 80, "tcp")

	vs.Services = []*models.Service{{Port: u32(8080), PortRangeEnd: u32(8081)}}
	e.update("virtualservice", uuid, vs)
	e.waitGone(ip, 80, "tcp")
	for _, p := range []int{8080, 8081} {
		if n := lineBackend(e.addr(ip, p, "tcp")); n != "a" {
			t.Errorf("port %d answered by %q", p, n)
		}
	}
	e.del("virtualservice", uuid)
	e.waitGone(ip, 8080, "tcp")
	e.waitGone(ip, 8081, "tcp")
	if _, err := echo.Line(ip+":8080", "hello"); err == nil {
		t.Errorf("a deleted virtual service still answers")
	}
}

// TestReleasesResources: 500 virtual services created and deleted leave no
// socket or goroutine behind.
func TestReleasesResources(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 500 virtual services")
	}
	e := newEnv(t, nil)
	// One round first, so that lazily created connections (the API
	// session's) are part of the baseline.
	mk := func(i int) (string, string, string) {
		name := fmt.Sprintf("vs-%d", i)
		vsvip := e.create("vsvip", &models.VsVip{Name: s(name), Vip: []*models.Vip{{VipID: s("1"), AutoAllocateIP: b(true)}}})
		vs := e.create("virtualservice", &models.VirtualService{Name: s(name), VsvipRef: s("/api/vsvip/" + vsvip),
			ApplicationProfileRef: s("/api/applicationprofile/?name=System-L4-Application"), Services: []*models.Service{{Port: u32(80)}}})
		return vsvip, vs, e.vip(vsvip)
	}
	v, u, ip := mk(-1)
	e.addr(ip, 80, "tcp")
	e.del("virtualservice", u)
	e.del("vsvip", v)
	e.waitGone(ip, 80, "tcp")
	fds0, gr0 := openFiles(t), runtime.NumGoroutine()

	const n = 500
	type made struct{ vsvip, vs, ip string }
	var all []made
	for i := 0; i < n; i++ {
		v, u, ip := mk(i)
		all = append(all, made{v, u, ip})
	}
	waitFor(t, fmt.Sprintf("%d listeners", n), func() string {
		if got := len(e.dp.Status().Listeners); got != n {
			return fmt.Sprintf("%d listeners", got)
		}
		return ""
	})
	if fds := openFiles(t); fds < fds0+n {
		t.Errorf("%d open files with %d listeners, started with %d: the listeners are not sockets of this process?", fds, n, fds0)
	}
	for _, m := range all {
		e.del("virtualservice", m.vs)
		e.del("vsvip", m.vsvip)
	}
	waitFor(t, "open files and goroutines back to their start values", func() string {
		fds, gr := openFiles(t), runtime.NumGoroutine()
		if fds > fds0 || gr > gr0 {
			return fmt.Sprintf("%d open files (start %d), %d goroutines (start %d), %d listeners", fds, fds0, gr, gr0, len(e.dp.Status().Listeners))
		}
		return ""
	})
}

func openFiles(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("counting open files needs /proc: %v", err)
	}
	return len(ents)
}

func findServer(e *env, vsName, pool, addr string) (out struct{ State, Reason string }) {
	vs := findVS(e.dp.Status(), vsName)
	if vs == nil {
		return
	}
	for _, p := range vs.Pools {
		if p.Name != pool {
			continue
		}
		for _, srv := range p.Servers {
			if srv.Address == addr {
				out.State, out.Reason = srv.State, srv.Reason
			}
		}
	}
	return
}
