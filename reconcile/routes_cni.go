package reconcile

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/vipgate/vipgate/avi/model"
)

// The CNI objects pod CIDRs come from, read as unstructured so that no CNI's
// Go types are linked: Calico's BlockAffinity and Cilium's CiliumNode.
var (
	CalicoBlockAffinityGVK = schema.GroupVersionKind{Group: "crd.projectcalico.org", Version: "v1", Kind: "BlockAffinity"}
	CiliumNodeGVK          = schema.GroupVersionKind{Group: "cilium.io", Version: "v2", Kind: "CiliumNode"}
)

// cniKind is the kind of object the plugin's pod CIDRs are read from; ok is
// false for plugins whose CIDRs are on the Node itself.
func cniKind(plugin string) (gvk schema.GroupVersionKind, ok bool) {
	switch plugin {
	case model.CNICalico:
		return CalicoBlockAffinityGVK, true
	case model.CNICilium:
		return CiliumNodeGVK, true
	}
	return schema.GroupVersionKind{}, false
}

// readCNI lists the CNI's objects (from the manager's cache) and keeps the
// fields the pod CIDR mapping reads.
func (r *RoutesReconciler) readCNI(ctx context.Context) (model.CNIObjects, error) {
	var objs model.CNIObjects
	gvk, ok := cniKind(r.Settings.AKOSettings.CNIPlugin)
	if !ok {
		return objs, nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	reader := r.cniCache
	if reader == nil {
		reader = r.Client
	}
	if err := reader.List(ctx, list); err != nil {
		return objs, fmt.Errorf("listing %s (AKOSettings.cniPlugin %s): %w", gvk.Kind, r.Settings.AKOSettings.CNIPlugin, err)
	}
	switch gvk {
	case CalicoBlockAffinityGVK:
		for _, u := range list.Items {
			str := func(f string) string { s, _, _ := unstructured.NestedString(u.Object, "spec", f); return s }
			// spec.deleted is a string in Calico's CRD ("true"/"false").
			objs.CalicoBlocks = append(objs.CalicoBlocks, model.CalicoBlock{
				Node: str("node"), CIDR: str("cidr"), State: str("state"), Deleted: str("deleted") == "true"})
		}
	case CiliumNodeGVK:
		objs.CiliumPodCIDRs = map[string][]string{}
		for _, u := range list.Items {
			cidrs, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "ipam", "podCIDRs")
			objs.CiliumPodCIDRs[u.GetName()] = cidrs
		}
	}
	return objs, nil
}

// watchCNI adds a watch on the CNI's objects to the routes controller, so a
// block or pod CIDR change recomputes the routes. A cluster that does not
// serve the CRD is a misconfigured cniPlugin: start-up stops and says so
// rather than routing the wrong CIDRs.
func (r *RoutesReconciler) watchCNI(mgr ctrl.Manager, b *builder.Builder, toKey handler.EventHandler) error {
	plugin := r.Settings.AKOSettings.CNIPlugin
	gvk, ok := cniKind(plugin)
	if !ok {
		return nil
	}
	if _, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		if meta.IsNoMatchError(err) {
			return fmt.Errorf("AKOSettings.cniPlugin is %s, but the API server does not serve %s (%s); pod CIDRs for static routes come from there: install %s's CRDs, set cniPlugin to the cluster's CNI, or set AKOSettings.disableStaticRouteSync",
				plugin, gvk.Kind, gvk.GroupVersion(), plugin)
		}
		return fmt.Errorf("looking up %s (AKOSettings.cniPlugin %s): %w", gvk.Kind, plugin, err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	b.Watches(u, toKey)
	// The manager's client reads unstructured objects from the API server;
	// the cache the watch fills answers without a call.
	r.cniCache = mgr.GetCache()
	return nil
}
