package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/vipgate/vipgate/avi/objects"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/config"
)

// RoutesKey is the single work-queue key of the static route controller: every
// Node event means "recompute the cluster's routes", and one key makes a burst
// of node changes one VrfContext write.
const RoutesKey = "routes"

// adminTenant holds VRF contexts and SE groups: they are provider objects,
// shared by every tenant.
const adminTenant = "admin"

// RoutesEnabled says whether vipgate writes static routes: not when
// AKOSettings.disableStaticRouteSync is set (the network routes pod CIDRs
// itself), and not in NodePort mode, where pools point at nodes, not pods.
func RoutesEnabled(s *config.Settings) (bool, string) {
	switch {
	case bool(s.AKOSettings.DisableStaticRouteSync):
		return false, "AKOSettings.disableStaticRouteSync is true"
	case model.NodePortMode(s):
		return false, "L7Settings.serviceType is NodePort: pools use node addresses"
	case model.NodePortLocalMode(s):
		return false, "L7Settings.serviceType is NodePortLocal: pools use the node ports Antrea maps to pods"
	}
	return true, ""
}

// RoutesReconciler keeps the VrfContext's static routes for this cluster equal
// to the nodes' pod CIDRs, and labels the cluster's SE group so its SEs take
// only this cluster's routes. Routes of other clusters and routes without a
// cluster label are never changed.
type RoutesReconciler struct {
	Client   client.Reader
	Applier  Applier
	Settings *config.Settings
	// Inventory, when set, saves the SE group read while the snapshot already
	// shows our label.
	Inventory inventory.Source
	// Resync re-reads the VrfContext this long after a successful sync, so
	// routes removed on the controller by hand come back; default
	// AKOSettings.fullSyncFrequency, 0 there means never.
	Resync time.Duration

	// cniCache reads the CNI's objects (watchCNI sets it to the manager's cache).
	cniCache client.Reader
}

// Reconcile computes the cluster's routes from every Node, merges them into
// the VrfContext and writes it only when the cluster's part differs.
func (r *RoutesReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	cluster := r.Settings.AKOSettings.ClusterName
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes); err != nil {
		return ctrl.Result{}, err
	}
	cni, err := r.readCNI(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var routes []model.NodeRoute
	for i := range nodes.Items {
		n := &nodes.Items[i]
		rs, skipped := model.NodeRoutesCNI(r.Settings.AKOSettings.CNIPlugin, n, cni)
		if len(skipped) > 0 {
			log.Info("node routes skipped", "node", n.Name, "why", skipped)
		}
		routes = append(routes, rs...)
	}
	desired := model.BuildStaticRoutes(cluster, routes)

	// SEs need the label only to pick up routes: a cluster without routes
	// (no nodes yet) leaves the SE group as it is.
	if len(desired) > 0 {
		if err := r.labelSEGroup(ctx); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.sync(ctx, desired); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.resync()}, nil
}

// RemoveAll takes this cluster's routes out of the VrfContext, leaving every
// other route as it is, and its label off the SE group (AKOSettings.deleteConfig).
func (r *RoutesReconciler) RemoveAll(ctx context.Context) error {
	if err := r.sync(ctx, nil); err != nil {
		return err
	}
	return r.UnlabelSEGroup(ctx)
}

// sync makes the cluster's routes in the VrfContext equal desired with one
// conditional write (the applier re-reads on a concurrent update).
func (r *RoutesReconciler) sync(ctx context.Context, desired []*objects.StaticRoute) error {
	log := logr.FromContextOrDiscard(ctx)
	cluster := r.Settings.AKOSettings.ClusterName
	vrfName := r.Settings.VRF()
	var merge model.RouteMerge
	written, err := r.Applier.Edit(ctx, model.TypeVrfContext, vrfName, adminTenant, r.inCloud(), func(vrf map[string]any) (bool, error) {
		current, _ := vrf["static_routes"].([]any)
		var err error
		if merge, err = model.MergeStaticRoutes(current, cluster, desired); err != nil || !merge.Changed {
			return false, err
		}
		if merge.Routes == nil {
			merge.Routes = []any{}
		}
		vrf["static_routes"] = merge.Routes
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("vrfcontext %s (ControllerSettings.vrfName): %w", vrfName, err)
	}
	if !written {
		log.V(1).Info("static routes in sync", "vrf", vrfName, "routes", len(desired))
		return nil
	}
	log.Info("static routes written", "vrf", vrfName, "added", merge.Added, "removed", merge.Removed,
		"updated", merge.Updated, "renamed", merge.Renamed)
	return nil
}

// inCloud narrows a by-name query to the configured cloud (VRF contexts and
// SE groups of other clouds may share the name).
func (r *RoutesReconciler) inCloud() url.Values {
	return url.Values{"cloud_ref.name": {r.Settings.ControllerSettings.CloudName}}
}

func (r *RoutesReconciler) resync() time.Duration {
	if r.Resync > 0 {
		return r.Resync
	}
	if s, err := strconv.Atoi(r.Settings.AKOSettings.FullSyncFrequency); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// labelSEGroup puts clustername=<cluster> on the configured SE group so that
// its SEs install only this cluster's routes. An SE group labelled for
// another cluster is left alone and reported: start-up refuses it, and
// admission refuses AviInfraSettings naming one.
func (r *RoutesReconciler) labelSEGroup(ctx context.Context) error {
	cluster := r.Settings.AKOSettings.ClusterName
	name := r.Settings.ControllerSettings.ServiceEngineGroupName
	if r.Inventory != nil {
		if snap := r.Inventory.Snapshot(); snap != nil {
			if seg, ok := snap.SEGroups[name]; ok && seg.Labels[model.ClusterLabel] == cluster {
				return nil
			}
		}
	}
	return r.editSEGroup(ctx, "SE group labelled for this cluster", func(seg map[string]any, owner string, labelled bool) (bool, error) {
		switch {
		case labelled && owner == cluster:
			return false, nil
		case labelled:
			return false, fmt.Errorf("SE group %q is labelled %s=%s, so it belongs to another cluster; vipgate leaves it alone (ControllerSettings.serviceEngineGroupName)",
				name, model.ClusterLabel, owner)
		}
		list, _ := seg["labels"].([]any)
		seg["labels"] = append(slices.Clone(list), map[string]any{"key": model.ClusterLabel, "value": cluster})
		return true, nil
	})
}

// UnlabelSEGroup removes this cluster's clustername label from the SE group
// (deleteConfig), leaving any other label, and another cluster's, alone.
func (r *RoutesReconciler) UnlabelSEGroup(ctx context.Context) error {
	cluster := r.Settings.AKOSettings.ClusterName
	return r.editSEGroup(ctx, "SE group label of this cluster removed", func(seg map[string]any, owner string, labelled bool) (bool, error) {
		if !labelled || owner != cluster {
			return false, nil
		}
		list, _ := seg["labels"].([]any)
		keep := []any{}
		for _, l := range list {
			if m, _ := l.(map[string]any); m["key"] != model.ClusterLabel {
				keep = append(keep, l)
			}
		}
		seg["labels"] = keep
		return true, nil
	})
}

// editSEGroup lets edit change the SE group, given the cluster its
// clustername label names (if any), through the applier's read-merge-write.
func (r *RoutesReconciler) editSEGroup(ctx context.Context, done string, edit func(seg map[string]any, owner string, labelled bool) (bool, error)) error {
	name := r.Settings.ControllerSettings.ServiceEngineGroupName
	written, err := r.Applier.Edit(ctx, model.TypeSEGroup, name, adminTenant, r.inCloud(), func(seg map[string]any) (bool, error) {
		var labels []*objects.KeyValue
		if b, err := json.Marshal(seg["labels"]); err == nil {
			_ = json.Unmarshal(b, &labels)
		}
		owner, labelled := model.SEGroupClusterLabel(labels)
		return edit(seg, owner, labelled)
	})
	if err != nil {
		return fmt.Errorf("SE group %s (ControllerSettings.serviceEngineGroupName): %w", name, err)
	}
	if written {
		logr.FromContextOrDiscard(ctx).Info(done, "seGroup", name, "label", model.ClusterLabel+"="+r.Settings.AKOSettings.ClusterName)
	}
	return nil
}

// SetupWithManager registers the controller (leader only, like every
// controller) when static routes are enabled. It reconciles once at start,
// so routes of nodes deleted while vipgate was down go too, then on Node
// changes that move routes, and on changes of the CNI objects pod CIDRs come
// from (AKOSettings.cniPlugin: Calico's BlockAffinities, CiliumNodes).
func (r *RoutesReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if ok, why := RoutesEnabled(r.Settings); !ok {
		mgr.GetLogger().Info("static route sync off", "why", why)
		return nil
	}
	key := ctrl.Request{NamespacedName: types.NamespacedName{Name: RoutesKey}}
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []ctrl.Request { return []ctrl.Request{key} })
	initial := source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[ctrl.Request]) error {
		q.Add(key)
		return nil
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("routes").
		Watches(&corev1.Node{}, toKey, builder.WithPredicates(nodeRoutePredicate{})).
		WatchesRawSource(initial)
	if err := r.watchCNI(mgr, b, toKey); err != nil {
		return err
	}
	return b.Complete(r)
}

// nodeRoutePredicate passes Node events that can change routes: add, delete,
// and updates of pod CIDRs (spec, AKO's or OVN-Kubernetes' annotation) or
// InternalIPs. Status
// heartbeats, which are most Node updates, do not.
type nodeRoutePredicate struct{ predicate.Funcs }

func (nodeRoutePredicate) Create(event.CreateEvent) bool   { return true }
func (nodeRoutePredicate) Delete(event.DeleteEvent) bool   { return true }
func (nodeRoutePredicate) Generic(event.GenericEvent) bool { return false }
func (nodeRoutePredicate) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.Node)
	n, ok2 := e.ObjectNew.(*corev1.Node)
	if !ok1 || !ok2 {
		return true
	}
	return o.Spec.PodCIDR != n.Spec.PodCIDR || !slices.Equal(o.Spec.PodCIDRs, n.Spec.PodCIDRs) ||
		o.Annotations[model.AnnotationPodCIDRs] != n.Annotations[model.AnnotationPodCIDRs] ||
		o.Annotations[model.AnnotationOVNNodeSubnets] != n.Annotations[model.AnnotationOVNNodeSubnets] ||
		!slices.Equal(internalIPs(o), internalIPs(n))
}

func internalIPs(n *corev1.Node) []string {
	var out []string
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			out = append(out, a.Address)
		}
	}
	return out
}
