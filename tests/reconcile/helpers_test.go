package reconcile

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/tests/harness"
)

// Objects live in the admin tenant (the demo settings' tenantName).
const tenant = harness.DemoTenant

// settingsFor returns the demo settings (cluster "demo", vip-net-a,
// Default-Group) pointed at sim; tweak (may be nil) edits them.
func settingsFor(t testing.TB, sim *avisim.Sim, tweak func(*config.Settings)) *config.Settings {
	t.Helper()
	s := harness.DemoSettings(t, sim.Host())
	if tweak != nil {
		tweak(s)
	}
	return s
}

// start runs vipgate against sim with settings s (demo settings when nil);
// tweak (may be nil) edits the operator options. See startStoppable.
func start(t testing.TB, sim *avisim.Sim, s *config.Settings, tweak func(*operator.Options)) *operator.Operator {
	t.Helper()
	op, _ := startStoppable(t, sim, s, tweak)
	return op
}

// startStoppable runs vipgate on the real path (alb-sdk session to sim, the
// inventory loaded from it) and returns a stop function for restarts within a
// test. It registers, after the manager's own cleanup, a cleanup that deletes
// the test's Services while this vipgate still runs: cleanups run last-in
// first-out, so the finalizers are released by vipgate itself and the next
// test's vipgate does not find (and reconcile onto its own simulator)
// Services left over from this one.
func startStoppable(t testing.TB, sim *avisim.Sim, s *config.Settings, tweak func(*operator.Options)) (*operator.Operator, func()) {
	t.Helper()
	if s == nil {
		s = settingsFor(t, sim, nil)
	}
	o := operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour}
	if tweak != nil {
		tweak(&o)
	}
	op, stop := env.StartStoppableVipgate(t, o)
	if op.Inventory == nil || op.Inventory.Snapshot() == nil {
		t.Fatalf("vipgate started without a loaded inventory")
	}
	t.Cleanup(func() { removeAll(t) })
	return op, stop
}

// removeAll deletes every LoadBalancer (or finalizer-holding) Service, every
// EndpointSlice, Node and AviInfraSetting the tests created, waiting for
// vipgate to release the Services. Finalizers still present after the wait
// are stripped, so one broken test does not wedge the rest of the package.
func removeAll(t testing.TB) {
	if !env.ReleaseServices(t) {
		return
	}
	ctx := context.Background()
	c := env.Client
	var slicesList discoveryv1.EndpointSliceList
	if c.List(ctx, &slicesList, client.HasLabels{discoveryv1.LabelServiceName}) == nil {
		for i := range slicesList.Items {
			_ = c.Delete(ctx, &slicesList.Items[i])
		}
	}
	env.DeleteNodes()
	var infra v1beta1.AviInfraSettingList
	if c.List(ctx, &infra) == nil {
		for i := range infra.Items {
			_ = c.Delete(ctx, &infra.Items[i])
		}
	}
}

// newNamespace creates a namespace named after the test (harness.UniqueName).
// The name is kept to 30 characters of the test's name because it ends up in
// the VsVip, VirtualService and pool names of every Service in it.
func newNamespace(t testing.TB) string {
	t.Helper()
	return env.NewNamespace(t, harness.UniqueName(t, 30), nil, nil)
}

// svcOpt edits a Service before it is created.
type svcOpt func(*corev1.Service)

// lbService is a LoadBalancer Service (no class: vipgate is the default L4
// controller in the demo settings) with TCP ports named "p<port>" whose
// targetPort is port+8000, so pool server ports are distinguishable from
// Service ports.
func lbService(ns, name string, ports []int32, opts ...svcOpt) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
	}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, svcPort(p))
	}
	for _, o := range opts {
		o(svc)
	}
	return svc
}

// svcPort is port p named "p<p>" with targetPort p+8000.
func svcPort(p int32) corev1.ServicePort {
	return corev1.ServicePort{Name: "p" + strconv.Itoa(int(p)), Port: p, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(p + 8000)}
}

// annotate sets an annotation on the Service.
func annotate(k, v string) svcOpt { return func(s *corev1.Service) { s.Annotations[k] = v } }

// createObj creates obj on the package's control plane (no cleanup of its
// own: removeAll clears what the tests create while vipgate still runs).
func createObj(t testing.TB, obj client.Object) {
	t.Helper()
	env.Create(t, obj)
}

// endpointSlice is what the endpoint-slice controller (absent in envtest)
// would write for svc: one slice named name with ready endpoints at addrs, and
// per Service port a slice port with the Service port's name and targetPort.
func endpointSlice(svc *corev1.Service, name string, addrs ...string) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range svc.Spec.Ports {
		sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{
			Name: ptr.To(p.Name), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(p.TargetPort.IntVal)})
	}
	for _, a := range addrs {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return sl
}

// getService reads a Service from the API server (not a cache).
func getService(t testing.TB, ns, name string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, svc); err != nil {
		t.Fatalf("reading Service %s/%s: %v", ns, name, err)
	}
	return svc
}

// waitVIP waits until the Service has an address in status.loadBalancer and
// returns it.
func waitVIP(t testing.TB, ns, name string) string {
	t.Helper()
	var ip string
	harness.Eventually(t, fmt.Sprintf("Service %s/%s gets a VIP", ns, name), func() string {
		svc := getService(t, ns, name)
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Sprintf("status %+v", svc.Status)
		}
		ip = svc.Status.LoadBalancer.Ingress[0].IP
		return ""
	})
	return ip
}

// syncedCondition returns the Service's AviSynced condition, or nil.
func syncedCondition(svc *corev1.Service) *metav1.Condition {
	return meta.FindStatusCondition(svc.Status.Conditions, reconcile.ConditionSynced)
}

// inRange reports whether ip lies in [from, to].
func inRange(ip, from, to string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return a.Compare(netip.MustParseAddr(from)) >= 0 && a.Compare(netip.MustParseAddr(to)) <= 0
}

// baseName is the demo cluster's AKO name of a Service's VsVip/VirtualService.
func baseName(ns, svc string) string { return "demo--" + ns + "-" + svc }

// poolName is the demo cluster's AKO name of a Service port's pool.
func poolName(ns, svc string, port int32) string {
	return fmt.Sprintf("demo--%s-%s-TCP-%d", ns, svc, port)
}

// simObject returns the named object of type typ on sim in the tests' tenant, or nil.
func simObject(sim *avisim.Sim, typ, name string) map[string]any {
	return harness.SimObject(sim, tenant, typ, name)
}

// simNames lists the names of sim's objects of type typ whose name has prefix
// (see harness.SimNames) in the tests' tenant.
func simNames(sim *avisim.Sim, typ, prefix string) []string {
	return harness.SimNames(sim, tenant, typ, prefix)
}

// refName resolves a reference as the simulator stores it
// (".../api/<type>/<uuid>", maybe with "#name") to the referenced object's name.
func refName(sim *avisim.Sim, ref string) string {
	if _, name, ok := strings.Cut(ref, "#"); ok {
		return name
	}
	i := strings.Index(ref, "/api/")
	if i < 0 {
		return ref
	}
	typ, uuid, _ := strings.Cut(ref[i+len("/api/"):], "/")
	for _, o := range sim.Objects(tenant, typ) {
		if o["uuid"] == uuid {
			n, _ := o["name"].(string)
			return n
		}
	}
	return ref
}

// poolServers renders a pool's servers as sorted "ip:port" strings.
func poolServers(pool map[string]any) []string {
	var out []string
	servers, _ := pool["servers"].([]any)
	for _, s := range servers {
		out = append(out, fmt.Sprintf("%s:%v", harness.Str(s, "ip", "addr"), harness.Path(s, "port")))
	}
	slices.Sort(out)
	return out
}

// vsPorts renders a VirtualService's services[] ports, in order.
func vsPorts(vs map[string]any) []string {
	var out []string
	svcs, _ := vs["services"].([]any)
	for _, s := range svcs {
		out = append(out, fmt.Sprint(harness.Path(s, "port")))
	}
	return out
}

// vsPoolsByPort maps a VirtualService's service_pool_select[] port to the pool's name.
func vsPoolsByPort(sim *avisim.Sim, vs map[string]any) map[string]string {
	out := map[string]string{}
	sel, _ := vs["service_pool_select"].([]any)
	for _, s := range sel {
		out[fmt.Sprint(harness.Path(s, "service_port"))] = refName(sim, harness.Str(s, "service_pool_ref"))
	}
	return out
}

// vsvipAddress is the first allocated IPv4 address of a VsVip.
func vsvipAddress(vsvip map[string]any) string {
	return harness.Str(vsvip, "vip", 0, "ip_address", "addr")
}

// markerCreatedBy is the created_by marker value of an object (VsVips carry
// created_by as a marker; the model has no field for it).
func markerCreatedBy(o map[string]any) string {
	markers, _ := o["markers"].([]any)
	for _, m := range markers {
		if harness.Str(m, "key") == "created_by" {
			if vals, _ := harness.Path(m, "values").([]any); len(vals) > 0 {
				s, _ := vals[0].(string)
				return s
			}
		}
	}
	return ""
}

// writesOf returns the write counts (every method but GET) from sim.Counts().
func writesOf(counts map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range counts {
		if !strings.HasPrefix(k, "GET ") {
			out[k] = n
		}
	}
	return out
}

// serviceEvents lists the core/v1 Events about a Service.
func serviceEvents(t testing.TB, svc *corev1.Service) []corev1.Event {
	t.Helper()
	var evs corev1.EventList
	if err := env.Client.List(context.Background(), &evs, client.InNamespace(svc.Namespace)); err != nil {
		t.Fatalf("listing Events: %v", err)
	}
	var out []corev1.Event
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == "Service" && e.InvolvedObject.Name == svc.Name {
			out = append(out, e)
		}
	}
	return out
}

// infraSetting is an AviInfraSetting placing VIPs on network.
func infraSetting(name, network string) *v1beta1.AviInfraSetting {
	return &v1beta1.AviInfraSetting{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.AviInfraSettingSpec{Network: v1beta1.AviInfraSettingNetwork{
			VipNetworks: []v1beta1.AviInfraSettingVipNetwork{{NetworkName: network}}}},
	}
}

// waitInfraStatus waits until the AviInfraSetting's status.status is want and
// returns the setting as read then.
func waitInfraStatus(t testing.TB, name, want string) *v1beta1.AviInfraSetting {
	t.Helper()
	ais := &v1beta1.AviInfraSetting{}
	harness.Eventually(t, fmt.Sprintf("AviInfraSetting %s is %s", name, want), func() string {
		if err := env.Client.Get(context.Background(), types.NamespacedName{Name: name}, ais); err != nil {
			return err.Error()
		}
		if ais.Status.Status != want {
			return fmt.Sprintf("status %+v", ais.Status)
		}
		return ""
	})
	return ais
}

// clusterID is this API server's cluster identity, as vipgate marks objects.
func clusterID(t testing.TB) string { return env.ClusterID(t) }

// sharedPoolName is the pool of a shared-VIP member's port: the key joins
// the Service's name (AKO's naming).
func sharedPoolName(ns, svc, key string, port int32) string {
	return fmt.Sprintf("demo--%s-%s-%s-TCP-%d", ns, svc, key, port)
}
