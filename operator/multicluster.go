package operator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/inventory/loader"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/rules"
)

// checkSEGroup refuses to start on an SE group labelled for another cluster:
// both clusters' routes would be installed on its SEs (overlapping pod CIDRs
// break each other) and the other cluster's vipgate treats it as its own. It
// loads the inventory once (the snapshot stays for admission). A controller
// that cannot be read here is not fatal: the inventory fails open as
// everywhere else, and the route controller checks the label again before it
// writes.
//
// checked reports whether the cluster identity could be checked; when it
// could not, nothing is written until it is (identityGate).
func checkSEGroup(ctx context.Context, inv *loader.Cache, s *config.Settings) (checked bool, err error) {
	log := logr.FromContextOrDiscard(ctx)
	if err := inv.Refresh(ctx); err != nil {
		log.Info("SE group and cluster identity not checked at start-up: inventory not loaded; nothing is written to the controller until they are", "error", err.Error())
		return false, nil
	}
	if err := checkIdentity(inv.Snapshot(), s); err != nil {
		return false, err
	}
	name := s.ControllerSettings.ServiceEngineGroupName
	snap := inv.Snapshot()
	if _, ok := snap.SEGroups[name]; !ok {
		// A missing SE group is the rule book's business at admission and reconcile.
		log.Info("SE group not found in the cloud; not checking ownership", "seGroup", name)
		return true, nil
	}
	res := rules.ValidateSEGroup(field.NewPath("ControllerSettings", "serviceEngineGroupName"), name,
		rules.NewEnv(ctx, s, inv, nil, 0, time.Now()))
	if !res.Allowed() {
		return true, fmt.Errorf("refusing to start for cluster %q: %w", s.AKOSettings.ClusterName, res.Err())
	}
	log.Info("SE group ownership checked", "seGroup", name, "label", snap.SEGroups[name].Labels[rules.SEGroupClusterLabel])
	return true, nil
}

// setupRoutes registers the static route controller; it is a no-op when
// static route sync is off (see reconcile.RoutesEnabled).
func (op *Operator) setupRoutes(mgr ctrl.Manager, o Options, applier reconcile.Applier) error {
	r := &reconcile.RoutesReconciler{
		Client: mgr.GetClient(), Applier: applier, Settings: o.Settings, Inventory: op.Inventory,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("static route controller: %w", err)
	}
	return nil
}

// checkIdentity refuses to start when the controller holds objects with this
// cluster's created_by (its clusterName) but another cluster's identity: two
// clusters share the name, and neither may take or delete the other's
// objects. The running one keeps going; this one says what to change.
func checkIdentity(snap *inventory.Snapshot, s *config.Settings) error {
	if s.ClusterID == "" {
		return nil
	}
	others := map[string][]string{}
	for name, hs := range snap.VsVips {
		for _, h := range hs {
			if h.CreatedBy == s.CreatedBy() && h.ClusterID != "" && h.ClusterID != s.ClusterID {
				others[h.ClusterID] = append(others[h.ClusterID], h.Tenant+"/"+name)
			}
		}
	}
	for id, names := range others {
		slices.Sort(names)
		return fmt.Errorf("refusing to start: the controller holds objects of another cluster that also uses AKOSettings.clusterName %q (cluster identity %s, this cluster is %s; e.g. VsVip %s); give this cluster its own clusterName, or remove that cluster's objects first",
			s.AKOSettings.ClusterName, id, s.ClusterID, strings.Join(names[:min(len(names), 3)], ", "))
	}
	return nil
}

// ClusterID reads the cluster's stable identity: the UID of the kube-system
// Namespace, which lives as long as the cluster and differs between clusters
// that share a clusterName.
func ClusterID(ctx context.Context, c client.Reader) (string, error) {
	var ns corev1.Namespace
	if err := c.Get(ctx, types.NamespacedName{Name: metav1.NamespaceSystem}, &ns); err != nil {
		return "", fmt.Errorf("reading the cluster identity (Namespace kube-system): %w", err)
	}
	return string(ns.UID), nil
}
