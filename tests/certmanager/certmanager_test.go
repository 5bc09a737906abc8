package certmanager

import (
	"context"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

// startVipgate runs vipgate on the real path against a fresh avisim.
func startVipgate(t *testing.T) *operator.Operator {
	t.Helper()
	sim := harness.StartSim(t, nil)
	return env.StartVipgate(t, operator.Options{
		Settings:            harness.DemoSettings(t, sim.Host()),
		Credentials:         harness.SimCredentials(sim),
		InventoryStaleAfter: time.Hour,
	})
}

// ingressYAML is an Ingress of class avi-lb serving host over TLS from secret.
func ingressYAML(ns, name, host, secret string) string {
	return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  ingressClassName: avi-lb
  tls: [{hosts: [` + host + `], secretName: ` + secret + `}]
  rules:
  - host: ` + host + `
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`
}

// certificate is a cert-manager Certificate writing secretName.
func certificate(ns, name, secretName, host string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1",
		"kind":       "Certificate",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"secretName": secretName,
			"dnsNames":   []any{host},
			"issuerRef":  map[string]any{"name": "ca-issuer", "kind": "Issuer"},
		},
	}}
	return u
}

// TestCertificateSecretAdmittedWithWarning checks the cert-manager exception
// through the real API server: an Ingress whose TLS Secret does not exist is
// rejected, unless a cert-manager Certificate in its namespace has that
// spec.secretName; then it is admitted and kubectl prints a warning.
func TestCertificateSecretAdmittedWithWarning(t *testing.T) {
	ctx := context.Background()
	op := startVipgate(t)
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb"}, Spec: networkingv1.IngressClassSpec{Controller: webhooks.LBClass}}
	if err := env.Client.Create(ctx, ic); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	ns := "cm-team"
	if err := env.Client.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
	}}); err != nil {
		t.Fatal(err)
	}
	cleanup := func(name string) {
		t.Cleanup(func() {
			_ = env.Client.Delete(context.Background(), &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
		})
	}

	// First, with no Certificate: a missing Secret is an error. (This lookup
	// also starts vipgate's Certificate informer, which must exist before this
	// test reads that cache below.)
	out, err := env.Kubectl(ctx, ingressYAML(ns, "plain", "plain.example.com", "plain-tls"), "apply", "-f", "-")
	cleanup("plain")
	if err == nil || !strings.Contains(out, `spec.tls[0].secretName: Invalid value: "plain-tls": Secret cm-team/plain-tls does not exist`) {
		t.Fatalf("want the missing Secret rejected: %v\n%s", err, out)
	}

	cert := certificate(ns, "shop", "shop-tls", "shop.example.com")
	if err := env.Client.Create(ctx, cert); err != nil {
		t.Fatalf("creating Certificate: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), cert) })
	// Admission reads the Certificate from vipgate's cache; wait until it is there.
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(cluster.CertificateGVK)
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return op.Manager.GetCache().Get(ctx, client.ObjectKeyFromObject(cert), probe) == nil, nil
	}); err != nil {
		t.Fatalf("vipgate's cache never held the Certificate: %v", err)
	}

	out, err = env.Kubectl(ctx, ingressYAML(ns, "shop", "shop.example.com", "shop-tls"), "apply", "-f", "-")
	cleanup("shop")
	t.Logf("kubectl:\n%s", out)
	if err != nil {
		t.Fatalf("want admitted with a warning: %v\n%s", err, out)
	}
	for _, w := range []string{"Warning:", "spec.tls[0].secretName: Secret cm-team/shop-tls does not exist yet; cert-manager is expected to issue it", "ingress.networking.k8s.io/shop created"} {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl output lacks %q", w)
		}
	}

	// The Certificate covers its own namespace only.
	if err := env.Client.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "cm-other"},
	}}); err != nil {
		t.Fatal(err)
	}
	out, err = env.Kubectl(ctx, ingressYAML("cm-other", "shop", "shop.example.com", "shop-tls"), "apply", "-f", "-")
	if err == nil {
		_, _ = env.Kubectl(ctx, "", "delete", "ingress", "-n", "cm-other", "shop")
		t.Fatalf("an Ingress in another namespace was admitted on the strength of cm-team's Certificate:\n%s", out)
	}
	if !strings.Contains(out, `spec.tls[0].secretName: Invalid value: "shop-tls": Secret cm-other/shop-tls does not exist`) {
		t.Errorf("rejection: %s", out)
	}
}
