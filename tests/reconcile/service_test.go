package reconcile

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestServiceCreate: a LoadBalancer Service gets a VIP from vip-net-a in its
// status, and the controller holds its VsVip, one Pool per port with the ready
// endpoints as servers, and a VirtualService tying them together, all with
// AKO's names and vipgate's created_by.
func TestServiceCreate(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)

	svc := lbService(ns, "web", []int32{80, 443})
	ready := endpointSlice(svc, "web-a", "10.1.0.1", "10.1.0.2")
	// A not-ready endpoint in a second slice is not a server.
	notReady := endpointSlice(svc, "web-b", "10.1.0.3")
	notReady.Endpoints[0].Conditions.Ready = ptr.To(false)
	createObj(t, ready)
	createObj(t, notReady)
	createObj(t, svc)

	ip := waitVIP(t, ns, "web")
	if !inRange(ip, "10.50.0.10", "10.50.0.200") {
		t.Fatalf("VIP %s is not in vip-net-a's range 10.50.0.10-10.50.0.200", ip)
	}

	base := baseName(ns, "web")
	wantServers := map[int32][]string{80: {"10.1.0.1:8080", "10.1.0.2:8080"}, 443: {"10.1.0.1:8443", "10.1.0.2:8443"}}
	harness.Eventually(t, "pools hold the ready endpoints", func() string {
		for port, want := range wantServers {
			pool := simObject(sim, "pool", poolName(ns, "web", port))
			if pool == nil {
				return "no pool " + poolName(ns, "web", port)
			}
			if got := poolServers(pool); !slices.Equal(got, want) {
				return fmt.Sprintf("pool %s servers %v, want %v", poolName(ns, "web", port), got, want)
			}
		}
		return ""
	})

	vsvip := simObject(sim, "vsvip", base)
	if vsvip == nil {
		t.Fatalf("no VsVip %s; have %v", base, simNames(sim, "vsvip", ""))
	}
	if got := markerCreatedBy(vsvip); got != "vipgate-demo" {
		t.Errorf("VsVip created_by marker %q, want vipgate-demo", got)
	}
	if got := vsvipAddress(vsvip); got != ip {
		t.Errorf("VsVip address %s, Service status %s", got, ip)
	}
	if got := refName(sim, harness.Str(vsvip, "vip", 0, "ipam_network_subnet", "network_ref")); got != "vip-net-a" {
		t.Errorf("VsVip network %q, want vip-net-a", got)
	}
	if got := refName(sim, harness.Str(vsvip, "cloud_ref")); got != "Default-Cloud" {
		t.Errorf("VsVip cloud %q, want Default-Cloud", got)
	}

	for _, port := range []int32{80, 443} {
		pool := simObject(sim, "pool", poolName(ns, "web", port))
		if got := harness.Str(pool, "created_by"); got != "vipgate-demo" {
			t.Errorf("pool %s created_by %q", poolName(ns, "web", port), got)
		}
	}
	if got := simNames(sim, "pool", base); len(got) != 2 {
		t.Errorf("pools of the Service %v, want exactly the two port pools", got)
	}

	vs := simObject(sim, "virtualservice", base)
	if vs == nil {
		t.Fatalf("no VirtualService %s; have %v", base, simNames(sim, "virtualservice", ""))
	}
	if got := harness.Str(vs, "created_by"); got != "vipgate-demo" {
		t.Errorf("VirtualService created_by %q", got)
	}
	if got := vsPorts(vs); !slices.Equal(got, []string{"80", "443"}) {
		t.Errorf("VirtualService services[] ports %v, want [80 443]", got)
	}
	if got := refName(sim, harness.Str(vs, "se_group_ref")); got != "Default-Group" {
		t.Errorf("VirtualService SE group %q, want Default-Group", got)
	}
	if got := refName(sim, harness.Str(vs, "vsvip_ref")); got != base {
		t.Errorf("VirtualService vsvip_ref %q, want %s", got, base)
	}
	if got, want := vsPoolsByPort(sim, vs), map[string]string{"80": poolName(ns, "web", 80), "443": poolName(ns, "web", 443)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("VirtualService port→pool %v, want %v", got, want)
	}

	got := getService(t, ns, "web")
	if !controllerutil.ContainsFinalizer(got, ownership.CleanupFinalizer) {
		t.Errorf("Service finalizers %v lack %s", got.Finalizers, ownership.CleanupFinalizer)
	}
	if c := syncedCondition(got); c == nil || c.Status != metav1.ConditionTrue || c.Reason != reconcile.ReasonSynced {
		t.Errorf("AviSynced condition %+v, want True/Synced", c)
	}
	// A first success records no Event: the VIP and the condition say it
	// (TestEnableEventsFalse checks that none arrives late; TestExhaustedNetwork
	// checks the Synced Event of a recovery).
}

// TestServiceUpdates: a port change replaces that port's pool and updates the
// VirtualService; an endpoint change rewrites exactly the affected pool, one
// write and nothing else.
func TestServiceUpdates(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	ctx := context.Background()

	svc := lbService(ns, "app", []int32{80, 443})
	slice := endpointSlice(svc, "app-a", "10.2.0.1")
	createObj(t, slice)
	createObj(t, svc)
	ip := waitVIP(t, ns, "app")
	base := baseName(ns, "app")
	harness.Eventually(t, "both port pools exist", func() string {
		if got := simNames(sim, "pool", base); !slices.Equal(got, []string{poolName(ns, "app", 443), poolName(ns, "app", 80)}) {
			return fmt.Sprint(got)
		}
		return ""
	})

	// Port 443 becomes 8443: a new pool, the old one gone, the VS follows. The
	// spec change alone must do it (no EndpointSlice event helps).
	cur := getService(t, ns, "app")
	cur.Spec.Ports[1] = svcPort(8443)
	if err := env.Client.Update(ctx, cur); err != nil {
		t.Fatalf("changing the port: %v", err)
	}
	harness.Eventually(t, "pools and the VS follow the new port", func() string {
		got := simNames(sim, "pool", base)
		if !slices.Equal(got, []string{poolName(ns, "app", 80), poolName(ns, "app", 8443)}) {
			return fmt.Sprintf("pools %v", got)
		}
		vs := simObject(sim, "virtualservice", base)
		if p := vsPorts(vs); !slices.Equal(p, []string{"80", "8443"}) {
			return fmt.Sprintf("VS ports %v", p)
		}
		if m := vsPoolsByPort(sim, vs); m["8443"] != poolName(ns, "app", 8443) || len(m) != 2 {
			return fmt.Sprintf("VS port→pool %v", m)
		}
		return ""
	})
	// Then the endpoint slice follows the Service's ports, as the slice
	// controller would, and the new pool gets its servers.
	cur = getService(t, ns, "app")
	newSlice := endpointSlice(cur, "app-a", "10.2.0.1")
	slice.Ports = newSlice.Ports
	if err := env.Client.Update(ctx, slice); err != nil {
		t.Fatalf("updating the EndpointSlice: %v", err)
	}
	harness.Eventually(t, "the new pool gets the endpoints", func() string {
		if s := poolServers(simObject(sim, "pool", poolName(ns, "app", 8443))); !slices.Equal(s, []string{"10.2.0.1:16443"}) {
			return fmt.Sprintf("new pool servers %v", s)
		}
		return ""
	})
	if got := waitVIP(t, ns, "app"); got != ip {
		t.Errorf("VIP moved from %s to %s on a port change", ip, got)
	}

	// Let the port change finish (status write, inventory refresh) before counting.
	harness.Eventually(t, "no write in flight", quiet(sim))
	sim.ResetCounts()
	// A second slice carrying only port 80 (slices are per port set): only the
	// port-80 pool gains a server.
	cur = getService(t, ns, "app")
	web := endpointSlice(cur, "app-web", "10.2.0.9")
	web.Ports = web.Ports[:1]
	createObj(t, web)
	harness.Eventually(t, "pool servers follow the endpoints", func() string {
		if got := poolServers(simObject(sim, "pool", poolName(ns, "app", 80))); !slices.Equal(got, []string{"10.2.0.1:8080", "10.2.0.9:8080"}) {
			return fmt.Sprintf("pool 80 servers %v", got)
		}
		return ""
	})
	harness.Eventually(t, "no write in flight", quiet(sim))
	if got := poolServers(simObject(sim, "pool", poolName(ns, "app", 8443))); !slices.Equal(got, []string{"10.2.0.1:16443"}) {
		t.Errorf("pool 8443 servers %v changed with port 80's endpoints", got)
	}
	// Exactly one write: the changed pool. The VsVip, the VS and the other pool are untouched.
	if got := writesOf(sim.Counts()); fmt.Sprint(got) != "map[PUT pool:1]" {
		t.Errorf("writes for an endpoint change %v, want map[PUT pool:1]", got)
	}
}

// quiet returns a check for eventually that passes once sim has seen no
// write for five polls in a row (about 250 ms): work triggered by an earlier
// step has finished, so counts taken next belong to the next step.
func quiet(sim interface{ Writes() int }) func() string {
	last, still := -1, 0
	return func() string {
		n := sim.Writes()
		if n == last {
			still++
		} else {
			last, still = n, 0
		}
		if still < 5 {
			return fmt.Sprintf("writes still moving (%d)", n)
		}
		return ""
	}
}

// TestRequestedIP: a VIP asked for with spec.loadBalancerIP or with AKO's
// ako.vmware.com/load-balancer-ip annotation is the one the controller
// allocates and the one in status.
func TestRequestedIP(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)

	spec := lbService(ns, "by-spec", []int32{80}, func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.50.0.77" })
	ann := lbService(ns, "by-annotation", []int32{80}, annotate("ako.vmware.com/load-balancer-ip", "10.50.0.88"))
	createObj(t, spec)
	createObj(t, ann)
	for name, want := range map[string]string{"by-spec": "10.50.0.77", "by-annotation": "10.50.0.88"} {
		if got := waitVIP(t, ns, name); got != want {
			t.Errorf("Service %s got VIP %s, asked for %s", name, got, want)
		}
		vsvip := simObject(sim, "vsvip", baseName(ns, name))
		if got := vsvipAddress(vsvip); got != want {
			t.Errorf("VsVip of %s holds %s, want %s", name, got, want)
		}
		if got := harness.Str(vsvip, "vip", 0, "ip_address", "addr"); got != want {
			t.Errorf("VsVip of %s requests %q", name, got)
		}
	}
}

// TestSharedVIP: two Services of one namespace with the same
// ako.vmware.com/enable-shared-vip key share one VirtualService and one VsVip
// (named after the key) and get the same address; when one leaves, the group
// lives on for the other with the leaver's pool and port removed.
func TestSharedVIP(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	ctx := context.Background()

	a := lbService(ns, "a", []int32{80}, annotate("ako.vmware.com/enable-shared-vip", "grp"))
	b := lbService(ns, "b", []int32{443}, annotate("ako.vmware.com/enable-shared-vip", "grp"))
	createObj(t, endpointSlice(a, "a-1", "10.3.0.1"))
	createObj(t, endpointSlice(b, "b-1", "10.3.0.2"))
	createObj(t, a)
	createObj(t, b)
	ipA, ipB := waitVIP(t, ns, "a"), waitVIP(t, ns, "b")
	if ipA != ipB {
		t.Fatalf("shared-VIP members got different VIPs: a %s, b %s", ipA, ipB)
	}
	group := baseName(ns, "grp")
	prefix := "demo--" + ns + "-"
	harness.Eventually(t, "one VirtualService with both ports", func() string {
		if got := simNames(sim, "virtualservice", prefix); !slices.Equal(got, []string{group}) {
			return fmt.Sprintf("virtual services %v", got)
		}
		if got := vsPorts(simObject(sim, "virtualservice", group)); !slices.Equal(got, []string{"80", "443"}) {
			return fmt.Sprintf("ports %v", got)
		}
		return ""
	})
	if got := simNames(sim, "vsvip", prefix); !slices.Equal(got, []string{group}) {
		t.Errorf("VsVips %v, want only %s", got, group)
	}
	if got := vsvipAddress(simObject(sim, "vsvip", group)); got != ipA {
		t.Errorf("shared VsVip holds %s, Services show %s", got, ipA)
	}
	if got := simNames(sim, "pool", prefix); !slices.Equal(got, []string{sharedPoolName(ns, "a", "grp", 80), sharedPoolName(ns, "b", "grp", 443)}) {
		t.Errorf("pools %v", got)
	}
	if got := poolServers(simObject(sim, "pool", sharedPoolName(ns, "b", "grp", 443))); !slices.Equal(got, []string{"10.3.0.2:8443"}) {
		t.Errorf("b's pool servers %v", got)
	}

	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatalf("deleting b: %v", err)
	}
	harness.Eventually(t, "b leaves the group", func() string {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(b), &corev1.Service{}); err == nil {
			return "b still exists"
		}
		if got := simNames(sim, "pool", prefix); !slices.Equal(got, []string{sharedPoolName(ns, "a", "grp", 80)}) {
			return fmt.Sprintf("pools %v", got)
		}
		vs := simObject(sim, "virtualservice", group)
		if vs == nil {
			return "the group's VirtualService is gone"
		}
		if got := vsPorts(vs); !slices.Equal(got, []string{"80"}) {
			return fmt.Sprintf("VS ports %v", got)
		}
		return ""
	})
	if got := vsvipAddress(simObject(sim, "vsvip", group)); got != ipA {
		t.Errorf("after b left the VsVip holds %q, want %s", got, ipA)
	}
	if got := waitVIP(t, ns, "a"); got != ipA {
		t.Errorf("a's VIP moved from %s to %s", ipA, got)
	}
}

// TestNodePortMode: with L7Settings.serviceType NodePort the pool servers are
// the InternalIPs of the nodes matching nodePortSelector, at the Service
// port's nodePort; a matching node added later joins the pool.
func TestNodePortMode(t *testing.T) {
	sim := harness.StartSim(t, nil)
	s := settingsFor(t, sim, func(s *config.Settings) {
		s.L7Settings.ServiceType = "NodePort"
		s.NodePortSelector = config.NodePortSelector{Key: "vipgate.test/pool", Value: "yes"}
	})
	start(t, sim, s, nil)
	ns := newNamespace(t)

	node := func(name, ip string, labels map[string]string) {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		createObj(t, n)
		// Node status is a subresource: addresses are set after create, as the kubelet would.
		n.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: name},
			{Type: corev1.NodeExternalIP, Address: "203.0.113.1"},
			{Type: corev1.NodeInternalIP, Address: ip},
		}
		if err := env.Client.Status().Update(context.Background(), n); err != nil {
			t.Fatalf("setting node %s addresses: %v", name, err)
		}
	}
	pool := map[string]string{"vipgate.test/pool": "yes"}
	node("np-1", "192.168.10.1", pool)
	node("np-2", "192.168.10.2", pool)
	node("np-other", "192.168.10.3", map[string]string{"vipgate.test/pool": "no"})

	createObj(t, lbService(ns, "np", []int32{80}))
	waitVIP(t, ns, "np")
	np := getService(t, ns, "np").Spec.Ports[0].NodePort
	if np == 0 {
		t.Fatalf("the API server allocated no nodePort")
	}
	want := []string{fmt.Sprintf("192.168.10.1:%d", np), fmt.Sprintf("192.168.10.2:%d", np)}
	harness.Eventually(t, "pool servers are the selected nodes at the nodePort", func() string {
		if got := poolServers(simObject(sim, "pool", poolName(ns, "np", 80))); !slices.Equal(got, want) {
			return fmt.Sprintf("servers %v, want %v", got, want)
		}
		return ""
	})

	node("np-3", "192.168.10.4", pool)
	want = append(want, fmt.Sprintf("192.168.10.4:%d", np))
	harness.Eventually(t, "a new matching node joins the pool", func() string {
		if got := poolServers(simObject(sim, "pool", poolName(ns, "np", 80))); !slices.Equal(got, want) {
			return fmt.Sprintf("servers %v, want %v", got, want)
		}
		return ""
	})
}

// TestDeleteAndTypeChange: deleting a Service removes its objects from the
// controller before the finalizer lets it go; turning a LoadBalancer into a
// ClusterIP Service removes the objects, clears status and the finalizer and
// leaves the Service in place.
func TestDeleteAndTypeChange(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	ctx := context.Background()

	gone := lbService(ns, "gone", []int32{80, 81})
	flip := lbService(ns, "flip", []int32{80})
	createObj(t, gone)
	createObj(t, flip)
	waitVIP(t, ns, "gone")
	waitVIP(t, ns, "flip")
	for _, name := range []string{"gone", "flip"} {
		if svc := getService(t, ns, name); !controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer) {
			t.Fatalf("Service %s has no cleanup finalizer: %v", name, svc.Finalizers)
		}
	}
	held := func(name string) string {
		b := baseName(ns, name)
		var out []string
		for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
			for _, n := range simNames(sim, typ, b) {
				out = append(out, typ+"/"+n)
			}
		}
		return fmt.Sprint(out)
	}
	if got := held("gone"); got != fmt.Sprintf("[vsvip/%[1]s pool/%[1]s-TCP-80 pool/%[1]s-TCP-81 virtualservice/%[1]s]", baseName(ns, "gone")) {
		t.Fatalf("objects before delete: %s", got)
	}

	if err := env.Client.Delete(ctx, gone); err != nil {
		t.Fatalf("deleting: %v", err)
	}
	harness.Eventually(t, "the deleted Service's objects leave the controller and the Service goes", func() string {
		if got := held("gone"); got != "[]" {
			return "still on the controller: " + got
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(gone), &corev1.Service{}); err == nil {
			return "the Service still exists (finalizer not released)"
		}
		return ""
	})

	cur := getService(t, ns, "flip")
	cur.Spec.Type = corev1.ServiceTypeClusterIP
	if err := env.Client.Update(ctx, cur); err != nil {
		t.Fatalf("changing the type to ClusterIP: %v", err)
	}
	harness.Eventually(t, "a ClusterIP Service holds nothing on the controller", func() string {
		if got := held("flip"); got != "[]" {
			return "still on the controller: " + got
		}
		svc := getService(t, ns, "flip")
		if len(svc.Status.LoadBalancer.Ingress) > 0 {
			return fmt.Sprintf("status still shows %v", svc.Status.LoadBalancer.Ingress)
		}
		if c := syncedCondition(svc); c != nil {
			return fmt.Sprintf("condition still there: %+v", c)
		}
		if controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer) {
			return "finalizer still there"
		}
		return ""
	})
}
