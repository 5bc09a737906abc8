package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestFullInfraSettingKeepsPoolsFresh: the Services of an AviInfraSetting
// fill its VIP range (vip-net-b, four addresses), which turns it Rejected;
// an endpoint change of one of them still reaches its pool (pools never
// freeze on a rule meant for new allocations).
func TestFullInfraSettingKeepsPoolsFresh(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, func(o *operator.Options) { o.InfraSettingRecheck = 200 * time.Millisecond })
	ns := newNamespace(t)
	createObj(t, infraSetting("full", "vip-net-b"))
	waitInfraStatus(t, "full", v1beta1.StatusAccepted)
	var svcs []*corev1.Service
	for i := range 4 {
		svc := lbService(ns, fmt.Sprintf("s%d", i), []int32{80}, annotate("aviinfrasetting.ako.vmware.com/name", "full"))
		createObj(t, endpointSlice(svc, svc.Name+"-1", fmt.Sprintf("10.20.%d.1", i)))
		createObj(t, svc)
		svcs = append(svcs, svc)
	}
	for _, svc := range svcs {
		waitVIP(t, ns, svc.Name)
	}
	waitInfraStatus(t, "full", v1beta1.StatusRejected)

	createObj(t, endpointSlice(svcs[0], "s0-2", "10.20.0.2"))
	harness.Eventually(t, "the new endpoint reaches the pool of a Service on the full AviInfraSetting", func() string {
		got := poolServers(simObject(sim, "pool", poolName(ns, "s0", 80)))
		if !slices.Equal(got, []string{"10.20.0.1:8080", "10.20.0.2:8080"}) {
			return fmt.Sprintf("servers %v", got)
		}
		return ""
	})
	if c := syncedCondition(getService(t, ns, "s0")); c == nil || c.Status != "True" {
		t.Errorf("AviSynced %+v", c)
	}
}

// TestMultiVipSurvivesReconcileBeforeInventory: on an AWS cloud a Service's
// VsVip holds one vip per zone. vipgate restarts while the inventory cannot
// load (the network collection fails); Service changes in that window never
// rewrite the VsVip (no model without the controller's view), and once the
// inventory loads the three addresses are still there.
func TestMultiVipSurvivesReconcileBeforeInventory(t *testing.T) {
	sim := harness.StartSim(t, avisim.AWSSeed())
	s := settingsFor(t, sim, func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-az-a"}, {NetworkName: "vip-az-b"}, {NetworkName: "vip-az-c"}}
	})
	_, stop := startStoppable(t, sim, s, nil)
	ns := newNamespace(t)
	svc := lbService(ns, "web", []int32{80})
	createObj(t, endpointSlice(svc, "web-1", "10.30.0.1"))
	createObj(t, svc)
	waitVIP(t, ns, "web")
	before := vsvipAddresses(simObject(sim, "vsvip", baseName(ns, "web")))
	if len(before) != 3 {
		t.Fatalf("VsVip addresses %v, want three (one per zone)", before)
	}
	stop()

	sim.Faults().FailKind("network", http.StatusServiceUnavailable)
	sim.ResetCounts()
	o := operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour}
	env.StartVipgateNoInventory(t, o)
	t.Cleanup(func() { removeAll(t) })
	reconciled := harness.Reconciles(t, "service")
	createObj(t, endpointSlice(svc, "web-2", "10.30.0.2"))
	harness.Eventually(t, "vipgate looks at the Service", func() string {
		if harness.Reconciles(t, "service") <= reconciled {
			return "not yet"
		}
		return ""
	})
	time.Sleep(time.Second) // a few waits for the inventory
	if n := sim.Counts()["PUT vsvip"]; n != 0 {
		t.Fatalf("the VsVip was rewritten %d times before the inventory loaded", n)
	}
	sim.Faults().FailKind("network", 0)
	harness.Eventually(t, "the new endpoint reaches the pool once the inventory loads", func() string {
		got := poolServers(simObject(sim, "pool", poolName(ns, "web", 80)))
		if !slices.Equal(got, []string{"10.30.0.1:8080", "10.30.0.2:8080"}) {
			return fmt.Sprintf("servers %v", got)
		}
		return ""
	})
	if after := vsvipAddresses(simObject(sim, "vsvip", baseName(ns, "web"))); !slices.Equal(after, before) {
		t.Errorf("VsVip addresses %v after the restart, were %v", after, before)
	}
}

// TestNetworkUUIDSettingsNoRewrite: VIP networks named by UUID compare equal
// with what the controller returns (by UUID): a restart in sync writes
// nothing, and no VsVip is ever sent without its address.
func TestNetworkUUIDSettingsNoRewrite(t *testing.T) {
	sim := harness.StartSim(t, nil)
	uuid := harness.Str(simObject(sim, "network", "vip-net-a"), "uuid")
	if uuid == "" {
		t.Fatal("vip-net-a has no uuid")
	}
	s := settingsFor(t, sim, func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkUUID: uuid}}
	})
	_, stop := startStoppable(t, sim, s, nil)
	ns := newNamespace(t)
	createObj(t, lbService(ns, "web", []int32{80}))
	vip := waitVIP(t, ns, "web")
	harness.Eventually(t, "no write in flight", quiet(sim))
	stop()
	sim.ResetCounts()
	before := harness.Reconciles(t, "service")
	start(t, sim, s, nil)
	harness.Eventually(t, "the restarted vipgate reconciles the Service", func() string {
		if harness.Reconciles(t, "service") <= before {
			return "not yet"
		}
		return ""
	})
	harness.Eventually(t, "no write in flight", quiet(sim))
	if w := writesOf(sim.Counts()); len(w) != 0 {
		t.Errorf("a restart in sync wrote %v", w)
	}
	if got := waitVIP(t, ns, "web"); got != vip {
		t.Errorf("VIP %s after the restart, was %s", got, vip)
	}
}

// TestSharedGroupOneWriter: members of one shared-VIP group edited at the
// same time (endpoints of each) all end up served with their own endpoints:
// one key syncs the group, so no reconcile builds it from a stale view and
// removes another member's pool or servers.
func TestSharedGroupOneWriter(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	const n = 4
	var members []*corev1.Service
	for i := range n {
		svc := lbService(ns, fmt.Sprintf("m%d", i), []int32{int32(8000 + i)}, annotate("ako.vmware.com/enable-shared-vip", "grp"))
		members = append(members, svc)
	}
	var wg sync.WaitGroup
	for round := range 3 {
		for i, svc := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if round == 0 {
					createObj(t, svc)
				}
				createObj(t, endpointSlice(svc, fmt.Sprintf("%s-%d", svc.Name, round), fmt.Sprintf("10.40.%d.%d", i, round+1)))
			}()
		}
		wg.Wait()
	}
	harness.Eventually(t, "every member served with all its endpoints", func() string {
		for i, svc := range members {
			port := int32(8000 + i)
			got := poolServers(simObject(sim, "pool", fmt.Sprintf("demo--%s-%s-grp-TCP-%d", ns, svc.Name, port)))
			want := []string{fmt.Sprintf("10.40.%d.1:%d", i, port+8000), fmt.Sprintf("10.40.%d.2:%d", i, port+8000), fmt.Sprintf("10.40.%d.3:%d", i, port+8000)}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("%s servers %v, want %v", svc.Name, got, want)
			}
		}
		if got := vsPorts(simObject(sim, "virtualservice", baseName(ns, "grp"))); len(got) != n {
			return fmt.Sprintf("group VS ports %v", got)
		}
		return ""
	})
}

// TestSharedKeyChange: a Service that moves to another shared-VIP key leaves
// its old group, which keeps serving the other member without the departed
// port, and the old group's VIP goes with its last member.
func TestSharedKeyChange(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	ctx := context.Background()
	a := lbService(ns, "a", []int32{80}, annotate("ako.vmware.com/enable-shared-vip", "one"))
	b := lbService(ns, "b", []int32{443}, annotate("ako.vmware.com/enable-shared-vip", "one"))
	createObj(t, a)
	createObj(t, b)
	waitVIP(t, ns, "a")
	waitVIP(t, ns, "b")

	moved := getService(t, ns, "b")
	moved.Annotations["ako.vmware.com/enable-shared-vip"] = "two"
	if err := env.Client.Update(ctx, moved); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "group one serves only a; group two serves b", func() string {
		if got := vsPorts(simObject(sim, "virtualservice", baseName(ns, "one"))); !slices.Equal(got, []string{"80"}) {
			return fmt.Sprintf("group one ports %v", got)
		}
		if got := vsPorts(simObject(sim, "virtualservice", baseName(ns, "two"))); !slices.Equal(got, []string{"443"}) {
			return fmt.Sprintf("group two ports %v", got)
		}
		return ""
	})
	moved = getService(t, ns, "a")
	moved.Annotations["ako.vmware.com/enable-shared-vip"] = "two"
	if err := env.Client.Update(ctx, moved); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "group one is gone with its last member", func() string {
		for _, typ := range []string{"virtualservice", "vsvip"} {
			if o := simObject(sim, typ, baseName(ns, "one")); o != nil {
				return typ + " of group one still there"
			}
		}
		if got := vsPorts(simObject(sim, "virtualservice", baseName(ns, "two"))); !slices.Equal(got, []string{"80", "443"}) {
			return fmt.Sprintf("group two ports %v", got)
		}
		return ""
	})
}

// vsvipAddresses are every address a VsVip holds, in vip order.
func vsvipAddresses(vsvip map[string]any) []string {
	var out []string
	vips, _ := vsvip["vip"].([]any)
	for i := range vips {
		if a := harness.Str(vsvip, "vip", i, "ip_address", "addr"); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// TestSharedVIPMemberRequestsAnotherAddress: a Service joining a shared-VIP
// group that is already served on an allocated VIP, but requesting another
// address, is refused by the reconciler (the controller cannot change a VIP's
// address, and moving it would take it from the others): it gets an Invalid
// condition saying why and no status, the rest of the group keeps following
// its endpoints, and deleting it is not held up. Once no member is served on
// the old address, the group moves to the requested one. Before, the whole
// group's apply failed with a 400 and backed off, every member stuck.
func TestSharedVIPMemberRequestsAnotherAddress(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	ctx := context.Background()
	const key, want = "grp", "10.50.0.181"
	a := lbService(ns, "a", []int32{80}, annotate("ako.vmware.com/enable-shared-vip", key))
	createObj(t, endpointSlice(a, "a-1", "10.3.0.1"))
	createObj(t, a)
	ipA := waitVIP(t, ns, "a")
	if ipA == want {
		t.Fatalf("a got %s, the address r requests; pick another", ipA)
	}
	r := lbService(ns, "r", []int32{9000}, annotate("ako.vmware.com/enable-shared-vip", key), func(s *corev1.Service) { s.Spec.LoadBalancerIP = want })
	createObj(t, r)
	wantMsg := fmt.Sprintf("requests VIP %s, but the Services sharing VIP key %q are served on %s; a Service joining a shared-VIP group cannot move its VIP: request that address, or none", want, key, ipA)
	harness.Eventually(t, "r is refused with the reason", func() string {
		c := syncedCondition(getService(t, ns, "r"))
		if c == nil || c.Reason != reconcile.ReasonInvalid || c.Message != wantMsg {
			return fmt.Sprintf("condition %+v", c)
		}
		return ""
	})
	if got := getService(t, ns, "r").Status.LoadBalancer.Ingress; len(got) != 0 {
		t.Errorf("refused r shows status %v", got)
	}
	createObj(t, endpointSlice(a, "a-2", "10.3.0.2"))
	group := baseName(ns, key)
	harness.Eventually(t, "the group keeps following a's endpoints", func() string {
		if got := poolServers(simObject(sim, "pool", sharedPoolName(ns, "a", key, 80))); !slices.Equal(got, []string{"10.3.0.1:8080", "10.3.0.2:8080"}) {
			return fmt.Sprintf("a's pool servers %v", got)
		}
		return ""
	})
	if got := vsvipAddress(simObject(sim, "vsvip", group)); got != ipA {
		t.Errorf("the group's VsVip holds %s, want %s (a's)", got, ipA)
	}

	// a leaves: nobody is served on ipA any more, and the group moves to r's address.
	if err := env.Client.Delete(ctx, getService(t, ns, "a")); err != nil {
		t.Fatal(err)
	}
	if got := waitVIP(t, ns, "r"); got != want {
		t.Errorf("r alone in the group got %s, want the requested %s", got, want)
	}
	if got := vsvipAddress(simObject(sim, "vsvip", group)); got != want {
		t.Errorf("the group's VsVip holds %s, want %s", got, want)
	}
	// Deleting a member is never held up by a refusal's backoff.
	if err := env.Client.Delete(ctx, getService(t, ns, "r")); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "r is gone with the group", func() string {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(r), &corev1.Service{}); err == nil {
			return "r still exists"
		}
		if o := simObject(sim, "vsvip", group); o != nil {
			return "the group's VsVip is still there"
		}
		return ""
	})
}

// TestJoinedMemberDeletedWhileLeavingStandalone: a Service that joins a
// shared-VIP group and is deleted while removing what it held alone still
// fails (here its own pool's delete) keeps its finalizer until those objects
// are gone. The group used to release it regardless, and the standalone
// VsVip and pool stayed for good.
func TestJoinedMemberDeletedWhileLeavingStandalone(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	ctx := context.Background()
	a := lbService(ns, "a", []int32{80})
	createObj(t, endpointSlice(a, "a-1", "10.3.0.1"))
	createObj(t, a)
	waitVIP(t, ns, "a")
	own := baseName(ns, "a")
	fragment := own + "-TCP" // its own pools, not the group's ("<own>-grp-TCP-80")
	sim.Faults().FailNamed(fragment, http.StatusServiceUnavailable)
	defer sim.Faults().FailNamed(fragment, 0)

	joined := getService(t, ns, "a")
	joined.Annotations = map[string]string{"ako.vmware.com/enable-shared-vip": "grp"}
	if err := env.Client.Update(ctx, joined); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the group serves a", func() string {
		if got := vsPorts(simObject(sim, "virtualservice", baseName(ns, "grp"))); !slices.Equal(got, []string{"80"}) {
			return fmt.Sprintf("group ports %v", got)
		}
		return ""
	})
	if simObject(sim, "pool", own+"-TCP-80") == nil {
		t.Fatal("a's own pool went although every call on it fails")
	}
	if err := env.Client.Delete(ctx, getService(t, ns, "a")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(a), &corev1.Service{}); err != nil {
		t.Fatalf("a was let go while its own pool is still on the controller: %v", err)
	}
	sim.Faults().FailNamed(fragment, 0)
	harness.Eventually(t, "a is gone, and everything it held", func() string {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(a), &corev1.Service{}); err == nil {
			return "a still exists"
		}
		for _, typ := range []string{"vsvip", "virtualservice", "pool"} {
			if n := simNames(sim, typ, "demo--"+ns+"-"); len(n) != 0 {
				return fmt.Sprintf("%s left: %v", typ, n)
			}
		}
		return ""
	})
}
