package reconcile

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
)

func ingressClass() *networkingv1.IngressClass {
	return &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb"}, Spec: networkingv1.IngressClassSpec{Controller: ownership.LBClass}}
}

func ingressFor(ns, name string, hosts ...string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.Now()},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("avi-lb")}}
	prefix := networkingv1.PathTypePrefix
	for _, h := range hosts {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: h, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}})
	}
	return ing
}

type ingressFixture struct {
	r       *IngressReconciler
	c       client.Client
	patches *statusPatches
	avi     *fakeApplier
	rec     *record.FakeRecorder
	s       *config.Settings
}

// newIngressFixture runs the shard reconciler over a fake cluster with MEDIUM
// shards (4), so hosts spread over several shards.
func newIngressFixture(t *testing.T, objs ...client.Object) *ingressFixture {
	t.Helper()
	c, patches := newFakeClient(t, append([]client.Object{ingressClass()}, objs...)...)
	s := testSettings(func(s *config.Settings) { s.L7Settings.ShardVSSize = "MEDIUM" })
	f := &ingressFixture{c: c, patches: patches, avi: newFakeApplier("10.50.0.10"), rec: record.NewFakeRecorder(100), s: s}
	f.r = &IngressReconciler{Client: c, APIReader: c, Recorder: f.rec, Settings: s, Applier: f.avi,
		Lookups: &cluster.CacheLookups{Cache: c, Settings: s}, Namespace: "vipgate-system", RetryBadRequest: time.Minute}
	return f
}

func (f *ingressFixture) sync(t *testing.T, shard string) (ctrl.Result, error) {
	t.Helper()
	return f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: shard}})
}

func (f *ingressFixture) entries(t *testing.T, ns, name string) []string {
	t.Helper()
	var ing networkingv1.Ingress
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &ing); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ing.Status.LoadBalancer.Ingress {
		out = append(out, e.Hostname+"@"+e.IP)
	}
	return out
}

// twoShardHosts returns two hosts that MEDIUM sharding puts on different shards.
func twoShardHosts(t *testing.T, s *config.Settings) (a, b string, sa, sb string) {
	t.Helper()
	a = "a.example.com"
	sa = model.ShardName(s, nil, a)
	for i := range 100 {
		b = "b" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ".example.com"
		if sb = model.ShardName(s, nil, b); sb != sa {
			return a, b, sa, sb
		}
	}
	t.Fatal("no two hosts on different shards")
	return
}

// TestShardStatusNeverDropsAHost: each shard writes the entries at its own
// VIP only. A shard whose apply keeps failing leaves its hosts' entries as
// they are, so a restart (nothing in memory) never costs an Ingress a host.
func TestShardStatusNeverDropsAHost(t *testing.T) {
	s := testSettings(func(s *config.Settings) { s.L7Settings.ShardVSSize = "MEDIUM" })
	a, b, sa, sb := twoShardHosts(t, s)
	f := newIngressFixture(t, ingressFor("team-a", "web", a, b))
	f.avi.vips[sa], f.avi.vips[sb] = "10.50.0.10", "10.50.0.11"
	for _, sh := range []string{sa, sb} {
		if _, err := f.sync(t, sh); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{a + "@10.50.0.10", b + "@10.50.0.11"}
	if got := f.entries(t, "team-a", "web"); !slices.Equal(got, want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}

	// A new process (fresh reconciler, nothing remembered) whose apply of one
	// shard keeps failing.
	g := newIngressFixture(t)
	g.c, g.r.Client, g.r.APIReader = f.c, f.c, f.c
	g.r.Lookups = &cluster.CacheLookups{Cache: f.c, Settings: g.s}
	g.avi.vips[sa] = "10.50.0.10"
	g.avi.applyErr[sb] = &session.Error{Op: "PUT virtualservice", Status: http.StatusServiceUnavailable, Retryable: true}
	for range 3 {
		if _, err := g.sync(t, sb); err == nil {
			t.Fatal("a failing shard reported success")
		}
		if _, err := g.sync(t, sa); err != nil {
			t.Fatal(err)
		}
		if got := f.entries(t, "team-a", "web"); !slices.Equal(got, want) {
			t.Fatalf("after a restart with a failing shard: entries = %v, want %v", got, want)
		}
	}
}

// TestShardDropsFormerMembers: an Ingress that leaves a shard (deleted
// class, host removed) loses the entries at that shard's VIP and keeps the
// others; an empty shard is deleted and clears its entries.
func TestShardDropsFormerMembers(t *testing.T) {
	s := testSettings(func(s *config.Settings) { s.L7Settings.ShardVSSize = "MEDIUM" })
	a, b, sa, sb := twoShardHosts(t, s)
	f := newIngressFixture(t, ingressFor("team-a", "web", a, b))
	f.avi.vips[sa], f.avi.vips[sb] = "10.50.0.10", "10.50.0.11"
	for _, sh := range []string{sa, sb} {
		if _, err := f.sync(t, sh); err != nil {
			t.Fatal(err)
		}
	}
	var ing networkingv1.Ingress
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "team-a", Name: "web"}, &ing); err != nil {
		t.Fatal(err)
	}
	ing.Spec.Rules = ing.Spec.Rules[:1] // host b goes
	if err := f.c.Update(context.Background(), &ing); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sync(t, sb); err != nil {
		t.Fatal(err)
	}
	if got := f.entries(t, "team-a", "web"); !slices.Equal(got, []string{a + "@10.50.0.10"}) {
		t.Fatalf("entries = %v", got)
	}
	if len(f.avi.deleted) != 1 || f.avi.deleted[0].Name != sb || !f.avi.deleted[0].L7 {
		t.Errorf("the emptied shard was not deleted: %+v", f.avi.deleted)
	}
}

// TestShardNotesOncePerProblem: a problem is an Event once however often the
// shard syncs, and again when it comes back after being resolved.
func TestShardNotesOncePerProblem(t *testing.T) {
	f := newIngressFixture(t, ingressFor("team-a", "web", "a.example.com"))
	shard := model.ShardName(f.s, nil, "a.example.com")
	warnings := func() int {
		n := 0
		for _, e := range events(f.rec) {
			if strings.Contains(e, ReasonBackend) {
				n++
			}
		}
		return n
	}
	for range 3 {
		if _, err := f.sync(t, shard); err != nil {
			t.Fatal(err)
		}
	}
	if n := warnings(); n != 1 {
		t.Fatalf("missing backend reported %d times, want once", n)
	}
	web := lbService("team-a", "web")
	web.Spec.Type = "ClusterIP"
	if err := f.c.Create(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sync(t, shard); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Delete(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sync(t, shard); err != nil {
		t.Fatal(err)
	}
	if n := warnings(); n != 1 {
		t.Fatalf("a problem that came back was reported %d times, want once more", n)
	}
}

// fixedInventory is an inventory.Source with a Dirty flag.
type fixedInventory struct {
	snap  *inventory.Snapshot
	dirty bool
}

func (f fixedInventory) Snapshot() *inventory.Snapshot { return f.snap }
func (f fixedInventory) Dirty() bool                   { return f.dirty }

// TestIngressFinalizer: added to vipgate's Ingresses; released once the
// Ingress is deleted (or no longer vipgate's) and no status entry is at an
// address this cluster's VsVips hold, as shown by an inventory with no write
// since it was loaded.
func TestIngressFinalizer(t *testing.T) {
	held := &inventory.Snapshot{InUse: map[netip.Addr]inventory.Holder{
		netip.MustParseAddr("10.50.0.10"): {VsVip: "c1--Shared-L7-0", CreatedBy: "vipgate-c1"},
	}}
	now := metav1.Now()
	deleted := func(ips ...string) *networkingv1.Ingress {
		ing := ingressFor("team-a", "web", "a.example.com")
		ing.DeletionTimestamp, ing.Finalizers = &now, []string{ownership.CleanupFinalizer}
		for _, ip := range ips {
			ing.Status.LoadBalancer.Ingress = append(ing.Status.LoadBalancer.Ingress, networkingv1.IngressLoadBalancerIngress{IP: ip, Hostname: "a.example.com"})
		}
		return ing
	}
	tests := []struct {
		name        string
		ing         *networkingv1.Ingress
		inv         fixedInventory
		wantHeld    bool
		wantRequeue bool
	}{
		{"owned: finalizer added", ingressFor("team-a", "web", "a.example.com"), fixedInventory{snap: held}, true, false},
		{"deleted, no entries: released", deleted(), fixedInventory{snap: held}, false, false},
		{"deleted, entry at a held VIP: kept", deleted("10.50.0.10"), fixedInventory{snap: held}, true, true},
		{"deleted, entry at an address nobody holds: released", deleted("10.50.0.99"), fixedInventory{snap: held}, false, false},
		{"deleted, inventory dirty: waits", deleted("10.50.0.99"), fixedInventory{snap: held, dirty: true}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newFakeClient(t, ingressClass(), tt.ing)
			r := &IngressFinalizerReconciler{Client: c, Settings: testSettings(), Inventory: tt.inv}
			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "web"}})
			if err != nil {
				t.Fatal(err)
			}
			if (res.RequeueAfter > 0) != tt.wantRequeue {
				t.Errorf("result = %+v", res)
			}
			var ing networkingv1.Ingress
			err = c.Get(context.Background(), types.NamespacedName{Namespace: "team-a", Name: "web"}, &ing)
			has := err == nil && slices.Contains(ing.Finalizers, ownership.CleanupFinalizer)
			if has != tt.wantHeld {
				t.Errorf("finalizer held = %v, want %v", has, tt.wantHeld)
			}
		})
	}
}

// flakyStatus fails the next *fails status patches with a 503.
type flakyStatus struct {
	client.Client
	fails *int
}

func (c flakyStatus) Status() client.SubResourceWriter {
	return flakyWriter{c.Client.Status(), c.fails}
}

type flakyWriter struct {
	client.SubResourceWriter
	fails *int
}

func (w flakyWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if *w.fails > 0 {
		*w.fails--
		return apierrors.NewServiceUnavailable("injected")
	}
	return w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// TestEmptyShardClearsStatusFirst: a shard no Ingress routes to any more
// clears the entries at its addresses before its VsVip goes, so a status
// write that fails is tried again with the addresses still known. Before,
// an attempt that deleted the VsVip and then failed to write status left the
// entries for good, and the address, given to someone else later, had two
// owners.
func TestEmptyShardClearsStatusFirst(t *testing.T) {
	s := testSettings(func(s *config.Settings) { s.L7Settings.ShardVSSize = "MEDIUM" })
	a, _, sa, _ := twoShardHosts(t, s)
	f := newIngressFixture(t, ingressFor("team-a", "web", a))
	f.avi.vips[sa] = "10.50.0.10"
	f.r.Inventory = fixedInventory{snap: &inventory.Snapshot{InUse: map[netip.Addr]inventory.Holder{
		netip.MustParseAddr("10.50.0.10"): {VsVip: sa, CreatedBy: f.s.CreatedBy(), Tenant: f.s.ControllerSettings.TenantName}}}}
	if _, err := f.sync(t, sa); err != nil {
		t.Fatal(err)
	}
	if got := f.entries(t, "team-a", "web"); !slices.Equal(got, []string{a + "@10.50.0.10"}) {
		t.Fatalf("entries = %v", got)
	}
	var ing networkingv1.Ingress
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "team-a", Name: "web"}, &ing); err != nil {
		t.Fatal(err)
	}
	ing.Spec.Rules = nil // the shard is left empty
	if err := f.c.Update(context.Background(), &ing); err != nil {
		t.Fatal(err)
	}
	fails := 1
	f.r.Client = flakyStatus{f.c, &fails}
	if _, err := f.sync(t, sa); err == nil {
		t.Fatal("a failed status write was not reported")
	}
	if _, err := f.sync(t, sa); err != nil {
		t.Fatal(err)
	}
	if got := f.entries(t, "team-a", "web"); len(got) != 0 {
		t.Errorf("entries at the removed shard's address remain: %v", got)
	}
	if len(f.avi.deleted) == 0 || f.avi.deleted[len(f.avi.deleted)-1].Name != sa {
		t.Errorf("the emptied shard was not deleted: %+v", f.avi.deleted)
	}
}

// TestVipMove: only an Ingress that loses an address and gains another has
// moved (and gets a Normal Event); a first status, a shard adding its
// entries next to another's, or one dropping its own, has not.
func TestVipMove(t *testing.T) {
	e := func(ip, host string) networkingv1.IngressLoadBalancerIngress {
		return networkingv1.IngressLoadBalancerIngress{IP: ip, Hostname: host}
	}
	type l = []networkingv1.IngressLoadBalancerIngress
	for _, tt := range []struct {
		name      string
		had, want l
		from, to  string
	}{
		{"first status", nil, l{e("10.0.0.1", "a")}, "", ""},
		{"same status", l{e("10.0.0.1", "a")}, l{e("10.0.0.1", "a")}, "", ""},
		{"a second shard adds its entries", l{e("10.0.0.1", "a")}, l{e("10.0.0.1", "a"), e("10.0.0.2", "b")}, "", ""},
		{"a shard drops its entries", l{e("10.0.0.1", "a"), e("10.0.0.2", "b")}, l{e("10.0.0.1", "a")}, "", ""},
		{"a host moves to another VIP", l{e("10.0.0.1", "a")}, l{e("10.0.0.2", "a")}, "10.0.0.1", "10.0.0.2"},
		{"the shard's VIP changes under two hosts", l{e("10.0.0.1", "a"), e("10.0.0.1", "b")}, l{e("10.0.0.3", "a"), e("10.0.0.3", "b")}, "10.0.0.1", "10.0.0.3"},
		{"hostname only entries", l{e("", "a")}, l{e("", "b")}, "", ""},
	} {
		from, to := vipMove(tt.had, tt.want)
		if from != tt.from || to != tt.to {
			t.Errorf("%s: vipMove = %q, %q; want %q, %q", tt.name, from, to, tt.from, tt.to)
		}
	}
}

// TestShardShown: a shard's VsVip, created again after it was lost, asks
// for what the shard's Ingresses show for the shard's own hosts; entries of
// hosts another shard serves, and Ingresses not on the shard, do not count.
func TestShardShown(t *testing.T) {
	ing := func(name string, entries ...networkingv1.IngressLoadBalancerIngress) *networkingv1.Ingress {
		i := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
		i.Status.LoadBalancer.Ingress = entries
		return i
	}
	e := func(ip, host string) networkingv1.IngressLoadBalancerIngress {
		return networkingv1.IngressLoadBalancerIngress{IP: ip, Hostname: host}
	}
	w := &world{ings: map[string]*networkingv1.Ingress{
		"ns/shop":  ing("shop", e("10.0.0.1", "shop.example.com"), e("10.0.0.2", "api.example.com")),
		"ns/blog":  ing("blog", e("10.0.0.1", "blog.example.com")),
		"ns/other": ing("other", e("10.0.0.9", "other.example.com")),
	}}
	sp := &model.ShardPlan{Name: "c1--Shared-L7-0", Ingresses: []string{"ns/blog", "ns/gone", "ns/shop"},
		Routes: []model.Route{{Host: "blog.example.com"}, {Host: "shop.example.com"}}}
	if got := shardShown(sp, w); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.1"}) {
		t.Errorf("shardShown = %v, want the shard's hosts' entries [10.0.0.1 10.0.0.1]", got)
	}
}
