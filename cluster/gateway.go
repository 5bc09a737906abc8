package cluster

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/rules"
)

// Gateway API field indexes, registered by SetupGatewayIndexes only when
// the cluster serves Gateway API (an index on an absent kind never syncs).
const (
	// IndexGatewayAddress: Gateways by the addresses they request
	// (spec.addresses) or hold (status.addresses), canonical form.
	IndexGatewayAddress = "vipgate.gateway.address"
	// IndexHTTPRouteParent: HTTPRoutes by "<ns>/<name>" of the Gateways in
	// their parentRefs.
	IndexHTTPRouteParent = "vipgate.httproute.parent"
	// IndexHTTPRouteBackend: HTTPRoutes by "<ns>/<service>" of their backendRefs.
	IndexHTTPRouteBackend = "vipgate.httproute.backend"
)

// SetupGatewayIndexes registers the Gateway API field indexes.
func SetupGatewayIndexes(ctx context.Context, idx client.FieldIndexer) error {
	if err := idx.IndexField(ctx, &gatewayv1.Gateway{}, IndexGatewayAddress, func(o client.Object) []string {
		return GatewayAddresses(o.(*gatewayv1.Gateway))
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &gatewayv1.HTTPRoute{}, IndexHTTPRouteParent, func(o client.Object) []string {
		return HTTPRouteParents(o.(*gatewayv1.HTTPRoute))
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &gatewayv1.HTTPRoute{}, IndexHTTPRouteBackend, func(o client.Object) []string {
		return HTTPRouteBackends(o.(*gatewayv1.HTTPRoute))
	})
}

// GatewayAddresses lists the canonical addresses a Gateway requests or holds.
func GatewayAddresses(gw *gatewayv1.Gateway) []string {
	var out []string
	add := func(v string) {
		if c, ok := rules.CanonicalIP(v); ok {
			for _, o := range out {
				if o == c {
					return
				}
			}
			out = append(out, c)
		}
	}
	for _, a := range gw.Spec.Addresses {
		add(a.Value)
	}
	for _, a := range gw.Status.Addresses {
		add(a.Value)
	}
	return out
}

// HTTPRouteParents lists "<ns>/<name>" of the Gateways an HTTPRoute names
// in spec.parentRefs or, so a detached Gateway still hears of it, in
// status.parents.
func HTTPRouteParents(r *gatewayv1.HTTPRoute) []string {
	var out []string
	add := func(ref gatewayv1.ParentReference) {
		if (ref.Group != nil && *ref.Group != gatewayv1.GroupName) || (ref.Kind != nil && *ref.Kind != "Gateway") {
			return
		}
		ns := r.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		k := ns + "/" + string(ref.Name)
		for _, o := range out {
			if o == k {
				return
			}
		}
		out = append(out, k)
	}
	for _, ref := range r.Spec.ParentRefs {
		add(ref)
	}
	for _, p := range r.Status.Parents {
		add(p.ParentRef)
	}
	return out
}

// HTTPRouteBackends lists "<ns>/<service>" of an HTTPRoute's Service backendRefs.
func HTTPRouteBackends(r *gatewayv1.HTTPRoute) []string {
	var out []string
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") {
				continue
			}
			ns := r.Namespace
			if b.Namespace != nil {
				ns = string(*b.Namespace)
			}
			out = append(out, ns+"/"+string(b.Name))
		}
	}
	return out
}

// GatewayCacheLookups implements rules.GatewayLookups over the manager's cache.
type GatewayCacheLookups struct {
	Cache client.Reader
}

var _ rules.GatewayLookups = GatewayCacheLookups{}

// GatewayClass returns the named GatewayClass, (nil, nil) when there is none.
func (l GatewayCacheLookups) GatewayClass(ctx context.Context, name string) (*gatewayv1.GatewayClass, error) {
	var gc gatewayv1.GatewayClass
	if err := l.Cache.Get(ctx, client.ObjectKey{Name: name}, &gc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return &gc, nil
}

// GatewaysByAddress returns the Gateways requesting or holding ip.
func (l GatewayCacheLookups) GatewaysByAddress(ctx context.Context, ip string) ([]*gatewayv1.Gateway, error) {
	var list gatewayv1.GatewayList
	if err := l.Cache.List(ctx, &list, client.MatchingFields{IndexGatewayAddress: ip}); err != nil {
		return nil, err
	}
	out := make([]*gatewayv1.Gateway, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// ReferenceGrants returns the ReferenceGrants of namespace.
func (l GatewayCacheLookups) ReferenceGrants(ctx context.Context, namespace string) ([]*gatewayv1.ReferenceGrant, error) {
	var list gatewayv1.ReferenceGrantList
	if err := l.Cache.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	out := make([]*gatewayv1.ReferenceGrant, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

var _ rules.RouteLookups = GatewayCacheLookups{}

// Gateway returns the named Gateway, (nil, nil) when there is none.
func (l GatewayCacheLookups) Gateway(ctx context.Context, namespace, name string) (*gatewayv1.Gateway, error) {
	var gw gatewayv1.Gateway
	if err := l.Cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &gw); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return &gw, nil
}

// Service returns the named Service, (nil, nil) when there is none.
func (l GatewayCacheLookups) Service(ctx context.Context, namespace, name string) (*corev1.Service, error) {
	var svc corev1.Service
	if err := l.Cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return &svc, nil
}
