package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/tests/harness"
)

// gateway is a Gateway of vipgate's class with one listener per entry of
// listeners ("name:port:protocol[:hostname]").
func gateway(ns, name string, listeners ...string) *gatewayv1.Gateway {
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: gatewayClass}}
	for _, l := range listeners {
		parts := strings.Split(l, ":")
		var port int
		fmt.Sscan(parts[1], &port)
		ls := gatewayv1.Listener{Name: gatewayv1.SectionName(parts[0]), Port: gatewayv1.PortNumber(port), Protocol: gatewayv1.ProtocolType(parts[2])}
		if len(parts) > 3 {
			ls.Hostname = ptr.To(gatewayv1.Hostname(parts[3]))
		}
		gw.Spec.Listeners = append(gw.Spec.Listeners, ls)
	}
	return gw
}

// waitProgrammed waits until the Gateway is Accepted and Programmed for its
// generation with an address, and returns it.
func waitProgrammed(t testing.TB, ns, name string) *gatewayv1.Gateway {
	t.Helper()
	var gw gatewayv1.Gateway
	harness.Eventually(t, fmt.Sprintf("Gateway %s/%s is programmed", ns, name), func() string {
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &gw); err != nil {
			return err.Error()
		}
		for _, typ := range []string{"Accepted", "Programmed"} {
			c := condition(gw.Status.Conditions, typ)
			if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != gw.Generation {
				return describe(gw.Status.Conditions)
			}
		}
		if len(gw.Status.Addresses) == 0 {
			return "no address in status"
		}
		return ""
	})
	return &gw
}

// TestGatewayVIP: a Gateway gets a VsVip and a virtual service with a port
// per listener port, its VIP in status.addresses, Accepted and Programmed,
// and listener statuses; a requested address is the one it gets; deleting
// the Gateway removes its objects from the controller.
func TestGatewayVIP(t *testing.T) {
	sim := harness.StartSim(t, avisim.DemoSeed())
	start(t, sim, nil)
	ensureClass(t)
	ns := newNamespace(t)

	web := gateway(ns, "web", "http:80:HTTP", "alt:8080:HTTP:alt.example.com", "raw:9000:TCP")
	web.Spec.Listeners = append(web.Spec.Listeners, gatewayv1.Listener{Name: "tls", Port: 8443, Protocol: gatewayv1.TLSProtocolType,
		TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModePassthrough)}})
	env.Create(t, web)
	gw := waitProgrammed(t, ns, "web")
	vip := gw.Status.Addresses[0].Value
	if !strings.HasPrefix(vip, "10.50.0.") || gw.Status.Addresses[0].Type == nil || *gw.Status.Addresses[0].Type != gatewayv1.IPAddressType {
		t.Errorf("status.addresses %+v; want one IPAddress from vip-net-a 10.50.0.0/24", gw.Status.Addresses)
	}
	name := "demo--" + ns + "-web-EVH"
	vsvip := harness.SimObject(sim, "admin", "vsvip", name)
	if got := harness.Str(vsvip, "vip", 0, "ip_address", "addr"); got != vip {
		t.Errorf("VsVip %s holds %q; status says %s", name, got, vip)
	}
	vs := harness.SimObject(sim, "admin", "virtualservice", name)
	var ports []float64
	for _, s := range harness.Path(vs, "services").([]any) {
		ports = append(ports, s.(map[string]any)["port"].(float64))
	}
	if !slices.Equal(ports, []float64{80, 8080}) {
		t.Errorf("virtual service %s ports %v; want [80 8080] (the TCP listener has no route; the TLS one is not programmed)", name, ports)
	}
	if got := harness.Str(vs, "vsvip_ref"); !strings.HasSuffix(got, harness.Str(vsvip, "uuid")) {
		t.Errorf("virtual service refers to VsVip %q, want %s", got, harness.Str(vsvip, "uuid"))
	}
	want := map[string][2]string{"http": {"True", "Accepted"}, "alt": {"True", "Accepted"}, "raw": {"True", "Accepted"}, "tls": {"False", "UnsupportedProtocol"}}
	wantProgrammed := map[string][2]string{"http": {"True", "Programmed"}, "alt": {"True", "Programmed"}, "raw": {"False", "Pending"}, "tls": {"False", "Invalid"}}
	if len(gw.Status.Listeners) != 4 {
		t.Fatalf("listener statuses %+v", gw.Status.Listeners)
	}
	for _, ls := range gw.Status.Listeners {
		c := condition(ls.Conditions, "Accepted")
		if w := want[string(ls.Name)]; c == nil || string(c.Status) != w[0] || c.Reason != w[1] {
			t.Errorf("listener %s: %s; want Accepted=%s %s", ls.Name, describe(ls.Conditions), w[0], w[1])
		}
		if c, w := condition(ls.Conditions, "Programmed"), wantProgrammed[string(ls.Name)]; c == nil || string(c.Status) != w[0] || c.Reason != w[1] {
			t.Errorf("listener %s: %s; want Programmed=%s %s", ls.Name, describe(ls.Conditions), w[0], w[1])
		}
		if ls.AttachedRoutes != 0 {
			t.Errorf("listener %s has %d attached routes; none exist", ls.Name, ls.AttachedRoutes)
		}
	}

	pinned := gateway(ns, "pinned", "http:80:HTTP")
	pinned.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: ptr.To(gatewayv1.IPAddressType), Value: "10.50.0.77"}}
	env.Create(t, pinned)
	if got := waitProgrammed(t, ns, "pinned").Status.Addresses[0].Value; got != "10.50.0.77" {
		t.Errorf("Gateway asking for 10.50.0.77 got %s", got)
	}

	if err := env.Client.Delete(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the deleted Gateway's objects leave the controller", func() string {
		var left []string
		for _, typ := range []string{"virtualservice", "vsvip", "httppolicyset", "pool", "poolgroup"} {
			left = append(left, harness.SimNames(sim, "admin", typ, "demo--"+ns+"-web-EVH")...)
		}
		if len(left) > 0 {
			return fmt.Sprintf("still there: %v", left)
		}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "web"}, &gatewayv1.Gateway{}); err == nil {
			return "the Gateway is still there (finalizer)"
		}
		return ""
	})
	if harness.SimObject(sim, "admin", "vsvip", "demo--"+ns+"-pinned-EVH") == nil {
		t.Error("deleting one Gateway removed another's VsVip")
	}
}

// TestGatewayAdmission: what kubectl apply shows for Gateways vipgate
// refuses, each with its exact message; a Gateway of another class is not
// judged.
func TestGatewayAdmission(t *testing.T) {
	sim := harness.StartSim(t, avisim.DemoSeed())
	start(t, sim, nil)
	ensureClass(t)
	ns := newNamespace(t)
	held := gateway(ns, "holder", "http:80:HTTP")
	held.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Value: "10.50.0.88"}}
	env.Create(t, held)
	waitProgrammed(t, ns, "holder")

	manifest := func(name, class, addresses, listeners string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n  gatewayClassName: " + class + "\n" +
			addresses + "  listeners:\n" + listeners
	}
	http80 := "  - {name: http, port: 80, protocol: HTTP}\n"
	for _, c := range []struct {
		name, manifest, want string
	}{
		{"address outside the VIP networks", manifest("far", gatewayClass, "  addresses: [{type: IPAddress, value: 10.10.0.5}]\n", http80),
			`The Gateway "far" is invalid: spec.addresses[0].value: Invalid value: "10.10.0.5": not inside any VIP network of NetworkSettings.vipNetworkList (vip-net-a 10.50.0.0/24, static VIP range 10.50.0.10-10.50.0.200); pick an address in a static VIP range, or leave it unset to get one allocated`},
		{"address another Gateway holds", manifest("taker", gatewayClass, "  addresses: [{type: IPAddress, value: 10.50.0.88}]\n", http80),
			`The Gateway "taker" is invalid: spec.addresses[0].value: Invalid value: "10.50.0.88": is already requested or held by Gateway ` + ns + `/holder; a VIP belongs to one Gateway`},
		{"two addresses", manifest("two", gatewayClass, "  addresses: [{value: 10.50.0.20}, {value: 10.50.0.21}]\n", http80),
			`The Gateway "two" is invalid: spec.addresses: Invalid value: 2: vipgate gives a Gateway one VIP; list at most one address`},
		{"HTTP and TCP on one port", manifest("mixed", gatewayClass, "", http80+"  - {name: raw, port: 80, protocol: TCP}\n"),
			`The Gateway "mixed" is invalid: spec.listeners[1].protocol: Invalid value: "TCP": port 80 is already used by listener http with protocol HTTP; an Avi virtual service port serves one protocol: use another port`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := env.Kubectl(context.Background(), c.manifest, "apply", "-f", "-")
			if err == nil {
				t.Fatalf("kubectl apply succeeded:\n%s", out)
			}
			if got := strings.TrimSpace(out); !strings.Contains(got, c.want) {
				t.Errorf("kubectl printed\n%s\nwant it to contain\n%s", got, c.want)
			}
		})
	}
	// Another controller's class: the same bad address is not vipgate's business.
	out, err := env.Kubectl(context.Background(), manifest("theirs", "someone-else", "  addresses: [{value: 10.10.0.5}]\n", http80), "apply", "-f", "-")
	if err != nil {
		t.Errorf("a Gateway of another class was refused:\n%s", out)
	}
}
