package reconcile

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// ServiceReconciler turns Services vipgate owns into controller objects.
type ServiceReconciler struct {
	// FullSync, when set, queues every key at each of its rounds (drift repair).
	FullSync  *FullSync
	Client    client.Client
	Recorder  record.EventRecorder
	Settings  *config.Settings
	Applier   Applier
	Inventory inventory.Source
	// Lookups are the same cache reads admission uses, so the rule book sees the same world.
	Lookups rules.Lookups
	// RetryBadRequest is the first wait after the controller refused a request
	// (400); later attempts wait exponentially longer. Default one minute.
	RetryBadRequest time.Duration
	Now             func() time.Time

	backoffOnce sync.Once
	backoff     *Backoff

	// tenantMoves remembers, per work-queue key ("ns/name", or a shared-VIP
	// group's), the tenants its namespace annotation named before (see
	// leaveOldTenants). (A sync.Map of slices panicked on the second
	// tenant: CompareAndSwap compares values, and slices are not comparable.)
	movesMu     sync.Mutex
	tenantMoves map[string][]string
	// groupServed is each shared-VIP group's last sync by this process
	// (see refuseVIPMoves): the cache can lag the status it wrote.
	groupServed map[string]served
}

// Reconcile is idempotent: the same cluster and controller state produce no writes.
func (r *ServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if key, ok := sharedVIPKey(req); ok {
		return r.reconcileGroup(ctx, req.Namespace, key)
	}
	var svc corev1.Service
	if err := r.Client.Get(ctx, req.NamespacedName, &svc); err != nil {
		// A Service that is gone has had its objects removed: the finalizer is
		// set before the first controller write. Only one whose finalizer was
		// stripped by hand can leave objects behind, and start-up orphan
		// collection takes those. Asking the controller here would cost reads
		// for every EndpointSlice event of a Service that is not ours.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ns, err := cluster.Namespace(ctx, r.Client, req.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	owned := ownership.OwnsService(&svc, r.Settings) && ownership.NamespaceSelected(ns, r.Settings)
	if svc.Annotations[rules.AnnSharedVIP] != "" {
		// Its shared-VIP group's key syncs and releases it; this key only
		// comes up when it joins a group, and what it held alone goes.
		return r.leaveStandalone(ctx, &svc, ns)
	}
	if svc.DeletionTimestamp != nil || !owned {
		return r.release(ctx, &svc, ns)
	}
	if err := r.ensureFinalizer(ctx, &svc); err != nil {
		return ctrl.Result{}, err
	}
	return r.sync(ctx, &svc, ns)
}

// ensureFinalizer adds the cleanup finalizer, normally set at admission; a
// Service created while the webhook was down gets it here, before any write.
func (r *ServiceReconciler) ensureFinalizer(ctx context.Context, svc *corev1.Service) error {
	if controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer) {
		return nil
	}
	patch := lockedPatch(svc)
	controllerutil.AddFinalizer(svc, ownership.CleanupFinalizer)
	return r.Client.Patch(ctx, svc, patch)
}

// sync checks the Service with the rule book, pushes its model and writes
// the VIPs the controller allocated to the status of every member.
func (r *ServiceReconciler) sync(ctx context.Context, svc *corev1.Service, ns *corev1.Namespace) (ctrl.Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	env := r.env(ctx)
	if r.Inventory != nil && env.Inventory == nil {
		// A VsVip is never built without the controller's view: a model from
		// nothing could rewrite a multi-vip VsVip as single-vip.
		log.V(1).Info("waiting for the controller inventory")
		return ctrl.Result{RequeueAfter: inventoryWait}, nil
	}
	if err := r.dropOthersVIPs(ctx, svc, env.Inventory); err != nil {
		return ctrl.Result{}, err
	}
	old := established(svc)
	if old == nil && r.holdsVIP(svc, env.Inventory) {
		// Its VsVip got an address but the sync that would have written
		// status did not finish (a controller error, a restart): it has a
		// VIP all the same, and must not freeze when its AviInfraSetting
		// fills up or turns Rejected.
		old = svc
	}
	if res := rules.ValidateService(svc, old, env); !res.Allowed() {
		return ctrl.Result{}, r.invalid(ctx, svc, res.Err().Error())
	}
	in, err := r.modelInput(ctx, svc, ns, env.Inventory)
	if err != nil {
		return ctrl.Result{}, err
	}
	set, err := model.BuildL4(in)
	if err != nil {
		return ctrl.Result{}, r.invalid(ctx, svc, err.Error())
	}
	set.Tenant = ownership.TenantFor(ns, r.Settings)
	if pending, err := r.applyL4Rule(ctx, set, in.Members); err != nil || pending {
		return ruleGate(pending, err)
	}
	res, err := r.Applier.Apply(ctx, set)
	addrs := []string(nil)
	if err == nil {
		if addrs = addresses(res); len(addrs) == 0 {
			err = fmt.Errorf("the controller returned VsVip %s without an address", set.Owner)
		}
	}
	if err != nil {
		return r.failed(ctx, svc, err)
	}
	r.backoffFor().Reset(client.ObjectKeyFromObject(svc).String())
	for _, m := range in.Members {
		if err := r.writeStatus(ctx, m.Service, addrs, model.FQDNs(r.Settings, in.Snapshot, m.Service)); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The old tenant's VsVip is deleted only once status shows the new
	// addresses: deleting it first frees its addresses for others while
	// status still shows them (for as long as a restart or a controller
	// outage delays the status write), one VIP with two owners.
	if err := r.leaveOldTenants(ctx, serviceRequest(svc), apply.OwnerOf(set), env.Inventory); err != nil {
		return r.failed(ctx, svc, err)
	}
	if res.Writes > 0 {
		log.Info("synced", "virtualservice", set.Owner, "vip", addrs, "created", res.Created, "updated", res.Updated, "deleted", res.Deleted)
	}
	return ctrl.Result{}, nil
}

// inventoryWait is how long a reconcile waits for the first inventory.
const inventoryWait = 2 * time.Second

// established returns svc as its own previous version when it already has
// a VIP (status), so the rule book checks only what an update may change,
// as admission does: a Service with traffic keeps getting endpoint and port
// updates when its AviInfraSetting fills up, turns Rejected, or an admin
// edits a range under its address. New Services get every check (nil).
func established(svc *corev1.Service) *corev1.Service {
	if len(svc.Status.LoadBalancer.Ingress) > 0 {
		return svc
	}
	return nil
}

// holdsVIP reports whether the inventory shows the Service's own VsVip
// holding an address.
func (r *ServiceReconciler) holdsVIP(svc *corev1.Service, snap *inventory.Snapshot) bool {
	name := model.BaseName(r.Settings.AKOSettings.ClusterName, svc.Namespace, svc.Name)
	return snap.HoldsAddress(name, func(h inventory.Holder) bool {
		return h.CreatedBy == r.Settings.CreatedBy() && (h.Owner == "" || h.Owner == ownership.ServiceOwner(svc.Namespace, svc.Name))
	})
}

// dropOthersVIPs clears the status entries of svc that a shared-VIP group
// VsVip of this cluster in its namespace holds, while svc has no VsVip of
// its own: a Service that left its shared-VIP group still
// shows the group's VIP, which the other members keep. Left until its own
// sync succeeds (a controller outage can take minutes), it would show one VIP
// for two owners, and make the rule book judge it as established on an
// address that is not its own.
func (r *ServiceReconciler) dropOthersVIPs(ctx context.Context, svc *corev1.Service, snap *inventory.Snapshot) error {
	if snap == nil || len(svc.Status.LoadBalancer.Ingress) == 0 {
		return nil
	}
	own := model.BaseName(r.Settings.AKOSettings.ClusterName, svc.Namespace, svc.Name)
	if slices.ContainsFunc(snap.VsVips[own], func(h inventory.Holder) bool { return h.CreatedBy == r.Settings.CreatedBy() }) {
		// It has a VsVip of its own: its status comes from that one, and an
		// address the inventory shows elsewhere is more likely a snapshot
		// older than a reallocation than a VIP of its old group.
		return nil
	}
	groups := ownership.SharedVIPOwner(svc.Namespace, "")
	var keep []corev1.LoadBalancerIngress
	var dropped []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		a, err := netip.ParseAddr(in.IP)
		h, held := snap.InUse[a]
		if err == nil && held && strings.HasPrefix(h.Owner, groups) && h.CreatedBy == r.Settings.CreatedBy() &&
			h.ClusterID != "" && h.ClusterID == r.Settings.ClusterID {
			dropped = append(dropped, in.IP)
			continue
		}
		keep = append(keep, in)
	}
	if len(dropped) == 0 {
		return nil
	}
	patch := lockedPatch(svc)
	svc.Status.LoadBalancer.Ingress = keep
	if err := r.Client.Status().Patch(ctx, svc, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	logr.FromContextOrDiscard(ctx).Info("status showed VIPs another owner holds (it left a shared-VIP group); cleared", "vip", dropped)
	return nil
}

// addresses are the VIPs of an applied VsVip, as text.
func addresses(res *apply.Result) []string {
	var out []string
	for _, a := range model.AllocatedAddresses(res.VsVip) {
		out = append(out, a.String())
	}
	return out
}

// invalid reports a Service the rule book (or the model) refuses: nothing is
// pushed, the reason goes to an Event and the condition, and the Service
// waits for a change.
func (r *ServiceReconciler) invalid(ctx context.Context, svc *corev1.Service, msg string) error {
	logr.FromContextOrDiscard(ctx).Info("not pushed: rule book rejects the Service", "reason", msg)
	r.Recorder.Event(svc, corev1.EventTypeWarning, ReasonInvalid, msg)
	return r.setCondition(ctx, svc, metav1.ConditionFalse, ReasonInvalid, msg)
}

// failed reports a controller error on the Service and decides the retry.
func (r *ServiceReconciler) failed(ctx context.Context, svc *corev1.Service, err error) (ctrl.Result, error) {
	f := controllerFailed(ctx, r.Recorder, r.backoffFor(), client.ObjectKeyFromObject(svc).String(), err, svc)
	if cerr := r.setCondition(ctx, svc, metav1.ConditionFalse, f.Reason, f.Message); cerr != nil && f.Err == nil {
		return ctrl.Result{}, cerr
	}
	return f.Result, f.Err
}

func (r *ServiceReconciler) backoffFor() *Backoff {
	r.backoffOnce.Do(func() { r.backoff = &Backoff{Base: r.RetryBadRequest} })
	return r.backoff
}

// owner names the controller objects of a Service that is not in a shared-VIP group.
func (r *ServiceReconciler) owner(namespace, name, tenant string) apply.Owner {
	base := model.BaseName(r.Settings.AKOSettings.ClusterName, namespace, name)
	return apply.Owner{Name: base, CreatedBy: r.Settings.CreatedBy(), OwnedBy: ownership.ServiceOwner(namespace, name),
		ClusterID: r.Settings.ClusterID, Tenant: tenant, Namespace: namespace, PoolBases: []string{base}}
}

// snapshot is the inventory's current snapshot, nil without one.
func (r *ServiceReconciler) snapshot() *inventory.Snapshot {
	if r.Inventory == nil {
		return nil
	}
	return r.Inventory.Snapshot()
}

func (r *ServiceReconciler) env(ctx context.Context) rules.Env {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	// The reconciler judges with the best snapshot it has (staleAfter 0): the
	// controller has the last word on what it then sends.
	return rules.NewEnv(ctx, r.Settings, r.Inventory, r.Lookups, 0, now())
}

// release removes the controller objects of a Service that is going away or is
// no longer vipgate's, then lets it go (finalizer, status).
func (r *ServiceReconciler) release(ctx context.Context, svc *corev1.Service, ns *corev1.Namespace) (ctrl.Result, error) {
	tenant := ownership.TenantFor(ns, r.Settings)
	if err := r.removeObjects(ctx, svc, tenant); err != nil {
		return r.failed(ctx, svc, err)
	}
	if err := r.clearStatus(ctx, svc); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.removeFinalizer(ctx, svc); err != nil {
		return ctrl.Result{}, err
	}
	r.backoffFor().Reset(client.ObjectKeyFromObject(svc).String())
	logr.FromContextOrDiscard(ctx).Info("released", "deleted", svc.DeletionTimestamp != nil)
	return ctrl.Result{}, nil
}

// removeFinalizer lets the Service go.
func (r *ServiceReconciler) removeFinalizer(ctx context.Context, svc *corev1.Service) error {
	if !controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer) {
		return nil
	}
	patch := lockedPatch(svc)
	controllerutil.RemoveFinalizer(svc, ownership.CleanupFinalizer)
	if err := r.Client.Patch(ctx, svc, patch); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// removeObjects deletes what the Service has on the controller.
func (r *ServiceReconciler) removeObjects(ctx context.Context, svc *corev1.Service, tenant string) error {
	if !controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer) && len(svc.Status.LoadBalancer.Ingress) == 0 {
		return nil
	}
	_, err := r.deleteStandalone(ctx, svc, tenant)
	return err
}

// deleteStandalone deletes what svc holds on its own (not as a shared-VIP
// group member), in tenant and in the tenants its namespace moved away from.
func (r *ServiceReconciler) deleteStandalone(ctx context.Context, svc *corev1.Service, tenant string) (*apply.Result, error) {
	owner := r.owner(svc.Namespace, svc.Name, tenant)
	res, err := r.Applier.Delete(ctx, owner)
	if err != nil {
		return res, err
	}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(svc)}
	return res, r.leaveOldTenants(ctx, req, owner, r.snapshot())
}

// leaveStandalone removes what a Service that joined a shared-VIP group held
// on its own (virtual service, VsVip, pools); the group gets its own.
func (r *ServiceReconciler) leaveStandalone(ctx context.Context, svc *corev1.Service, ns *corev1.Namespace) (ctrl.Result, error) {
	res, err := r.deleteStandalone(ctx, svc, ownership.TenantFor(ns, r.Settings))
	if err != nil {
		return r.failed(ctx, svc, err)
	}
	if res.Writes > 0 {
		logr.FromContextOrDiscard(ctx).Info("joined a shared-VIP group: its own objects removed", "deleted", res.Deleted)
	}
	// A sync of this key that began before the Service joined (the cache
	// without the annotation yet) may have written its own VIP over the
	// group's. Drop it: a status emptied by someone else brings the group's
	// key back (servicePredicate), which writes the group's.
	gone := addresses(res)
	if slices.ContainsFunc(svc.Status.LoadBalancer.Ingress, func(in corev1.LoadBalancerIngress) bool { return slices.Contains(gone, in.IP) }) {
		patch := lockedPatch(svc)
		svc.Status.LoadBalancer.Ingress = nil
		if err := r.Client.Status().Patch(ctx, svc, patch); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// clearStatus removes what vipgate wrote on a Service that is no longer its
// own (type or class changed). The API server itself drops
// status.loadBalancer when the type leaves LoadBalancer, so the condition
// can be all that is left to clear.
func (r *ServiceReconciler) clearStatus(ctx context.Context, svc *corev1.Service) error {
	if svc.DeletionTimestamp != nil || (len(svc.Status.LoadBalancer.Ingress) == 0 && meta.FindStatusCondition(svc.Status.Conditions, ConditionSynced) == nil) {
		return nil
	}
	patch := lockedPatch(svc)
	svc.Status.LoadBalancer.Ingress = nil
	meta.RemoveStatusCondition(&svc.Status.Conditions, ConditionSynced)
	return client.IgnoreNotFound(r.Client.Status().Patch(ctx, svc, patch))
}
