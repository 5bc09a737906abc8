package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

func lbService(ns, name string, edit ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "-" + name)},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: ptr.To(ownership.LBClass),
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	for _, e := range edit {
		e(s)
	}
	return s
}

type serviceFixture struct {
	r       *ServiceReconciler
	c       client.Client
	patches *statusPatches
	avi     *fakeApplier
	rec     *record.FakeRecorder
}

func newServiceFixture(t *testing.T, objs ...client.Object) *serviceFixture {
	t.Helper()
	c, patches := newFakeClient(t, objs...)
	s := testSettings()
	f := &serviceFixture{c: c, patches: patches, avi: newFakeApplier("10.50.0.10"), rec: record.NewFakeRecorder(100)}
	f.r = &ServiceReconciler{Client: c, Recorder: f.rec, Settings: s, Applier: f.avi,
		Lookups: &cluster.CacheLookups{Cache: c, Settings: s}, RetryBadRequest: time.Minute}
	return f
}

func (f *serviceFixture) reconcile(t *testing.T, ns, name string) (ctrl.Result, error) {
	t.Helper()
	return f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
}

func (f *serviceFixture) get(t *testing.T, ns, name string) *corev1.Service {
	t.Helper()
	var svc corev1.Service
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
		t.Fatalf("get %s/%s: %v", ns, name, err)
	}
	return &svc
}

// TestServiceSyncWritesStatusOnce: a new Service gets the finalizer before
// any controller write, then its VIP and AviSynced=True in one status patch;
// a second reconcile of the same state patches nothing.
func TestServiceSyncWritesStatusOnce(t *testing.T) {
	f := newServiceFixture(t, lbService("team-a", "web"))
	res, err := f.reconcile(t, "team-a", "web")
	if err != nil || res != (ctrl.Result{}) {
		t.Fatalf("reconcile = %+v, %v", res, err)
	}
	svc := f.get(t, "team-a", "web")
	if !slices.Contains(svc.Finalizers, ownership.CleanupFinalizer) {
		t.Errorf("finalizers = %v", svc.Finalizers)
	}
	if got := svc.Status.LoadBalancer.Ingress; len(got) != 1 || got[0].IP != "10.50.0.10" {
		t.Errorf("status = %+v", got)
	}
	c := meta.FindStatusCondition(svc.Status.Conditions, ConditionSynced)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonSynced {
		t.Errorf("condition = %+v", c)
	}
	if n := f.patches.count(); n != 1 {
		t.Errorf("%d status patches, want 1", n)
	}
	if got := f.avi.appliedOwners(); !slices.Equal(got, []string{"c1--team-a-web"}) {
		t.Errorf("applied %v", got)
	}
	if _, err := f.reconcile(t, "team-a", "web"); err != nil {
		t.Fatal(err)
	}
	if n := f.patches.count(); n != 1 {
		t.Errorf("a reconcile without change patched status: %d patches", n)
	}
}

// TestServiceSyncedEvent: a successful sync records a Normal Synced Event
// only when it is news beyond the status: a recovery from a failure, or a
// VIP that moved. A first success (the VIP and the condition say it) and a
// repeat of the same status record none.
func TestServiceSyncedEvent(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		edit func(*corev1.Service)
		want []string
	}{
		{"first success", func(*corev1.Service) {}, nil},
		{"recovery after a controller error", func(s *corev1.Service) {
			s.Status.Conditions = []metav1.Condition{{Type: ConditionSynced, Status: metav1.ConditionFalse, Reason: ReasonControllerDown, LastTransitionTime: now}}
		}, []string{"Normal Synced VIP 10.50.0.10 on the controller"}},
		{"recovery with the VIP already in status", func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.50.0.10", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}}
			s.Status.Conditions = []metav1.Condition{{Type: ConditionSynced, Status: metav1.ConditionFalse, Reason: ReasonInvalid, LastTransitionTime: now}}
		}, []string{"Normal Synced VIP 10.50.0.10 on the controller"}},
		{"VIP moved", func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.50.0.9", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}}
			s.Status.Conditions = []metav1.Condition{{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonSynced, LastTransitionTime: now}}
		}, []string{"Normal Synced VIP 10.50.0.10 on the controller"}},
		{"same status", func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.50.0.10", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}}
			s.Status.Conditions = []metav1.Condition{{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonSynced,
				Message: "virtual service is on the controller", LastTransitionTime: now}}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newServiceFixture(t, lbService("team-a", "web", func(s *corev1.Service) {
				s.Finalizers = []string{ownership.CleanupFinalizer}
			}, tt.edit))
			if _, err := f.reconcile(t, "team-a", "web"); err != nil {
				t.Fatal(err)
			}
			if got := f.get(t, "team-a", "web").Status.LoadBalancer.Ingress; len(got) != 1 || got[0].IP != "10.50.0.10" {
				t.Fatalf("status = %+v", got)
			}
			if got := events(f.rec); !slices.Equal(got, tt.want) {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestServiceControllerErrors: the retry decision and what users see for
// each kind of controller failure, and the way back to Synced.
func TestServiceControllerErrors(t *testing.T) {
	refused := &session.Error{Op: "POST vsvip", Status: http.StatusBadRequest, Message: "No available free IPs"}
	down := &session.Error{Op: "POST vsvip", Status: http.StatusServiceUnavailable, Message: "Service Unavailable", Retryable: true}
	tests := []struct {
		name       string
		err        error
		wantReason string
		wantErr    bool // back to the work queue (exponential per-item backoff)
		wantAfter  bool // RequeueAfter from vipgate's own backoff
	}{
		{"refused (400) waits on the backoff", refused, ReasonControllerError, false, true},
		{"unavailable (5xx) goes back to the queue", down, ReasonControllerDown, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newServiceFixture(t, lbService("team-a", "web"))
			f.avi.applyErr[""] = tt.err
			res, err := f.reconcile(t, "team-a", "web")
			if (err != nil) != tt.wantErr || (res.RequeueAfter > 0) != tt.wantAfter {
				t.Fatalf("reconcile = %+v, %v", res, err)
			}
			svc := f.get(t, "team-a", "web")
			c := meta.FindStatusCondition(svc.Status.Conditions, ConditionSynced)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tt.wantReason || !strings.Contains(c.Message, session.Message(tt.err)) {
				t.Errorf("condition = %+v", c)
			}
			if ev := events(f.rec); len(ev) != 1 || !strings.Contains(ev[0], "Warning "+tt.wantReason) {
				t.Errorf("events = %v", ev)
			}
			if len(svc.Status.LoadBalancer.Ingress) != 0 {
				t.Errorf("a VIP was written without a successful apply: %+v", svc.Status.LoadBalancer.Ingress)
			}
			delete(f.avi.applyErr, "")
			if _, err := f.reconcile(t, "team-a", "web"); err != nil {
				t.Fatal(err)
			}
			c = meta.FindStatusCondition(f.get(t, "team-a", "web").Status.Conditions, ConditionSynced)
			if c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("after recovery, condition = %+v", c)
			}
		})
	}
}

// TestServiceRefusedBacksOff: repeated refusals wait longer each time, with
// jitter, and a success starts the spacing over.
func TestServiceRefusedBacksOff(t *testing.T) {
	f := newServiceFixture(t, lbService("team-a", "web"))
	f.avi.applyErr[""] = &session.Error{Op: "POST vsvip", Status: http.StatusBadRequest, Message: "No available free IPs"}
	var waits []time.Duration
	for range 4 {
		res, err := f.reconcile(t, "team-a", "web")
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, res.RequeueAfter)
	}
	for i, w := range waits {
		lo, hi := time.Duration(float64(time.Minute<<i)*0.8), time.Duration(float64(time.Minute<<i)*1.2)
		if w < lo || w > hi {
			t.Errorf("wait %d = %s, want within [%s, %s]", i, w, lo, hi)
		}
	}
	delete(f.avi.applyErr, "")
	if _, err := f.reconcile(t, "team-a", "web"); err != nil {
		t.Fatal(err)
	}
	f.avi.applyErr[""] = &session.Error{Op: "POST vsvip", Status: http.StatusBadRequest, Message: "No available free IPs"}
	res, _ := f.reconcile(t, "team-a", "web")
	if res.RequeueAfter > time.Duration(float64(time.Minute)*1.2) {
		t.Errorf("after a success the wait did not start over: %s", res.RequeueAfter)
	}
}

// TestServiceInvalidIsNotPushed: a Service the rule book refuses is not
// pushed; the reason is an Event and the condition.
func TestServiceInvalidIsNotPushed(t *testing.T) {
	f := newServiceFixture(t, lbService("team-a", "web", func(s *corev1.Service) {
		s.Spec.LoadBalancerIP = "10.50.0.20"
		s.Annotations = map[string]string{"ako.vmware.com/load-balancer-ip": "10.50.0.21"}
	}))
	res, err := f.reconcile(t, "team-a", "web")
	if err != nil || res != (ctrl.Result{}) {
		t.Fatalf("reconcile = %+v, %v", res, err)
	}
	if got := f.avi.appliedOwners(); len(got) != 0 {
		t.Errorf("pushed %v", got)
	}
	c := meta.FindStatusCondition(f.get(t, "team-a", "web").Status.Conditions, ConditionSynced)
	if c == nil || c.Reason != ReasonInvalid || !strings.Contains(c.Message, "does not match spec.loadBalancerIP") {
		t.Errorf("condition = %+v", c)
	}
}

// TestServiceRelease: a Service being deleted, or no longer vipgate's, has
// its controller objects removed, its status cleared and the finalizer
// released, in that order; a failing delete keeps the finalizer.
func TestServiceRelease(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		svc  *corev1.Service
	}{
		{"deleted", lbService("team-a", "web", func(s *corev1.Service) {
			s.DeletionTimestamp = &now
			s.Finalizers = []string{ownership.CleanupFinalizer}
		})},
		{"class changed", lbService("team-a", "web", func(s *corev1.Service) {
			s.Spec.LoadBalancerClass = ptr.To("example.com/other")
			s.Finalizers = []string{ownership.CleanupFinalizer}
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.50.0.10"}}
			s.Status.Conditions = []metav1.Condition{{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonSynced, LastTransitionTime: now}}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newServiceFixture(t, tt.svc)
			f.avi.deleteErr = &session.Error{Op: "DELETE virtualservice", Status: http.StatusServiceUnavailable, Retryable: true}
			if _, err := f.reconcile(t, "team-a", "web"); err == nil {
				t.Fatal("a failed delete was not retried")
			}
			var svc corev1.Service
			if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "team-a", Name: "web"}, &svc); err != nil {
				t.Fatalf("the Service is gone although its objects are still on the controller: %v", err)
			}
			if !slices.Contains(svc.Finalizers, ownership.CleanupFinalizer) {
				t.Fatal("finalizer released before the controller objects were removed")
			}
			f.avi.deleteErr = nil
			if _, err := f.reconcile(t, "team-a", "web"); err != nil {
				t.Fatal(err)
			}
			if len(f.avi.deleted) != 1 || f.avi.deleted[0].Name != "c1--team-a-web" {
				t.Errorf("deleted %+v", f.avi.deleted)
			}
			err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "team-a", Name: "web"}, &svc)
			if tt.svc.DeletionTimestamp != nil {
				if err == nil {
					t.Errorf("deleted Service still held: finalizers %v", svc.Finalizers)
				}
				return
			}
			if slices.Contains(svc.Finalizers, ownership.CleanupFinalizer) || len(svc.Status.LoadBalancer.Ingress) > 0 ||
				meta.FindStatusCondition(svc.Status.Conditions, ConditionSynced) != nil {
				t.Errorf("not released: finalizers %v status %+v", svc.Finalizers, svc.Status)
			}
		})
	}
}

// TestBackoff: exponential from Base to Cap, jittered within ±20%, per key.
func TestBackoff(t *testing.T) {
	b := &Backoff{Base: time.Second, Cap: 8 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 8}
	for i, w := range want {
		got := b.Next("a")
		if lo, hi := time.Duration(float64(w*time.Second)*0.8), time.Duration(float64(w*time.Second)*1.2); got < lo || got > hi {
			t.Errorf("attempt %d: %s, want about %ds", i, got, w)
		}
	}
	if got := b.Next("b"); got > 1200*time.Millisecond {
		t.Errorf("another key shares the count: %s", got)
	}
	b.Reset("a")
	if got := b.Next("a"); got > 1200*time.Millisecond {
		t.Errorf("Reset did not start over: %s", got)
	}
}

// TestServiceWithVIPNotFrozenByRejectedInfra: a Service whose VsVip already
// holds an address (the inventory shows it) but whose status was never
// written, because the sync that allocated it failed halfway, is checked
// like an established one: its AviInfraSetting turning Rejected (its network
// full, say) does not freeze it. A Service without a VIP is still refused.
func TestServiceWithVIPNotFrozenByRejectedInfra(t *testing.T) {
	tests := []struct {
		name   string
		holds  bool
		pushed bool
	}{
		{"VsVip holds an address", true, true},
		{"no VIP yet", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ais := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "small"}}
			ais.Status.Status = v1beta1.StatusRejected
			svc := lbService("team-a", "web", func(s *corev1.Service) {
				s.Annotations = map[string]string{rules.AnnInfraSetting: "small"}
			})
			f := newServiceFixture(t, svc, ais)
			snap := &inventory.Snapshot{InUse: map[netip.Addr]inventory.Holder{}, VsVips: map[string][]inventory.Holder{}}
			if tt.holds {
				// As the loader records it: the VsVip, and the address it holds.
				h := inventory.Holder{VsVip: "c1--team-a-web", CreatedBy: f.r.Settings.CreatedBy(),
					Owner: ownership.ServiceOwner("team-a", "web")}
				snap.VsVips[h.VsVip] = []inventory.Holder{h}
				snap.InUse[netip.MustParseAddr("10.50.0.10")] = h
			}
			f.r.Inventory = fixedInventory{snap: snap}
			if _, err := f.reconcile(t, "team-a", "web"); err != nil {
				t.Fatal(err)
			}
			if got := len(f.avi.appliedOwners()) > 0; got != tt.pushed {
				c := meta.FindStatusCondition(f.get(t, "team-a", "web").Status.Conditions, ConditionSynced)
				t.Errorf("pushed = %v, want %v (condition %+v)", got, tt.pushed, c)
			}
		})
	}
}

// TestJoinedServiceDropsItsOwnVIP: a Service that joined a shared-VIP group
// but whose own key, syncing from a cache without the annotation, wrote its
// standalone VIP over the group's, loses that entry when its standalone
// objects go; the emptied status brings the group's key back to write the
// group's VIP. It used to show the deleted VsVip's address for good.
func TestJoinedServiceDropsItsOwnVIP(t *testing.T) {
	svc := lbService("team-a", "web", func(s *corev1.Service) {
		s.Annotations = map[string]string{rules.AnnSharedVIP: "front"}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.50.0.16"}}
	})
	f := newServiceFixture(t, svc)
	f.avi.held["c1--team-a-web"] = "10.50.0.16"
	if _, err := f.reconcile(t, "team-a", "web"); err != nil {
		t.Fatal(err)
	}
	if len(f.avi.deleted) != 1 || f.avi.deleted[0].Name != "c1--team-a-web" {
		t.Errorf("deleted %+v, want its own objects", f.avi.deleted)
	}
	if got := f.get(t, "team-a", "web").Status.LoadBalancer.Ingress; len(got) != 0 {
		t.Errorf("status %v still shows the deleted VsVip's address", got)
	}
}

// TestSyncDoesNotWriteOverAChange: a sync that read the Service before it
// joined a shared-VIP group (the annotation added while the controller call
// was in flight) must not write its standalone VIP: the group's key and the
// member's own key may already have released it, and nothing would clear
// that status again (chaos seed 982738: a Service in a deselected namespace
// kept showing a VsVip that no longer existed).
func TestSyncDoesNotWriteOverAChange(t *testing.T) {
	f := newServiceFixture(t, lbService("team-a", "web"))
	f.avi.duringApply = func() {
		svc := f.get(t, "team-a", "web")
		svc.Annotations = map[string]string{rules.AnnSharedVIP: "front"}
		if err := f.c.Update(context.Background(), svc); err != nil {
			t.Errorf("join the group: %v", err)
		}
	}
	_, err := f.reconcile(t, "team-a", "web")
	if !apierrors.IsConflict(err) {
		t.Errorf("reconcile = %v, want a conflict (the Service changed while its sync ran)", err)
	}
	if got := f.get(t, "team-a", "web").Status.LoadBalancer.Ingress; len(got) != 0 {
		t.Errorf("status %v written from a Service read before it joined its group", got)
	}
}

// TestConditionDoesNotWriteOverAChange: a failure's condition is written
// with the resourceVersion the sync read, like status: a Service changed
// meanwhile (here a newer sync already set its condition) gets a conflict
// and a new reconcile, not a verdict on what it was.
func TestConditionDoesNotWriteOverAChange(t *testing.T) {
	f := newServiceFixture(t, lbService("team-a", "web"))
	f.avi.applyErr[""] = &session.Error{Op: "POST vsvip", Status: http.StatusBadRequest, Message: "refused"}
	f.avi.duringApply = func() {
		svc := f.get(t, "team-a", "web")
		svc.Status.Conditions = []metav1.Condition{{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonSynced,
			Message: "newer", LastTransitionTime: metav1.Now()}}
		if err := f.c.Status().Update(context.Background(), svc); err != nil {
			t.Errorf("a newer status: %v", err)
		}
	}
	_, err := f.reconcile(t, "team-a", "web")
	if !apierrors.IsConflict(err) {
		t.Errorf("reconcile = %v, want a conflict (the Service changed while its sync ran)", err)
	}
	if c := meta.FindStatusCondition(f.get(t, "team-a", "web").Status.Conditions, ConditionSynced); c == nil || c.Message != "newer" {
		t.Errorf("condition %+v, want the newer one kept", c)
	}
}

// servedOn makes a Service one vipgate serves on ip: its finalizer and the
// address in status.
func servedOn(ip string) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Finalizers = []string{ownership.CleanupFinalizer}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	}
}

// TestLeftServiceDropsTheGroupVIP: a Service that left its shared-VIP group
// still shows the group's VIP, which the group's other members keep. Its
// status is cleared before its own sync, so two owners never show one VIP
// while that sync waits for the controller (chaos seed 408272: the same VIP
// in the status of a Service and of its old group during an outage).
func TestLeftServiceDropsTheGroupVIP(t *testing.T) {
	svc := lbService("team-a", "web", servedOn("10.50.0.16"))
	f := newServiceFixture(t, svc)
	f.r.Settings.ClusterID = "uid-c1"
	f.r.Inventory = fixedInventory{snap: &inventory.Snapshot{InUse: map[netip.Addr]inventory.Holder{
		netip.MustParseAddr("10.50.0.16"): {VsVip: "c1--team-a-front", CreatedBy: f.r.Settings.CreatedBy(), ClusterID: f.r.Settings.ClusterID,
			Owner: ownership.SharedVIPOwner("team-a", "front")},
	}}}
	f.avi.applyErr[""] = &session.Error{Op: "POST vsvip", Status: http.StatusServiceUnavailable, Message: "controller down"}
	if _, err := f.reconcile(t, "team-a", "web"); err == nil {
		t.Error("reconcile succeeded while the controller was down")
	}
	if got := f.get(t, "team-a", "web").Status.LoadBalancer.Ingress; len(got) != 0 {
		t.Errorf("status %v still shows its old group's VIP", got)
	}
}

// TestJoinedServiceLeavesOldTenants: a Service that joined a shared-VIP
// group after its namespace moved tenant removes what it held on its own in
// the old tenant too (chaos seed 813784: its objects stayed in tenant
// green for good).
func TestJoinedServiceLeavesOldTenants(t *testing.T) {
	svc := lbService("team-a", "web", func(s *corev1.Service) {
		s.Annotations = map[string]string{rules.AnnSharedVIP: "front"}
	})
	f := newServiceFixture(t, svc)
	f.r.rememberTenantMove("team-a/web", "green")
	if _, err := f.reconcile(t, "team-a", "web"); err != nil {
		t.Fatal(err)
	}
	if got, want := deletedTenants(f.avi), []string{f.r.Settings.ControllerSettings.TenantName, "green"}; !slices.Equal(got, want) {
		t.Errorf("deleted its own objects in tenants %v, want %v", got, want)
	}
}

// TestGroupOfRefusedMembersLetsTheLeavingGo: a group's served member is
// deleted while the only other member is refused by the rule book (and was
// never served). The group's objects served only the member leaving: they
// are deleted with it, instead of its pools staying on the group's virtual
// service (chaos seed 301685).
func TestGroupOfRefusedMembersLetsTheLeavingGo(t *testing.T) {
	ais := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "small"}}
	ais.Status.Status = v1beta1.StatusRejected
	now := metav1.Now()
	leaving := lbService("team-a", "web", func(s *corev1.Service) {
		s.Annotations = map[string]string{rules.AnnSharedVIP: "front"}
		s.Finalizers = []string{ownership.CleanupFinalizer}
		s.DeletionTimestamp = &now
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.50.0.10"}}
	})
	refused := lbService("team-a", "api", func(s *corev1.Service) {
		s.Annotations = map[string]string{rules.AnnSharedVIP: "front", rules.AnnInfraSetting: "small"}
	})
	f := newServiceFixture(t, leaving, refused, ais)
	f.r.Inventory = fixedInventory{snap: &inventory.Snapshot{InUse: map[netip.Addr]inventory.Holder{}}}
	if _, err := f.reconcile(t, "team-a", groupPrefix+"front"); err != nil {
		t.Fatal(err)
	}
	if len(f.avi.applied) != 0 {
		t.Errorf("applied %v for a group whose members are all refused", f.avi.appliedOwners())
	}
	var deleted []string
	for _, o := range f.avi.deleted {
		deleted = append(deleted, o.Name+fmt.Sprint(o.PoolBases))
	}
	if !slices.Contains(deleted, "c1--team-a-front[c1--team-a-web-front]") {
		t.Errorf("deleted %v, want the group's objects with the leaving member's pools", deleted)
	}
	var svc corev1.Service
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "team-a", Name: "web"}, &svc); !apierrors.IsNotFound(err) {
		t.Errorf("the member leaving is still there (finalizers %v): %v", svc.Finalizers, err)
	}
}

// TestStaleInventoryDropsNoVIP: a Service with its own VsVip whose address
// the inventory still shows with the Service that held it before (a
// snapshot older than the reallocation) keeps its status (chaos seed 4: a
// VIP vanished from an unchanged Service's status).
func TestStaleInventoryDropsNoVIP(t *testing.T) {
	svc := lbService("coll", "a-web", servedOn("10.50.0.16"))
	f := newServiceFixture(t, svc)
	f.r.Settings.ClusterID = "uid-c1"
	mine := inventory.Holder{VsVip: "c1--coll-a-web", CreatedBy: f.r.Settings.CreatedBy(), ClusterID: "uid-c1", Owner: ownership.ServiceOwner("coll", "a-web")}
	f.r.Inventory = fixedInventory{snap: &inventory.Snapshot{
		InUse: map[netip.Addr]inventory.Holder{netip.MustParseAddr("10.50.0.16"): {VsVip: "c1--coll-front",
			CreatedBy: f.r.Settings.CreatedBy(), ClusterID: "uid-c1", Owner: ownership.SharedVIPOwner("coll", "front")}},
		VsVips: map[string][]inventory.Holder{mine.VsVip: {mine}},
	}}
	f.avi.applyErr[""] = &session.Error{Op: "PUT vsvip", Status: http.StatusServiceUnavailable, Message: "controller down"}
	_, _ = f.reconcile(t, "coll", "a-web")
	if got := f.get(t, "coll", "a-web").Status.LoadBalancer.Ingress; len(got) != 1 {
		t.Errorf("status %v, want its VIP kept", got)
	}
}
