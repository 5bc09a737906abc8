package reconcile

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/webhooks"
)

// TestServiceCreate: a LoadBalancer Service gets a VIP from vip-net-a in its
// status, and the controller holds its VsVip, one Pool per port with the ready
// endpoints as servers, and a VirtualService tying them together, all with
// AKO's names and vipgate's created_by.
func TestServiceCreate(t *testing.T) {
	sim := startSim(t, nil)
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
	eventually(t, "pools hold the ready endpoints", func() string {
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
	if got := refName(sim, str(vsvip, "vip", 0, "ipam_network_subnet", "network_ref")); got != "vip-net-a" {
		t.Errorf("VsVip network %q, want vip-net-a", got)
	}
	if got := refName(sim, str(vsvip, "cloud_ref")); got != "Default-Cloud" {
		t.Errorf("VsVip cloud %q, want Default-Cloud", got)
	}

	for _, port := range []int32{80, 443} {
		pool := simObject(sim, "pool", poolName(ns, "web", port))
		if got := str(pool, "created_by"); got != "vipgate-demo" {
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
	if got := str(vs, "created_by"); got != "vipgate-demo" {
		t.Errorf("VirtualService created_by %q", got)
	}
	if got := vsPorts(vs); !slices.Equal(got, []string{"80", "443"}) {
		t.Errorf("VirtualService services[] ports %v, want [80 443]", got)
	}
	if got := refName(sim, str(vs, "se_group_ref")); got != "Default-Group" {
		t.Errorf("VirtualService SE group %q, want Default-Group", got)
	}
	if got := refName(sim, str(vs, "vsvip_ref")); got != base {
		t.Errorf("VirtualService vsvip_ref %q, want %s", got, base)
	}
	if got, want := vsPoolsByPort(sim, vs), map[string]string{"80": poolName(ns, "web", 80), "443": poolName(ns, "web", 443)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("VirtualService port→pool %v, want %v", got, want)
	}

	got := getService(t, ns, "web")
	if !controllerutil.ContainsFinalizer(got, webhooks.CleanupFinalizer) {
		t.Errorf("Service finalizers %v lack %s", got.Finalizers, webhooks.CleanupFinalizer)
	}
	if c := syncedCondition(got); c == nil || c.Status != metav1.ConditionTrue || c.Reason != reconcile.ReasonSynced {
		t.Errorf("AviSynced condition %+v, want True/Synced", c)
	}
	eventually(t, "a Normal Synced Event", func() string {
		for _, e := range serviceEvents(t, got) {
			if e.Type == corev1.EventTypeNormal && e.Reason == reconcile.ReasonSynced {
				return ""
			}
		}
		return fmt.Sprintf("events %v", serviceEvents(t, got))
	})
}

// TestServiceUpdates: a port change replaces that port's pool and updates the
// VirtualService; an endpoint change rewrites exactly the affected pool, one
// write and nothing else.
func TestServiceUpdates(t *testing.T) {
	sim := startSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	ctx := context.Background()

	svc := lbService(ns, "app", []int32{80, 443})
	slice := endpointSlice(svc, "app-a", "10.2.0.1")
	createObj(t, slice)
	createObj(t, svc)
	ip := waitVIP(t, ns, "app")
	base := baseName(ns, "app")
	eventually(t, "both port pools exist", func() string {
		if got := simNames(sim, "pool", base); !slices.Equal(got, []string{poolName(ns, "app", 443), poolName(ns, "app", 80)}) {
			return fmt.Sprint(got)
		}
		return ""
	})

	// Port 443 becomes 8443: a new pool, the old one gone, the VS follows.
	cur := getService(t, ns, "app")
	cur.Spec.Ports[1] = svcPort(8443)
	if err := env.Client.Update(ctx, cur); err != nil {
		t.Fatalf("changing the port: %v", err)
	}
	// The endpoint slice follows the Service's ports, as the slice controller would.
	cur = getService(t, ns, "app")
	newSlice := endpointSlice(cur, "app-a", "10.2.0.1")
	slice.Ports = newSlice.Ports
	if err := env.Client.Update(ctx, slice); err != nil {
		t.Fatalf("updating the EndpointSlice: %v", err)
	}
	eventually(t, "pools follow the new port", func() string {
		got := simNames(sim, "pool", base)
		if !slices.Equal(got, []string{poolName(ns, "app", 80), poolName(ns, "app", 8443)}) {
			return fmt.Sprintf("pools %v", got)
		}
		if s := poolServers(simObject(sim, "pool", poolName(ns, "app", 8443))); !slices.Equal(s, []string{"10.2.0.1:16443"}) {
			return fmt.Sprintf("new pool servers %v", s)
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
	if got := waitVIP(t, ns, "app"); got != ip {
		t.Errorf("VIP moved from %s to %s on a port change", ip, got)
	}

	// Let the port change finish (status write, inventory refresh) before counting.
	eventually(t, "no write in flight", quiet(sim))
	sim.ResetCounts()
	// A second slice carrying only port 80 (slices are per port set): only the
	// port-80 pool gains a server.
	cur = getService(t, ns, "app")
	web := endpointSlice(cur, "app-web", "10.2.0.9")
	web.Ports = web.Ports[:1]
	createObj(t, web)
	eventually(t, "pool servers follow the endpoints", func() string {
		if got := poolServers(simObject(sim, "pool", poolName(ns, "app", 80))); !slices.Equal(got, []string{"10.2.0.1:8080", "10.2.0.9:8080"}) {
			return fmt.Sprintf("pool 80 servers %v", got)
		}
		return ""
	})
	eventually(t, "no write in flight", quiet(sim))
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
