// Package reconcile holds vipgate's controllers: Services of type LoadBalancer
// into Avi virtual services (with the VIP written back to status),
// AviInfraSetting status, and start-up collection of orphaned controller objects.
// Each Reconcile is idempotent: it builds the desired model from the cluster,
// lets the applier send only what differs, and patches status only on change.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/webhooks"
)

// Condition type and reasons vipgate writes on Services.
const (
	ConditionSynced = "AviSynced"

	ReasonSynced          = "Synced"
	ReasonInvalid         = "Invalid"
	ReasonControllerError = "ControllerError"
	ReasonControllerDown  = "ControllerUnavailable"
)

// Applier sends a desired model to the controller; implemented by avi/apply.
type Applier interface {
	// Apply makes the controller hold exactly set; Result.VsVip is the VsVip as the controller has it.
	Apply(ctx context.Context, set *model.Set) (*apply.Result, error)
	// Delete removes every object of owner.
	Delete(ctx context.Context, owner apply.Owner) (*apply.Result, error)
}

// ServiceReconciler turns Services vipgate owns into controller objects.
type ServiceReconciler struct {
	Client    client.Client
	Recorder  record.EventRecorder
	Settings  *config.Settings
	Applier   Applier
	Inventory webhooks.InventorySource
	// Lookups are the same cache reads admission uses, so the rule book sees the same world.
	Lookups rules.Lookups
	// RetryBadRequest is how long to wait before retrying after the controller refused the request (400).
	RetryBadRequest time.Duration
	// Name makes the controller name unique when tests start several managers in one process.
	Name string
	Now  func() time.Time

	// tenantMoves remembers, per Service ("ns/name"), the tenants its
	// namespace annotation named before (see leaveOldTenants).
	tenantMoves sync.Map
}

// Reconcile is idempotent: the same cluster and controller state produce no writes.
func (r *ServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	var svc corev1.Service
	if err := r.Client.Get(ctx, req.NamespacedName, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			// Nothing to do: the finalizer is set before the first controller write,
			// so a Service that is gone has had its objects removed. Only one whose
			// finalizer was stripped by hand can leave objects behind, and start-up
			// orphan collection takes those. Asking the controller here would cost
			// reads for every EndpointSlice event of a Service that is not ours.
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	ns, err := r.namespace(ctx, req.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}

	owned := rules.OwnsService(&svc, r.Settings) && rules.NamespaceSelected(ns, r.Settings)
	if svc.DeletionTimestamp != nil || !owned {
		return r.release(ctx, &svc, ns)
	}
	if !controllerutil.ContainsFinalizer(&svc, webhooks.CleanupFinalizer) {
		// Normally set at admission; a Service created while the webhook was down gets it here.
		patch := client.MergeFrom(svc.DeepCopy())
		controllerutil.AddFinalizer(&svc, webhooks.CleanupFinalizer)
		if err := r.Client.Patch(ctx, &svc, patch); err != nil {
			return ctrl.Result{}, err
		}
	}

	env := r.env()
	if res := rules.ValidateService(&svc, nil, env); !res.Allowed() {
		msg := res.Err().Error()
		log.Info("not pushed: rule book rejects the Service", "reason", msg)
		r.Recorder.Event(&svc, corev1.EventTypeWarning, ReasonInvalid, msg)
		return ctrl.Result{}, r.setCondition(ctx, &svc, metav1.ConditionFalse, ReasonInvalid, msg)
	}

	in, err := r.modelInput(ctx, &svc, env.Inventory)
	if err != nil {
		return ctrl.Result{}, err
	}
	set, err := model.BuildL4(in)
	if err != nil {
		r.Recorder.Event(&svc, corev1.EventTypeWarning, ReasonInvalid, err.Error())
		return ctrl.Result{}, r.setCondition(ctx, &svc, metav1.ConditionFalse, ReasonInvalid, err.Error())
	}
	set.Tenant = rules.TenantFor(ns, r.Settings)
	res, err := r.Applier.Apply(ctx, set)
	if err != nil {
		return r.controllerFailed(ctx, &svc, err)
	}
	if err := r.leaveOldTenants(ctx, &svc, apply.OwnerOf(set)); err != nil {
		return r.controllerFailed(ctx, &svc, err)
	}
	addrs := model.AllocatedAddresses(res.VsVip)
	if len(addrs) == 0 {
		return r.controllerFailed(ctx, &svc, fmt.Errorf("the controller returned VsVip %s without an address", set.Owner))
	}
	for _, m := range in.Members {
		if err := r.writeStatus(ctx, m.Service, addrs, model.FQDNs(r.Settings, m.Service)); err != nil {
			return ctrl.Result{}, err
		}
	}
	if res.Writes > 0 {
		log.Info("synced", "virtualservice", set.Owner, "vip", addrs, "created", res.Created, "updated", res.Updated, "deleted", res.Deleted)
	}
	return ctrl.Result{}, nil
}

// owner names the controller objects of a Service that is not in a shared-VIP group.
func (r *ServiceReconciler) owner(namespace, name, tenant string) apply.Owner {
	base := model.BaseName(r.Settings.AKOSettings.ClusterName, namespace, name)
	return apply.Owner{Name: base, CreatedBy: r.Settings.CreatedBy(), Tenant: tenant, PoolBases: []string{base}}
}

func (r *ServiceReconciler) env() rules.Env {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	env := rules.Env{Settings: r.Settings, Lookups: r.Lookups, Now: now()}
	if r.Inventory != nil {
		env.Inventory = r.Inventory.Snapshot()
	}
	// The reconciler always checks against what it has: a stale inventory is still
	// the best knowledge, and the controller has the last word on allocation.
	env.InventoryStale = env.Inventory == nil
	return env
}

// modelInput gathers the Service (or its shared-VIP group) and what its pools need.
func (r *ServiceReconciler) modelInput(ctx context.Context, svc *corev1.Service, snap *inventory.Snapshot) (model.L4Input, error) {
	in := model.L4Input{Settings: r.Settings, Snapshot: snap}
	ns, err := r.namespace(ctx, svc.Namespace)
	if err != nil {
		return in, err
	}
	if name := rules.InfraSettingName(svc, ns); name != "" {
		var ais v1beta1.AviInfraSetting
		if err := r.Client.Get(ctx, types.NamespacedName{Name: name}, &ais); err != nil {
			return in, fmt.Errorf("AviInfraSetting %q: %w", name, err)
		}
		in.Infra = &ais
	}
	members := []*corev1.Service{svc}
	if key := svc.Annotations[rules.AnnSharedVIP]; key != "" {
		in.SharedKey = key
		members = members[:0]
		for _, m := range r.Lookups.ServicesBySharedVIPKey(svc.Namespace, key) {
			if m.DeletionTimestamp == nil && rules.OwnsService(m, r.Settings) {
				members = append(members, m)
			}
		}
	}
	for _, m := range members {
		var slices discoveryv1.EndpointSliceList
		if !model.NodePortMode(r.Settings) {
			if err := r.Client.List(ctx, &slices, client.InNamespace(m.Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: m.Name}); err != nil {
				return in, err
			}
		}
		in.Members = append(in.Members, model.Member{Service: m, Slices: slices.Items})
	}
	if model.NodePortMode(r.Settings) {
		addrs, err := r.nodeAddresses(ctx)
		if err != nil {
			return in, err
		}
		in.NodeAddresses = addrs
	}
	return in, nil
}

// nodeAddresses are the InternalIPs of the nodes matching nodePortSelector.
func (r *ServiceReconciler) nodeAddresses(ctx context.Context) ([]string, error) {
	var nodes corev1.NodeList
	opts := []client.ListOption{}
	if sel := r.Settings.NodePortSelector; sel.Key != "" {
		opts = append(opts, client.MatchingLabels{sel.Key: sel.Value})
	}
	if err := r.Client.List(ctx, &nodes, opts...); err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				out = append(out, a.Address)
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// release removes the controller objects of a Service that is going away or is
// no longer vipgate's, then lets it go (finalizer, status).
func (r *ServiceReconciler) release(ctx context.Context, svc *corev1.Service, ns *corev1.Namespace) (ctrl.Result, error) {
	tenant := rules.TenantFor(ns, r.Settings)
	if key := svc.Annotations[rules.AnnSharedVIP]; key != "" && svc.DeletionTimestamp != nil {
		// The group lives on without this member: rebuild it from the others.
		if err := r.resyncSharedGroup(ctx, svc, key, tenant); err != nil {
			return r.controllerFailed(ctx, svc, err)
		}
	} else if controllerutil.ContainsFinalizer(svc, webhooks.CleanupFinalizer) || len(svc.Status.LoadBalancer.Ingress) > 0 {
		owner := r.owner(svc.Namespace, svc.Name, tenant)
		if key := svc.Annotations[rules.AnnSharedVIP]; key != "" {
			// A shared-VIP member whose namespace stopped being selected: the
			// whole group goes, since every member shares the namespace.
			owner.Name = model.BaseName(r.Settings.AKOSettings.ClusterName, svc.Namespace, key)
		}
		if _, err := r.Applier.Delete(ctx, owner); err != nil {
			return r.controllerFailed(ctx, svc, err)
		}
		if err := r.leaveOldTenants(ctx, svc, owner); err != nil {
			return r.controllerFailed(ctx, svc, err)
		}
	}
	if svc.DeletionTimestamp == nil && (len(svc.Status.LoadBalancer.Ingress) > 0 || meta.FindStatusCondition(svc.Status.Conditions, ConditionSynced) != nil) {
		// No longer ours (type or class changed): clear what we wrote. The API
		// server itself drops status.loadBalancer when the type leaves
		// LoadBalancer, so our condition can be all that is left to clear.
		patch := client.MergeFrom(svc.DeepCopy())
		svc.Status.LoadBalancer.Ingress = nil
		meta.RemoveStatusCondition(&svc.Status.Conditions, ConditionSynced)
		if err := r.Client.Status().Patch(ctx, svc, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	if controllerutil.ContainsFinalizer(svc, webhooks.CleanupFinalizer) {
		patch := client.MergeFrom(svc.DeepCopy())
		controllerutil.RemoveFinalizer(svc, webhooks.CleanupFinalizer)
		if err := r.Client.Patch(ctx, svc, patch); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	logr.FromContextOrDiscard(ctx).Info("released", "deleted", svc.DeletionTimestamp != nil)
	return ctrl.Result{}, nil
}

func (r *ServiceReconciler) resyncSharedGroup(ctx context.Context, leaving *corev1.Service, key, tenant string) error {
	cluster := r.Settings.AKOSettings.ClusterName
	var rest []model.Member
	bases := []string{model.BaseName(cluster, leaving.Namespace, leaving.Name)}
	for _, m := range r.Lookups.ServicesBySharedVIPKey(leaving.Namespace, key) {
		if m.UID != leaving.UID && m.DeletionTimestamp == nil && rules.OwnsService(m, r.Settings) {
			rest = append(rest, model.Member{Service: m})
		}
	}
	if len(rest) == 0 {
		_, err := r.Applier.Delete(ctx, apply.Owner{
			Name: model.BaseName(cluster, leaving.Namespace, key), CreatedBy: r.Settings.CreatedBy(),
			Tenant: tenant, PoolBases: bases,
		})
		return err
	}
	// Requeue a remaining member: its reconcile rebuilds the group with endpoints.
	in, err := r.modelInput(ctx, rest[0].Service, r.env().Inventory)
	if err != nil {
		return err
	}
	var keep []model.Member
	for _, m := range in.Members {
		if m.Service.UID != leaving.UID {
			keep = append(keep, m)
		}
	}
	in.Members = keep
	set, err := model.BuildL4(in)
	if err != nil {
		return err
	}
	// The leaving member's pools are no longer in the set, so Apply deletes them;
	// it only finds them if their base is listed.
	set.PoolBases = append(set.PoolBases, bases...)
	set.Tenant = tenant
	_, err = r.Applier.Apply(ctx, set)
	return err
}

// controllerFailed records a controller error on the Service and decides the retry:
// transient errors back off through the work queue; a refused request (400, e.g.
// "No available free IPs") waits longer, since retrying at once cannot help.
func (r *ServiceReconciler) controllerFailed(ctx context.Context, svc *corev1.Service, err error) (ctrl.Result, error) {
	msg := session.Message(err)
	reason := ReasonControllerError
	if session.IsRetryable(err) {
		reason = ReasonControllerDown
	}
	logr.FromContextOrDiscard(ctx).Info("controller refused or failed", "reason", reason, "error", msg)
	r.Recorder.Event(svc, corev1.EventTypeWarning, reason, msg)
	if cerr := r.setCondition(ctx, svc, metav1.ConditionFalse, reason, msg); cerr != nil {
		return ctrl.Result{}, errors.Join(err, cerr)
	}
	if session.IsBadRequest(err) {
		wait := r.RetryBadRequest
		if wait == 0 {
			wait = time.Minute
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return ctrl.Result{}, err
}

func (r *ServiceReconciler) setCondition(ctx context.Context, svc *corev1.Service, status metav1.ConditionStatus, reason, msg string) error {
	patch := client.MergeFrom(svc.DeepCopy())
	if !meta.SetStatusCondition(&svc.Status.Conditions, metav1.Condition{
		Type: ConditionSynced, Status: status, Reason: reason, Message: msg, ObservedGeneration: svc.Generation,
	}) {
		return nil
	}
	return client.IgnoreNotFound(r.Client.Status().Patch(ctx, svc, patch))
}

// writeStatus sets the VIPs (read from the controller's VsVip) and the Synced
// condition, with one status patch and only when something changed.
func (r *ServiceReconciler) writeStatus(ctx context.Context, svc *corev1.Service, addrs []netip.Addr, fqdns []string) error {
	var want []corev1.LoadBalancerIngress
	for i, a := range addrs {
		in := corev1.LoadBalancerIngress{IP: a.String(), IPMode: ptrTo(corev1.LoadBalancerIPModeVIP)}
		if i < len(fqdns) {
			in.Hostname = fqdns[i]
		}
		want = append(want, in)
	}
	patch := client.MergeFrom(svc.DeepCopy())
	changed := !ingressEqual(svc.Status.LoadBalancer.Ingress, want)
	svc.Status.LoadBalancer.Ingress = want
	if meta.SetStatusCondition(&svc.Status.Conditions, metav1.Condition{
		Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonSynced,
		Message: "virtual service is on the controller", ObservedGeneration: svc.Generation,
	}) {
		changed = true
	}
	if !changed {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, svc, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.Recorder.Eventf(svc, corev1.EventTypeNormal, ReasonSynced, "VIP %s on the controller", want[0].IP)
	return nil
}

func ingressEqual(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname
	})
}

func ptrTo[T any](v T) *T { return &v }

// SetupWithManager watches Services, their EndpointSlices, AviInfraSettings
// (Services using one are requeued when it changes) and, in NodePort mode, Nodes.
func (r *ServiceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	name := "service"
	if r.Name != "" {
		name = r.Name
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(name).
		For(&corev1.Service{}, builder.WithPredicates(servicePredicate{s: r.Settings})).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(sliceToService)).
		Watches(&v1beta1.AviInfraSetting{}, handler.EnqueueRequestsFromMapFunc(r.infraToServices)).
		// Namespace labels select (namespaceSelector) and annotations pick the
		// tenant and AviInfraSetting: a change re-reconciles the namespace's Services.
		Watches(&corev1.Namespace{}, r.namespaceHandler()).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8})
	if model.NodePortMode(r.Settings) {
		b = b.Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.allOwned))
	}
	return b.Complete(r)
}

func sliceToService(_ context.Context, o client.Object) []ctrl.Request {
	name := o.GetLabels()[discoveryv1.LabelServiceName]
	if name == "" {
		return nil
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

func (r *ServiceReconciler) infraToServices(ctx context.Context, o client.Object) []ctrl.Request {
	var out []ctrl.Request
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs, client.MatchingFields{webhooks.IndexInfraSetting: o.GetName()}); err == nil {
		for _, s := range svcs.Items {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
		}
	}
	var nss corev1.NamespaceList
	if err := r.Client.List(ctx, &nss, client.MatchingFields{webhooks.IndexInfraSetting: o.GetName()}); err == nil {
		for _, ns := range nss.Items {
			var inNS corev1.ServiceList
			if err := r.Client.List(ctx, &inNS, client.InNamespace(ns.Name)); err == nil {
				for _, s := range inNS.Items {
					if rules.OwnsService(&s, r.Settings) {
						out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
					}
				}
			}
		}
	}
	return out
}

func (r *ServiceReconciler) allOwned(ctx context.Context, _ client.Object) []ctrl.Request {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs); err != nil {
		return nil
	}
	var out []ctrl.Request
	for _, s := range svcs.Items {
		if rules.OwnsService(&s, r.Settings) {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
		}
	}
	return out
}

// servicePredicate passes Services that are or were vipgate's, and only for
// changes that matter: spec, annotations, deletion. Our own status
// patches do not trigger another reconcile.
type servicePredicate struct {
	predicate.Funcs
	s *config.Settings
}

func (p servicePredicate) relevant(o client.Object) bool {
	svc, ok := o.(*corev1.Service)
	return ok && (rules.OwnsService(svc, p.s) || controllerutil.ContainsFinalizer(svc, webhooks.CleanupFinalizer))
}

func (p servicePredicate) Create(e event.CreateEvent) bool { return p.relevant(e.Object) }
func (p servicePredicate) Delete(e event.DeleteEvent) bool { return p.relevant(e.Object) }
func (p servicePredicate) Generic(e event.GenericEvent) bool {
	return p.relevant(e.Object)
}
func (p servicePredicate) Update(e event.UpdateEvent) bool {
	if !p.relevant(e.ObjectNew) && !p.relevant(e.ObjectOld) {
		return false
	}
	o, n := e.ObjectOld, e.ObjectNew
	// Services have no metadata.generation (it stays 0 on spec changes), so
	// the spec itself is compared: a port, type or IP change must reconcile.
	return !equality.Semantic.DeepEqual(o.(*corev1.Service).Spec, n.(*corev1.Service).Spec) ||
		!mapsEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		n.GetDeletionTimestamp() != nil ||
		// Status edited by someone else (or lost): put our VIP back.
		!ingressEqual(o.(*corev1.Service).Status.LoadBalancer.Ingress, n.(*corev1.Service).Status.LoadBalancer.Ingress) && len(n.(*corev1.Service).Status.LoadBalancer.Ingress) == 0
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
