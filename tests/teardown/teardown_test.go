// Package teardown checks AKO's deleteConfig on a real API server and avisim:
// everything the cluster created on the controller goes, other clusters'
// objects stay, and Services and Ingresses are released so nothing is stuck.
package teardown

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}

// ours lists the simulator's objects of a type created by vipgate-demo.
func ours(sim *avisim.Sim, typ string) []string {
	var out []string
	for _, o := range sim.Objects("admin", typ) {
		name, _ := o["name"].(string)
		if strings.HasPrefix(name, "demo--") {
			out = append(out, name)
		}
	}
	return out
}

// ourRoutes counts the VrfContext's static routes labelled for cluster demo.
func ourRoutes(sim *avisim.Sim) int {
	n := 0
	for _, vrf := range sim.Objects("admin", "vrfcontext") {
		routes, _ := vrf["static_routes"].([]any)
		for _, r := range routes {
			labels, _ := r.(map[string]any)["labels"].([]any)
			for _, l := range labels {
				if m, _ := l.(map[string]any); m["key"] == "clustername" && m["value"] == "demo" {
					n++
				}
			}
		}
	}
	return n
}

// segLabelled reports whether Default-Group carries clustername=demo.
func segLabelled(sim *avisim.Sim) bool {
	for _, seg := range sim.Objects("admin", "serviceenginegroup") {
		labels, _ := seg["labels"].([]any)
		for _, l := range labels {
			if m, _ := l.(map[string]any); seg["name"] == "Default-Group" && m["key"] == "clustername" && m["value"] == "demo" {
				return true
			}
		}
	}
	return false
}

func TestDeleteConfigRemovesEverythingAndReleases(t *testing.T) {
	ctx := context.Background()
	sim, err := avisim.New(avisim.Options{Seed: avisim.DemoSeed(), Username: "admin", Password: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sim.StartTLS()
	defer sim.Close()
	creds := harness.SimCredentials(sim)

	// A working cluster: an L4 Service with its VIP, an Ingress on the shared L7 shard.
	class := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "avi-lb", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec:       networkingv1.IngressClassSpec{Controller: webhooks.LBClass},
	}
	if err := env.Client.Create(ctx, class); err != nil {
		t.Fatal(err)
	}
	op, stop := env.StartStoppableVipgate(t, operator.Options{Settings: harness.DemoSettings(t, sim.Host()), Credentials: creds, InventoryStaleAfter: time.Hour})
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "default"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "shop.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}}}}},
	}
	if err := env.Client.Create(ctx, ing); err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}}}
	if err := env.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.11"}}
	if err := env.Client.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, "the node's static route", time.Minute, func() bool { return ourRoutes(sim) == 1 })
	if !segLabelled(sim) {
		t.Fatal("the SE group was not labelled for this cluster while it had routes")
	}
	harness.WaitFor(t, "the Service's VIP and the Ingress's status", time.Minute, func() bool {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(svc), svc)
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(ing), ing)
		return len(svc.Status.LoadBalancer.Ingress) > 0 && len(ing.Status.LoadBalancer.Ingress) > 0
	})
	// Another cluster's VsVip on the same controller must survive the teardown.
	foreign := map[string]any{"name": "west--default-api", "vip": []any{map[string]any{"vip_id": "1", "auto_allocate_ip": true,
		"ipam_network_subnet": map[string]any{"network_ref": "/api/network/?name=vip-net-a"}}},
		"markers": []any{map[string]any{"key": "created_by", "values": []any{"vipgate-west"}}}}
	if err := op.Controller.Create(ctx, "vsvip", foreign, "", nil); err != nil {
		t.Fatalf("seeding another cluster's VsVip: %v", err)
	}
	stop()

	// deleteConfig: true.
	s := harness.DemoSettings(t, sim.Host())
	s.AKOSettings.DeleteConfig = true
	var mu sync.Mutex
	var done bool
	env.StartVipgate(t, operator.Options{Settings: s, Credentials: creds, InventoryStaleAfter: time.Hour,
		TeardownDone: func(_ []string, err error) {
			mu.Lock()
			defer mu.Unlock()
			done = done || err == nil
		}})
	harness.WaitFor(t, "the teardown to succeed", time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return done })

	for _, typ := range []string{"vsvip", "virtualservice", "pool", "poolgroup", "httppolicyset"} {
		if left := ours(sim, typ); len(left) > 0 {
			t.Errorf("%s of this cluster left on the controller: %v", typ, left)
		}
	}
	if n := ourRoutes(sim); n != 0 {
		t.Errorf("%d static routes of this cluster left in the VrfContext", n)
	}
	if segLabelled(sim) {
		t.Error("the SE group is still labelled for this cluster")
	}
	if n := len(sim.Objects("admin", "vsvip")); n != 1 {
		t.Errorf("want only the other cluster's VsVip left, have %d VsVips", n)
	}
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(svc), svc)
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(ing), ing)
	if len(svc.Finalizers) > 0 || len(svc.Status.LoadBalancer.Ingress) > 0 || len(svc.Status.Conditions) > 0 {
		t.Errorf("Service not released: finalizers %v, status %+v", svc.Finalizers, svc.Status)
	}
	if len(ing.Finalizers) > 0 || len(ing.Status.LoadBalancer.Ingress) > 0 {
		t.Errorf("Ingress not released: finalizers %v, status %+v", ing.Finalizers, ing.Status)
	}

	// While tearing down, a new Service gets no finalizer (nothing would remove
	// it) and deletes go through at once.
	fresh := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "fresh", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 81}}},
	}
	if err := env.Client.Create(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if len(fresh.Finalizers) > 0 {
		t.Errorf("finalizer added during teardown: %v", fresh.Finalizers)
	}
	for _, o := range []client.Object{svc, ing, fresh} {
		if err := env.Client.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitFor(t, "the released objects to be deleted", time.Minute, func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(svc), &corev1.Service{})) &&
			apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(ing), &networkingv1.Ingress{}))
	})
}
