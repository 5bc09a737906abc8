package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestFullSyncPutsBackAGatewaysVirtualService: a Gateway's virtual service
// deleted on the controller comes back at the next full sync
// (fullSyncFrequency), on the same VsVip: the Gateway keeps its address.
func TestFullSyncPutsBackAGatewaysVirtualService(t *testing.T) {
	sim := harness.StartSim(t, avisim.DemoSeed())
	start(t, sim, func(s *config.Settings) { s.AKOSettings.FullSyncFrequency = "2" })
	ensureClass(t)
	ns := newNamespace(t)
	env.Create(t, gateway(ns, "web", "http:80:HTTP"))
	before := addresses(waitProgrammed(t, ns, "web"))
	name := "demo--" + ns + "-web-EVH"
	vs := harness.SimObject(sim, "admin", "virtualservice", name)
	if vs == nil {
		t.Fatalf("no virtual service %s", name)
	}
	vsvip := harness.Str(vs, "vsvip_ref")
	harness.DeleteBehindVipgate(t, sim, "virtualservice/"+name)
	harness.Eventually(t, "the Gateway's virtual service put back", func() string {
		vs := harness.SimObject(sim, "admin", "virtualservice", name)
		switch {
		case vs == nil:
			return "no virtual service " + name
		case harness.Str(vs, "vsvip_ref") != vsvip:
			return fmt.Sprintf("on VsVip %s, was %s", harness.Str(vs, "vsvip_ref"), vsvip)
		}
		return ""
	})
	if after := addresses(waitProgrammed(t, ns, "web")); after != before {
		t.Errorf("Gateway addresses %s after the repair, were %s", after, before)
	}
}

// addresses renders a Gateway's status addresses.
func addresses(gw *gatewayv1.Gateway) string {
	var out []string
	for _, a := range gw.Status.Addresses {
		out = append(out, a.Value)
	}
	return fmt.Sprint(out)
}

// TestFullSyncGivesBackALostGatewaysVIP: a Gateway's virtual service and
// VsVip are deleted on the controller. The full sync creates them again, and
// the VsVip asks for the address the Gateway's status shows, so the Gateway
// keeps it though the IPAM would hand out a lower address a deleted Service
// freed.
func TestFullSyncGivesBackALostGatewaysVIP(t *testing.T) {
	ctx := context.Background()
	sim := harness.StartSim(t, avisim.DemoSeed())
	start(t, sim, func(s *config.Settings) { s.AKOSettings.FullSyncFrequency = "2" })
	ensureClass(t)
	ns := newNamespace(t)
	// A LoadBalancer Service takes the first address, the Gateway the next.
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "first"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "tcp", Port: 5000, Protocol: corev1.ProtocolTCP}}}}
	env.Create(t, lb)
	harness.Eventually(t, "the LoadBalancer Service's VIP", func() string {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lb), lb); err != nil || len(lb.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Sprintf("status %+v, %v", lb.Status, err)
		}
		return ""
	})
	freed := lb.Status.LoadBalancer.Ingress[0].IP
	env.Create(t, gateway(ns, "web", "http:80:HTTP"))
	gw := waitProgrammed(t, ns, "web")
	if len(gw.Status.Addresses) != 1 {
		t.Fatalf("Gateway addresses %v, want one", gw.Status.Addresses)
	}
	before := gw.Status.Addresses[0].Value
	if netip.MustParseAddr(freed).Compare(netip.MustParseAddr(before)) > 0 {
		t.Fatalf("the Service holds %s, above the Gateway's %s: the IPAM would not hand it to the Gateway first, so this test proves nothing", freed, before)
	}
	if err := env.Client.Delete(ctx, lb); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the Service's VsVip deleted", func() string {
		if harness.SimObject(sim, "admin", "vsvip", "demo--"+ns+"-first") != nil {
			return "still there"
		}
		return ""
	})

	name := "demo--" + ns + "-web-EVH"
	vs := harness.SimObject(sim, "admin", "virtualservice", name)
	if vs == nil {
		t.Fatalf("no virtual service %s", name)
	}
	vsvip := refName(t, sim, harness.Str(vs, "vsvip_ref"))
	harness.DeleteBehindVipgate(t, sim, "virtualservice/"+name, "vsvip/"+vsvip)
	harness.Eventually(t, "the Gateway's virtual service and VsVip put back", func() string {
		switch {
		case harness.SimObject(sim, "admin", "virtualservice", name) == nil:
			return "no virtual service " + name
		case harness.SimObject(sim, "admin", "vsvip", vsvip) == nil:
			return "no VsVip " + vsvip
		}
		return ""
	})
	if got := harness.Str(harness.SimObject(sim, "admin", "vsvip", vsvip), "vip", 0, "ip_address", "addr"); got != before {
		t.Errorf("the Gateway's VsVip came back with %s, want the address its status shows, %s", got, before)
	}
	if after := addresses(waitProgrammed(t, ns, "web")); after != fmt.Sprint([]string{before}) {
		t.Errorf("Gateway addresses %s after the repair, were [%s]", after, before)
	}
}

// refName is the name of the object a controller reference points at.
func refName(t testing.TB, sim *avisim.Sim, ref string) string {
	t.Helper()
	uuid := ref[strings.LastIndex(ref, "/")+1:]
	for _, o := range sim.Objects("admin", "vsvip") {
		if harness.Str(o, "uuid") == uuid {
			return harness.Str(o, "name")
		}
	}
	t.Fatalf("no VsVip for reference %s", ref)
	return ""
}
