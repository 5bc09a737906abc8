package gateway

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestTCPAndUDPRoutes: a TCPRoute and a UDPRoute on a Gateway's TCP and UDP
// listeners answer through the Gateway's VIP from the Service's pods, next
// to an HTTP listener on the same VIP; deleting the Gateway removes the L4
// virtual service too.
func TestTCPAndUDPRoutes(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureClass(t)
	ns := newNamespace(t)
	pods := harness.StartEchos(t, 0, "dns-1", "dns-2")
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dns"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "tcp", Port: 5300, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt(pods[0].Port())},
		{Name: "udp", Port: 5300, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt(pods[0].Port())}}}}
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dns-1", Labels: map[string]string{discoveryv1.LabelServiceName: "dns"}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("tcp"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(pods[0].Port()))},
			{Name: ptr.To("udp"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(int32(pods[0].Port()))}}}
	for _, p := range pods {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{harness.PodIP(p)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	env.CreateAndRemove(t, sl)
	env.CreateAndRemove(t, svc)
	web := harness.StartEchos(t, 0, "web-1")
	backendService(t, ns, "web", web...)

	env.Create(t, gateway(ns, "gw", "http:80:HTTP", "dns-tcp:5353:TCP", "dns-udp:5353:UDP"))
	backend := []gatewayv1.BackendRef{{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "dns", Port: ptr.To(gatewayv1.PortNumber(5300))}}}
	parent := func(section string) []gatewayv1.ParentReference {
		return []gatewayv1.ParentReference{{Name: "gw", SectionName: ptr.To(gatewayv1.SectionName(section))}}
	}
	env.CreateAndRemove(t, &gatewayv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dns-tcp"}, Spec: gatewayv1.TCPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parent("dns-tcp")}, Rules: []gatewayv1.TCPRouteRule{{BackendRefs: backend}}}})
	env.CreateAndRemove(t, &gatewayv1.UDPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dns-udp"}, Spec: gatewayv1.UDPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parent("dns-udp")}, Rules: []gatewayv1.UDPRouteRule{{BackendRefs: backend}}}})
	env.CreateAndRemove(t, httpRoute(ns, "web", "gw", nil, rule{"PathPrefix", "/", []string{"web"}}))
	vip := waitProgrammed(t, ns, "gw").Status.Addresses[0].Value

	var tcp, udp string
	harness.Eventually(t, "the TCP and UDP ports are served", func() string {
		var ok1, ok2 bool
		tcp, ok1 = sim.DataPlane().Lookup(vip, 5353, "tcp")
		udp, ok2 = sim.DataPlane().Lookup(vip, 5353, "udp")
		if !ok1 || !ok2 {
			return fmt.Sprintf("listeners %v; problems %v", sim.DataPlane().Status().Listeners, sim.DataPlane().Status().Problems)
		}
		return ""
	})
	answered := func(what string, send func() (string, error)) {
		harness.Eventually(t, what, func() string {
			seen := map[string]bool{}
			for i := 0; i < 12; i++ {
				b, err := send()
				if err != nil {
					return err.Error()
				}
				seen[b] = true
			}
			if !seen["dns-1"] || !seen["dns-2"] || len(seen) != 2 {
				return fmt.Sprintf("answered by %v", seen)
			}
			return ""
		})
	}
	answered("TCP through the Gateway's VIP reaches both pods", func() (string, error) { return echo.Line(tcp, "hello") })
	answered("UDP through the Gateway's VIP reaches both pods", func() (string, error) { return echo.Datagram(udp, "ping") })
	eventuallyAnsweredBy(t, served(t, sim, vip, 80), "any.example.com", "/", "web-1")
	for _, r := range []struct{ kind, name string }{{"TCPRoute", "dns-tcp"}, {"UDPRoute", "dns-udp"}} {
		harness.Eventually(t, r.kind+" is accepted", func() string {
			var st gatewayv1.RouteStatus
			if r.kind == "TCPRoute" {
				var o gatewayv1.TCPRoute
				if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: r.name}, &o); err != nil {
					return err.Error()
				}
				st = o.Status.RouteStatus
			} else {
				var o gatewayv1.UDPRoute
				if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: r.name}, &o); err != nil {
					return err.Error()
				}
				st = o.Status.RouteStatus
			}
			if len(st.Parents) != 1 {
				return fmt.Sprintf("parents %+v", st.Parents)
			}
			for _, typ := range []string{"Accepted", "ResolvedRefs"} {
				if c := condition(st.Parents[0].Conditions, typ); c == nil || c.Status != metav1.ConditionTrue {
					return describe(st.Parents[0].Conditions)
				}
			}
			return ""
		})
	}

	if err := env.Client.Delete(t.Context(), &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"}}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the Gateway's virtual services, L4 one included, leave the controller", func() string {
		if left := harness.SimNames(sim, "admin", "virtualservice", "demo--"+ns+"-gw-EVH"); len(left) > 0 {
			return fmt.Sprintf("still there: %v", left)
		}
		if left := harness.SimNames(sim, "admin", "vsvip", "demo--"+ns+"-gw-EVH"); len(left) > 0 {
			return fmt.Sprintf("still there: %v", left)
		}
		return ""
	})
}
