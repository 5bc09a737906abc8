package rulecrds

import (
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// seed is the demo controller plus what an Avi admin would have made for
// rules to name: a second WAF policy, a CA certificate, a PKI profile, an
// HTTP policy set, an L4 and an L4 SSL application profile.
func seed(t testing.TB) *avisim.Seed {
	t.Helper()
	s := avisim.DemoSeed()
	ca, _ := harness.SelfSignedCert(t, "ca.example.com")
	obj := func(typ, body string) avisim.SeedObject {
		return avisim.SeedObject{Type: typ, Body: json.RawMessage(body)}
	}
	pemJSON, _ := json.Marshal(string(ca))
	s.Objects = append(s.Objects,
		obj("wafpolicy", `{"name": "waf-2", "waf_profile_ref": "/api/wafprofile/?name=System-WAF-Profile"}`),
		obj("sslkeyandcertificate", `{"name": "admin-ca", "type": "SSL_CERTIFICATE_TYPE_CA", "certificate": {"certificate": `+string(pemJSON)+`}}`),
		obj("pkiprofile", `{"name": "admin-pki", "ca_certs": [{"certificate": `+string(pemJSON)+`}]}`),
		obj("httppolicyset", `{"name": "admin-policy"}`),
		obj("applicationprofile", `{"name": "admin-l4", "type": "APPLICATION_PROFILE_TYPE_L4"}`),
		obj("healthmonitor", `{"name": "admin-hm", "type": "HEALTH_MONITOR_TCP", "tcp_monitor": {}}`),
	)
	return s
}

// start runs a simulator with seed and vipgate against it (inventory
// refreshed and rules re-judged every second, so controller changes show
// quickly) and returns the simulator and a client to it.
func start(t testing.TB, tweak func(*operator.Options)) (*avisim.Sim, *session.Client) {
	t.Helper()
	sim := harness.StartSim(t, seed(t))
	s := harness.DemoSettings(t, sim.Host())
	o := operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour,
		InventoryInterval: time.Second, RuleRecheck: time.Second}
	if tweak != nil {
		tweak(&o)
	}
	env.StartVipgate(t, o)
	t.Cleanup(func() { env.ReleaseServices(t) })
	c, err := session.New(context.Background(), s.ControllerSettings, harness.SimCredentials(sim), session.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return sim, c
}

func newNamespace(t testing.TB) string {
	t.Helper()
	return env.NewNamespace(t, harness.UniqueName(t, 30), nil, nil)
}

// ensureClass creates (once) the default IngressClass avi-lb.
func ensureClass(t testing.TB) {
	t.Helper()
	c := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb",
		Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec: networkingv1.IngressClassSpec{Controller: "ako.vmware.com/avi-lb"}}
	if err := env.Client.Create(context.Background(), c); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// backend creates a ClusterIP Service "name" (80 → 8080) with ready endpoints.
func backend(t testing.TB, ns, name string, addrs ...string) {
	t.Helper()
	env.CreateAndRemove(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}})
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
	}
	for _, a := range addrs {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	env.CreateAndRemove(t, sl)
}

// secureIngress routes host (paths → Service web) over TLS with a fresh Secret.
func secureIngress(t testing.TB, ns, name, host string, paths ...string) {
	t.Helper()
	crt, key := harness.SelfSignedCert(t, host)
	env.CreateAndRemove(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}})
	ing := plainIngress(ns, name, host, paths...)
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: name + "-tls"}}
	env.CreateAndRemove(t, ing)
}

func plainIngress(ns, name, host string, paths ...string) *networkingv1.Ingress {
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	rule := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
	for _, p := range paths {
		rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}})
	}
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{rule}}}
}

// apply runs kubectl apply with a manifest and returns what the user sees.
func apply(t testing.TB, manifest string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return env.Kubectl(ctx, manifest, "apply", "-f", "-")
}

// mustApply applies a manifest that must be admitted.
func mustApply(t testing.TB, manifest string) string {
	t.Helper()
	out, err := apply(t, manifest)
	if err != nil {
		t.Fatalf("kubectl apply refused:\n%s\n%s", out, manifest)
	}
	return out
}

// mustRefuse applies a manifest that must be refused with each of want in the output.
func mustRefuse(t testing.TB, manifest string, want ...string) {
	t.Helper()
	out, err := apply(t, manifest)
	if err == nil {
		t.Errorf("kubectl apply admitted:\n%s\noutput: %s", manifest, out)
		return
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl output lacks %q:\n%s", w, out)
		}
	}
}

// kubectlDelete deletes an object by kind and name.
func kubectlDelete(t testing.TB, ns, kind, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := env.Kubectl(ctx, "", "delete", "-n", ns, kind, name); err != nil {
		t.Fatalf("kubectl delete %s %s: %v\n%s", kind, name, err, out)
	}
}

// hostRuleYAML is a HostRule manifest; body is indented under virtualhost.
func hostRuleYAML(version, ns, name, fqdn, body string) string {
	return fmt.Sprintf(`apiVersion: ako.vmware.com/%s
kind: HostRule
metadata: {name: %s, namespace: %s}
spec:
  virtualhost:
    fqdn: %s
%s`, version, name, ns, fqdn, indent(body, "    "))
}

func indent(s, by string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// ruleStatus waits until a rule (HostRule, HTTPRule, L4Rule) has the status
// want at its generation and returns its error text.
func ruleStatus(t testing.TB, obj client.Object, want string) string {
	t.Helper()
	var msg string
	harness.Eventually(t, fmt.Sprintf("%T %s/%s %s", obj, obj.GetNamespace(), obj.GetName(), want), func() string {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err.Error()
		}
		st := statusOf(obj)
		c := findCondition(st.Conditions, "Accepted")
		if st.Status != want || st.ObservedGeneration != obj.GetGeneration() || c == nil || c.ObservedGeneration != obj.GetGeneration() {
			return fmt.Sprintf("status %+v", st)
		}
		msg = st.Error
		return ""
	})
	return msg
}

func findCondition(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

// events lists "reason: message" of the Events on an object.
func events(t testing.TB, ns, kind, name string) []string {
	t.Helper()
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

// simObject is the named object of a type on the simulator (admin tenant), or nil.
func simObject(sim *avisim.Sim, typ, name string) map[string]any {
	return harness.SimObject(sim, harness.DemoTenant, typ, name)
}

// refName is the name a reference the simulator returns names ("…#name"),
// looked up by uuid when it carries none.
func refName(sim *avisim.Sim, typ string, ref any) string {
	s, _ := ref.(string)
	if _, n, ok := strings.Cut(s, "#"); ok {
		return n
	}
	uuid := s[strings.LastIndex(s, "/")+1:]
	for _, tn := range []string{harness.DemoTenant} {
		for _, o := range sim.Objects(tn, typ) {
			if o["uuid"] == uuid {
				return o["name"].(string)
			}
		}
	}
	return s
}

// uuidOf is the uuid of a named object on the simulator.
func uuidOf(t testing.TB, sim *avisim.Sim, typ, name string) string {
	t.Helper()
	o := simObject(sim, typ, name)
	if o == nil {
		t.Fatalf("no %s %s on the simulator", typ, name)
	}
	return o["uuid"].(string)
}

// settle waits until the simulator has seen no write for a second, so
// write counts are final.
func settle(t testing.TB, sim *avisim.Sim) {
	t.Helper()
	last, since := sim.Writes(), time.Now()
	harness.WaitFor(t, "the controller to see no more writes", 60*time.Second, func() bool {
		if w := sim.Writes(); w != last {
			last, since = w, time.Now()
		}
		return time.Since(since) > time.Second
	})
}

func getHostRule(t testing.TB, ns, name string) *v1beta1.HostRule {
	t.Helper()
	hr := &v1beta1.HostRule{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, hr); err != nil {
		t.Fatal(err)
	}
	return hr
}

// statusOf returns the rule status of a HostRule, HTTPRule or L4Rule.
func statusOf(o client.Object) v1beta1.RuleStatus {
	switch x := o.(type) {
	case *v1beta1.HostRule:
		return x.Status
	case *v1beta1.HTTPRule:
		return x.Status
	case *v1alpha2.L4Rule:
		return x.Status
	}
	return v1beta1.RuleStatus{}
}

func clientKey(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// backendUpdate replaces the endpoints of a backend Service made by backend.
func backendUpdate(t testing.TB, ns, name string, addrs ...string) {
	t.Helper()
	var sl discoveryv1.EndpointSlice
	if err := env.Client.Get(context.Background(), clientKey(ns, name+"-1"), &sl); err != nil {
		t.Fatal(err)
	}
	sl.Endpoints = nil
	for _, a := range addrs {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	if err := env.Client.Update(context.Background(), &sl); err != nil {
		t.Fatal(err)
	}
}

// childWAF checks that the SNI child of host has the WAF policy want.
func childWAF(sim *avisim.Sim, host, want string) func() string {
	return func() string {
		if got := refName(sim, "wafpolicy", simObject(sim, "virtualservice", "demo--"+host)["waf_policy_ref"]); got != want {
			return "child WAF policy " + got
		}
		return ""
	}
}
