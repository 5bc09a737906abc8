package traffic

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// start runs vipgate against sim with the demo settings, edited by tweak
// (may be nil). Objects the test created are removed at cleanup while this
// vipgate still runs.
func start(t testing.TB, sim *avisim.Sim, tweak func(*config.Settings)) {
	t.Helper()
	s := harness.DemoSettings(t, sim.Host())
	if tweak != nil {
		tweak(s)
	}
	env.StartVipgate(t, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
	t.Cleanup(func() {
		env.ReleaseServices(t)
		env.DeleteNodes()
	})
}

// newNamespace creates a namespace named after the test.
func newNamespace(t testing.TB) string {
	t.Helper()
	return env.NewNamespace(t, harness.UniqueName(t, 30), nil, nil)
}

// create creates obj and deletes it at cleanup (after the test's vipgate
// has had the chance to release it).
func create(t testing.TB, obj client.Object) {
	t.Helper()
	env.CreateAndRemove(t, obj)
}

// svcPort is a Service port whose targetPort is the backends' port.
func svcPort(name string, port int32, proto corev1.Protocol, target int) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: proto, TargetPort: intstr.FromInt(target)}
}

// service is a Service of type t (LoadBalancer or ClusterIP) with ports.
func service(ns, name string, typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}},
		Spec: corev1.ServiceSpec{Type: typ, Ports: ports}}
}

// endpoints is what the endpoint-slice controller (absent in envtest) would
// write for svc with the backends as its ready pods: their pod addresses
// (harness.PodIP), one slice port per Service port at the backends' shared
// port.
func endpoints(svc *corev1.Service, name string, backends ...*echo.Server) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: svc.Namespace, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range svc.Spec.Ports {
		sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Protocol: ptr.To(p.Protocol), Port: ptr.To(p.TargetPort.IntVal)})
	}
	setEndpoints(sl, backends...)
	return sl
}

func setEndpoints(sl *discoveryv1.EndpointSlice, backends ...*echo.Server) {
	sl.Endpoints = nil
	for _, b := range backends {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{harness.PodIP(b)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
}

// scale replaces the endpoints of a slice, as the endpoint-slice controller
// does when pods come and go.
func scale(t testing.TB, sl *discoveryv1.EndpointSlice, backends ...*echo.Server) {
	t.Helper()
	ctx := context.Background()
	for {
		cur := &discoveryv1.EndpointSlice{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sl), cur); err != nil {
			t.Fatal(err)
		}
		setEndpoints(cur, backends...)
		err := env.Client.Update(ctx, cur)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatalf("updating EndpointSlice %s: %v", sl.Name, err)
		}
	}
}

// waitVIP waits until the Service shows a VIP in its status.
func waitVIP(t testing.TB, ns, name string) string {
	t.Helper()
	var ip string
	harness.Eventually(t, fmt.Sprintf("Service %s/%s gets a VIP", ns, name), func() string {
		svc := &corev1.Service{}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, svc); err != nil {
			return err.Error()
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Sprintf("status %+v", svc.Status)
		}
		ip = svc.Status.LoadBalancer.Ingress[0].IP
		return ""
	})
	if !strings.HasPrefix(ip, "127.77.") {
		t.Fatalf("Service %s/%s VIP %s is not from the loopback seed's vip-net-a (127.77.0.0/22)", ns, name, ip)
	}
	return ip
}

// served waits until the data plane serves the VIP port and returns where.
// With the loopback seed that is the VIP port itself unless it could not be
// bound (the data plane then says why).
func served(t testing.TB, sim *avisim.Sim, ip string, port int, proto string) string {
	t.Helper()
	var addr string
	harness.Eventually(t, fmt.Sprintf("%s:%d/%s is served", ip, port, proto), func() string {
		var ok bool
		if addr, ok = sim.DataPlane().Lookup(ip, port, proto); !ok {
			return fmt.Sprintf("listeners %v; problems %v", sim.DataPlane().Status().Listeners, sim.DataPlane().Status().Problems)
		}
		return ""
	})
	if want := net.JoinHostPort(ip, strconv.Itoa(port)); addr != want {
		note := ""
		for _, p := range sim.DataPlane().Status().Problems {
			if strings.Contains(p, want+"/"+proto) {
				note = p
			}
		}
		if note == "" {
			t.Fatalf("%s/%s served on %s without a reason; a loopback VIP is bound directly", want, proto, addr)
		}
		t.Logf("%s", note)
	}
	return addr
}

// servedBy sends n requests with send and returns who answered (sorted,
// unique) and how many got no answer.
func servedBy(n int, send func() (string, error)) (backends []string, failed int) {
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		b, err := send()
		if err != nil || b == "" {
			failed++
			continue
		}
		seen[b] = true
	}
	for b := range seen {
		backends = append(backends, b)
	}
	slices.Sort(backends)
	return backends, failed
}

// eventuallyServedBy waits until n requests in a row all get an answer and
// exactly the backends want answer them.
func eventuallyServedBy(t testing.TB, what string, want []string, send func() (string, error)) {
	t.Helper()
	slices.Sort(want)
	harness.Eventually(t, what, func() string {
		got, failed := servedBy(12, send)
		if failed > 0 || !slices.Equal(got, want) {
			return fmt.Sprintf("answered by %v, %d without an answer; want %v", got, failed, want)
		}
		return ""
	})
}

// names lists the backends' names.
func names(bs ...*echo.Server) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name())
	}
	return out
}

func line(addr string) func() (string, error) {
	return func() (string, error) { return echo.Line(addr, "hello") }
}

func datagram(addr string) func() (string, error) {
	return func() (string, error) { return echo.Datagram(addr, "ping") }
}

func httpGet(addr, host, path string) func() (string, error) {
	return func() (string, error) {
		r := echo.Get(addr, host, path)
		return r.Answer.Backend, r.Err
	}
}

// ensureIngressClass creates the default IngressClass avi-lb (once).
func ensureIngressClass(t testing.TB) {
	t.Helper()
	c := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb",
		Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec: networkingv1.IngressClassSpec{Controller: "ako.vmware.com/avi-lb"}}
	if err := env.Client.Create(context.Background(), c); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("IngressClass avi-lb: %v", err)
	}
}

// backendService creates a ClusterIP Service name (port 80 to the
// backends' port) and its EndpointSlice with the backends ready.
func backendService(t testing.TB, ns, name string, bs ...*echo.Server) {
	t.Helper()
	svc := service(ns, name, corev1.ServiceTypeClusterIP, svcPort("http", 80, corev1.ProtocolTCP, bs[0].Port()))
	create(t, endpoints(svc, name+"-1", bs...))
	create(t, svc)
}

type route struct{ host, path, svc string }

func ingress(ns, name string, routes []route, tls ...networkingv1.IngressTLS) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: networkingv1.IngressSpec{TLS: tls}}
	for _, r := range routes {
		var rule *networkingv1.IngressRule
		for i := range ing.Spec.Rules {
			if ing.Spec.Rules[i].Host == r.host {
				rule = &ing.Spec.Rules[i]
			}
		}
		if rule == nil {
			ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: r.host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}})
			rule = &ing.Spec.Rules[len(ing.Spec.Rules)-1]
		}
		rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{Path: r.path, PathType: ptr.To(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: r.svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}})
	}
	return ing
}

// waitIngressIP waits until the Ingress's status lists host and returns its IP.
func waitIngressIP(t testing.TB, ns, name, host string) string {
	t.Helper()
	var ip string
	harness.Eventually(t, "Ingress "+ns+"/"+name+" shows "+host, func() string {
		ing := &networkingv1.Ingress{}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, ing); err != nil {
			return err.Error()
		}
		for _, e := range ing.Status.LoadBalancer.Ingress {
			if e.Hostname == host && e.IP != "" {
				ip = e.IP
				return ""
			}
		}
		return fmt.Sprintf("status %+v", ing.Status.LoadBalancer)
	})
	return ip
}

// tlsSecret is a TLS Secret holding crt and key.
func tlsSecret(ns, name string, crt, key []byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
}
