package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/webhooks"
)

// TestFailOpenWithoutInventory checks controller-dependent checks fail open
// when the inventory is missing or stale: a Service with an address outside
// every VIP network is admitted with a warning kubectl prints, and an
// AviInfraSetting naming an unknown network too, while a syntax error (a
// static check) is still denied.
func TestFailOpenWithoutInventory(t *testing.T) {
	stale := demoSnapshot()
	stale.FetchedAt = time.Now().Add(-2 * time.Hour)
	modes := []struct {
		name string
		opts operator.Options
		warn string
	}{
		{"inventory not loaded", operator.Options{AdmissionOnly: true, InventoryStaleAfter: time.Hour}, rules.WarnInventoryNotLoaded},
		{"inventory stale", operator.Options{AdmissionOnly: true, Inventory: staticInventory{stale}, InventoryStaleAfter: time.Hour}, rules.WarnInventoryStale},
	}
	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			env.StartVipgate(t, m.opts)
			ns := newNamespace(t, nil)
			svcName := "outside"
			out, err := env.Kubectl(ctx, `apiVersion: v1
kind: Service
metadata: {name: `+svcName+`, namespace: `+ns+`}
spec:
  type: LoadBalancer
  loadBalancerIP: 10.10.0.5
  allocateLoadBalancerNodePorts: false
  ports: [{name: http, port: 80}]
`, "apply", "-f", "-")
			cleanupObject(t, lbService(ns, svcName, ""))
			if err != nil {
				t.Fatalf("want admitted with a warning: %v\n%s", err, out)
			}
			for _, w := range []string{"Warning: " + m.warn, "service/" + svcName + " created"} {
				if !strings.Contains(out, w) {
					t.Errorf("kubectl output lacks %q:\n%s", w, out)
				}
			}

			aisName := []string{"failopen-a", "failopen-b"}[i]
			out, err = env.Kubectl(ctx, `apiVersion: ako.vmware.com/v1beta1
kind: AviInfraSetting
metadata: {name: `+aisName+`}
spec:
  network:
    vipNetworks: [{networkName: vip-net-z}]
`, "apply", "-f", "-")
			cleanupObject(t, infra(aisName, ""))
			if err != nil || !strings.Contains(out, "Warning: "+m.warn) {
				t.Errorf("AviInfraSetting: want admitted with a warning: %v\n%s", err, out)
			}

			// Static checks hold without an inventory.
			err = tryCreate(t, lbService(ns, "syntax", "10.50.0.300"))
			wantDenied(t, err, webhookDenial(webhooks.HookValidateService), `spec.loadBalancerIP: Invalid value: "10.50.0.300": must be a valid IP address`)
		})
	}
}
