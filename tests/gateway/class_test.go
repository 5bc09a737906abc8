package gateway

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/tests/harness"
)

// TestGatewayClass: vipgate accepts its own class, refuses one whose
// parametersRef names a missing AviInfraSetting with the reason and the
// message, and leaves another controller's class alone.
func TestGatewayClass(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureClass(t)
	other := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "someone-else"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/gw"}}
	env.CreateAndRemove(t, other)
	bad := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-bad-params"}, Spec: gatewayv1.GatewayClassSpec{
		ControllerName: "ako.vmware.com/avi-lb",
		ParametersRef:  &gatewayv1.ParametersReference{Group: "ako.vmware.com", Kind: "AviInfraSetting", Name: "nowhere"}}}
	env.CreateAndRemove(t, bad)

	for _, tc := range []struct{ class, status, reason, message string }{
		{gatewayClass, "True", "Accepted", "handled by vipgate"},
		{"avi-bad-params", "False", "InvalidParameters", `spec.parametersRef.name: Invalid value: "nowhere": no AviInfraSetting with this name exists; create it first, or remove parametersRef`},
	} {
		harness.Eventually(t, "GatewayClass "+tc.class+" Accepted="+tc.status, func() string {
			var gc gatewayv1.GatewayClass
			if err := env.Client.Get(context.Background(), types.NamespacedName{Name: tc.class}, &gc); err != nil {
				return err.Error()
			}
			c := condition(gc.Status.Conditions, "Accepted")
			if c == nil || string(c.Status) != tc.status || c.Reason != tc.reason || c.Message != tc.message || c.ObservedGeneration != gc.Generation {
				return describe(gc.Status.Conditions)
			}
			return ""
		})
	}
	// Our class has been judged; the other controller's must still carry
	// only the API server's default (Unknown, Pending).
	var gc gatewayv1.GatewayClass
	if err := env.Client.Get(context.Background(), types.NamespacedName{Name: "someone-else"}, &gc); err != nil {
		t.Fatal(err)
	}
	if c := condition(gc.Status.Conditions, "Accepted"); c == nil || c.Status != "Unknown" {
		t.Errorf("another controller's class was touched: %s", describe(gc.Status.Conditions))
	}
}
