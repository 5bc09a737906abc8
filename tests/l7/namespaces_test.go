package l7

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/tests/harness"
)

// An Ingress is vipgate's only in a namespace namespaceSelector selects: when
// the label goes, its routes leave the controller and its status is cleared;
// when it comes back, they return.
func TestNamespaceSelectorIngress(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	start(t, sim, settingsFor(t, sim, func(s *config.Settings) {
		s.AKOSettings.NamespaceSelector = config.NamespaceSelector{LabelKey: "vipgate", LabelValue: "on"}
	}), nil)
	setLabel := func(ns string, on bool) {
		t.Helper()
		patch := `{"metadata":{"labels":{"vipgate":null}}}`
		if on {
			patch = `{"metadata":{"labels":{"vipgate":"on"}}}`
		}
		obj := &corev1.Namespace{}
		obj.Name = ns
		if err := env.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatalf("labelling namespace %s: %v", ns, err)
		}
	}
	ns := newNamespace(t)
	setLabel(ns, true)
	backend(t, ns, "web", "10.1.0.7")
	createObj(t, ingress(ns, "sel", nil, []route{{"sel.example.com", "/", "web", false}}))
	waitStatus(t, ns, "sel", "sel.example.com")
	pool := "demo--sel.example.com_-" + ns + "-sel"
	if !slices.Contains(simNames(sim, "pool"), pool) {
		t.Fatalf("pool %s not on the controller: %v", pool, simNames(sim, "pool"))
	}

	setLabel(ns, false)
	waitStatus(t, ns, "sel")
	harness.Eventually(t, "the unselected namespace's pool removed", func() string {
		if slices.Contains(simNames(sim, "pool"), pool) {
			return "still there"
		}
		return ""
	})
	// The finalizer goes right after the status is cleared.
	harness.Eventually(t, "the cleanup finalizer released", func() string {
		if slices.Contains(getIngress(t, ns, "sel").Finalizers, "vipgate.ako.vmware.com/cleanup") {
			return "still there"
		}
		return ""
	})

	setLabel(ns, true)
	waitStatus(t, ns, "sel", "sel.example.com")
}
