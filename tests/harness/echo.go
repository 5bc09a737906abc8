package harness

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/dataplane"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

// MonitorTimeScale is the health monitor time scale of StartTrafficSim: the
// controller's System-TCP (a check every 10 s, down after 2 failures)
// becomes a check every 500 ms, so a dead backend leaves its pool within
// about a second.
const MonitorTimeScale = 0.05

// StartTrafficSim starts a simulated controller whose virtual services
// answer on their VIPs (avisim's data plane), seeded with avisim.LoopbackSeed
// so every VIP (vip-net-a 127.77.0.0/22) is served at its own address, and
// pool servers reached on loopback (PodIP). It closes at cleanup, releasing
// every listener.
func StartTrafficSim(t testing.TB) *avisim.Sim {
	t.Helper()
	return StartTrafficSimWith(t, avisim.LoopbackSeed())
}

// StartTrafficSimWith is StartTrafficSim with another seed (the loopback
// seed edited, say: its VIP networks are what the data plane can bind).
func StartTrafficSimWith(t testing.TB, seed *avisim.Seed) *avisim.Sim {
	t.Helper()
	sim, err := avisim.New(avisim.Options{Seed: seed, Username: SimUser, Password: SimPassword,
		DataPlane: &dataplane.Options{MonitorTimeScale: MonitorTimeScale, ServersOnLoopback: true, Logf: t.Logf}})
	if err != nil {
		t.Fatalf("avisim: %v", err)
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	register(t, sim)
	return sim
}

// echoNet numbers the loopback networks backends are put on, so the
// backends of successive tests never share an address.
var echoNet atomic.Int64

// StartEchos starts one echo backend per name, standing in for pods or
// nodes: on 127.<n>.<m>.1, .2, ... of a loopback network of their own, all
// on one port (for both TCP and UDP), so one EndpointSlice port or one
// nodePort reaches every one of them. port 0 picks a free one. They stop at
// cleanup.
func StartEchos(t testing.TB, port int, names ...string) []*echo.Server {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		n := echoNet.Add(1)
		prefix := fmt.Sprintf("127.%d.%d.", 100+n/250%150, n%250)
		var out []*echo.Server
		p := port
		var err error
		for i, name := range names {
			var s *echo.Server
			s, err = echo.New(name, prefix+strconv.Itoa(i+1), p)
			if err != nil {
				break
			}
			p = s.Port()
			out = append(out, s)
		}
		if err == nil {
			for _, s := range out {
				t.Cleanup(s.Close)
			}
			return out
		}
		for _, s := range out {
			s.Close()
		}
		if port != 0 {
			t.Fatalf("echo backends on port %d: %v", port, err)
		}
	}
	t.Fatalf("no free port for %d echo backends", len(names))
	return nil
}

// PodIP is the address a pod answering at backend's loopback address has
// in Kubernetes objects (EndpointSlices refuse loopback addresses):
// 127.a.b.c is 10.a.b.c, which StartTrafficSim's data plane reaches at
// 127.a.b.c again.
func PodIP(backend *echo.Server) string {
	a, err := netip.ParseAddr(backend.IP())
	if err != nil || !a.Is4() {
		return backend.IP()
	}
	b := a.As4()
	b[0] = 10
	return netip.AddrFrom4(b).String()
}

// FreePort returns a TCP and UDP port free on every address given, in
// [lo, hi] (a nodePort range, say), or fails the test.
func FreePort(t testing.TB, lo, hi int, addrs ...string) int {
	t.Helper()
	p := lo + int(echoNet.Add(1)*37%int64(hi-lo+1))
	for tries := 0; tries <= hi-lo; tries, p = tries+1, lo+(p-lo+1)%(hi-lo+1) {
		free := true
		for _, a := range addrs {
			hp := net.JoinHostPort(a, strconv.Itoa(p))
			l, err := net.Listen("tcp", hp)
			if err != nil {
				free = false
				break
			}
			u, err := net.ListenPacket("udp", hp)
			l.Close()
			if err != nil {
				free = false
				break
			}
			u.Close()
		}
		if free {
			return p
		}
	}
	t.Fatalf("no port in %d-%d is free on %v", lo, hi, addrs)
	return 0
}
