package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestSecretLookupFailureAdmitsWithWarning: vipgate confirms a missing TLS
// Secret with one live GET before denying. When that GET fails (here RBAC:
// vipgate may list and watch Secrets but not get them), admission could not
// tell whether the Secret exists: the Ingress is admitted with a warning
// naming the failure, never denied on an answer vipgate did not get.
func TestSecretLookupFailureAdmitsWithWarning(t *testing.T) {
	ctx := context.Background()
	user := limitedUser(t, "vipgate-no-secret-get")
	sim := startSim(t, avisim.DemoSeed())
	s := harness.DemoSettings(t, sim.Host())
	op := env.StartVipgateAs(t, user, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
	ensureIngressClass(t, op)
	ns := newNamespace(t, nil)

	out, err := env.Kubectl(ctx, `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: `+ns+`
spec:
  ingressClassName: avi-lb
  tls:
  - hosts: [shop.example.com]
    secretName: not-yet
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
`, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply refused the Ingress: %v\n%s", err, out)
	}
	for _, want := range []string{"Warning:", "could not check Secret " + ns + "/not-yet", "forbidden", "ingress.networking.k8s.io/web created"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl output lacks %q:\n%s", want, out)
		}
	}
}

// limitedUser is an API server identity with what vipgate needs, except get
// on Secrets (list and watch stay, so the cache works).
func limitedUser(t testing.TB, name string) *rest.Config {
	t.Helper()
	u, err := env.Env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		t.Fatalf("adding user %s: %v", name, err)
	}
	all := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "services/status", "endpoints", "namespaces", "nodes", "events", "configmaps", "pods"}, Verbs: all},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: all},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "ingresses/status", "ingressclasses"}, Verbs: all},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: all},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: all},
		{APIGroups: []string{"ako.vmware.com"}, Resources: []string{"*"}, Verbs: all},
		{APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificates"}, Verbs: []string{"list", "watch"}},
	}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}}}
	create(t, role)
	create(t, binding)
	return u.Config()
}
