package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// orphanSet creates, directly on the controller, the VsVip, Pool and
// VirtualService that vipgate would have made for Service ns/name, marked
// createdBy (a marker on the VsVip, created_by on the others) and, when
// clusterID is set, with vipgate's identity markers (that cluster, owner).
func orphanSet(t testing.TB, c *session.Client, prefix, createdBy, clusterID, owner string) {
	t.Helper()
	ctx := context.Background()
	mk := func(typ string, body map[string]any) {
		t.Helper()
		if err := c.Create(ctx, typ, body, "", nil); err != nil {
			t.Fatalf("creating %s %s: %v", typ, body["name"], err)
		}
	}
	cloud := "/api/cloud/?name=Default-Cloud"
	markers := []any{map[string]any{"key": "created_by", "values": []string{createdBy}}}
	if clusterID != "" {
		markers = append(markers, map[string]any{"key": "vipgate-cluster-id", "values": []string{clusterID}},
			map[string]any{"key": "vipgate-owner", "values": []string{owner}})
	}
	mk("vsvip", map[string]any{
		"name": prefix, "cloud_ref": cloud,
		"vip": []any{map[string]any{"vip_id": "1", "auto_allocate_ip": true,
			"ipam_network_subnet": map[string]any{"network_ref": "/api/network/?name=vip-net-a"}}},
		"markers": markers,
	})
	mk("pool", map[string]any{"name": prefix + "-TCP-80", "cloud_ref": cloud, "created_by": createdBy, "markers": markers,
		"servers": []any{map[string]any{"ip": map[string]any{"addr": "10.9.0.1", "type": "V4"}, "port": 8080}}})
	mk("virtualservice", map[string]any{
		"name": prefix, "cloud_ref": cloud, "created_by": createdBy, "markers": markers,
		"vsvip_ref":    "/api/vsvip/?name=" + prefix,
		"se_group_ref": "/api/serviceenginegroup/?name=Default-Group",
		"services":     []any{map[string]any{"port": 80}},
		"pool_ref":     "/api/pool/?name=" + prefix + "-TCP-80",
	})
}

// TestOrphansCollectedAtStart: objects this cluster created for a Service
// that no longer exists are deleted when vipgate starts; objects of a live
// Service, of another cluster, without an identity marker (an older
// vipgate's), and of a human stay. (Objects of another cluster with the same
// clusterName stop vipgate at start: see tests/multicluster.)
func TestOrphansCollectedAtStart(t *testing.T) {
	sim := harness.StartSim(t, nil)
	s := settingsFor(t, sim, nil)
	ns := newNamespace(t)

	// A first vipgate creates a live Service's objects, then stops.
	_, stop := startStoppable(t, sim, s, nil)
	createObj(t, lbService(ns, "alive", []int32{80}))
	waitVIP(t, ns, "alive")
	harness.Eventually(t, "no write in flight", quiet(sim))
	stop()

	// While vipgate is down: leftovers of a deleted Service, another cluster's
	// objects and a hand-made VsVip.
	c, err := session.New(context.Background(), s.ControllerSettings, harness.SimCredentials(sim), session.Options{})
	if err != nil {
		t.Fatalf("connecting to avisim: %v", err)
	}
	defer c.Close()
	id := clusterID(t)
	ghost := baseName(ns, "ghost")
	orphanSet(t, c, ghost, "vipgate-demo", id, "Service/"+ns+"/ghost")
	other := "other--" + ns + "-svc"
	orphanSet(t, c, other, "vipgate-other", "uid-other", "Service/"+ns+"/svc")
	unmarked := baseName(ns, "unmarked")
	orphanSet(t, c, unmarked, "vipgate-demo", "", "")
	if err := c.Create(context.Background(), "vsvip", map[string]any{
		"name": "hand-made", "cloud_ref": "/api/cloud/?name=Default-Cloud",
		"vip": []any{map[string]any{"vip_id": "1", "auto_allocate_ip": true,
			"ipam_network_subnet": map[string]any{"network_ref": "/api/network/?name=vip-net-a"}}},
	}, "", nil); err != nil {
		t.Fatalf("creating a hand-made VsVip: %v", err)
	}

	type result struct {
		deleted []string
		err     error
	}
	collected := make(chan result, 1)
	start(t, sim, s, func(o *operator.Options) {
		o.OrphansCollected = func(deleted []string, err error) { collected <- result{deleted, err} }
	})
	var res result
	harness.Eventually(t, "orphan collection reports", func() string {
		select {
		case res = <-collected:
			return ""
		default:
			return "not yet"
		}
	})
	if res.err != nil {
		t.Fatalf("orphan collection failed: %v", res.err)
	}
	got := slices.Clone(res.deleted)
	slices.Sort(got)
	want := []string{"pool/" + ghost + "-TCP-80", "virtualservice/" + ghost, "vsvip/" + ghost}
	if !slices.Equal(got, want) {
		t.Errorf("collected %v, want %v", got, want)
	}
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		if n := simNames(sim, typ, ghost); len(n) != 0 {
			t.Errorf("orphaned %s still on the controller: %v", typ, n)
		}
		for _, kept := range []string{other, unmarked} {
			if n := simNames(sim, typ, kept); len(n) != 1 {
				t.Errorf("%s %s, not provably this cluster's, touched: %v", typ, kept, n)
			}
		}
		if n := simNames(sim, typ, baseName(ns, "alive")); len(n) != 1 {
			t.Errorf("the live Service's %s touched: %v", typ, n)
		}
	}
	if simObject(sim, "vsvip", "hand-made") == nil {
		t.Errorf("the hand-made VsVip was deleted")
	}
}

// TestRestartWritesNothing: a vipgate restarted over five synced Services
// reconciles each of them against what the controller holds and sends no
// write to it; the VIPs stay.
func TestRestartWritesNothing(t *testing.T) {
	sim := harness.StartSim(t, nil)
	s := settingsFor(t, sim, nil)
	ns := newNamespace(t)

	_, stop := startStoppable(t, sim, s, nil)
	ips := map[string]string{}
	for i := range 5 {
		svc := lbService(ns, fmt.Sprintf("r%d", i), []int32{80, 443})
		createObj(t, endpointSlice(svc, svc.Name+"-a", "10.4.0.1", fmt.Sprintf("10.4.1.%d", i)))
		createObj(t, svc)
	}
	for i := range 5 {
		name := fmt.Sprintf("r%d", i)
		ips[name] = waitVIP(t, ns, name)
		harness.Eventually(t, "pools have their servers", func() string {
			if got := poolServers(simObject(sim, "pool", poolName(ns, name, 80))); len(got) != 2 {
				return fmt.Sprintf("%s servers %v", name, got)
			}
			return ""
		})
	}
	harness.Eventually(t, "no write in flight", quiet(sim))
	stop()

	sim.ResetCounts()
	before := harness.Reconciles(t, "service")
	collected := make(chan error, 1)
	start(t, sim, s, func(o *operator.Options) {
		o.OrphansCollected = func(_ []string, err error) { collected <- err }
	})
	// Every Service is queued once at start-up: five successful reconciles
	// mean each has been compared with the controller.
	harness.Eventually(t, "the restarted vipgate reconciles every Service", func() string {
		if n := harness.Reconciles(t, "service") - before; n < 5 {
			return fmt.Sprintf("%d reconciles", n)
		}
		return ""
	})
	select {
	case err := <-collected:
		if err != nil {
			t.Fatalf("orphan collection: %v", err)
		}
	case <-time.After(harness.WaitLimit):
		t.Fatalf("orphan collection did not report within %s", harness.WaitLimit)
	}
	harness.Eventually(t, "no write in flight", quiet(sim))
	if w := sim.Writes(); w != 0 {
		t.Errorf("restart sent %d writes: %v", w, writesOf(sim.Counts()))
	}
	// The applier compares against a mirror read in collection pages (see
	// TestNoReadsPerObject), so one read of the collection is the comparison.
	if n := sim.Counts()["GET virtualservice"]; n < 1 {
		t.Errorf("the restarted vipgate never read the virtual services; it compared nothing with the controller")
	}
	for name, ip := range ips {
		if got := getService(t, ns, name).Status.LoadBalancer.Ingress; len(got) != 1 || got[0].IP != ip {
			t.Errorf("Service %s status %v after restart, want %s", name, got, ip)
		}
	}
}

// TestFaultsConverge: with 30% of controller calls failing (500) and every
// session expired while ten Services are created, all ten converge once the
// faults stop, with exactly one VsVip, pool and VirtualService each (no
// duplicates from retried creates) and, after convergence, reconciles that
// write nothing.
func TestFaultsConverge(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	ctx := context.Background()

	loginsBefore := sim.Logins()
	f := sim.Faults()
	f.SetErrorSeed(42)
	f.SetErrorStatus(500)
	f.SetErrorRate(0.3)
	const n = 10
	for i := range n {
		svc := lbService(ns, fmt.Sprintf("f%d", i), []int32{80})
		createObj(t, endpointSlice(svc, svc.Name+"-a", fmt.Sprintf("10.5.0.%d", i+1)))
		createObj(t, svc)
		if i == n/2 {
			f.ExpireSessions()
		}
	}
	// Faults stay on until every Service has been tried at least once under them
	// (a VIP or a failure condition), then stop.
	harness.Eventually(t, "every Service was attempted under faults", func() string {
		for i := range n {
			svc := getService(t, ns, fmt.Sprintf("f%d", i))
			if len(svc.Status.LoadBalancer.Ingress) == 0 && syncedCondition(svc) == nil {
				return svc.Name + " untouched"
			}
		}
		return ""
	})
	f.ExpireSessions()
	failed := 0
	for i := range n {
		if c := syncedCondition(getService(t, ns, fmt.Sprintf("f%d", i))); c != nil && c.Status == metav1.ConditionFalse {
			failed++
		}
	}
	f.SetErrorRate(0)
	t.Logf("%d of %d Services saw a failure before the faults stopped", failed, n)

	seen := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("f%d", i)
		ip := waitVIP(t, ns, name)
		if other, dup := seen[ip]; dup {
			t.Errorf("Services %s and %s share %s", other, name, ip)
		}
		seen[ip] = name
	}
	prefix := "demo--" + ns + "-"
	harness.Eventually(t, "exactly one of each object per Service, conditions True", func() string {
		for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
			if got := simNames(sim, typ, prefix); len(got) != n {
				return fmt.Sprintf("%d %s objects: %v", len(got), typ, got)
			}
		}
		for i := range n {
			if c := syncedCondition(getService(t, ns, fmt.Sprintf("f%d", i))); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Sprintf("f%d condition %+v", i, c)
			}
		}
		return ""
	})
	if sim.Logins() <= loginsBefore {
		t.Errorf("no re-login after the sessions expired (logins %d → %d)", loginsBefore, sim.Logins())
	}
	for i := range n {
		name := fmt.Sprintf("f%d", i)
		vsvip := simObject(sim, "vsvip", baseName(ns, name))
		if got, want := vsvipAddress(vsvip), waitVIP(t, ns, name); got != want {
			t.Errorf("%s: VsVip holds %s, status %s", name, got, want)
		}
		if got := poolServers(simObject(sim, "pool", poolName(ns, name, 80))); !slices.Equal(got, []string{fmt.Sprintf("10.5.0.%d:8080", i+1)}) {
			t.Errorf("%s: pool servers %v", name, got)
		}
	}

	// Converged: another reconcile of every Service (an annotation edit
	// triggers one) finds nothing to send.
	harness.Eventually(t, "no write in flight", quiet(sim))
	sim.ResetCounts()
	before := harness.Reconciles(t, "service")
	for i := range n {
		svc := getService(t, ns, fmt.Sprintf("f%d", i))
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		svc.Annotations["vipgate.test/touched"] = "yes"
		if err := env.Client.Update(ctx, svc); err != nil {
			t.Fatalf("touching %s: %v", svc.Name, err)
		}
	}
	harness.Eventually(t, "every touched Service is reconciled", func() string {
		if got := harness.Reconciles(t, "service") - before; got < n {
			return fmt.Sprintf("%d reconciles", got)
		}
		return ""
	})
	harness.Eventually(t, "no write in flight", quiet(sim))
	if w := sim.Writes(); w != 0 {
		t.Errorf("converged reconciles sent %d writes: %v", w, writesOf(sim.Counts()))
	}
}

// TestOrphanCollectionRetriesAfterControllerErrors: a start-up orphan
// collection the controller fails (here every pool group read answers 503)
// is tried again, and the orphans go once the controller answers; it used
// to run once and leave them until the next restart.
func TestOrphanCollectionRetriesAfterControllerErrors(t *testing.T) {
	sim := harness.StartSim(t, nil)
	s := settingsFor(t, sim, nil)
	ns := newNamespace(t)
	c, err := session.New(context.Background(), s.ControllerSettings, harness.SimCredentials(sim), session.Options{})
	if err != nil {
		t.Fatalf("connecting to avisim: %v", err)
	}
	defer c.Close()
	ghost := baseName(ns, "ghost")
	orphanSet(t, c, ghost, "vipgate-demo", clusterID(t), "Service/"+ns+"/ghost")

	sim.Faults().FailKind("poolgroup", http.StatusServiceUnavailable)
	type result struct {
		deleted []string
		err     error
	}
	collected := make(chan result, 4)
	start(t, sim, s, func(o *operator.Options) {
		o.OrphansCollected = func(deleted []string, err error) { collected <- result{deleted, err} }
	})
	// Several attempts fail meanwhile (the first waits one second, the next two).
	time.Sleep(4 * time.Second)
	select {
	case res := <-collected:
		t.Fatalf("orphan collection reported while the controller failed every read: deleted %v, error %v", res.deleted, res.err)
	default:
	}
	if simObject(sim, "vsvip", ghost) == nil {
		t.Fatalf("the orphaned VsVip went although the controller failed the collection's reads")
	}
	sim.Faults().FailKind("poolgroup", 0)
	var res result
	select {
	case res = <-collected:
	case <-time.After(harness.WaitLimit):
		t.Fatalf("orphan collection did not report within %s of the controller answering again", harness.WaitLimit)
	}
	if res.err != nil {
		t.Fatalf("orphan collection: %v", res.err)
	}
	got := slices.Clone(res.deleted)
	slices.Sort(got)
	if want := []string{"pool/" + ghost + "-TCP-80", "virtualservice/" + ghost, "vsvip/" + ghost}; !slices.Equal(got, want) {
		t.Errorf("collected %v, want %v", got, want)
	}
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		if n := simNames(sim, typ, ghost); len(n) != 0 {
			t.Errorf("orphaned %s still on the controller: %v", typ, n)
		}
	}
}
