package integration

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/webhooks"
)

// TestKubectlApplyShowsDenials checks what a user sees: kubectl apply prints
// vipgate's denial (kubectl shows the object, field path, value and reason,
// not the webhook's name), and
// kubectl apply --dry-run=server is denied with the very same message, while
// a valid object passes the dry run (mutated by the webhook) without being stored.
func TestKubectlApplyShowsDenials(t *testing.T) {
	ctx := context.Background()
	_, op := startReal(t, avisim.DemoSeed(), nil)
	// The class-less Ingress below is vipgate's through the default IngressClass.
	ensureIngressClass(t, op)
	ns := newNamespace(t, nil)

	cases := []struct {
		name, manifest string
		want           []string
	}{
		{"Service outside the VIP networks", `apiVersion: v1
kind: Service
metadata: {name: web, namespace: ` + ns + `}
spec:
  type: LoadBalancer
  loadBalancerIP: 10.10.0.5
  ports: [{name: http, port: 80}]
`, []string{`The Service "web" is invalid: `, `spec.loadBalancerIP: Invalid value: "10.10.0.5": not inside any VIP network of NetworkSettings.vipNetworkList (vip-net-a 10.50.0.0/24, static VIP range 10.50.0.10-10.50.0.200)`}},
		{"Ingress with a missing TLS Secret", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: ` + ns + `}
spec:
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
  - host: shop.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`, []string{`The Ingress "shop" is invalid: `, `spec.tls[0].secretName: Invalid value: "shop-tls": Secret ` + ns + `/shop-tls does not exist`}},
		{"AviInfraSetting naming an unknown network", `apiVersion: ako.vmware.com/v1beta1
kind: AviInfraSetting
metadata: {name: kubectl-edge}
spec:
  network:
    vipNetworks: [{networkName: vip-net-z}]
`, []string{`The AviInfraSetting "kubectl-edge" is invalid: `, `spec.network.vipNetworks[0].networkName: Invalid value: "vip-net-z": no network with this name in cloud "Default-Cloud"`}},
	}
	for _, c := range cases {
		for _, mode := range [][]string{{"apply", "-f", "-"}, {"apply", "--dry-run=server", "-f", "-"}} {
			t.Run(c.name+" "+strings.Join(mode, " "), func(t *testing.T) {
				out, err := env.Kubectl(ctx, c.manifest, mode...)
				t.Logf("kubectl %s:\n%s", strings.Join(mode, " "), out)
				if err == nil {
					t.Errorf("kubectl succeeded; want it to fail with the denial")
				}
				for _, w := range c.want {
					if !strings.Contains(out, w) {
						t.Errorf("output lacks %q", w)
					}
				}
			})
		}
	}

	t.Run("valid Service passes the server dry run mutated, and is not stored", func(t *testing.T) {
		out, err := env.Kubectl(ctx, `apiVersion: v1
kind: Service
metadata: {name: dry, namespace: `+ns+`}
spec:
  type: LoadBalancer
  loadBalancerIP: 10.50.0.130
  ports: [{name: http, port: 80}]
`, "apply", "--dry-run=server", "-o", "yaml", "-f", "-")
		if err != nil {
			t.Fatalf("kubectl: %v\n%s", err, out)
		}
		for _, w := range []string{"loadBalancerClass: " + webhooks.LBClass, "- " + ownership.CleanupFinalizer, "loadBalancerIP: 10.50.0.130"} {
			if !strings.Contains(out, w) {
				t.Errorf("dry-run output lacks %q (the mutating webhook runs on dry runs too):\n%s", w, out)
			}
		}
		err = env.Client.Get(ctx, metaKey(ns, "dry"), &corev1.Service{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("a dry-run Service was stored (get: %v)", err)
		}
	})
	t.Run("valid AviInfraSetting passes the server dry run, and is not stored", func(t *testing.T) {
		out, err := env.Kubectl(ctx, `apiVersion: ako.vmware.com/v1beta1
kind: AviInfraSetting
metadata: {name: kubectl-dry}
spec:
  network:
    vipNetworks: [{networkName: vip-net-a}]
`, "apply", "--dry-run=server", "-f", "-")
		if err != nil || !strings.Contains(out, "aviinfrasetting.ako.vmware.com/kubectl-dry created (server dry run)") {
			t.Fatalf("kubectl: %v\n%s", err, out)
		}
		if err := env.Client.Get(ctx, metaKey("", "kubectl-dry"), &v1beta1.AviInfraSetting{}); !apierrors.IsNotFound(err) {
			t.Errorf("a dry-run AviInfraSetting was stored (get: %v)", err)
		}
	})
}
