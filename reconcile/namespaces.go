package reconcile

import (
	"context"
	"slices"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/ownership"
)

// namespaceHandler maps a Namespace change that matters to the namespace's
// Services: its labels (namespaceSelector: a namespace that stops matching
// has its Services' objects removed and their status cleared) and its
// annotations (tenant, AviInfraSetting). A tenant change is remembered per
// Service, so its reconcile also removes what the old tenant holds.
func (r *ServiceReconciler) namespaceHandler() handler.EventHandler {
	return handler.Funcs{
		// A Service seen before its Namespace (namespaceSelector set) waits
		// for it: the Namespace's arrival decides whether it is selected.
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			for _, req := range r.servicesIn(ctx, e.Object.GetName()) {
				q.Add(req)
			}
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			o, n := e.ObjectOld, e.ObjectNew
			if mapsEqual(o.GetLabels(), n.GetLabels()) && mapsEqual(o.GetAnnotations(), n.GetAnnotations()) {
				return
			}
			oldTenant := o.GetAnnotations()[ownership.AnnTenant]
			if oldTenant == "" {
				oldTenant = r.Settings.ControllerSettings.TenantName
			}
			newTenant := n.GetAnnotations()[ownership.AnnTenant]
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
				"services", len(reqs), "selected", ownership.NamespaceSelected(n.(*corev1.Namespace), r.Settings), "tenant", newTenant)
		},
	}
}

// rememberTenantMove adds tenant to the tenants key's Service must leave.
func (r *ServiceReconciler) rememberTenantMove(key, tenant string) {
	r.movesMu.Lock()
	defer r.movesMu.Unlock()
	if r.tenantMoves == nil {
		r.tenantMoves = map[string][]string{}
	}
	if !slices.Contains(r.tenantMoves[key], tenant) {
		r.tenantMoves[key] = append(r.tenantMoves[key], tenant)
	}
}

// takeTenantMoves returns and forgets the tenants key's Service must leave.
func (r *ServiceReconciler) takeTenantMoves(key string) []string {
	r.movesMu.Lock()
	defer r.movesMu.Unlock()
	olds := r.tenantMoves[key]
	delete(r.tenantMoves, key)
	return olds
}

// leaveOldTenants deletes owner's objects from the tenants it held them in
// before its namespace's tenant annotation changed, once the objects exist
// in the new tenant (or the owner was released). Those tenants come from two
// places: the moves the namespace handler saw (remembered in this process,
// and the only source when the account cannot read other tenants), and the
// inventory, which shows the owner's VsVip (by its identity markers) in any
// tenant: a move made while vipgate was down or before a restart is found
// there, since nothing in memory survives the restart.
//
// A reconcile that began before the move (its Namespace read from the cache
// still names the old tenant) has just written to the tenant it should
// leave: that tenant stays remembered, so the reconcile the move queued
// deletes there once it has written to the new one.
func (r *ServiceReconciler) leaveOldTenants(ctx context.Context, req ctrl.Request, owner apply.Owner, snap *inventory.Snapshot) error {
	key := req.String()
	olds := r.takeTenantMoves(key)
	for _, t := range heldElsewhere(snap, owner) {
		if !slices.Contains(olds, t) {
			olds = append(olds, t)
		}
	}
	for i, t := range olds {
		if t == owner.Tenant {
			r.rememberTenantMove(key, t)
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

// heldElsewhere returns the tenants other than owner's where the inventory
// shows owner's VsVip with this cluster's identity and owner's markers.
func heldElsewhere(snap *inventory.Snapshot, owner apply.Owner) []string {
	if snap == nil || owner.ClusterID == "" || owner.OwnedBy == "" {
		return nil
	}
	var out []string
	for _, h := range snap.VsVips[owner.Name] {
		if h.Tenant != owner.Tenant && h.CreatedBy == owner.CreatedBy && h.ClusterID == owner.ClusterID && h.Owner == owner.OwnedBy &&
			!slices.Contains(out, h.Tenant) {
			out = append(out, h.Tenant)
		}
	}
	return out
}
