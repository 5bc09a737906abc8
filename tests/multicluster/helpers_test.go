package multicluster

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// settingsFor parses the demo settings for cluster at sim; tweak may be nil.
func settingsFor(t testing.TB, sim *avisim.Sim, cluster string, tweak func(*config.Settings)) *config.Settings {
	t.Helper()
	yaml := strings.Replace(harness.DemoSettingsYAML, "clusterName: demo", "clusterName: "+cluster, 1)
	s, err := config.Parse(fmt.Appendf(nil, yaml, sim.Host()))
	if err != nil {
		t.Fatalf("settings for %s: %v", cluster, err)
	}
	if tweak != nil {
		tweak(s)
	}
	return s
}

// start runs vipgate with s on e (the package's control plane when nil) and
// returns it with a stop function. Cleanup deletes the test's Services and
// Nodes while this vipgate still runs, so it releases them itself.
func start(t testing.TB, e *harness.Env, s *config.Settings, tweak func(*operator.Options)) (*operator.Operator, func()) {
	t.Helper()
	if e == nil {
		e = env
	}
	o := operator.Options{Settings: s, Credentials: harness.SimCredentialsAt(t, s.ControllerSettings.ControllerHost), InventoryStaleAfter: time.Hour}
	if tweak != nil {
		tweak(&o)
	}
	op, stop := e.StartStoppableVipgate(t, o)
	t.Cleanup(func() { removeAll(t, e) })
	return op, stop
}

// startCollecting starts vipgate like start and returns what its start-up
// orphan collection deleted (an error fails the test).
func startCollecting(t testing.TB, e *harness.Env, s *config.Settings) <-chan []string {
	t.Helper()
	collected := make(chan []string, 1)
	start(t, e, s, func(o *operator.Options) {
		o.OrphansCollected = func(deleted []string, err error) {
			if err != nil {
				t.Errorf("orphan collection: %v", err)
			}
			collected <- deleted
		}
	})
	return collected
}

// removeAll deletes every LoadBalancer Service and every Node on e, waiting
// for vipgate to release the Services (finalizers left after the wait are
// stripped so one broken test does not wedge the next).
func removeAll(t testing.TB, e *harness.Env) {
	if !e.ReleaseServices(t) {
		return
	}
	e.DeleteNodes()
}

var seq atomic.Int64

// newNamespace creates a uniquely named namespace (envtest never deletes
// namespaces) with labels and annotations.
func newNamespace(t testing.TB, e *harness.Env, labels, annotations map[string]string) string {
	t.Helper()
	return e.NewNamespace(t, "mc-"+strconv.FormatInt(seq.Add(1), 10), labels, annotations)
}

// lbService is a class-less LoadBalancer Service on TCP 80 (vipgate is the
// default L4 controller in the demo settings).
func lbService(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
}

// create creates obj on e; removeAll clears what the tests create.
func create(t testing.TB, e *harness.Env, obj client.Object) {
	t.Helper()
	e.Create(t, obj)
}

func getService(t testing.TB, e *harness.Env, ns, name string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{}
	if err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, svc); err != nil {
		t.Fatalf("reading Service %s/%s: %v", ns, name, err)
	}
	return svc
}

// waitVIP waits for the Service's status.loadBalancer address.
func waitVIP(t testing.TB, e *harness.Env, ns, name string) string {
	t.Helper()
	var ip string
	harness.Eventually(t, fmt.Sprintf("Service %s/%s gets a VIP", ns, name), func() string {
		svc := getService(t, e, ns, name)
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Sprintf("status %+v", svc.Status)
		}
		ip = svc.Status.LoadBalancer.Ingress[0].IP
		return ""
	})
	return ip
}

// createNode creates a Node with pod CIDRs and an InternalIP (status is a
// subresource, so it is written separately).
func createNode(t testing.TB, e *harness.Env, name, ip string, podCIDRs ...string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Spec.PodCIDRs = podCIDRs
	if len(podCIDRs) > 0 {
		n.Spec.PodCIDR = podCIDRs[0]
	}
	create(t, e, n)
	setNodeIP(t, e, name, ip)
}

func setNodeIP(t testing.TB, e *harness.Env, name, ip string) {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{}
	if err := e.Client.Get(ctx, types.NamespacedName{Name: name}, n); err != nil {
		t.Fatalf("reading node %s: %v", name, err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	if err := e.Client.Status().Update(ctx, n); err != nil {
		t.Fatalf("setting node %s address: %v", name, err)
	}
}

func deleteNode(t testing.TB, e *harness.Env, name string) {
	t.Helper()
	if err := e.Client.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("deleting node %s: %v", name, err)
	}
}

// route is a static route as the tests compare it.
type route struct {
	ID, Prefix, NextHop, Cluster string
}

func (r route) String() string {
	return fmt.Sprintf("%s %s via %s [%s]", r.ID, r.Prefix, r.NextHop, r.Cluster)
}

// vrfRoutes reads the global VrfContext's static routes from sim, in stored order.
func vrfRoutes(t testing.TB, sim *avisim.Sim) []route {
	t.Helper()
	var out []route
	for _, v := range sim.Objects("admin", "vrfcontext") {
		if v["name"] != "global" {
			continue
		}
		list, _ := v["static_routes"].([]any)
		for _, x := range list {
			m, _ := x.(map[string]any)
			r := route{ID: harness.Str(m, "route_id"), NextHop: harness.Str(m, "next_hop", "addr"),
				Prefix: fmt.Sprintf("%s/%v", harness.Str(m, "prefix", "ip_addr", "addr"), harness.Path(m, "prefix", "mask"))}
			labels, _ := m["labels"].([]any)
			for _, l := range labels {
				if harness.Str(l, "key") == "clustername" {
					r.Cluster = harness.Str(l, "value")
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// routesOf filters routes by cluster label ("" = unlabelled).
func routesOf(rs []route, cluster string) []string {
	var out []string
	for _, r := range rs {
		if r.Cluster == cluster {
			out = append(out, r.String())
		}
	}
	slices.Sort(out)
	return out
}

// foreignRoutes are what "another cluster" (west) and a human put in the VRF.
var foreignRoutes = []map[string]any{
	staticRoute("west-node1-1", "10.244.1.0", 24, "172.16.0.11", "west"),
	staticRoute("west-node2-1", "10.244.2.0", 24, "172.16.0.12", "west"),
	staticRoute("default-gw", "0.0.0.0", 0, "192.168.1.1", ""),
}

func staticRoute(id, addr string, mask int, hop, cluster string) map[string]any {
	r := map[string]any{
		"route_id": id,
		"prefix":   map[string]any{"ip_addr": map[string]any{"addr": addr, "type": "V4"}, "mask": mask},
		"next_hop": map[string]any{"addr": hop, "type": "V4"},
	}
	if cluster != "" {
		r["labels"] = []any{map[string]any{"key": "clustername", "value": cluster}}
	}
	return r
}

// otherWriter is a separate controller client: the other cluster, or a human.
func otherWriter(t testing.TB, sim *avisim.Sim) *session.Client {
	t.Helper()
	c, err := session.New(context.Background(), config.ControllerSettings{ControllerHost: sim.Host(), TenantName: "admin", ControllerVersion: "22.1.3"}, harness.SimCredentials(sim), session.Options{PoolSize: 1})
	if err != nil {
		t.Fatalf("second controller client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// addRoutes appends routes to the global VrfContext as another writer would:
// read, append, PUT.
func addRoutes(t testing.TB, c *session.Client, routes ...map[string]any) {
	t.Helper()
	if err := addRoutesErr(c, routes...); err != nil {
		t.Fatal(err)
	}
}

// addRoutesErr is addRoutes for goroutines other than the test's.
func addRoutesErr(c *session.Client, routes ...map[string]any) error {
	ctx := context.Background()
	vrfs, err := avi.ListAll[map[string]any](ctx, c, "vrfcontext", url.Values{"name": {"global"}}, "admin", 0)
	if err != nil || len(vrfs) != 1 {
		return fmt.Errorf("reading vrfcontext global: %v (%d found)", err, len(vrfs))
	}
	vrf := *vrfs[0]
	list, _ := vrf["static_routes"].([]any)
	for _, r := range routes {
		list = append(list, r)
	}
	vrf["static_routes"] = list
	var out map[string]any
	if err := c.Update(ctx, "vrfcontext", vrf["uuid"].(string), vrf, "admin", &out); err != nil {
		return fmt.Errorf("adding routes to vrfcontext global: %w", err)
	}
	return nil
}

// seGroupLabels returns the labels of the named SE group on sim as "k=v".
func seGroupLabels(sim *avisim.Sim, name string) []string {
	var out []string
	for _, g := range sim.Objects("admin", "serviceenginegroup") {
		if g["name"] != name {
			continue
		}
		labels, _ := g["labels"].([]any)
		for _, l := range labels {
			out = append(out, harness.Str(l, "key")+"="+harness.Str(l, "value"))
		}
	}
	slices.Sort(out)
	return out
}

// names lists the names of sim's objects of type typ in tenant (the
// controller's System-* objects left out, see harness.SimNames).
func names(sim *avisim.Sim, tenant, typ string) []string {
	return harness.SimNames(sim, tenant, typ, "")
}

// hookTransport runs before once, just before the first request matching
// method and path prefix, then passes every request on: a way to make
// another writer act exactly between vipgate's read and its write.
type hookTransport struct {
	base         http.RoundTripper
	method, path string
	before       func()
	fired        atomic.Bool
}

func (h *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == h.method && strings.HasPrefix(req.URL.Path, h.path) && h.fired.CompareAndSwap(false, true) {
		h.before()
	}
	return h.base.RoundTrip(req)
}
