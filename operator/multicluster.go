package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"

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
func checkSEGroup(ctx context.Context, inv *loader.Cache, s *config.Settings) error {
	log := logr.FromContextOrDiscard(ctx)
	if err := inv.Refresh(ctx); err != nil {
		log.Info("SE group ownership not checked at start-up: inventory not loaded", "error", err.Error())
		return nil
	}
	name := s.ControllerSettings.ServiceEngineGroupName
	snap := inv.Snapshot()
	if _, ok := snap.SEGroups[name]; !ok {
		// A missing SE group is the rule book's business at admission and reconcile.
		log.Info("SE group not found in the cloud; not checking ownership", "seGroup", name)
		return nil
	}
	res := rules.ValidateSEGroup(field.NewPath("ControllerSettings", "serviceEngineGroupName"), name,
		rules.NewEnv(ctx, s, inv, nil, 0, time.Now()))
	if !res.Allowed() {
		return fmt.Errorf("refusing to start for cluster %q: %w", s.AKOSettings.ClusterName, res.Err())
	}
	log.Info("SE group ownership checked", "seGroup", name, "label", snap.SEGroups[name].Labels[rules.SEGroupClusterLabel])
	return nil
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
