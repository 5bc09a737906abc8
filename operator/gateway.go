package operator

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/webhooks"
)

// GatewayAPIInstalled reports whether the API server serves Gateway API v1
// Gateways and GatewayClasses: vipgate's Gateway controllers and webhooks
// run only then, since informers for absent kinds would never sync.
func GatewayAPIInstalled(mapper meta.RESTMapper) bool {
	return served(mapper, "GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant")
}

// served reports whether the API server serves every kind of Gateway API v1.
func served(mapper meta.RESTMapper, kinds ...string) bool {
	for _, kind := range kinds {
		if _, err := mapper.RESTMapping(schema.GroupKind{Group: gatewayv1.GroupName, Kind: kind}, gatewayv1.GroupVersion.Version); err != nil {
			return false
		}
	}
	return true
}

// setupGateway registers the Gateway API reconcilers.
func (op *Operator) setupGateway(mgr ctrl.Manager, o Options, lookups *cluster.CacheLookups, applier reconcile.Applier, recorder record.EventRecorder, full *reconcile.FullSync) error {
	gc := &reconcile.GatewayClassReconciler{Client: mgr.GetClient(), Settings: o.Settings, Lookups: lookups}
	if err := gc.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("gatewayclass controller: %w", err)
	}
	gw := &reconcile.GatewayReconciler{
		FullSync: full, Client: mgr.GetClient(), Recorder: recorder, Settings: o.Settings, Applier: applier, Inventory: op.Inventory,
		Lookups: lookups, Gateways: cluster.GatewayCacheLookups{Cache: mgr.GetCache()}, RetryBadRequest: o.RetryBadRequest,
		L4Routes: served(mgr.GetRESTMapper(), "TCPRoute", "UDPRoute"),
	}
	if err := gw.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("gateway controller: %w", err)
	}
	op.gateways = gw.ExpectedOwners
	return nil
}

// setupGatewayAdmission registers the Gateway API field indexes and the
// Gateway webhook, and starts the informers admission reads.
func setupGatewayAdmission(ctx context.Context, mgr ctrl.Manager, o webhooks.Options) error {
	if err := cluster.SetupGatewayIndexes(ctx, indexer(mgr)); err != nil {
		return err
	}
	webhooks.SetupGateway(mgr, o, webhooks.GatewayOptions{Lookups: cluster.GatewayCacheLookups{Cache: mgr.GetCache()}})
	for _, obj := range []client.Object{&gatewayv1.GatewayClass{}, &gatewayv1.Gateway{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(false)); err != nil {
			return fmt.Errorf("starting informer for %T: %w", obj, err)
		}
	}
	return nil
}
