package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// gatewayClass is the GatewayClass of vipgate the tests use (ensureClass).
const gatewayClass = "avi-lb"

// start runs vipgate against sim with the demo settings, edited by tweak
// (may be nil). Gateways left at cleanup are deleted while it still runs.
func start(t testing.TB, sim *avisim.Sim, tweak func(*config.Settings)) {
	t.Helper()
	s := harness.DemoSettings(t, sim.Host())
	if tweak != nil {
		tweak(s)
	}
	env.StartVipgate(t, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
	t.Cleanup(func() {
		releaseGateways(t)
		env.ReleaseServices(t)
	})
}

// releaseGateways deletes every Gateway and waits up to 30 s for vipgate to
// release them (their finalizers), then strips what is left.
func releaseGateways(t testing.TB) {
	ctx := context.Background()
	var list gatewayv1.GatewayList
	if err := env.Client.List(ctx, &list); err != nil {
		t.Logf("cleanup: listing Gateways: %v", err)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := range list.Items {
		g := &list.Items[i]
		_ = env.Client.Delete(ctx, g)
		for {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(g), &gatewayv1.Gateway{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Logf("cleanup: Gateway %s/%s not released by vipgate; stripping its finalizers", g.Namespace, g.Name)
				_ = env.Client.Patch(ctx, g, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// newNamespace creates a namespace named after the test.
func newNamespace(t testing.TB) string {
	t.Helper()
	return env.NewNamespace(t, harness.UniqueName(t, 24), nil, nil)
}

// ensureClass creates vipgate's GatewayClass avi-lb (once per package).
func ensureClass(t testing.TB) {
	t.Helper()
	gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: gatewayClass},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "ako.vmware.com/avi-lb"}}
	if err := env.Client.Create(context.Background(), gc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("GatewayClass %s: %v", gatewayClass, err)
	}
}

// condition returns the condition of type typ, or nil.
func condition(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}

// describe prints conditions compactly for failure messages.
func describe(conds []metav1.Condition) string {
	s := ""
	for _, c := range conds {
		s += fmt.Sprintf("[%s=%s %s: %s (gen %d)] ", c.Type, c.Status, c.Reason, c.Message, c.ObservedGeneration)
	}
	return s
}
