package rulecrds

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestHostRuleBeingDeleted: a HostRule another controller's finalizer keeps
// while it is deleted no longer applies (the virtual service gets its
// defaults back) nor holds its host (a new rule for it is admitted and
// applied), without waiting for the finalizer to go.
func TestHostRuleBeingDeleted(t *testing.T) {
	sim, _ := start(t, nil)
	ensureClass(t)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.8.0.1")
	host := "going.rules.example.com"
	secureIngress(t, ns, "shop", host)
	mustApply(t, `apiVersion: ako.vmware.com/v1beta1
kind: HostRule
metadata: {name: first, namespace: `+ns+`, finalizers: [example.com/audit]}
spec:
  virtualhost: {fqdn: `+host+`, wafPolicy: demo-waf}
`)
	t.Cleanup(func() {
		hr := &v1beta1.HostRule{}
		if err := env.Client.Get(context.Background(), clientKey(ns, "first"), hr); err != nil {
			return
		}
		patch := client.MergeFrom(hr.DeepCopy())
		hr.Finalizers = nil
		if err := env.Client.Patch(context.Background(), hr, patch); err != nil {
			t.Errorf("releasing the first rule: %v", err)
		}
	})
	ruleStatus(t, getHostRule(t, ns, "first"), v1beta1.StatusAccepted)
	harness.Eventually(t, "the first rule applied", childWAF(sim, host, "demo-waf"))
	if err := env.Client.Delete(context.Background(), getHostRule(t, ns, "first")); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the child's default back while the rule is being deleted", childWAF(sim, host, ""))
	mustApply(t, hostRuleYAML("v1beta1", ns, "second", host, "wafPolicy: waf-2"))
	ruleStatus(t, getHostRule(t, ns, "second"), v1beta1.StatusAccepted)
	harness.Eventually(t, "the second rule applied", childWAF(sim, host, "waf-2"))
	if getHostRule(t, ns, "first").DeletionTimestamp == nil {
		t.Fatal("the finalizer did not keep the first rule")
	}
}
