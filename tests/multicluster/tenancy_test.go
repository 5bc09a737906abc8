package multicluster

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/tests/harness"
)

// tenantSeed is the demo controller with a second tenant, team-a.
const tenantSeed = `
version: "22.1.3"
tenants: [admin, team-a]
users:
  - {username: admin, password: admin}
clouds:
  - {name: Default-Cloud, vtype: CLOUD_VCENTER, ipam_networks: [vip-net-a]}
vrfs:
  - {name: global, cloud: Default-Cloud}
se_groups:
  - {name: Default-Group, cloud: Default-Cloud}
networks:
  - name: vip-net-a
    cloud: Default-Cloud
    vrf: global
    subnets:
      - prefix: 10.50.0.0/24
        static_ranges: [{begin: 10.50.0.10, end: 10.50.0.200}]
`

func patchNamespace(t *testing.T, name, patch string) {
	t.Helper()
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := env.Client.Patch(context.Background(), ns, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("patching namespace %s: %v", name, err)
	}
}

// TestTenantAnnotation: the Services of a namespace annotated
// ako.vmware.com/tenant-name get their objects in that tenant; when the
// annotation goes, the objects move to the configured tenant and the old
// tenant is emptied; orphan collection at start-up looks in both.
func TestTenantAnnotation(t *testing.T) {
	sim, s, stop, ns, _ := tenantFixture(t)
	base := "demo--" + ns + "-web"
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		if got := names(sim, "team-a", typ); len(got) != 1 || !slices.Contains([]string{base, base + "-TCP-80"}, got[0]) {
			t.Errorf("team-a %s: %v", typ, got)
		}
		if got := names(sim, "admin", typ); len(got) != 0 {
			t.Errorf("admin %s: %v, want none", typ, got)
		}
	}

	patchNamespace(t, ns, `{"metadata":{"annotations":{"ako.vmware.com/tenant-name":null}}}`)
	harness.Eventually(t, "objects move to the admin tenant", func() string {
		return movedTo(sim, "team-a", "admin")
	})
	waitVIP(t, env, ns, "web")

	// Orphans in a tenant only an annotation names are collected at start-up:
	// objects of ours in team-a that no Service accounts for (as a Service
	// deleted while vipgate was down leaves them).
	stop()
	other := newNamespace(t, env, nil, map[string]string{ownership.AnnTenant: "team-a"})
	goneBase := "demo--" + other + "-gone"
	createPool(t, otherWriter(t, sim), "team-a", goneBase+"-TCP-80", "vipgate-demo", env.ClusterID(t), "Service/"+other+"/gone")
	createPool(t, otherWriter(t, sim), "team-a", "west--"+other+"-gone-TCP-80", "vipgate-west", "uid-west", "Service/"+other+"/gone")
	collected := startCollecting(t, nil, s)
	deleted := <-collected
	slices.Sort(deleted)
	want := []string{"pool/" + goneBase + "-TCP-80"}
	if !slices.Equal(deleted, want) {
		t.Errorf("orphans deleted %v, want %v", deleted, want)
	}
	if got := names(sim, "team-a", "pool"); !slices.Equal(got, []string{"west--" + other + "-gone-TCP-80"}) {
		t.Errorf("team-a pools after collection: %v, want only west's", got)
	}
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		if got := names(sim, "admin", typ); len(got) != 1 {
			t.Errorf("admin %s after collection: %v (web must stay)", typ, got)
		}
	}
}

// tenantFixture starts avisim with tenants admin and team-a and vipgate
// for cluster demo, and a Service web with its VIP in a namespace annotated
// for team-a.
func tenantFixture(t *testing.T) (sim *avisim.Sim, s *config.Settings, stop func(), ns, vip string) {
	t.Helper()
	seed, err := avisim.ParseSeed([]byte(tenantSeed))
	if err != nil {
		t.Fatal(err)
	}
	sim = harness.StartSim(t, seed)
	s = settingsFor(t, sim, "demo", nil)
	_, stop = start(t, nil, s, nil)
	ns = newNamespace(t, env, nil, map[string]string{ownership.AnnTenant: "team-a"})
	create(t, env, lbService(ns, "web"))
	return sim, s, stop, ns, waitVIP(t, env, ns, "web")
}

// movedTo says what keeps one Service's objects (VsVip, pool, virtual
// service) from living in tenant to only, with none left in from; "" when
// they do.
func movedTo(sim *avisim.Sim, from, to string) string {
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		if got := names(sim, from, typ); len(got) != 0 {
			return fmt.Sprintf("%s %s: %v", from, typ, got)
		}
		if got := names(sim, to, typ); len(got) != 1 {
			return fmt.Sprintf("%s %s: %v", to, typ, got)
		}
	}
	return ""
}

// createPool creates a pool as vipgate writes one: created_by and, when
// clusterID is set, the identity markers (cluster, owner).
func createPool(t *testing.T, c *session.Client, tenant, name, createdBy, clusterID, owner string) {
	t.Helper()
	var out map[string]any
	body := map[string]any{"name": name, "created_by": createdBy, "cloud_ref": "/api/cloud/?name=Default-Cloud"}
	if clusterID != "" {
		body["markers"] = []any{map[string]any{"key": "vipgate-cluster-id", "values": []string{clusterID}},
			map[string]any{"key": "vipgate-owner", "values": []string{owner}}}
	}
	if err := c.Create(context.Background(), "pool", body, tenant, &out); err != nil {
		t.Fatalf("creating pool %s in %s: %v", name, tenant, err)
	}
}

// TestNamespaceSelection: with namespaceSelector and blockedNamespaceList,
// only Services of selected namespaces get objects; when a namespace loses
// the label, its Services' objects are removed and their status cleared, and
// they come back when it regains it.
func TestNamespaceSelection(t *testing.T) {
	sim := harness.StartSim(t, nil)
	s := settingsFor(t, sim, "demo", func(s *config.Settings) {
		s.AKOSettings.NamespaceSelector = config.NamespaceSelector{LabelKey: "lb", LabelValue: "avi"}
		s.AKOSettings.BlockedNamespaceList = []string{"mc-blocked"}
	})
	start(t, nil, s, nil)
	selected := newNamespace(t, env, map[string]string{"lb": "avi"}, nil)
	unlabelled := newNamespace(t, env, nil, nil)

	create(t, env, lbService(unlabelled, "web"))
	create(t, env, lbService(selected, "web"))
	waitVIP(t, env, selected, "web")
	// Admission left the unselected Service alone (no finalizer), and it has no objects.
	if svc := getService(t, env, unlabelled, "web"); controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer) || len(svc.Status.LoadBalancer.Ingress) > 0 {
		t.Errorf("unselected Service was taken: finalizers %v, status %+v", svc.Finalizers, svc.Status)
	}
	want := []string{"demo--" + selected + "-web"}
	if got := names(sim, "admin", "virtualservice"); !slices.Equal(got, want) {
		t.Errorf("virtual services %v, want %v", got, want)
	}

	patchNamespace(t, selected, `{"metadata":{"labels":{"lb":null}}}`)
	harness.Eventually(t, "objects removed and status cleared when the label goes", func() string {
		if got := names(sim, "admin", "virtualservice"); len(got) != 0 {
			return fmt.Sprintf("virtual services %v", got)
		}
		if got := names(sim, "admin", "vsvip"); len(got) != 0 {
			return fmt.Sprintf("vsvips %v", got)
		}
		svc := getService(t, env, selected, "web")
		if len(svc.Status.LoadBalancer.Ingress) > 0 || meta.FindStatusCondition(svc.Status.Conditions, reconcile.ConditionSynced) != nil ||
			controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer) {
			return fmt.Sprintf("Service still marked: finalizers %v, status %+v", svc.Finalizers, svc.Status)
		}
		return ""
	})

	patchNamespace(t, selected, `{"metadata":{"labels":{"lb":"avi"}}}`)
	waitVIP(t, env, selected, "web")
	if got := names(sim, "admin", "virtualservice"); !slices.Equal(got, want) {
		t.Errorf("virtual services after relabelling %v, want %v", got, want)
	}
}

// TestTenantMoveWhileDown: a namespace moves to another tenant while vipgate
// is down. Nothing in memory remembers the old tenant: at start-up the
// Service gets its objects in the new tenant and orphan collection, reading
// every tenant and the objects' owner markers, empties the old one.
func TestTenantMoveWhileDown(t *testing.T) {
	sim, s, stop, ns, _ := tenantFixture(t)
	stop()

	patchNamespace(t, ns, `{"metadata":{"annotations":{"ako.vmware.com/tenant-name":null}}}`)
	start(t, nil, s, nil)
	harness.Eventually(t, "the objects live in admin only", func() string {
		return movedTo(sim, "team-a", "admin")
	})
}

// TestTenantMoveThatCannotComplete: a namespace moves to a tenant the
// controller refuses (it does not exist) and vipgate restarts before the
// move completes. The Service keeps its VIP and its objects in the old
// tenant, which still serve its traffic: start-up orphan collection keeps
// them while the new tenant has no virtual service for it. When the
// namespace names a usable tenant, the Service moves there and the old
// tenant is emptied, though no process remembers the move.
func TestTenantMoveThatCannotComplete(t *testing.T) {
	sim, s, stop, ns, vip := tenantFixture(t)
	stop()

	patchNamespace(t, ns, `{"metadata":{"annotations":{"ako.vmware.com/tenant-name":"team-z"}}}`)
	collected := startCollecting(t, nil, s)
	if deleted := <-collected; len(deleted) != 0 {
		t.Errorf("orphan collection deleted %v while the Service's new tenant has nothing", deleted)
	}
	harness.Eventually(t, "the Service reports it cannot sync", func() string {
		c := meta.FindStatusCondition(getService(t, env, ns, "web").Status.Conditions, reconcile.ConditionSynced)
		if c == nil || c.Status != "False" {
			return fmt.Sprintf("condition %+v", c)
		}
		return ""
	})
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		if got := names(sim, "team-a", typ); len(got) != 1 {
			t.Errorf("team-a %s: %v, want the Service's, still serving", typ, got)
		}
	}
	if got := getService(t, env, ns, "web").Status.LoadBalancer.Ingress; len(got) != 1 || got[0].IP != vip {
		t.Errorf("status %+v, want its VIP %s kept", got, vip)
	}

	patchNamespace(t, ns, `{"metadata":{"annotations":{"ako.vmware.com/tenant-name":null}}}`)
	harness.Eventually(t, "the objects move to admin and team-a is emptied", func() string {
		return movedTo(sim, "team-a", "admin")
	})
	waitVIP(t, env, ns, "web")
}

// TestTenantMoveShowsTheNewVIPBeforeTheOldGoes: a namespace moves to
// another tenant, and the old tenant's objects cannot be deleted yet (a pool
// group someone made there refers to the Service's pool). The Service's
// status already shows the VIP of its new VsVip, and the old VsVip keeps the
// old address until it goes: vipgate frees an address only once status no
// longer shows it, so no VIP ever has two owners (a restart between the two
// steps used to leave status on an address the controller had freed).
func TestTenantMoveShowsTheNewVIPBeforeTheOldGoes(t *testing.T) {
	sim, _, _, ns, oldVIP := tenantFixture(t)
	c := otherWriter(t, sim)
	pools := harness.SimNames(sim, "team-a", "pool", "")
	if len(pools) != 1 {
		t.Fatalf("team-a pools %v, want the Service's one", pools)
	}
	pool := harness.SimObject(sim, "team-a", "pool", pools[0])
	var out map[string]any
	hold := map[string]any{"name": "hold-" + ns, "members": []any{map[string]any{"pool_ref": "/api/pool/" + harness.Str(pool, "uuid")}}}
	if err := c.Create(context.Background(), "poolgroup", hold, "team-a", &out); err != nil {
		t.Fatalf("creating the pool group that holds the pool: %v", err)
	}

	patchNamespace(t, ns, `{"metadata":{"annotations":{"ako.vmware.com/tenant-name":null}}}`)
	var newVIP string
	harness.Eventually(t, "status shows the VIP of the Service's VsVip in admin", func() string {
		if got := names(sim, "admin", "vsvip"); len(got) != 1 {
			return fmt.Sprintf("admin VsVips %v", got)
		}
		newVIP = harness.Str(harness.SimObject(sim, "admin", "vsvip", names(sim, "admin", "vsvip")[0]), "vip", 0, "ip_address", "addr")
		got := getService(t, env, ns, "web").Status.LoadBalancer.Ingress
		if len(got) != 1 || got[0].IP != newVIP {
			return fmt.Sprintf("status %+v, want %s", got, newVIP)
		}
		return ""
	})
	if newVIP == oldVIP {
		t.Fatalf("the new VsVip has the old address %s while the old VsVip still holds it", oldVIP)
	}
	if got := names(sim, "team-a", "vsvip"); len(got) != 1 {
		t.Fatalf("team-a VsVips %v: want the old one kept while its pool is held", got)
	}
	if got := harness.Str(harness.SimObject(sim, "team-a", "vsvip", names(sim, "team-a", "vsvip")[0]), "vip", 0, "ip_address", "addr"); got != oldVIP {
		t.Errorf("the old VsVip holds %s, want %s", got, oldVIP)
	}

	// The pool group goes: so does everything of the Service in team-a.
	if err := c.Delete(context.Background(), "poolgroup", harness.Str(out, "uuid"), "team-a"); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the objects move to admin and team-a is emptied", func() string {
		return movedTo(sim, "team-a", "admin")
	})
}
