package webhooks

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/rules"
)

// PathValidateGateway serves the Gateway webhook.
const PathValidateGateway = "/validate-gateway-networking-k8s-io-v1-gateway"

// HookValidateGateway names the Gateway webhook.
const HookValidateGateway = "vgateway.vipgate.ako.vmware.com"

// GatewayOptions add the Gateway API reads to Options.
type GatewayOptions struct {
	Lookups rules.RouteLookups
}

// PathValidateHTTPRoute serves the HTTPRoute webhook.
const PathValidateHTTPRoute = "/validate-gateway-networking-k8s-io-v1-httproute"

// HookValidateHTTPRoute names the HTTPRoute webhook.
const HookValidateHTTPRoute = "vhttproute.vipgate.ako.vmware.com"

// SetupGateway registers the Gateway API admission handlers; call it only
// when the cluster serves Gateway API.
func SetupGateway(mgr ctrl.Manager, o Options, g GatewayOptions) {
	srv := mgr.GetWebhookServer()
	registerHook(srv, PathValidateGateway, admission.WithValidator[*gatewayv1.Gateway](mgr.GetScheme(), &gatewayValidator{o: &o, g: g}))
	registerHook(srv, PathValidateHTTPRoute, admission.WithValidator[*gatewayv1.HTTPRoute](mgr.GetScheme(), &routeValidator{o: &o, g: g}))
}

// routeValidator judges HTTPRoutes naming a Gateway of vipgate's classes.
type routeValidator struct {
	o *Options
	g GatewayOptions
}

func (v *routeValidator) ValidateCreate(ctx context.Context, rt *gatewayv1.HTTPRoute) (admission.Warnings, error) {
	return v.validate(ctx, rt)
}

func (v *routeValidator) ValidateUpdate(ctx context.Context, _, rt *gatewayv1.HTTPRoute) (admission.Warnings, error) {
	if rt.DeletionTimestamp != nil {
		return nil, nil
	}
	return v.validate(ctx, rt)
}

func (v *routeValidator) ValidateDelete(context.Context, *gatewayv1.HTTPRoute) (admission.Warnings, error) {
	return nil, nil
}

func (v *routeValidator) validate(ctx context.Context, rt *gatewayv1.HTTPRoute) (admission.Warnings, error) {
	judge, warnings := v.o.scope(ctx, rt.Namespace)
	if !judge {
		return warnings, nil
	}
	res := rules.ValidateHTTPRoute(rt, v.o.envFor(ctx), v.g.Lookups)
	for _, w := range warnings {
		res.Warn(w)
	}
	return verdict(ctx, gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute").GroupKind(), rt.Name, res)
}

type gatewayValidator struct {
	o *Options
	g GatewayOptions
}

func (v *gatewayValidator) ValidateCreate(ctx context.Context, gw *gatewayv1.Gateway) (admission.Warnings, error) {
	return v.validate(ctx, gw, nil)
}

func (v *gatewayValidator) ValidateUpdate(ctx context.Context, old, gw *gatewayv1.Gateway) (admission.Warnings, error) {
	if gw.DeletionTimestamp != nil {
		return nil, nil
	}
	return v.validate(ctx, gw, old)
}

func (v *gatewayValidator) ValidateDelete(context.Context, *gatewayv1.Gateway) (admission.Warnings, error) {
	return nil, nil
}

func (v *gatewayValidator) validate(ctx context.Context, gw, old *gatewayv1.Gateway) (admission.Warnings, error) {
	judge, warnings := v.o.scope(ctx, gw.Namespace)
	if !judge {
		return warnings, nil
	}
	res := rules.ValidateGateway(gw, old, v.o.envFor(ctx), v.g.Lookups)
	for _, w := range warnings {
		res.Warn(w)
	}
	return verdict(ctx, gatewayv1.SchemeGroupVersion.WithKind("Gateway").GroupKind(), gw.Name, res)
}
