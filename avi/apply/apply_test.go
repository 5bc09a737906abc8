package apply_test

import (
	"context"
	"fmt"
	"net/netip"
	stdslices "slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/inventory/loader"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
)

type env struct {
	sim *avisim.Sim
	c   *session.Client
	s   *config.Settings
	a   *apply.Applier
	// snap is the inventory the model is built with (license tier, DNS domains).
	snap *inventory.Snapshot
}

func newEnv(t testing.TB, seed *avisim.Seed, vipNet string) *env {
	t.Helper()
	sim, err := avisim.New(avisim.Options{Seed: seed, Username: "admin", Password: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	s := config.Defaults()
	s.AKOSettings.ClusterName = "c1"
	s.ControllerSettings.ControllerHost = sim.Host()
	if vipNet != "" {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: vipNet}}
	}
	c, err := session.New(context.Background(), s.ControllerSettings, config.Credentials{Username: "admin", Password: "admin", CertificateAuthorityData: string(sim.CACertPEM())}, session.Options{PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &env{sim: sim, c: c, s: &s, a: apply.New(c, s.CreatedBy(), "c1--"), snap: &inventory.Snapshot{LicenseTier: "ENTERPRISE"}}
}

func service(name string, ports ...int32) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", p), Port: p, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(p + 8000)})
	}
	return svc
}

func slices(svc *corev1.Service, addrs ...string) []discoveryv1.EndpointSlice {
	sl := discoveryv1.EndpointSlice{}
	for _, p := range svc.Spec.Ports {
		sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(p.TargetPort.IntVal), Protocol: ptr.To(corev1.ProtocolTCP)})
	}
	for _, a := range addrs {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return []discoveryv1.EndpointSlice{sl}
}

func (e *env) build(t testing.TB, svc *corev1.Service, addrs ...string) *model.Set {
	t.Helper()
	set, err := model.BuildL4(model.L4Input{Settings: e.s, Snapshot: e.snap, Members: []model.Member{{Service: svc, Slices: slices(svc, addrs...)}}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// names lists the objects the test created: the controller's own System-*
// objects (profiles, the default certificate) are always there.
func names(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		if n := o["name"].(string); !strings.HasPrefix(n, "System-") {
			out = append(out, n)
		}
	}
	return out
}

func (e *env) objects(typ string) []string { return names(e.sim.Objects("admin", typ)) }

// appliedWeb starts an environment on the demo seed and applies Service
// "web" (port 80, one endpoint) in it.
func appliedWeb(t *testing.T) (*env, context.Context, *model.Set) {
	t.Helper()
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	set := e.build(t, service("web", 80), "10.0.0.1")
	if _, err := e.a.Apply(ctx, set); err != nil {
		t.Fatal(err)
	}
	return e, ctx, set
}

func TestApplyLifecycle(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	svc := service("web", 80)
	set := e.build(t, svc, "10.0.0.1", "10.0.0.2")

	// Create.
	res, err := e.a.Apply(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if res.Writes != 3 || len(res.Created) != 3 {
		t.Fatalf("create: %d writes, created %v", res.Writes, res.Created)
	}
	ips := model.AllocatedAddresses(res.VsVip)
	if len(ips) != 1 || !netip.MustParsePrefix("10.50.0.0/24").Contains(ips[0]) {
		t.Fatalf("allocated %v", ips)
	}
	if got := e.objects("pool"); strings.Join(got, ",") != "c1--ns-web-TCP-80" {
		t.Fatalf("pools %v", got)
	}
	pool80 := e.uuidOf(t, "pool", "c1--ns-web-TCP-80")
	if owned := ownedUUIDs(e.a); len(owned) != 3 || !stdslices.Contains(owned, pool80) {
		t.Fatalf("names kept for %v, want the 3 created objects' (pool %s among them)", owned, pool80)
	}
	vs := e.sim.Objects("admin", "virtualservice")
	if len(vs) != 1 || vs[0]["created_by"] != "vipgate-c1" || vs[0]["vsvip_ref"] == nil {
		t.Fatalf("vs %v", vs)
	}
	pool := e.sim.Objects("admin", "pool")[0]
	if srv := pool["servers"].([]any); len(srv) != 2 || srv[0].(map[string]any)["port"].(float64) != 8080 {
		t.Fatalf("servers %v", srv)
	}

	// Same desired: zero writes.
	e.sim.ResetCounts()
	res, err = e.a.Apply(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if res.Writes != 0 || e.sim.Writes() != 0 {
		t.Fatalf("re-apply wrote: %+v, sim writes %d, counts %v", res, e.sim.Writes(), e.sim.Counts())
	}
	if got := model.AllocatedAddresses(res.VsVip); len(got) != 1 || got[0] != ips[0] {
		t.Fatalf("re-apply VsVip addresses %v", got)
	}

	// Port change 80 → 80,443 then → 443: pool added / removed, VS updated only.
	e.sim.ResetCounts()
	res, err = e.a.Apply(ctx, e.build(t, service("web", 80, 443), "10.0.0.1", "10.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Created, res.Updated, res.Deleted) != "[pool/c1--ns-web-TCP-443] [virtualservice/c1--ns-web] []" || e.sim.Writes() != 2 {
		t.Fatalf("add port: %+v writes %d", res, e.sim.Writes())
	}
	e.sim.ResetCounts()
	res, err = e.a.Apply(ctx, e.build(t, service("web", 443), "10.0.0.1", "10.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Created, res.Updated, res.Deleted) != "[] [virtualservice/c1--ns-web] [pool/c1--ns-web-TCP-80]" || e.sim.Writes() != 2 {
		t.Fatalf("remove port: %+v writes %d", res, e.sim.Writes())
	}
	if owned := ownedUUIDs(e.a); len(owned) != 3 || stdslices.Contains(owned, pool80) {
		t.Fatalf("names kept for %v after pool %s was deleted", owned, pool80)
	}

	// Endpoints change: only that pool.
	e.sim.ResetCounts()
	res, err = e.a.Apply(ctx, e.build(t, service("web", 443), "10.0.0.1", "10.0.0.3"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Created, res.Updated, res.Deleted) != "[] [pool/c1--ns-web-TCP-443] []" || e.sim.Writes() != 1 {
		t.Fatalf("endpoints: %+v writes %d", res, e.sim.Writes())
	}

	// A dns_info change (the cloud gets a DNS profile) rewrites the VsVip but keeps its address.
	e.snap.Cloud.DNSDomains = []string{"apps.example.com"}
	res, err = e.a.Apply(ctx, e.build(t, service("web", 443), "10.0.0.1", "10.0.0.3"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Updated) != "[vsvip/c1--ns-web]" {
		t.Fatalf("dns: %+v", res)
	}
	if got := model.AllocatedAddresses(res.VsVip); len(got) != 1 || got[0] != ips[0] {
		t.Fatalf("VIP moved on update: %v → %v", ips, got)
	}

	// Delete: nothing left.
	res, err = e.a.Delete(ctx, apply.OwnerOf(set))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Deleted) != "[virtualservice/c1--ns-web pool/c1--ns-web-TCP-443 vsvip/c1--ns-web]" {
		t.Fatalf("delete order %v", res.Deleted)
	}
	for _, typ := range model.CreateOrder {
		if typ == model.TypeVSDataScriptSet {
			continue // the controller's own FTP datascripts; vipgate writes none
		}
		if got := e.objects(typ); len(got) != 0 {
			t.Fatalf("%s left: %v", typ, got)
		}
	}
	if res, err = e.a.Delete(ctx, apply.OwnerOf(set)); err != nil || res.Writes != 0 {
		t.Fatalf("second delete: %+v %v", res, err)
	}
	if owned := ownedUUIDs(e.a); len(owned) != 0 {
		t.Fatalf("names kept for deleted objects: %v", owned)
	}
}

// ownedUUIDs are the UUIDs of the types vipgate writes that a keeps a name for.
func ownedUUIDs(a *apply.Applier) []string {
	var out []string
	for _, u := range a.NamedUUIDs() {
		for _, typ := range model.CreateOrder {
			if strings.HasPrefix(u, typ+"-") {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

// uuidOf is the UUID of the controller's object typ/name.
func (e *env) uuidOf(t *testing.T, typ, name string) string {
	t.Helper()
	for _, o := range e.sim.Objects("admin", typ) {
		if o["name"] == name {
			return o["uuid"].(string)
		}
	}
	t.Fatalf("no %s %q on the controller", typ, name)
	return ""
}

func TestRequestedIPAndExhaustion(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-b")
	ctx := context.Background()
	svc := service("fixed", 80)
	svc.Spec.LoadBalancerIP = "10.60.0.4"
	res, err := e.a.Apply(ctx, e.build(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	if got := model.AllocatedAddresses(res.VsVip); len(got) != 1 || got[0].String() != "10.60.0.4" {
		t.Fatalf("requested IP not honoured: %v", got)
	}
	// vip-net-b has 4 VIPs (.2-.5): three more fit, the fifth Service fails.
	for i := 0; i < 3; i++ {
		if _, err := e.a.Apply(ctx, e.build(t, service(fmt.Sprintf("s%d", i), 80))); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.a.Apply(ctx, e.build(t, service("one-too-many", 80)))
	if !session.IsBadRequest(err) || session.IsRetryable(err) || !strings.Contains(session.Message(err), "No available free IPs") {
		t.Fatalf("want bad request 'No available free IPs', got %v", err)
	}
	if strings.Contains(err.Error(), "admin\"") || strings.Contains(strings.ToLower(err.Error()), "password") {
		t.Fatalf("error leaks credentials: %v", err)
	}
	// The failed owner left nothing behind.
	for _, typ := range model.CreateOrder {
		for _, n := range e.objects(typ) {
			if strings.Contains(n, "one-too-many") {
				t.Fatalf("orphan %s/%s", typ, n)
			}
		}
	}
}

func TestRetryableErrorThenSuccessWithoutDuplicates(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	set := e.build(t, service("flaky", 80, 81), "10.0.0.1")
	// Fail every call: the first Apply returns a retryable error.
	e.sim.Faults().SetErrorStatus(503)
	e.sim.Faults().SetErrorRate(1)
	_, err := e.a.Apply(ctx, set)
	if !session.IsRetryable(err) || session.IsBadRequest(err) {
		t.Fatalf("want retryable, got %v", err)
	}
	// Fail some calls: retry until done, as the reconciler's backoff would.
	e.sim.Faults().SetErrorSeed(7)
	e.sim.Faults().SetErrorRate(0.3)
	var done bool
	for i := 0; i < 50 && !done; i++ {
		_, err = e.a.Apply(ctx, set)
		if err == nil {
			done = true
		} else if !session.IsRetryable(err) {
			t.Fatalf("non-retryable error under 5xx injection: %v", err)
		}
	}
	e.sim.Faults().SetErrorRate(0)
	if !done {
		t.Fatalf("never succeeded: %v", err)
	}
	if got := fmt.Sprint(e.objects("vsvip"), e.objects("pool"), e.objects("virtualservice")); got != "[c1--ns-flaky] [c1--ns-flaky-TCP-80 c1--ns-flaky-TCP-81] [c1--ns-flaky]" {
		t.Fatalf("objects after retries: %s", got)
	}
	e.sim.ResetCounts()
	if res, err := e.a.Apply(ctx, set); err != nil || res.Writes != 0 {
		t.Fatalf("converged re-apply: %+v %v", res, err)
	}
}

func TestConflictIsRetryable(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	if _, err := e.a.Apply(ctx, e.build(t, service("c", 80), "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	e.sim.Faults().ConflictOnce("pool")
	_, err := e.a.Apply(ctx, e.build(t, service("c", 80), "10.0.0.9"))
	if err != nil && !(session.IsConflict(err) && session.IsRetryable(err)) {
		t.Fatalf("conflict: %v", err)
	}
	if _, err := e.a.Apply(ctx, e.build(t, service("c", 80), "10.0.0.9")); err != nil {
		t.Fatal(err)
	}
}

func TestSessionExpiryIsTransparent(t *testing.T) {
	e, ctx, _ := appliedWeb(t)
	logins := e.sim.Logins()
	e.sim.Faults().ExpireSessions()
	res, err := e.a.Apply(ctx, e.build(t, service("web", 80), "10.0.0.2"))
	if err != nil {
		t.Fatalf("apply after session expiry: %v", err)
	}
	if fmt.Sprint(res.Updated) != "[pool/c1--ns-web-TCP-80]" {
		t.Fatalf("%+v", res)
	}
	if e.sim.Logins() <= logins {
		t.Fatal("expected a re-login")
	}
}

func TestForeignObjectIsLeftAlone(t *testing.T) {
	e, ctx, set := appliedWeb(t)
	other := *e.s
	other.AKOSettings.ClusterName = "c1" // same names, different owner marker
	set2 := *set
	set2.CreatedBy = "ako-c1"
	for _, p := range set2.Pools {
		p.CreatedBy = ptr.To("ako-c1")
	}
	if _, err := e.a.Apply(ctx, &set2); err == nil || session.IsRetryable(err) {
		t.Fatalf("want a permanent refusal, got %v", err)
	}
	if res, err := e.a.Delete(ctx, apply.Owner{Name: set.Owner, CreatedBy: "ako-c1"}); err != nil || res.Writes != 0 {
		t.Fatalf("delete of foreign owner touched our objects: %+v %v", res, err)
	}
}

func TestListOwnedAndOrphans(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, err := e.a.Apply(ctx, e.build(t, service(n, 80), "10.0.0.1")); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := e.a.ListOwned(ctx, "vipgate-c1", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 6 {
		t.Fatalf("owned %v", objs)
	}
	var orphans []apply.Object
	for _, o := range objs {
		if strings.HasPrefix(o.Name, "c1--ns-b") {
			orphans = append(orphans, o)
		}
	}
	if _, err := e.a.DeleteObjects(ctx, orphans); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.objects("vsvip"), e.objects("pool"), e.objects("virtualservice")); got != "[c1--ns-a] [c1--ns-a-TCP-80] [c1--ns-a]" {
		t.Fatal(got)
	}
}

func TestSharedVIP(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	a, b := service("a", 80), service("b", 443)
	build := func(members ...*corev1.Service) *model.Set {
		var ms []model.Member
		for _, m := range members {
			ms = append(ms, model.Member{Service: m, Slices: slices(m, "10.0.0.1")})
		}
		set, err := model.BuildL4(model.L4Input{Settings: e.s, SharedKey: "k", Members: ms})
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	if _, err := e.a.Apply(ctx, build(a, b)); err != nil {
		t.Fatal(err)
	}
	// b leaves the group: its pool goes, found through the VS reference.
	res, err := e.a.Apply(ctx, build(a))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Deleted) != "[pool/c1--ns-b-k-TCP-443]" {
		t.Fatalf("%+v", res)
	}

	// b joins again, then leaves while its pool's delete fails: the virtual
	// service no longer references the pool, and the next apply still finds
	// it by its owner marker (chaos seed 740921: it was left for good).
	if _, err := e.a.Apply(ctx, build(a, b)); err != nil {
		t.Fatal(err)
	}
	e.sim.Faults().FailNamed("c1--ns-b-k-TCP-443", 503)
	if _, err := e.a.Apply(ctx, build(a)); !session.IsRetryable(err) {
		t.Fatalf("apply while the pool's delete fails: %v, want a retryable error", err)
	}
	e.sim.Faults().FailNamed("c1--ns-b-k-TCP-443", 0)
	if res, err = e.a.Apply(ctx, build(a)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.objects("pool")); got != "[c1--ns-a-k-TCP-80]" {
		t.Errorf("pools after b left the group %s (deleted %v), want a's only", got, res.Deleted)
	}
}

func TestAWSMultiVIP(t *testing.T) {
	e := newEnv(t, avisim.AWSSeed(), "")
	ctx := context.Background()
	snap, err := loader.Load(ctx, e.c, e.s)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Cloud.MultiVIP() || len(snap.Networks) < 2 {
		t.Fatalf("AWS seed snapshot: %+v", snap.Cloud)
	}
	for name := range snap.Networks {
		e.s.NetworkSettings.VIPNetworkList = append(e.s.NetworkSettings.VIPNetworkList, config.VIPNetwork{NetworkName: name})
	}
	// A Service that goes later holds the lowest addresses.
	low := mustBuild(t, e.s, snap, service("low", 80))
	if _, err := e.a.Apply(ctx, low); err != nil {
		t.Fatal(err)
	}
	svc := service("multi", 80)
	set, err := model.BuildL4(model.L4Input{Settings: e.s, Snapshot: snap, Members: []model.Member{{Service: svc}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.a.Apply(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if got := model.AllocatedAddresses(res.VsVip); len(got) != len(snap.Networks) {
		t.Fatalf("want one VIP per network, got %v", got)
	}
	if res, err := e.a.Apply(ctx, set); err != nil || res.Writes != 0 {
		t.Fatalf("re-apply: %+v %v", res, err)
	}

	// The VsVip is lost on the controller; created again by an applier
	// that restarted, it asks for the addresses the Service's status shows,
	// each in its zone's subnet, though lower ones are free.
	held := model.AllocatedAddresses(res.VsVip)
	for _, typ := range []string{"virtualservice", "pool", "vsvip"} {
		for _, o := range e.sim.Objects("admin", typ) {
			if strings.HasPrefix(o["name"].(string), "c1--ns-multi") {
				if err := e.c.Delete(ctx, typ, o["uuid"].(string), ""); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// low goes: the IPAM would hand its addresses out first.
	if _, err := e.a.Delete(ctx, apply.OwnerOf(low)); err != nil {
		t.Fatal(err)
	}
	for i := len(held) - 1; i >= 0; i-- { // status lists them in any order
		svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: held[i].String()})
	}
	again, err := apply.New(e.c, e.s.CreatedBy(), "c1--").Apply(ctx, mustBuild(t, e.s, snap, svc))
	if err != nil {
		t.Fatal(err)
	}
	if got := model.AllocatedAddresses(again.VsVip); fmt.Sprint(got) != fmt.Sprint(held) {
		t.Errorf("addresses after the repair %v, want %v", got, held)
	}
}

func mustBuild(t testing.TB, s *config.Settings, snap *inventory.Snapshot, svc *corev1.Service) *model.Set {
	t.Helper()
	set, err := model.BuildL4(model.L4Input{Settings: s, Snapshot: snap, Members: []model.Member{{Service: svc}}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestNoReadsPerObject: creating and updating owners sends their writes
// and no GET of them (the mirror, kept by the writes, is what is diffed); a
// new applier over the same controller (a restart) reads collection pages
// only, one per type, and a re-apply in sync then writes nothing and reads
// nothing more.
func TestNoReadsPerObject(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	if _, err := e.a.ListOwned(ctx, e.s.CreatedBy(), ""); err != nil { // load the (empty) mirror
		t.Fatal(err)
	}
	var sets []*model.Set
	for i := range 20 {
		sets = append(sets, e.build(t, service(fmt.Sprintf("web%d", i), 80), "10.0.0.1"))
	}
	e.sim.ResetCounts()
	for _, set := range sets {
		if _, err := e.a.Apply(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	gets := func() map[string]int {
		out := map[string]int{}
		for k, n := range e.sim.Counts() {
			// Reads of the objects vipgate writes; a reference to a System-*
			// object (cloud, profile, tenant) is named with one GET per process.
			if typ, ok := strings.CutPrefix(k, "GET "); ok && stdslices.Contains(model.CreateOrder, typ) {
				out[typ] = n
			}
		}
		return out
	}
	if got := gets(); len(got) != 0 {
		t.Errorf("creating 20 Services read %v (want no read of any object vipgate writes)", got)
	}
	if w := e.sim.Writes(); w != 60 {
		t.Errorf("creating 20 Services took %d writes, want 60", w)
	}

	restarted := apply.New(e.c, e.s.CreatedBy(), "c1--")
	e.sim.ResetCounts()
	for _, set := range sets {
		if res, err := restarted.Apply(ctx, set); err != nil || res.Writes != 0 {
			t.Fatalf("re-apply after a restart: %+v %v", res, err)
		}
	}
	if e.sim.Writes() != 0 {
		t.Errorf("a restart in sync wrote %d times", e.sim.Writes())
	}
	for typ, n := range gets() {
		if n > 1 {
			t.Errorf("a restart in sync read %s %d times, want one collection page", typ, n)
		}
	}
}

// TestMirrorBehindIsSettledByTheController: the mirror can be behind the
// controller (another writer deleted the owner's objects). An update of an
// object that is gone creates it again (404); what did not change is
// restored at the next full read of the controller (Reload).
func TestMirrorBehindIsSettledByTheController(t *testing.T) {
	e, ctx, set := appliedWeb(t)
	other := apply.New(e.c, e.s.CreatedBy(), "c1--")
	if _, err := other.Delete(ctx, apply.OwnerOf(set)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Apply(ctx, e.build(t, service("web", 80), "10.0.0.2")); err != nil {
		t.Fatalf("apply over a stale mirror: %v", err)
	}
	if got := e.objects("pool"); fmt.Sprint(got) != "[c1--ns-web-TCP-80]" {
		t.Fatalf("the changed pool was not created again: %v", got)
	}
	if got := poolServers(e.sim.Objects("admin", "pool")[0]); got != "10.0.0.2:8080" {
		t.Errorf("pool servers %s", got)
	}
	if err := e.a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Apply(ctx, e.build(t, service("web", 80), "10.0.0.2")); err != nil {
		t.Fatalf("apply after a full read: %v", err)
	}
	if got := fmt.Sprint(e.objects("vsvip"), e.objects("pool"), e.objects("virtualservice")); got != "[c1--ns-web] [c1--ns-web-TCP-80] [c1--ns-web]" {
		t.Errorf("objects after a full read: %s", got)
	}
}

// TestReloadForgetsNamesOfGoneObjects: the applier keeps a name for each
// UUID it has seen, to name references the controller returns without one.
// Objects that another writer deleted are dropped from that map when a full
// read (Reload) no longer finds them. Without that, the map would grow for
// as long as vipgate runs.
func TestReloadForgetsNamesOfGoneObjects(t *testing.T) {
	e, ctx, set := appliedWeb(t)
	if owned := ownedUUIDs(e.a); len(owned) != 3 {
		t.Fatalf("names kept for %v, want the 3 created objects'", owned)
	}
	if _, err := apply.New(e.c, e.s.CreatedBy(), "c1--").Delete(ctx, apply.OwnerOf(set)); err != nil {
		t.Fatal(err)
	}
	if err := e.a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if owned := ownedUUIDs(e.a); len(owned) != 0 {
		t.Fatalf("names kept after a full read found the objects gone: %v", owned)
	}
}

// TestReloadDoesNotHoldApplies: a full sync's Reload reads every collection
// again, seconds at scale. Applies go on against the mirror meanwhile (before,
// each waited for the reads), and what they write during the reads survives
// the swap: the reads cannot show it, but the mirror must, or the next apply
// of that owner writes it all again (or, for a delete, skips what is gone).
func TestReloadDoesNotHoldApplies(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	old, gone := e.build(t, service("old", 80), "10.0.0.1"), e.build(t, service("gone", 80), "10.0.0.3")
	for _, set := range []*model.Set{old, gone} {
		if _, err := e.a.Apply(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	// Someone deletes the virtual service of "old" on the controller.
	for _, vs := range e.sim.Objects("admin", "virtualservice") {
		if vs["name"] == "c1--ns-old" {
			if err := e.c.Delete(ctx, "virtualservice", vs["uuid"].(string), "admin"); err != nil {
				t.Fatal(err)
			}
		}
	}
	read, release := make(chan struct{}), make(chan struct{})
	e.a.OnReloadRead(func() { close(read); <-release })
	reloaded := make(chan error, 1)
	go func() { reloaded <- e.a.Reload(ctx) }()
	<-read
	// The reads are done, the swap is held: these applies must not wait for it.
	applied := make(chan error, 1)
	go func() {
		if _, err := e.a.Apply(ctx, e.build(t, service("new", 80), "10.0.0.2")); err != nil {
			applied <- err
			return
		}
		_, err := e.a.Delete(ctx, apply.OwnerOf(gone))
		applied <- err
	}()
	select {
	case err := <-applied:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("an apply waited for a reload of the mirror")
	}
	close(release)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCounts()
	res, err := e.a.Apply(ctx, e.build(t, service("new", 80), "10.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Writes != 0 {
		t.Errorf("an apply made during the reload was lost from the mirror: applying it again wrote %d objects", res.Writes)
	}
	if res, err := e.a.Delete(ctx, apply.OwnerOf(gone)); err != nil || res.Writes != 0 {
		t.Errorf("a delete made during the reload was lost from the mirror: deleting again wrote %d objects (%v)", res.Writes, err)
	}
	// What the reload read shows the deleted virtual service missing: the
	// next apply of its owner puts it back.
	res, err = e.a.Apply(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.objects("virtualservice"); !stdslices.Contains(got, "c1--ns-old") || res.Writes != 1 {
		t.Errorf("after the reload, applying the owner whose virtual service was deleted wrote %d objects; virtual services %v", res.Writes, got)
	}
}

func poolServers(pool map[string]any) string {
	var out []string
	for _, s := range pool["servers"].([]any) {
		m := s.(map[string]any)
		out = append(out, fmt.Sprintf("%s:%v", m["ip"].(map[string]any)["addr"], m["port"]))
	}
	return strings.Join(out, ",")
}

// TestDeleteSettlesAMirrorWithoutTheVirtualService: a mirror that lacks the
// owner's virtual service (its create's answer never came back) made Delete
// try the pools first, which the controller refuses while the virtual service
// refers to them; Delete now reads the owner's named objects and succeeds.
func TestDeleteSettlesAMirrorWithoutTheVirtualService(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	set := e.build(t, service("lost", 80), "10.0.0.1")
	// A second applier whose mirror was read before the objects existed
	// learns the VsVip and pool (their creates answer 409, which reads them)
	// but not the virtual service.
	b := apply.New(e.c, e.s.CreatedBy(), "c1--")
	if _, err := b.ListOwned(ctx, e.s.CreatedBy(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Apply(ctx, set); err != nil {
		t.Fatal(err)
	}
	e.sim.Faults().FailKind("virtualservice", 503)
	if _, err := b.Apply(ctx, set); err == nil {
		t.Fatal("the apply succeeded although every virtual service call fails")
	}
	e.sim.Faults().FailKind("virtualservice", 0)
	res, err := b.Delete(ctx, apply.OwnerOf(set))
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := fmt.Sprint(e.objects("vsvip"), e.objects("pool"), e.objects("virtualservice")); got != "[] [] []" {
		t.Errorf("objects after delete: %s (deleted %v)", got, res.Deleted)
	}
}

// TestUnrecordedCreateThenDelete: the controller created the VsVip, but
// the mirror never recorded it. Deleting the owner afterwards must still find
// and delete it (the mirror reads such an object again by name), or the VIP
// stays allocated to nobody. Either the create's answer was lost (504), or
// reading the names of its references failed as the controller went down
// (chaos seed 4: two VsVips left after their namespace was deselected,
// released with nothing deleted).
func TestUnrecordedCreateThenDelete(t *testing.T) {
	tests := []struct {
		name         string
		fault, clear func(*avisim.Faults)
	}{
		{"answer lost", func(f *avisim.Faults) { f.LoseAnswers("vsvip", 1) }, func(*avisim.Faults) {}},
		{"references not named", func(f *avisim.Faults) { f.FailKind("network", 503) }, func(f *avisim.Faults) { f.FailKind("network", 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
			ctx := context.Background()
			set := e.build(t, service("half", 80), "10.0.0.1")
			tt.fault(e.sim.Faults())
			if _, err := e.a.Apply(ctx, set); !session.IsRetryable(err) {
				t.Fatalf("apply: %v, want a retryable error", err)
			}
			if got := fmt.Sprint(e.objects("vsvip")); got != "[c1--ns-half]" {
				t.Fatalf("VsVips on the controller %s, want the one created", got)
			}
			tt.clear(e.sim.Faults())
			if _, err := e.a.Delete(ctx, apply.OwnerOf(set)); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(e.objects("vsvip"), e.objects("pool"), e.objects("virtualservice")); got != "[] [] []" {
				t.Fatalf("left on the controller after delete: %s", got)
			}
		})
	}
}

// TestKeptVIPAfterALostVsVip: a Service's objects are deleted on the
// controller behind vipgate's back, and a restarted applier (a fresh mirror)
// creates them again. Its VsVip asks for the address the Service's status
// shows, so the user keeps the VIP although the IPAM would pick a lower
// free one; when that address has been taken meanwhile, the VsVip is
// created with what the IPAM gives (one refused create more).
func TestKeptVIPAfterALostVsVip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		takenBy    string // a Service that requests the kept address before the repair
		want       string
		wantWrites int
	}{
		{name: "the address is free", want: "10.60.0.4", wantWrites: 3},
		{name: "the address was taken meanwhile", takenBy: "squatter", want: "10.60.0.2", wantWrites: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, avisim.DemoSeed(), "vip-net-b")
			ctx := context.Background()
			// vip-net-b hands out .2 to .5, lowest first.
			var sets []*model.Set
			for _, n := range []string{"a", "b", "c"} {
				set := e.build(t, service(n, 80))
				if _, err := e.a.Apply(ctx, set); err != nil {
					t.Fatal(err)
				}
				sets = append(sets, set)
			}
			// a goes (.2 is free again), then c's objects are deleted behind vipgate.
			if _, err := e.a.Delete(ctx, apply.OwnerOf(sets[0])); err != nil {
				t.Fatal(err)
			}
			for _, typ := range []string{"virtualservice", "pool", "vsvip"} {
				for _, o := range e.sim.Objects("admin", typ) {
					if strings.HasPrefix(o["name"].(string), "c1--ns-c") {
						if err := e.c.Delete(ctx, typ, o["uuid"].(string), ""); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if tc.takenBy != "" {
				sq := service(tc.takenBy, 80)
				sq.Spec.LoadBalancerIP = "10.60.0.4"
				if _, err := e.a.Apply(ctx, e.build(t, sq)); err != nil {
					t.Fatal(err)
				}
			}
			c := service("c", 80)
			c.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.60.0.4"}}
			set := e.build(t, c)
			if got := set.KeepVIP["c1--ns-c"]; got["0"] != "10.60.0.4" {
				t.Fatalf("KeepVIP %v, want the status address for c1--ns-c", set.KeepVIP)
			}
			restarted := apply.New(e.c, e.s.CreatedBy(), "c1--")
			res, err := restarted.Apply(ctx, set)
			if err != nil {
				t.Fatal(err)
			}
			if got := model.AllocatedAddresses(res.VsVip); len(got) != 1 || got[0].String() != tc.want {
				t.Errorf("VIP after the repair %v, want %s", got, tc.want)
			}
			if res.Writes != tc.wantWrites {
				t.Errorf("writes %d, want %d", res.Writes, tc.wantWrites)
			}
			// In sync now: nothing more to write, and the address stays.
			again, err := restarted.Apply(ctx, set)
			if err != nil || again.Writes != 0 {
				t.Errorf("second apply: %d writes, %v; want none", again.Writes, err)
			}
		})
	}
}
