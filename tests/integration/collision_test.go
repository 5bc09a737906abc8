package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestNameCollisionRefused: Services team/a-web and team-a/web both map to
// the Avi name demo--team-a-web. The second is refused by kubectl apply with
// both names in the message, and the first keeps its objects and VIP
// untouched; likewise a shared-VIP key equal to another Service's name, and
// a secure Ingress host without a dot meeting a Service's name.
func TestNameCollisionRefused(t *testing.T) {
	ctx := context.Background()
	sim, op := startReal(t, avisim.DemoSeed(), nil)
	ensureIngressClass(t, op)
	first := lbService("team-a", "web", "", port(80))
	first.Namespace = env.NewNamespace(t, "team-a", nil, nil)
	create(t, first)
	var vip string
	harness.Eventually(t, "team-a/web has its VIP", func() string {
		var svc corev1.Service
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(first), &svc); err != nil {
			return err.Error()
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return "no VIP yet"
		}
		vip = svc.Status.LoadBalancer.Ingress[0].IP
		return ""
	})
	pool := harness.SimObject(sim, "admin", "pool", "demo--team-a-web-TCP-80")
	if pool == nil {
		t.Fatal("team-a/web has no pool")
	}
	before := harness.Str(pool, "_last_modified")
	team := env.NewNamespace(t, "team", nil, nil)

	out, err := env.Kubectl(ctx, `apiVersion: v1
kind: Service
metadata: {name: a-web, namespace: `+team+`}
spec:
  type: LoadBalancer
  ports: [{port: 80}]
`, "apply", "-f", "-")
	if err == nil {
		t.Fatalf("kubectl apply accepted team/a-web:\n%s", out)
	}
	for _, want := range []string{`metadata.name: Invalid value: "a-web"`, `its Avi name "demo--team-a-web" is already used by Service team-a/web`, "rename this Service, or that one"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl output lacks %q:\n%s", want, out)
		}
	}
	out, err = env.Kubectl(ctx, `apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: `+first.Namespace+`
  annotations: {ako.vmware.com/enable-shared-vip: web}
spec:
  type: LoadBalancer
  ports: [{port: 81}]
`, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, `its Avi name "demo--team-a-web" is already used by Service team-a/web`) {
		t.Errorf("a shared-VIP key equal to a Service's name: err %v\n%s", err, out)
	}
	ing := ingress(env.NewNamespace(t, "shop", nil, nil), "site", "team-a-web", "site-tls")
	if err := tryCreate(t, ing); err == nil || !strings.Contains(err.Error(), `its SNI virtual service name "demo--team-a-web" is already used by Service team-a/web`) {
		t.Errorf("a secure host meeting a Service's name: %v", err)
	}

	time.Sleep(500 * time.Millisecond)
	if got := harness.Str(harness.SimObject(sim, "admin", "pool", "demo--team-a-web-TCP-80"), "_last_modified"); got != before {
		t.Errorf("team-a/web's pool was rewritten")
	}
	var svc corev1.Service
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(first), &svc); err != nil || svc.Status.LoadBalancer.Ingress[0].IP != vip {
		t.Errorf("team-a/web lost its VIP %s: %+v %v", vip, svc.Status.LoadBalancer, err)
	}
}
