package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestRestartKeepsGatewayObjects: start-up orphan collection after a
// restart keeps the objects of a Gateway vipgate serves, and a Gateway
// deleted while vipgate was down loses its objects and its finalizer.
func TestRestartKeepsGatewayObjects(t *testing.T) {
	sim := harness.StartSim(t, avisim.DemoSeed())
	s := harness.DemoSettings(t, sim.Host())
	opts := operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour}
	_, stop := env.StartStoppableVipgate(t, opts)
	ensureClass(t)
	ns := newNamespace(t)
	env.Create(t, gateway(ns, "kept", "http:80:HTTP"))
	env.Create(t, gateway(ns, "gone", "http:80:HTTP"))
	waitProgrammed(t, ns, "kept")
	waitProgrammed(t, ns, "gone")
	stop()

	// Deleted while vipgate is down: its finalizer holds it until vipgate,
	// back, removes its objects (orphan collection or its release).
	ctx := context.Background()
	if err := env.Client.Delete(ctx, &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gone"}}); err != nil {
		t.Fatal(err)
	}

	done := make(chan []string, 1)
	opts.OrphansCollected = func(deleted []string, err error) {
		if err != nil {
			t.Errorf("orphan collection: %v", err)
		}
		done <- deleted
	}
	start2 := opts
	env.StartVipgate(t, start2)
	t.Cleanup(func() { releaseGateways(t) })
	var deleted []string
	select {
	case deleted = <-done:
	case <-time.After(time.Minute):
		t.Fatal("orphan collection did not run")
	}
	for _, d := range deleted {
		if strings.Contains(d, "-kept-EVH") {
			t.Errorf("orphan collection deleted %s of a Gateway vipgate serves", d)
		}
	}
	harness.Eventually(t, "the Gateway deleted while vipgate was down is released", func() string {
		if left := harness.SimNames(sim, "admin", "virtualservice", "demo--"+ns+"-gone-EVH"); len(left) > 0 {
			return "still on the controller: " + strings.Join(left, ", ")
		}
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "gone"}, &gatewayv1.Gateway{}); err == nil {
			return "the Gateway is still there"
		}
		return ""
	})
	if harness.SimObject(sim, "admin", "vsvip", "demo--"+ns+"-kept-EVH") == nil {
		t.Error("the served Gateway's VsVip is gone after the restart")
	}
}
