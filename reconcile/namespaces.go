package reconcile

import (
	"context"
	"slices"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/webhooks"
)

// namespace reads a Service's Namespace from the cache. One not in the cache
// (yet) comes back bare, with only its name, so the block list still applies.
func (r *ServiceReconciler) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, types.NamespacedName{Name: name}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, nil
		}
		return nil, err
	}
	return &ns, nil
}

// namespaceHandler maps a Namespace change that matters to the namespace's
// Services: its labels (namespaceSelector: a namespace that stops matching
// has its Services' objects removed and their status cleared) and its
// annotations (tenant, AviInfraSetting). A tenant change is remembered per
// Service, so its reconcile also removes what the old tenant holds.
func (r *ServiceReconciler) namespaceHandler() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			o, n := e.ObjectOld, e.ObjectNew
			if mapsEqual(o.GetLabels(), n.GetLabels()) && mapsEqual(o.GetAnnotations(), n.GetAnnotations()) {
				return
			}
			oldTenant := o.GetAnnotations()[rules.AnnTenant]
			if oldTenant == "" {
				oldTenant = r.Settings.ControllerSettings.TenantName
			}
			newTenant := n.GetAnnotations()[rules.AnnTenant]
			if newTenant == "" {
				newTenant = r.Settings.ControllerSettings.TenantName
			}
			reqs := r.servicesIn(ctx, n.GetName())
			for _, req := range reqs {
				if oldTenant != newTenant {
					r.rememberTenantMove(req.String(), oldTenant)
				}
				q.Add(req)
			}
			logr.FromContextOrDiscard(ctx).Info("namespace changed; requeueing its Services", "namespace", n.GetName(),
				"services", len(reqs), "selected", rules.NamespaceSelected(n.(*corev1.Namespace), r.Settings), "tenant", newTenant)
		},
	}
}

// servicesIn lists the Services of a namespace that are or were vipgate's.
func (r *ServiceReconciler) servicesIn(ctx context.Context, ns string) []ctrl.Request {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs, client.InNamespace(ns)); err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range svcs.Items {
		s := &svcs.Items[i]
		if rules.OwnsService(s, r.Settings) || controllerutil.ContainsFinalizer(s, webhooks.CleanupFinalizer) {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(s)})
		}
	}
	return out
}

func (r *ServiceReconciler) rememberTenantMove(key, tenant string) {
	for {
		cur, loaded := r.tenantMoves.LoadOrStore(key, []string{tenant})
		if !loaded {
			return
		}
		list := cur.([]string)
		if slices.Contains(list, tenant) {
			return
		}
		if r.tenantMoves.CompareAndSwap(key, cur, append(slices.Clone(list), tenant)) {
			return
		}
	}
}

// leaveOldTenants deletes owner's objects from the tenants the Service's
// namespace named before its tenant annotation changed, once the objects
// exist in the new tenant (or the Service was released). What a restart
// forgets here, start-up orphan collection removes.
func (r *ServiceReconciler) leaveOldTenants(ctx context.Context, svc *corev1.Service, owner apply.Owner) error {
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}.String()
	v, ok := r.tenantMoves.LoadAndDelete(key)
	if !ok {
		return nil
	}
	olds := v.([]string)
	for i, t := range olds {
		if t == owner.Tenant {
			continue
		}
		o := owner
		o.Tenant = t
		res, err := r.Applier.Delete(ctx, o)
		if err != nil {
			// Try again at the next reconcile.
			for _, rest := range olds[i:] {
				r.rememberTenantMove(key, rest)
			}
			return err
		}
		logr.FromContextOrDiscard(ctx).Info("left the old tenant", "from", t, "to", owner.Tenant, "deleted", res.Deleted)
	}
	return nil
}
