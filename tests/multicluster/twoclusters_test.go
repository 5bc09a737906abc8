package multicluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// objectsOf lists "type/name" of sim's L4 objects in admin whose name starts
// with "<cluster>--".
func objectsOf(sim *avisim.Sim, cluster string) []string {
	var out []string
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		for _, n := range names(sim, "admin", typ) {
			if strings.HasPrefix(n, cluster+"--") {
				out = append(out, typ+"/"+n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestTwoClusters: two Kubernetes clusters ("demo" and "west", each its own
// API server and vipgate) share one controller, one VRF and one SE group
// cloud. Each creates a Service with the same namespace and name and nodes
// with the same pod CIDRs: objects are kept apart by the cluster prefix and
// created_by, routes by their label, and a restart of one with orphan
// collection removes only its own orphans.
func TestTwoClusters(t *testing.T) {
	sim := harness.StartSim(t, nil)
	west, err := harness.Start(harness.Options{})
	if err != nil {
		t.Fatalf("second control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := west.Stop(); err != nil {
			t.Logf("stopping the second control plane: %v", err)
		}
	})

	// west uses its own SE group (labelled for it); both share the VRF.
	demoSettings := settingsFor(t, sim, "demo", nil)
	westSettings := settingsFor(t, sim, "west", nil)
	westSettings.ControllerSettings.ServiceEngineGroupName = "edge-seg"

	_, stopDemo := start(t, env, demoSettings, nil)
	start(t, west, westSettings, nil)

	// Same namespace and Service names in both clusters.
	for _, e := range []*harness.Env{env, west} {
		ns := newNamespaceNamed(t, e, "shop")
		create(t, e, lbService(ns, "web"))
		create(t, e, lbService(ns, "api"))
		createNode(t, e, "node-1", "192.168.10.11", "10.244.1.0/24")
	}
	vipDemo := waitVIP(t, env, "shop", "web")
	vipWest := waitVIP(t, west, "shop", "web")
	waitVIP(t, env, "shop", "api")
	waitVIP(t, west, "shop", "api")
	if vipDemo == vipWest {
		t.Errorf("both clusters' Services got VIP %s", vipDemo)
	}
	wantObjs := func(c string) []string {
		var out []string
		for _, svc := range []string{"api", "web"} {
			base := c + "--shop-" + svc
			out = append(out, "pool/"+base+"-TCP-80", "virtualservice/"+base, "vsvip/"+base)
		}
		slices.Sort(out)
		return out
	}
	if got := objectsOf(sim, "demo"); !slices.Equal(got, wantObjs("demo")) {
		t.Errorf("demo objects %v", got)
	}
	if got := objectsOf(sim, "west"); !slices.Equal(got, wantObjs("west")) {
		t.Errorf("west objects %v", got)
	}
	for _, o := range sim.Objects("admin", "virtualservice") {
		name, _ := o["name"].(string)
		cluster, _, _ := strings.Cut(name, "--")
		if cb := harness.Str(o, "created_by"); cb != "vipgate-"+cluster {
			t.Errorf("virtual service %s created_by %q", name, cb)
		}
	}
	harness.Eventually(t, "both clusters' routes in the VRF", func() string {
		rs := vrfRoutes(t, sim)
		d, w := routesOf(rs, "demo"), routesOf(rs, "west")
		if !slices.Equal(d, []string{"demo-node-1-1 10.244.1.0/24 via 192.168.10.11 [demo]"}) ||
			!slices.Equal(w, []string{"west-node-1-1 10.244.1.0/24 via 192.168.10.11 [west]"}) {
			return fmt.Sprintf("demo %v, west %v", d, w)
		}
		return ""
	})
	if got := seGroupLabels(sim, "Default-Group"); !slices.Equal(got, []string{"clustername=demo"}) {
		t.Errorf("Default-Group labels %v", got)
	}
	if got := seGroupLabels(sim, "edge-seg"); !slices.Equal(got, []string{"clustername=west", "tier=edge"}) {
		t.Errorf("edge-seg labels %v", got)
	}

	// demo restarts with orphan collection. Meanwhile an orphan of demo's
	// appeared (as a Service deleted while vipgate is down leaves one) and an
	// object named like demo's but created by west: only the first goes, and
	// west's objects stay.
	stopDemo()
	writer := otherWriter(t, sim)
	createPool(t, writer, "admin", "demo--shop-old-TCP-80", "vipgate-demo", env.ClusterID(t), "Service/shop/old")
	createPool(t, writer, "admin", "demo--shop-ghost-TCP-80", "vipgate-west", west.ClusterID(t), "Service/shop/ghost")
	collected := startCollecting(t, env, demoSettings)
	deleted := <-collected
	slices.Sort(deleted)
	want := []string{"pool/demo--shop-old-TCP-80"}
	if !slices.Equal(deleted, want) {
		t.Errorf("demo collected %v, want %v", deleted, want)
	}
	if got := objectsOf(sim, "west"); !slices.Equal(got, wantObjs("west")) {
		t.Errorf("west objects after demo's restart %v", got)
	}
	wantDemo := append(wantObjs("demo"), "pool/demo--shop-ghost-TCP-80")
	slices.Sort(wantDemo)
	if got := objectsOf(sim, "demo"); !slices.Equal(got, wantDemo) {
		t.Errorf("demo-named objects after demo's restart %v (west's ghost pool must stay)", got)
	}
	if got := routesOf(vrfRoutes(t, sim), "west"); len(got) != 1 {
		t.Errorf("west routes after demo's restart %v", got)
	}

	// demo's nodes go: only demo's route goes.
	deleteNode(t, env, "node-1")
	harness.Eventually(t, "demo's route goes, west's stays", func() string {
		rs := vrfRoutes(t, sim)
		if d, w := routesOf(rs, "demo"), routesOf(rs, "west"); len(d) != 0 || len(w) != 1 {
			return fmt.Sprintf("demo %v, west %v", d, w)
		}
		return ""
	})
}

// newNamespaceNamed creates namespace name on e.
func newNamespaceNamed(t *testing.T, e *harness.Env, name string) string {
	t.Helper()
	create(t, e, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return name
}

// TestSameClusterNameRefused: a second cluster installed with the same
// clusterName ("demo", say a staging cluster left at a copied value) on the
// controller and tenant a first one uses refuses to start, with an error
// that names the clash and the fix, and deletes nothing of the first.
func TestSameClusterNameRefused(t *testing.T) {
	sim := harness.StartSim(t, nil)
	twin, err := harness.Start(harness.Options{})
	if err != nil {
		t.Fatalf("second control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := twin.Stop(); err != nil {
			t.Logf("stopping the second control plane: %v", err)
		}
	})
	start(t, env, settingsFor(t, sim, "demo", nil), nil)
	ns := newNamespaceNamed(t, env, "prod")
	create(t, env, lbService(ns, "web"))
	vip := waitVIP(t, env, ns, "web")
	before := objectsOf(sim, "demo")

	// The twin gets the same namespace and Service: same names on the controller.
	newNamespaceNamed(t, twin, "prod")
	o := operator.Options{Settings: settingsFor(t, sim, "demo", nil), Credentials: harness.SimCredentials(sim), MetricsAddr: "0", Namespace: "vipgate-system"}
	_, err = operator.New(context.Background(), twin.Cfg, o)
	if err == nil {
		t.Fatal("a second cluster named demo started on the first one's controller")
	}
	for _, want := range []string{"refusing to start", `also uses AKOSettings.clusterName "demo"`, "give this cluster its own clusterName"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if got := objectsOf(sim, "demo"); !slices.Equal(got, before) {
		t.Errorf("the first cluster's objects changed: %v, were %v", got, before)
	}
	if got := waitVIP(t, env, ns, "web"); got != vip {
		t.Errorf("the first cluster's VIP moved: %s, was %s", got, vip)
	}
}
