package gateway

import (
	"fmt"
	"testing"

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
