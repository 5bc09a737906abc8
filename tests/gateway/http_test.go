package gateway

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/tests/harness"
)

// backendService creates a ClusterIP Service name (port 80 to the
// backends' port) and the EndpointSlice the endpoint-slice controller
// (absent in envtest) would write with the backends ready.
func backendService(t testing.TB, ns, name string, bs ...*echo.Server) {
	t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt(bs[0].Port())}}}}
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(bs[0].Port()))}}}
	for _, b := range bs {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{harness.PodIP(b)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	env.CreateAndRemove(t, sl)
	env.CreateAndRemove(t, svc)
}

// rule is an HTTPRoute rule: one path match (type "Exact" or
// "PathPrefix") to backends given as "service[:weight]".
type rule struct {
	pathType, path string
	backends       []string
}

func httpRoute(ns, name, gateway string, hostnames []string, rules ...rule) *gatewayv1.HTTPRoute {
	rt := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	rt.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gateway)}}
	for _, h := range hostnames {
		rt.Spec.Hostnames = append(rt.Spec.Hostnames, gatewayv1.Hostname(h))
	}
	for _, r := range rules {
		hr := gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
			Type: ptr.To(gatewayv1.PathMatchType(r.pathType)), Value: ptr.To(r.path)}}}}
		for _, b := range r.backends {
			svc, w, _ := strings.Cut(b, ":")
			ref := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
				Name: gatewayv1.ObjectName(svc), Port: ptr.To(gatewayv1.PortNumber(80))}}}
			if w != "" {
				n, _ := strconv.Atoi(w)
				ref.Weight = ptr.To(int32(n))
			}
			hr.BackendRefs = append(hr.BackendRefs, ref)
		}
		rt.Spec.Rules = append(rt.Spec.Rules, hr)
	}
	return rt
}

// served waits until the data plane serves the VIP port and returns where.
func served(t testing.TB, sim *avisim.Sim, ip string, port int) string {
	t.Helper()
	var addr string
	harness.Eventually(t, fmt.Sprintf("%s:%d is served", ip, port), func() string {
		var ok bool
		if addr, ok = sim.DataPlane().Lookup(ip, port, "tcp"); !ok {
			return fmt.Sprintf("listeners %v; problems %v", sim.DataPlane().Status().Listeners, sim.DataPlane().Status().Problems)
		}
		return ""
	})
	if want := net.JoinHostPort(ip, strconv.Itoa(port)); addr != want {
		t.Logf("%s served on %s", want, addr)
	}
	return addr
}

// answeredBy sends n requests and returns who answered (sorted, unique)
// and how many got no answer.
func answeredBy(n int, addr, host, path string) (backends []string, failed int) {
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		r := echo.Get(addr, host, path)
		if r.Err != nil || r.Answer.Backend == "" {
			failed++
			continue
		}
		seen[r.Answer.Backend] = true
	}
	for b := range seen {
		backends = append(backends, b)
	}
	slices.Sort(backends)
	return backends, failed
}

// eventuallyAnsweredBy waits until 12 requests in a row are all answered,
// by exactly the backends want.
func eventuallyAnsweredBy(t testing.TB, addr, host, path string, want ...string) {
	t.Helper()
	slices.Sort(want)
	harness.Eventually(t, fmt.Sprintf("%s%s is answered by %v", host, path, want), func() string {
		got, failed := answeredBy(12, addr, host, path)
		if failed > 0 || !slices.Equal(got, want) {
			return fmt.Sprintf("answered by %v, %d without an answer", got, failed)
		}
		return ""
	})
}

// routeParentConditions returns the route's conditions for the Gateway, as vipgate wrote them.
func routeParentConditions(t testing.TB, ns, name, gateway string) []metav1.Condition {
	var rt gatewayv1.HTTPRoute
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &rt); err != nil {
		t.Fatal(err)
	}
	for _, p := range rt.Status.Parents {
		if string(p.ControllerName) == "ako.vmware.com/avi-lb" && string(p.ParentRef.Name) == gateway {
			return p.Conditions
		}
	}
	return nil
}

// waitRouteCondition waits until the route's condition typ for the Gateway
// has status, reason and message.
func waitRouteCondition(t testing.TB, ns, name, gateway, typ, status, reason, message string) {
	t.Helper()
	harness.Eventually(t, fmt.Sprintf("HTTPRoute %s %s=%s %s", name, typ, status, reason), func() string {
		conds := routeParentConditions(t, ns, name, gateway)
		c := condition(conds, typ)
		if c == nil || string(c.Status) != status || c.Reason != reason || c.Message != message {
			return describe(conds)
		}
		return ""
	})
}

// TestHTTPRouteRouting: an HTTPRoute on a Gateway sends each host and path
// to its Services' pods through the Gateway's VIP: Exact and PathPrefix
// (whole path elements: /api does not take /apix), a host the route does not
// name gets no answer, and the route and listener report the attachment.
func TestHTTPRouteRouting(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureClass(t)
	ns := newNamespace(t)
	shop := harness.StartEchos(t, 0, "shop-1", "shop-2")
	api := harness.StartEchos(t, 0, "api-1")
	exact := harness.StartEchos(t, 0, "exact-1")
	backendService(t, ns, "shop", shop...)
	backendService(t, ns, "api", api...)
	backendService(t, ns, "exact", exact...)
	env.Create(t, gateway(ns, "gw", "http:80:HTTP"))
	env.CreateAndRemove(t, httpRoute(ns, "site", "gw", []string{"foo.example.com"},
		rule{"PathPrefix", "/", []string{"shop"}},
		rule{"PathPrefix", "/api", []string{"api"}},
		rule{"Exact", "/api/login", []string{"exact"}}))
	gw := waitProgrammed(t, ns, "gw")
	addr := served(t, sim, gw.Status.Addresses[0].Value, 80)

	eventuallyAnsweredBy(t, addr, "foo.example.com", "/", "shop-1", "shop-2")
	eventuallyAnsweredBy(t, addr, "foo.example.com", "/api", "api-1")
	eventuallyAnsweredBy(t, addr, "foo.example.com", "/api/v1/items", "api-1")
	eventuallyAnsweredBy(t, addr, "foo.example.com", "/apix", "shop-1", "shop-2")
	eventuallyAnsweredBy(t, addr, "foo.example.com", "/api/login", "exact-1")
	eventuallyAnsweredBy(t, addr, "foo.example.com", "/api/login/x", "api-1")
	if r := echo.Get(addr, "foo.example.com", "/cart"); r.Answer.Host != "foo.example.com" || r.Answer.Path != "/cart" {
		t.Errorf("the backend saw host %q path %q, want foo.example.com /cart", r.Answer.Host, r.Answer.Path)
	}
	if r := echo.Get(addr, "bar.example.com", "/"); r.Err == nil && r.Answer.Backend != "" {
		t.Errorf("a host the route does not name was answered by %s", r.Answer.Backend)
	}

	waitRouteCondition(t, ns, "site", "gw", "Accepted", "True", "Accepted", "attached to Gateway "+ns+"/gw")
	waitRouteCondition(t, ns, "site", "gw", "ResolvedRefs", "True", "ResolvedRefs", "every backend is resolved")
	harness.Eventually(t, "the listener counts the route", func() string {
		g := waitProgrammed(t, ns, "gw")
		if len(g.Status.Listeners) != 1 || g.Status.Listeners[0].AttachedRoutes != 1 {
			return fmt.Sprintf("listeners %+v", g.Status.Listeners)
		}
		return ""
	})
}

// shopGateway starts vipgate on a fresh controller with Gateway gw (HTTP
// listener on port 80 for shop.example.com) programmed in a new namespace,
// and returns that namespace and another new one.
func shopGateway(t *testing.T) (ns, other string) {
	t.Helper()
	sim := harness.StartSim(t, avisim.DemoSeed())
	start(t, sim, nil)
	ensureClass(t)
	ns, other = newNamespace(t), newNamespace(t)
	env.Create(t, gateway(ns, "gw", "http:80:HTTP:shop.example.com"))
	waitProgrammed(t, ns, "gw")
	return ns, other
}

// TestHTTPRouteStatusReasons: a route whose hostname matches no listener,
// one whose listener does not allow its namespace, and one with a missing
// backend get the reasons and messages Gateway API users read.
func TestHTTPRouteStatusReasons(t *testing.T) {
	ns, other := shopGateway(t)

	env.CreateAndRemove(t, httpRoute(ns, "wrong-host", "gw", []string{"blog.example.com"}, rule{"PathPrefix", "/", []string{"shop"}}))
	waitRouteCondition(t, ns, "wrong-host", "gw", "Accepted", "False", "NoMatchingListenerHostname",
		"none of the route's hostnames [blog.example.com] matches a listener hostname of Gateway "+ns+"/gw")

	env.CreateAndRemove(t, httpRoute(ns, "no-backend", "gw", nil, rule{"PathPrefix", "/", []string{"missing"}}))
	waitRouteCondition(t, ns, "no-backend", "gw", "Accepted", "True", "Accepted", "attached to Gateway "+ns+"/gw")
	waitRouteCondition(t, ns, "no-backend", "gw", "ResolvedRefs", "False", "BackendNotFound",
		"spec.rules[0].backendRefs[0]: Service "+ns+"/missing not found")

	rt := httpRoute(other, "elsewhere", "gw", nil, rule{"PathPrefix", "/", []string{"shop"}})
	rt.Spec.ParentRefs[0].Namespace = ptr.To(gatewayv1.Namespace(ns))
	env.CreateAndRemove(t, rt)
	waitRouteCondition(t, other, "elsewhere", "gw", "Accepted", "False", "NotAllowedByListeners",
		"no listener of Gateway "+ns+"/gw allows HTTPRoute routes from namespace "+other)
}

// TestHTTPRouteAdmission: kubectl apply of an HTTPRoute on vipgate's
// Gateway refuses a backend in another namespace without a ReferenceGrant,
// and admits with warnings a hostname no listener serves and a backend
// Service that does not exist; a ReferenceGrant makes the backend usable.
func TestHTTPRouteAdmission(t *testing.T) {
	ns, other := shopGateway(t)
	route := func(name, hostname, backend string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" +
			"  parentRefs: [{name: gw}]\n  hostnames: [" + hostname + "]\n  rules:\n  - backendRefs: [" + backend + "]\n"
	}
	out, err := env.Kubectl(context.Background(), route("far", "shop.example.com", "{name: api, namespace: "+other+", port: 80}"), "apply", "-f", "-")
	want := `The HTTPRoute "far" is invalid: spec.rules[0].backendRefs[0]: Invalid value: "` + other + `/api": Service ` + other + `/api is in another namespace and no ReferenceGrant in ` + other +
		` lets HTTPRoutes of namespace ` + ns + ` use it; create one there (from: group gateway.networking.k8s.io, kind HTTPRoute, namespace ` + ns + `; to: group "", kind Service, name api)`
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("cross-namespace backend without a ReferenceGrant: err %v, kubectl printed\n%s\nwant\n%s", err, out, want)
	}

	out, err = env.Kubectl(context.Background(), route("blog", "blog.example.com", "{name: missing, port: 80}"), "apply", "-f", "-")
	for _, w := range []string{
		`Warning: spec.parentRefs[0]: none of the route's hostnames [blog.example.com] matches a listener hostname of Gateway ` + ns + `/gw; the route is not attached there (NoMatchingListenerHostname)`,
		`Warning: spec.rules[0].backendRefs[0]: Service ` + ns + `/missing does not exist; requests for this backend fail until it is created (ResolvedRefs=False, BackendNotFound)`,
		`httproute.gateway.networking.k8s.io/blog created`,
	} {
		if err != nil || !strings.Contains(out, w) {
			t.Errorf("route with a wrong hostname and a missing backend: err %v, kubectl printed\n%s\nwant a line\n%s", err, out, w)
		}
	}

	mirror := "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: mirror, namespace: " + ns + "}\nspec:\n" +
		"  parentRefs: [{name: gw}]\n  hostnames: [shop.example.com]\n  rules:\n  - backendRefs: [{name: web, port: 80}]\n" +
		"    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: web, port: 80}}}]\n"
	out, err = env.Kubectl(context.Background(), mirror, "apply", "--dry-run=server", "-f", "-")
	if w := `Warning: spec.rules[0].filters[0]: filter RequestMirror is not supported yet (RequestRedirect, RequestHeaderModifier, ResponseHeaderModifier and URLRewrite are); the route is not served (Accepted=False, UnsupportedValue)`; err != nil || !strings.Contains(out, w) {
		t.Errorf("route with a RequestMirror filter: err %v, kubectl printed\n%s\nwant a line\n%s", err, out, w)
	}

	env.CreateAndRemove(t, &gatewayv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "routes"},
		Spec: gatewayv1.ReferenceGrantSpec{
			From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: gatewayv1.Namespace(ns)}},
			To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Service"}}}})
	harness.Eventually(t, "the granted cross-namespace backend is admitted", func() string {
		out, err := env.Kubectl(context.Background(), route("far", "shop.example.com", "{name: api, namespace: "+other+", port: 80}"), "apply", "-f", "-")
		if err != nil {
			return out
		}
		return ""
	})
	t.Cleanup(func() { _, _ = env.Kubectl(context.Background(), "", "delete", "httproute", "-n", ns, "far", "blog") })
}
