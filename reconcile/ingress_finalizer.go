package reconcile

import (
	"context"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
)

// IngressFinalizerReconciler keeps vipgate's cleanup finalizer on the
// Ingresses it owns, and lets one go once it is deleted or no longer
// vipgate's and no shard serves it any more: when none of its status entries
// is at an address one of this cluster's VsVips holds. Shards remove the
// entries at their addresses when they drop an Ingress (see
// IngressReconciler), and that status change brings the Ingress back here.
type IngressFinalizerReconciler struct {
	Client    client.Client
	Settings  *config.Settings
	Inventory inventory.Source
	// AKOGate, when set, holds the removal of AKO's finalizer while AKO
	// still runs (it would put it back).
	AKOGate func(context.Context) error
}

// AKOIngressFinalizer is the finalizer AKO puts on the Ingresses it serves.
const AKOIngressFinalizer = "ingress.ako.vmware.com/finalizer"

// Reconcile adds or releases the finalizer of one Ingress, and removes AKO's
// when AKO's objects are adopted (AKOSettings.adoptAKOObjects).
func (r *IngressFinalizerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ing networkingv1.Ingress
	if err := r.Client.Get(ctx, req.NamespacedName, &ing); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	class, err := cluster.OwnsIngress(ctx, r.Client, &ing, r.Settings)
	if err != nil {
		return ctrl.Result{}, err
	}
	has := controllerutil.ContainsFinalizer(&ing, ownership.CleanupFinalizer)
	// AKO's finalizer goes when vipgate takes the Ingress over: no AKO is
	// left to remove it, and deleting the Ingress would hang on it forever.
	dropAKO := class != nil && bool(r.Settings.AKOSettings.AdoptAKOObjects) && controllerutil.ContainsFinalizer(&ing, AKOIngressFinalizer)
	var retry ctrl.Result
	if dropAKO && r.AKOGate != nil {
		if err := r.AKOGate(ctx); err != nil {
			logr.FromContextOrDiscard(ctx).Info("keeping AKO's finalizer for now", "reason", err.Error())
			dropAKO, retry = false, ctrl.Result{RequeueAfter: 30 * time.Second}
		}
	}
	if class != nil && ing.DeletionTimestamp == nil {
		add := !has && !bool(r.Settings.AKOSettings.DeleteConfig)
		if !add && !dropAKO {
			return retry, nil
		}
		patch := lockedPatch(&ing)
		if add {
			controllerutil.AddFinalizer(&ing, ownership.CleanupFinalizer)
		}
		if dropAKO {
			controllerutil.RemoveFinalizer(&ing, AKOIngressFinalizer)
			logr.FromContextOrDiscard(ctx).Info("removed AKO's finalizer", "finalizer", AKOIngressFinalizer)
		}
		return retry, client.IgnoreNotFound(r.Client.Patch(ctx, &ing, patch))
	}
	if dropAKO {
		patch := lockedPatch(&ing)
		controllerutil.RemoveFinalizer(&ing, AKOIngressFinalizer)
		if err := r.Client.Patch(ctx, &ing, patch); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if !has {
		return ctrl.Result{}, nil
	}
	served, known := r.stillServed(&ing)
	switch {
	case !known:
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	case served:
		// The shards' status patches bring it back; the delay is a safety net.
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	patch := lockedPatch(&ing)
	controllerutil.RemoveFinalizer(&ing, ownership.CleanupFinalizer)
	if err := r.Client.Patch(ctx, &ing, patch); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	logr.FromContextOrDiscard(ctx).Info("released", "deleted", ing.DeletionTimestamp != nil)
	return ctrl.Result{}, nil
}

// stillServed reports whether a status entry of ing is at an address a VsVip
// of this cluster holds; known is false when that cannot be told yet. Status
// entries are written only after the write that allocated their address, so
// an inventory without writes since it was loaded (not dirty) holds every
// address an entry can name; a dirty one may lack a shard created since, and
// is waited out.
func (r *IngressFinalizerReconciler) stillServed(ing *networkingv1.Ingress) (served, known bool) {
	if len(ing.Status.LoadBalancer.Ingress) == 0 {
		return false, true
	}
	if r.Inventory == nil {
		return false, true
	}
	snap := r.Inventory.Snapshot()
	if d, ok := r.Inventory.(interface{ Dirty() bool }); snap == nil || (ok && d.Dirty()) {
		return false, false
	}
	for _, e := range ing.Status.LoadBalancer.Ingress {
		a, err := netip.ParseAddr(e.IP)
		if err != nil {
			continue
		}
		if h, ok := snap.InUse[a]; ok && h.CreatedBy == r.Settings.CreatedBy() {
			return true, true
		}
	}
	return false, true
}

// SetupWithManager watches Ingresses, and IngressClasses and Namespaces
// (which decide what is vipgate's).
func (r *IngressFinalizerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		var list networkingv1.IngressList
		opts := []client.ListOption{client.UnsafeDisableDeepCopy}
		if _, ok := o.(*corev1.Namespace); ok {
			opts = append(opts, client.InNamespace(o.GetName()))
		}
		if err := r.Client.List(ctx, &list, opts...); err != nil {
			return nil
		}
		out := make([]ctrl.Request, 0, len(list.Items))
		for i := range list.Items {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return out
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("ingress-finalizer").
		For(&networkingv1.Ingress{}).
		Watches(&networkingv1.IngressClass{}, all).
		Watches(&corev1.Namespace{}, all).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}
