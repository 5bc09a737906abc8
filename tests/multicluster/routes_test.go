package multicluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// wantRoutes checks, until it holds, that the VRF has exactly want for
// cluster "demo" and still every foreign route, unchanged.
func wantRoutes(t *testing.T, sim *avisim.Sim, what string, want []string, foreign []string) {
	t.Helper()
	slices.Sort(want)
	harness.Eventually(t, what, func() string {
		rs := vrfRoutes(t, sim)
		if got := routesOf(rs, "demo"); !slices.Equal(got, want) {
			return fmt.Sprintf("demo routes %v, want %v", got, want)
		}
		var others []string
		for _, r := range rs {
			if r.Cluster != "demo" {
				others = append(others, r.String())
			}
		}
		if !slices.Equal(others, foreign) {
			return fmt.Sprintf("other routes %v, want %v (unchanged, in order)", others, foreign)
		}
		return ""
	})
}

func foreignStrings(t *testing.T, sim *avisim.Sim) []string {
	var out []string
	for _, r := range vrfRoutes(t, sim) {
		out = append(out, r.String())
	}
	return out
}

// TestRoutesFollowNodes: each node's pod CIDR becomes a route via its
// InternalIP labelled clustername=demo, the SE group gets the same label, and
// routes follow nodes being added, re-addressed and removed, in one VrfContext
// write per change, while another cluster's routes and a hand-made route stay
// exactly as they were.
func TestRoutesFollowNodes(t *testing.T) {
	sim := harness.StartSim(t, nil)
	addRoutes(t, otherWriter(t, sim), foreignRoutes...)
	foreign := foreignStrings(t, sim)
	if len(foreign) != 3 {
		t.Fatalf("seeded routes: %v", foreign)
	}
	start(t, nil, settingsFor(t, sim, "demo", nil), nil)

	createNode(t, env, "node-a", "192.168.10.11", "10.244.1.0/24")
	createNode(t, env, "node-b", "192.168.10.12", "10.244.2.0/24")
	// Overlapping pod CIDRs with west's are fine: the labels keep them apart.
	wantRoutes(t, sim, "routes for both nodes", []string{
		"demo-node-a-1 10.244.1.0/24 via 192.168.10.11 [demo]",
		"demo-node-b-1 10.244.2.0/24 via 192.168.10.12 [demo]",
	}, foreign)
	if got := seGroupLabels(sim, "Default-Group"); !slices.Equal(got, []string{"clustername=demo"}) {
		t.Errorf("SE group labels %v, want clustername=demo", got)
	}
	if got := seGroupLabels(sim, "edge-seg"); !slices.Equal(got, []string{"tier=edge"}) {
		t.Errorf("another SE group was touched: %v", got)
	}

	sim.ResetCounts()
	setNodeIP(t, env, "node-a", "192.168.10.21")
	wantRoutes(t, sim, "route of a re-addressed node", []string{
		"demo-node-a-1 10.244.1.0/24 via 192.168.10.21 [demo]",
		"demo-node-b-1 10.244.2.0/24 via 192.168.10.12 [demo]",
	}, foreign)
	if n := sim.Counts()["PUT vrfcontext"]; n != 1 {
		t.Errorf("re-addressing one node took %d VrfContext writes, want 1", n)
	}

	sim.ResetCounts()
	deleteNode(t, env, "node-b")
	wantRoutes(t, sim, "route of a removed node goes", []string{
		"demo-node-a-1 10.244.1.0/24 via 192.168.10.21 [demo]",
	}, foreign)
	if n := sim.Counts()["PUT vrfcontext"]; n != 1 {
		t.Errorf("removing one node took %d VrfContext writes, want 1", n)
	}
	if n := sim.Counts()["PUT serviceenginegroup"]; n != 0 {
		t.Errorf("SE group rewritten %d times although already labelled", n)
	}

	deleteNode(t, env, "node-a")
	wantRoutes(t, sim, "no routes of ours without nodes", nil, foreign)
}

// TestRoutesRestartNoWrites: a restart with the same nodes writes nothing,
// and a node removed while vipgate was down loses its route at start.
func TestRoutesRestartNoWrites(t *testing.T) {
	sim := harness.StartSim(t, nil)
	s := settingsFor(t, sim, "demo", nil)
	_, stop := start(t, nil, s, nil)
	createNode(t, env, "node-a", "192.168.10.11", "10.244.1.0/24")
	createNode(t, env, "node-b", "192.168.10.12", "10.244.2.0/24")
	wantRoutes(t, sim, "routes for both nodes", []string{
		"demo-node-a-1 10.244.1.0/24 via 192.168.10.11 [demo]",
		"demo-node-b-1 10.244.2.0/24 via 192.168.10.12 [demo]",
	}, nil)
	stop()

	sim.ResetCounts()
	_, stop = start(t, nil, s, nil)
	// A Service synced after the restart shows the manager has been running.
	ns := newNamespace(t, env, nil, nil)
	create(t, env, lbService(ns, "probe"))
	waitVIP(t, env, ns, "probe")
	if n := sim.Counts()["PUT vrfcontext"] + sim.Counts()["PUT serviceenginegroup"]; n != 0 {
		t.Errorf("restart with unchanged nodes wrote routes or SE group %d times", n)
	}
	stop()

	deleteNode(t, env, "node-b")
	start(t, nil, s, nil)
	wantRoutes(t, sim, "route of the node removed while down goes at start", []string{
		"demo-node-a-1 10.244.1.0/24 via 192.168.10.11 [demo]",
	}, nil)
}

// TestRoutesConflict: a VrfContext write refused with 409 is retried after
// reading the object again, and a real concurrent update (another cluster
// adds its route between vipgate's read and its write, so vipgate's
// _last_modified is stale: 412) ends with both clusters' routes.
func TestRoutesConflict(t *testing.T) {
	sim := harness.StartSim(t, nil)
	other := otherWriter(t, sim)
	addRoutes(t, other, foreignRoutes[:1]...)

	// Between vipgate's first read of the VRF and its first PUT, the other
	// cluster writes the VRF.
	hook := &hookTransport{
		base:   &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // avisim's self-signed certificate
		method: http.MethodPut, path: "/api/vrfcontext/",
		before: func() {
			if err := addRoutesErr(other, foreignRoutes[1]); err != nil {
				t.Errorf("the other cluster's concurrent write: %v", err)
			}
		},
	}
	s := settingsFor(t, sim, "demo", nil)
	ctrlClient, err := session.New(context.Background(), s.ControllerSettings, harness.SimCredentials(sim), session.Options{Transport: hook})
	if err != nil {
		t.Fatalf("controller client: %v", err)
	}
	t.Cleanup(ctrlClient.Close)
	start(t, nil, s, func(o *operator.Options) { o.Controller = ctrlClient })

	sim.ResetCounts()
	createNode(t, env, "node-a", "192.168.10.11", "10.244.1.0/24")
	wantRoutes(t, sim, "our route next to both of west's after a stale write", []string{
		"demo-node-a-1 10.244.1.0/24 via 192.168.10.11 [demo]",
	}, []string{foreignRoutes0, foreignRoutes1})
	if !hook.fired.Load() {
		t.Fatalf("the concurrent write never happened")
	}
	// Ours: one refused (412) and one accepted; the other writer's: one.
	if n := sim.Counts()["PUT vrfcontext"]; n != 3 {
		t.Errorf("PUT vrfcontext %d times, want 3 (the other writer's, our stale one, our retry)", n)
	}

	sim.ResetCounts()
	sim.Faults().ConflictOnce("vrfcontext")
	createNode(t, env, "node-b", "192.168.10.12", "10.244.2.0/24")
	wantRoutes(t, sim, "our routes after a 409", []string{
		"demo-node-a-1 10.244.1.0/24 via 192.168.10.11 [demo]",
		"demo-node-b-1 10.244.2.0/24 via 192.168.10.12 [demo]",
	}, []string{foreignRoutes0, foreignRoutes1})
	if n := sim.Counts()["PUT vrfcontext"]; n != 2 {
		t.Errorf("PUT vrfcontext %d times, want 2 (the 409 and the retry)", n)
	}
}

// The foreign routes as vrfRoutes renders them.
var (
	foreignRoutes0 = "west-node1-1 10.244.1.0/24 via 172.16.0.11 [west]"
	foreignRoutes1 = "west-node2-1 10.244.2.0/24 via 172.16.0.12 [west]"
)

// TestRoutesDisabled: with disableStaticRouteSync, and in NodePort mode,
// nodes cause no route or SE group writes.
func TestRoutesDisabled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*config.Settings)
	}{
		{"disableStaticRouteSync", func(s *config.Settings) { s.AKOSettings.DisableStaticRouteSync = true }},
		{"NodePort", func(s *config.Settings) { s.L7Settings.ServiceType = "NodePort" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := harness.StartSim(t, nil)
			start(t, nil, settingsFor(t, sim, "demo", tc.tweak), nil)
			createNode(t, env, "node-a", "192.168.10.11", "10.244.1.0/24")
			// A Service synced after the node exists shows vipgate has seen it.
			ns := newNamespace(t, env, nil, nil)
			create(t, env, lbService(ns, "probe"))
			waitVIP(t, env, ns, "probe")
			if n := sim.Counts()["PUT vrfcontext"]; n != 0 {
				t.Errorf("PUT vrfcontext %d times, want 0", n)
			}
			if n := sim.Counts()["PUT serviceenginegroup"]; n != 0 {
				t.Errorf("PUT serviceenginegroup %d times, want 0", n)
			}
			if rs := vrfRoutes(t, sim); len(rs) != 0 {
				t.Errorf("routes %v", rs)
			}
		})
	}
}

// TestSEGroupOfAnotherCluster: vipgate refuses to start on an SE group
// labelled for another cluster, naming the label.
func TestSEGroupOfAnotherCluster(t *testing.T) {
	seed := avisim.DemoSeed()
	for i := range seed.SEGroups {
		if seed.SEGroups[i].Name == "Default-Group" {
			seed.SEGroups[i].Labels = []avisim.SeedLabel{{Key: "clustername", Value: "west"}}
		}
	}
	sim := harness.StartSim(t, seed)
	_, err := operator.New(context.Background(), env.Cfg, operator.Options{
		Settings: settingsFor(t, sim, "demo", nil), Credentials: harness.SimCredentials(sim), MetricsAddr: "0",
	})
	if err == nil {
		t.Fatalf("vipgate started on an SE group labelled clustername=west")
	}
	for _, want := range []string{"ControllerSettings.serviceEngineGroupName", `"Default-Group"`, "clustername=west", "clustername=demo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if n := sim.Writes(); n != 0 {
		t.Errorf("%d writes to the controller before refusing", n)
	}
	// Its own label, or none, is fine (the other tests start on an unlabelled one).
	seed.SEGroups[0].Labels = []avisim.SeedLabel{{Key: "clustername", Value: "demo"}}
	sim2 := harness.StartSim(t, seed)
	op, err := operator.New(context.Background(), env.Cfg, operator.Options{
		Settings: settingsFor(t, sim2, "demo", nil), Credentials: harness.SimCredentials(sim2), MetricsAddr: "0",
	})
	if err != nil {
		t.Fatalf("refused an SE group labelled for this cluster: %v", err)
	}
	op.Controller.Close()
}
