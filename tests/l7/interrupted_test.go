package l7

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

// TestShardRemovalInterrupted: a shard removal the controller fails halfway
// (here after the virtual service, policy set and pool groups are gone, at
// the first pool) leaves the pools where the next attempt, following
// references from the virtual service, cannot find them; the first write
// that succeeds afterwards sweeps them. They used to stay until the next
// start's orphan collection.
func TestShardRemovalInterrupted(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	start(t, sim, settingsFor(t, sim, nil), nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.8.0.1")
	ing := ingress(ns, "half", nil, []route{{"half.example.com", "/", "web", false}, {"half.example.com", "/api", "web", false}})
	createObj(t, ing)
	waitStatus(t, ns, "half", "half.example.com")
	if got := l7Objects(sim); len(got) != 7 {
		t.Fatalf("L7 objects %v, want the shard's seven (VsVip, virtual service, policy set, two pool groups, two pools)", got)
	}

	sim.Faults().FailKind("pool", http.StatusServiceUnavailable)
	if err := env.Client.Delete(context.Background(), getIngress(t, ns, "half")); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the removal gets as far as the pools", func() string {
		if simObject(sim, "virtualservice", parent0) != nil || simObject(sim, "vsvip", parent0) != nil {
			return fmt.Sprintf("L7 objects %v", l7Objects(sim))
		}
		return ""
	})
	if got := simNames(sim, "pool"); len(got) != 2 {
		t.Fatalf("pools %v, want both still there (every pool call fails)", got)
	}
	sim.Faults().FailKind("pool", 0)
	harness.Eventually(t, "the pools the interrupted removal left are swept", func() string {
		if got := l7Objects(sim); len(got) != 0 {
			return fmt.Sprintf("L7 objects %v", got)
		}
		return ""
	})
}
