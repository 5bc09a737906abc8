package l7

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestIngressBurstWritesEachObjectOnce: Ingresses created at once on one
// shard cost one write per object on the controller. The shard's VsVip
// (a DNS record per host) and policy set (a rule per route) list every
// Ingress, so a shard synced while Ingresses are still arriving writes
// them again for each intermediate membership; the shard sync waits until
// its Ingresses stop arriving and creates each object with its final
// content.
func TestIngressBurstWritesEachObjectOnce(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	// Longer than the default settle: the creates must not pause that long
	// on a loaded machine, or the shard rightly syncs in between. The first
	// create is a lone change until the second arrives, and a lone change
	// waits only a fifth of the settle: CI saw more than 0.6 s between the
	// first two creates of this burst on a busy 2-core machine, so the
	// settle here gives that gap 2 s.
	start(t, sim, settingsFor(t, sim, nil), func(o *operator.Options) { o.IngressSettle = 10 * time.Second })
	ns := newNamespace(t)
	backend(t, ns, "web", "10.7.0.1")
	const n = 24
	sim.ResetCounts()
	ings := make([]*networkingv1.Ingress, n)
	for i := range ings {
		ings[i] = ingress(ns, fmt.Sprintf("burst-%d", i), nil, []route{{fmt.Sprintf("burst-%d.example.com", i), "/", "web", false}})
	}
	err := harness.Parallel(8, n, func(i int) error { return env.Client.Create(context.Background(), ings[i]) })
	t.Cleanup(func() {
		for _, ing := range ings {
			_ = env.Client.Delete(context.Background(), ing)
			_ = env.Client.Patch(context.Background(), ing, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		}
	})
	if err != nil {
		t.Fatalf("creating Ingresses: %v", err)
	}
	for i := range n {
		waitStatus(t, ns, fmt.Sprintf("burst-%d", i), fmt.Sprintf("burst-%d.example.com", i))
	}
	// Status is written after the shard's writes: every write has been made.
	got := map[string]int{}
	for k, v := range sim.Counts() {
		if m, _, _ := strings.Cut(k, " "); m != "GET" && v > 0 {
			got[k] = v
		}
	}
	want := map[string]int{"POST vsvip": 1, "POST virtualservice": 1, "POST httppolicyset": 1, "POST pool": n, "POST poolgroup": n}
	if !maps.Equal(got, want) {
		t.Errorf("controller writes for %d Ingresses created at once: %v, want %v (each object created once with its final content)", n, sorted(got), sorted(want))
	}
	if rs := rules(sim, parent0); len(rs) != n {
		t.Errorf("the shard's policy set has %d rules, want %d", len(rs), n)
	}
}

// sorted renders a count map in key order.
func sorted(m map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(out, " ")
}
