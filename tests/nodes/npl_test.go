package nodes

import (
	"context"
	"fmt"
	"slices"
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

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestNodePortLocal: with serviceType NodePortLocal (and Antrea), a
// LoadBalancer Service's pool and an Ingress backend's pool are the node IP
// and node port Antrea published in each endpoint pod's
// nodeportlocal.antrea.io annotation; they follow the annotation as it
// changes; both Services get nodeportlocal.antrea.io/enabled so Antrea maps
// their pods; and no static routes are written.
func TestNodePortLocal(t *testing.T) {
	t.Cleanup(func() { removeNodesAndCNI(t) })
	sim := harness.StartSim(t, avisim.DemoSeed())
	s := harness.DemoSettings(t, sim.Host())
	s.L7Settings.ServiceType = "NodePortLocal"
	s.AKOSettings.CNIPlugin = "antrea"
	createNode(t, "n1", "10.0.0.11", "10.244.1.0/24")
	env.StartVipgate(t, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
	t.Cleanup(func() { env.ReleaseServices(t) })
	ensureIngressClass(t)

	ns := env.NewNamespace(t, harness.UniqueName(t, 20), nil, nil)
	createPod(t, ns, "web-a", `[{"podPort":8080,"nodeIP":"10.0.0.11","nodePort":61000,"protocol":"tcp","protocols":["tcp"]}]`)
	createPod(t, ns, "web-b", `[{"podPort":8080,"nodeIP":"10.0.0.12","nodePort":61001,"protocol":"tcp"},{"podPort":9090,"nodeIP":"10.0.0.12","nodePort":61002,"protocol":"tcp"}]`)
	createPod(t, ns, "web-c", "") // not mapped yet

	lb := service(ns, "web", corev1.ServiceTypeLoadBalancer)
	env.Create(t, lb)
	env.Create(t, endpointSlice(ns, "web", "web-a", "web-b", "web-c"))
	pool := "demo--" + ns + "-web-TCP-80"
	waitPoolServers(t, sim, pool, []string{"10.0.0.11:61000", "10.0.0.12:61001"})
	waitAnnotated(t, ns, "web")

	// Antrea maps web-c, moves web-b and drops web-a: the pool follows.
	annotatePod(t, ns, "web-c", `[{"podPort":8080,"nodeIP":"10.0.0.13","nodePort":61003,"protocol":"tcp"}]`)
	annotatePod(t, ns, "web-b", `[{"podPort":8080,"nodeIP":"10.0.0.12","nodePort":61100,"protocol":"tcp"}]`)
	annotatePod(t, ns, "web-a", "")
	waitPoolServers(t, sim, pool, []string{"10.0.0.12:61100", "10.0.0.13:61003"})

	// An Ingress backend (ClusterIP) is served the same way.
	env.Create(t, service(ns, "backend", corev1.ServiceTypeClusterIP))
	env.Create(t, endpointSlice(ns, "backend", "web-b"))
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "site"}, Spec: networkingv1.IngressSpec{
		IngressClassName: ptr.To("avi-lb"),
		Rules: []networkingv1.IngressRule{{Host: "npl.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "backend", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
	env.CreateAndRemove(t, ing)
	waitAnnotated(t, ns, "backend")
	harness.Eventually(t, "the Ingress's pool is web-b's node port", func() string {
		var found []string
		for _, name := range harness.SimNames(sim, harness.DemoTenant, "pool", "demo--") {
			if name == pool {
				continue
			}
			p := harness.SimObject(sim, harness.DemoTenant, "pool", name)
			found = append(found, name+"="+strings.Join(servers(p), ","))
			if slices.Equal(servers(p), []string{"10.0.0.12:61100"}) {
				return ""
			}
		}
		return fmt.Sprintf("pools %v", found)
	})

	// NodePortLocal needs no static routes, even with a node that has a pod CIDR.
	vrf := harness.SimObject(sim, harness.DemoTenant, "vrfcontext", "global")
	if routes, _ := vrf["static_routes"].([]any); len(routes) != 0 {
		t.Errorf("static routes written in NodePortLocal mode: %v", routes)
	}
}

func ensureIngressClass(t testing.TB) {
	t.Helper()
	c := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb"}, Spec: networkingv1.IngressClassSpec{Controller: "ako.vmware.com/avi-lb"}}
	if err := env.Client.Create(context.Background(), c); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("IngressClass: %v", err)
	}
}

// service selects app=web on port 80 → named target port "http" (8080).
func service(ns, name string, typ corev1.ServiceType) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		Type: typ, Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}}}
}

// endpointSlice is what the endpoint-slice controller (absent in envtest)
// writes for svc: ready endpoints pointing at the pods.
func endpointSlice(ns, svc string, pods ...string) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
	}
	for i, p := range pods {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.244.1.%d", 10+i)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p}})
	}
	return sl
}

// createPod creates pod name (app=web, port http 8080) with Antrea's port
// mappings in its annotation ("" for none).
func createPod(t testing.TB, ns, name, mappings string) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}}}
	if mappings != "" {
		p.Annotations = map[string]string{model.AnnotationNPL: mappings}
	}
	env.Create(t, p)
}

// annotatePod sets (or, with "", removes) a pod's port mappings.
func annotatePod(t testing.TB, ns, name, mappings string) {
	t.Helper()
	v := "null"
	if mappings != "" {
		v = fmt.Sprintf("%q", mappings)
	}
	patch(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, fmt.Sprintf(`{"metadata":{"annotations":{%q:%s}}}`, model.AnnotationNPL, v))
}

func waitAnnotated(t testing.TB, ns, name string) {
	t.Helper()
	harness.Eventually(t, fmt.Sprintf("Service %s/%s carries %s", ns, name, model.AnnotationNPLEnabled), func() string {
		var svc corev1.Service
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
			return err.Error()
		}
		if v := svc.Annotations[model.AnnotationNPLEnabled]; v != "true" {
			return fmt.Sprintf("annotations %v", svc.Annotations)
		}
		return ""
	})
}

func waitPoolServers(t testing.TB, sim *avisim.Sim, pool string, want []string) {
	t.Helper()
	harness.Eventually(t, "pool "+pool+" servers "+strings.Join(want, ","), func() string {
		p := harness.SimObject(sim, harness.DemoTenant, "pool", pool)
		if p == nil {
			return "no pool"
		}
		if got := servers(p); !slices.Equal(got, want) {
			return fmt.Sprintf("servers %v", got)
		}
		return ""
	})
}

// servers renders a pool's servers as "ip:port", sorted.
func servers(pool map[string]any) []string {
	var out []string
	list, _ := pool["servers"].([]any)
	for _, s := range list {
		out = append(out, fmt.Sprintf("%s:%v", harness.Str(s, "ip", "addr"), harness.Path(s, "port")))
	}
	slices.Sort(out)
	return out
}
