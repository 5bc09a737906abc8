package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/webhooks"
)

// metaKey is the object key of ns/name.
func metaKey(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// TestServiceMutation checks the mutating webhook through the API server: a
// class-less LoadBalancer Service is claimed with AKO's loadBalancerClass and
// gets vipgate's cleanup finalizer, with its requested IP kept; Services of
// another class, other types, and Services in kube-system and vipgate's own
// namespace are not intercepted at all (a bad IP there is admitted).
func TestServiceMutation(t *testing.T) {
	ctx := context.Background()
	_, _ = startReal(t, avisim.DemoSeed(), nil)
	ns := newNamespace(t, nil)

	get := func(t *testing.T, ns, name string) *corev1.Service {
		t.Helper()
		var s corev1.Service
		if err := env.Client.Get(ctx, metaKey(ns, name), &s); err != nil {
			t.Fatal(err)
		}
		return &s
	}
	claimed := func(t *testing.T, s *corev1.Service) {
		t.Helper()
		if s.Spec.LoadBalancerClass == nil || *s.Spec.LoadBalancerClass != webhooks.LBClass {
			t.Errorf("loadBalancerClass = %v, want %s", ptr.Deref(s.Spec.LoadBalancerClass, "<nil>"), webhooks.LBClass)
		}
		if !slices.Contains(s.Finalizers, ownership.CleanupFinalizer) {
			t.Errorf("finalizers = %v, want %s", s.Finalizers, ownership.CleanupFinalizer)
		}
	}
	untouched := func(t *testing.T, s *corev1.Service, class *string) {
		t.Helper()
		if ptr.Deref(s.Spec.LoadBalancerClass, "") != ptr.Deref(class, "") {
			t.Errorf("loadBalancerClass = %v, want %v", ptr.Deref(s.Spec.LoadBalancerClass, "<nil>"), ptr.Deref(class, "<nil>"))
		}
		if slices.Contains(s.Finalizers, ownership.CleanupFinalizer) {
			t.Errorf("finalizer added to a Service vipgate does not own")
		}
	}

	t.Run("class-less LoadBalancer Service is claimed", func(t *testing.T) {
		create(t, lbService(ns, "mut", "10.50.0.140"))
		s := get(t, ns, "mut")
		claimed(t, s)
		if s.Spec.LoadBalancerIP != "10.50.0.140" {
			t.Errorf("loadBalancerIP = %q", s.Spec.LoadBalancerIP)
		}
	})
	t.Run("annotation form is kept", func(t *testing.T) {
		create(t, lbService(ns, "mut-ann", "", annotate(rules.AnnLoadBalancerIP, "10.50.0.141")))
		s := get(t, ns, "mut-ann")
		claimed(t, s)
		if got := s.Annotations[rules.AnnLoadBalancerIP]; got != "10.50.0.141" {
			t.Errorf("annotation = %q", got)
		}
	})
	t.Run("AKO's class explicitly", func(t *testing.T) {
		create(t, lbService(ns, "mut-class", "", func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To(webhooks.LBClass) }))
		claimed(t, get(t, ns, "mut-class"))
	})
	t.Run("another controller's class is not intercepted", func(t *testing.T) {
		other := ptr.To("example.com/other-lb")
		create(t, lbService(ns, "other-class", "10.10.0.5", func(s *corev1.Service) { s.Spec.LoadBalancerClass = other }))
		untouched(t, get(t, ns, "other-class"), other)
	})
	t.Run("ClusterIP Service is not intercepted", func(t *testing.T) {
		create(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cip", Annotations: map[string]string{rules.AnnLoadBalancerIP: "not-an-ip"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
		untouched(t, get(t, ns, "cip"), nil)
	})
	for _, sys := range []string{"kube-system", "vipgate-system"} {
		t.Run("a bad IP in "+sys+" is admitted untouched", func(t *testing.T) {
			if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sys}}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			// Judge the object as admission stored it (the create's answer): the
			// reconciler, which does handle these namespaces, may add its
			// finalizer a moment later.
			svc := lbService(sys, "bad-ip", "10.10.0.5")
			create(t, svc)
			untouched(t, svc, nil)
		})
	}
}

// TestServiceMutationCanonicalIP sends a Service straight to the mutating
// webhook over TLS and checks the JSON patch writes the requested IP in
// canonical form. Through the API server this cannot be observed on an
// IPv4-only test cluster: the validator then rejects any IPv6 VIP (spec.ipFamilies
// is [IPv4]), and IPv4 addresses have a single spelling netip accepts.
func TestServiceMutationCanonicalIP(t *testing.T) {
	_, _ = startReal(t, avisim.DemoSeed(), nil)
	svc := lbService("default", "v6", "2001:DB8:0:0::2", annotate(rules.AnnLoadBalancerIP, "2001:0DB8::0002"))
	svc.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}
	body := reviewFor(t, "uid-mutate", metav1.GroupVersionKind{Version: "v1", Kind: "Service"}, metav1.GroupVersionResource{Version: "v1", Resource: "services"}, svc, "default", "v6")
	code, out := postReview(t, webhookClient(t), webhooks.PathMutateService, body)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, out)
	}
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &rev); err != nil || rev.Response == nil || !rev.Response.Allowed {
		t.Fatalf("response: %v %s", err, out)
	}
	var ops []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(rev.Response.Patch, &ops); err != nil {
		t.Fatalf("patch: %v %s", err, rev.Response.Patch)
	}
	got := map[string]any{}
	for _, o := range ops {
		got[o.Path] = o.Value
	}
	t.Logf("patch: %s", rev.Response.Patch)
	if got["/spec/loadBalancerIP"] != "2001:db8::2" {
		t.Errorf("spec.loadBalancerIP patched to %v, want 2001:db8::2", got["/spec/loadBalancerIP"])
	}
	if got["/metadata/annotations/ako.vmware.com~1load-balancer-ip"] != "2001:db8::2" {
		t.Errorf("annotation patched to %v, want 2001:db8::2", got["/metadata/annotations/ako.vmware.com~1load-balancer-ip"])
	}
	if got["/spec/loadBalancerClass"] != webhooks.LBClass {
		t.Errorf("loadBalancerClass patched to %v", got["/spec/loadBalancerClass"])
	}
}

// TestIngressMutation checks the Ingress mutating webhook through the API
// server, on the object the create returns (before any reconcile could
// write): an Ingress of vipgate's class has the cleanup finalizer from its
// create on, one of another class is not intercepted, and one in a
// namespace the webhooks leave out (vipgate-system) is admitted untouched.
func TestIngressMutation(t *testing.T) {
	_, op := startReal(t, avisim.DemoSeed(), nil)
	ensureIngressClass(t, op)
	ns := newNamespace(t, nil)
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vipgate-system"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tests := []struct {
		name, ns, class string
		want            bool
	}{
		{"vipgate's class", ns, "avi-lb", true},
		{"another controller's class", ns, "example-nginx", false},
		{"a namespace the webhooks leave out", "vipgate-system", "avi-lb", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := ingress(tt.ns, fmt.Sprintf("mut-%d", i), fmt.Sprintf("mut-%d.example.com", i), "")
			ing.Spec.IngressClassName = ptr.To(tt.class)
			create(t, ing)
			if got := slices.Contains(ing.Finalizers, ownership.CleanupFinalizer); got != tt.want {
				t.Errorf("finalizers at create = %v, want %s: %v", ing.Finalizers, ownership.CleanupFinalizer, tt.want)
			}
		})
	}
}
