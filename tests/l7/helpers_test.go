package l7

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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// startSim starts a fresh demo-seeded simulated controller for one test.
func startSim(t testing.TB) *avisim.Sim {
	t.Helper()
	return harness.StartSim(t, nil)
}

func settingsFor(t testing.TB, sim *avisim.Sim, tweak func(*config.Settings)) *config.Settings {
	s := harness.DemoSettings(t, sim.Host())
	if tweak != nil {
		tweak(s)
	}
	return s
}

// start runs vipgate against sim and returns a stop function.
func start(t testing.TB, sim *avisim.Sim, s *config.Settings, tweak func(*operator.Options)) func() {
	t.Helper()
	o := operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour}
	if tweak != nil {
		tweak(&o)
	}
	_, stop := env.StartStoppableVipgate(t, o)
	return stop
}

// newNamespace creates a namespace named after the test (the last 40
// characters of its name, see harness.UniqueName).
func newNamespace(t testing.TB) string {
	t.Helper()
	return env.NewNamespace(t, harness.UniqueName(t, 40), nil, nil)
}

// createObj creates obj and removes it (finalizers stripped) at cleanup.
func createObj(t testing.TB, obj client.Object) {
	t.Helper()
	env.CreateAndRemove(t, obj)
}

// ensureClass creates (once per process) the IngressClass name for vipgate, default or not, with optional parameters.
func ensureClass(t testing.TB, name string, isDefault bool, infra string) {
	t.Helper()
	c := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressClassSpec{Controller: "ako.vmware.com/avi-lb"}}
	if isDefault {
		c.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
	}
	if infra != "" {
		c.Spec.Parameters = &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("ako.vmware.com"), Kind: "AviInfraSetting", Name: infra}
	}
	if err := env.Client.Create(context.Background(), c); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("IngressClass %s: %v", name, err)
	}
}

// backend creates a ClusterIP Service "name" (port 80 → 8080) and an EndpointSlice with ready addrs.
func backend(t testing.TB, ns, name string, addrs ...string) {
	t.Helper()
	createObj(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}})
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
	}
	for _, a := range addrs {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	createObj(t, sl)
}

type route struct {
	host, path, svc string
	exact           bool
}

func ingress(ns, name string, class *string, routes []route, tls ...networkingv1.IngressTLS) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: networkingv1.IngressSpec{IngressClassName: class, TLS: tls}}
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
		pt := networkingv1.PathTypePrefix
		if r.exact {
			pt = networkingv1.PathTypeExact
		}
		rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{Path: r.path, PathType: ptr.To(pt),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: r.svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}})
	}
	return ing
}

func getIngress(t testing.TB, ns, name string) *networkingv1.Ingress {
	t.Helper()
	ing := &networkingv1.Ingress{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, ing); err != nil {
		t.Fatalf("reading Ingress %s/%s: %v", ns, name, err)
	}
	return ing
}

// waitStatus waits until the Ingress's status lists exactly hosts and returns the IP per host.
func waitStatus(t testing.TB, ns, name string, hosts ...string) map[string]string {
	t.Helper()
	var got map[string]string
	harness.Eventually(t, "Ingress "+ns+"/"+name+" status", func() string {
		got = map[string]string{}
		for _, e := range getIngress(t, ns, name).Status.LoadBalancer.Ingress {
			got[e.Hostname] = e.IP
		}
		var have []string
		for h := range got {
			have = append(have, h)
		}
		slices.Sort(have)
		if !slices.Equal(have, hosts) {
			return fmt.Sprintf("hosts %v, want %v", have, hosts)
		}
		return ""
	})
	return got
}

// simObject returns the named object of a type, or nil.
func simObject(sim *avisim.Sim, typ, name string) map[string]any {
	return harness.SimObject(sim, harness.DemoTenant, typ, name)
}

// simNames lists the objects of a type that vipgate or the test created; the
// controller's own System-* objects (profiles, default certificate) are left out.
func simNames(sim *avisim.Sim, typ string) []string {
	return harness.SimNames(sim, harness.DemoTenant, typ, "")
}

// vsvipIP is the first allocated address of a VsVip in the simulator.
func vsvipIP(sim *avisim.Sim, name string) string {
	o := simObject(sim, "vsvip", name)
	if o == nil {
		return ""
	}
	vips, _ := o["vip"].([]any)
	for _, v := range vips {
		if ip, ok := v.(map[string]any)["ip_address"].(map[string]any); ok {
			return ip["addr"].(string)
		}
	}
	return ""
}

// refName is the name part of a reference the simulator returns ("...#name"), or the uuid.
func refName(sim *avisim.Sim, typ, ref string) string {
	if _, n, ok := strings.Cut(ref, "#"); ok {
		return n
	}
	uuid := ref[strings.LastIndex(ref, "/")+1:]
	for _, o := range sim.Objects("admin", typ) {
		if o["uuid"] == uuid {
			return o["name"].(string)
		}
	}
	return ref
}

// rules returns the rules of a policy set in the simulator.
func rules(sim *avisim.Sim, name string) []map[string]any {
	o := simObject(sim, "httppolicyset", name)
	if o == nil {
		return nil
	}
	req, _ := o["http_request_policy"].(map[string]any)
	rs, _ := req["rules"].([]any)
	var out []map[string]any
	for _, r := range rs {
		out = append(out, r.(map[string]any))
	}
	return out
}

// tlsSecret is a TLS Secret with a self-signed certificate for host.
func tlsSecret(t testing.TB, ns, name, host string) *corev1.Secret {
	t.Helper()
	crt, key := harness.SelfSignedCert(t, host)
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
}

// events lists the reasons and messages of Events on an Ingress.
func events(t testing.TB, ns, name string) []string {
	t.Helper()
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "Ingress" && e.InvolvedObject.Name == name {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

// l7Objects lists "type/name" of every L7 object in the simulator.
func l7Objects(sim *avisim.Sim) []string {
	var out []string
	for _, typ := range []string{"virtualservice", "vsvip", "pool", "poolgroup", "httppolicyset", "sslkeyandcertificate"} {
		for _, n := range simNames(sim, typ) {
			out = append(out, typ+"/"+n)
		}
	}
	return out
}
