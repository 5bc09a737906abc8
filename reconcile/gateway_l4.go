package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/rules"
)

// l4Route is a TCPRoute or UDPRoute, whatever its kind.
type l4Route struct {
	kind  string
	obj   client.Object
	spec  *gatewayv1.CommonRouteSpec
	rules [][]gatewayv1.BackendRef
	st    *gatewayv1.RouteStatus
}

// listL4Routes lists the TCPRoutes and UDPRoutes, oldest first.
func (r *GatewayReconciler) listL4Routes(ctx context.Context) ([]l4Route, error) {
	var tcp gatewayv1.TCPRouteList
	if err := r.Client.List(ctx, &tcp); err != nil {
		return nil, err
	}
	var udp gatewayv1.UDPRouteList
	if err := r.Client.List(ctx, &udp); err != nil {
		return nil, err
	}
	out := l4Routes("TCPRoute", tcp.Items, func(rt *gatewayv1.TCPRoute) (*gatewayv1.CommonRouteSpec, *gatewayv1.RouteStatus, [][]gatewayv1.BackendRef) {
		return &rt.Spec.CommonRouteSpec, &rt.Status.RouteStatus, backendsOf(rt.Spec.Rules, func(u *gatewayv1.TCPRouteRule) []gatewayv1.BackendRef { return u.BackendRefs })
	})
	out = append(out, l4Routes("UDPRoute", udp.Items, func(rt *gatewayv1.UDPRoute) (*gatewayv1.CommonRouteSpec, *gatewayv1.RouteStatus, [][]gatewayv1.BackendRef) {
		return &rt.Spec.CommonRouteSpec, &rt.Status.RouteStatus, backendsOf(rt.Spec.Rules, func(u *gatewayv1.UDPRouteRule) []gatewayv1.BackendRef { return u.BackendRefs })
	})...)
	slices.SortFunc(out, func(a, b l4Route) int {
		if c := a.obj.GetCreationTimestamp().Compare(b.obj.GetCreationTimestamp().Time); c != 0 {
			return c
		}
		return strings.Compare(a.kind+"/"+a.obj.GetNamespace()+"/"+a.obj.GetName(), b.kind+"/"+b.obj.GetNamespace()+"/"+b.obj.GetName())
	})
	return out, nil
}

// l4Routes wraps routes of one kind; parts returns a route's common spec,
// status and the backends of each rule (the two kinds' rule types differ).
func l4Routes[R any, P interface {
	*R
	client.Object
}](kind string, items []R, parts func(P) (*gatewayv1.CommonRouteSpec, *gatewayv1.RouteStatus, [][]gatewayv1.BackendRef)) []l4Route {
	out := make([]l4Route, 0, len(items))
	for i := range items {
		rt := P(&items[i])
		spec, st, rules := parts(rt)
		out = append(out, l4Route{kind: kind, obj: rt, spec: spec, st: st, rules: rules})
	}
	return out
}

// backendsOf returns the backends of each rule.
func backendsOf[U any](rules []U, refs func(*U) []gatewayv1.BackendRef) [][]gatewayv1.BackendRef {
	out := make([][]gatewayv1.BackendRef, 0, len(rules))
	for i := range rules {
		out = append(out, refs(&rules[i]))
	}
	return out
}

// planL4 fills p.l4 with the Gateway's TCP and UDP listeners and the
// backend of the oldest route attached to each (one backend per listener:
// an L4 port goes to one pool), and records the routes' status entries.
func (r *GatewayReconciler) planL4(ctx context.Context, gw *gatewayv1.Gateway, p *gatewayPlan) error {
	byName := map[string]int{}
	for _, l := range gw.Spec.Listeners {
		if l.Protocol == gatewayv1.TCPProtocolType || l.Protocol == gatewayv1.UDPProtocolType {
			byName[string(l.Name)] = len(p.l4)
			p.l4 = append(p.l4, model.GatewayL4Listener{Name: string(l.Name), Port: int32(l.Port), Protocol: string(l.Protocol)})
		}
	}
	if len(p.l4) == 0 || !r.L4Routes {
		return nil
	}
	routes, err := r.listL4Routes(ctx)
	if err != nil {
		return err
	}
	for _, rt := range routes {
		if rt.obj.GetDeletionTimestamp() != nil {
			continue
		}
		ns, err := cluster.Namespace(ctx, r.Client, rt.obj.GetNamespace())
		if err != nil {
			return err
		}
		backend, resolved, unsupported, err := r.l4Backend(ctx, rt, p)
		if err != nil {
			return err
		}
		resolved.ObservedGeneration = rt.obj.GetGeneration()
		for _, ref := range rt.spec.ParentRefs {
			if !rules.RefersTo(ref, rt.obj.GetNamespace(), gw) {
				continue
			}
			las, reason, msg := rules.AttachRoute(rt.kind, ns, rt.obj.GetNamespace(), nil, ref, gw)
			if reason == "" && unsupported != "" {
				las, reason, msg = nil, string(gatewayv1.RouteReasonUnsupportedValue), unsupported
			}
			accepted := metav1.Condition{Type: string(gatewayv1.RouteConditionAccepted), Status: metav1.ConditionTrue, Reason: string(gatewayv1.RouteReasonAccepted),
				Message: "attached to Gateway " + gw.Namespace + "/" + gw.Name, ObservedGeneration: rt.obj.GetGeneration()}
			if reason != "" {
				accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, reason, msg
			}
			for _, la := range las {
				p.attached[la.Listener]++
				l := &p.l4[byName[string(gw.Spec.Listeners[la.Listener].Name)]]
				if l.Backend == nil && backend != nil {
					b := *backend
					l.Backend = &b
					l.Route = rt.obj.GetNamespace() + "/" + rt.obj.GetName()
				}
			}
			p.parents = append(p.parents, routeParent{route: routeObj{rt.obj, rt.st}, ref: ref, conds: []metav1.Condition{accepted, resolved}})
		}
	}
	return nil
}

// l4Backend resolves an L4 route's one backend: its Service (same
// namespace, or another one a ReferenceGrant opens), read with its
// EndpointSlices into p.backends; the string is what vipgate cannot serve.
func (r *GatewayReconciler) l4Backend(ctx context.Context, rt l4Route, p *gatewayPlan) (*model.GatewayBackend, metav1.Condition, string, error) {
	ok := metav1.Condition{Type: string(gatewayv1.RouteConditionResolvedRefs), Status: metav1.ConditionTrue, Reason: string(gatewayv1.RouteReasonResolvedRefs), Message: "every backend is resolved"}
	n := 0
	for _, bs := range rt.rules {
		n += len(bs)
	}
	if len(rt.rules) != 1 || n != 1 {
		return nil, ok, "spec.rules: vipgate serves a " + rt.kind + " with exactly one rule and one backendRef (an Avi L4 port goes to one pool)", nil
	}
	b := rt.rules[0][0]
	fail := func(reason gatewayv1.RouteConditionReason, msg string) (*model.GatewayBackend, metav1.Condition, string, error) {
		return nil, metav1.Condition{Type: ok.Type, Status: metav1.ConditionFalse, Reason: string(reason), Message: msg}, "", nil
	}
	ns, name, isSvc := serviceBackend(rt.obj.GetNamespace(), b.BackendObjectReference)
	if !isSvc {
		return fail(gatewayv1.RouteReasonInvalidKind, "spec.rules[0].backendRefs[0]: only Service backends are supported")
	}
	if b.Port == nil {
		return fail(gatewayv1.RouteReasonUnsupportedValue, "spec.rules[0].backendRefs[0]: port is required")
	}
	if ns != rt.obj.GetNamespace() {
		grants, err := r.Gateways.ReferenceGrants(ctx, ns)
		if err != nil {
			return nil, ok, "", err
		}
		if !rules.ReferencePermitted(grants, gatewayv1.GroupName, rt.kind, rt.obj.GetNamespace(), "", "Service", name) {
			return fail(gatewayv1.RouteReasonRefNotPermitted, fmt.Sprintf("spec.rules[0].backendRefs[0]: Service %s/%s is in another namespace and no ReferenceGrant there lets %ss of namespace %s use it", ns, name, rt.kind, rt.obj.GetNamespace()))
		}
	}
	var svc corev1.Service
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return fail(gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("spec.rules[0].backendRefs[0]: Service %s/%s not found", ns, name))
		}
		return nil, ok, "", err
	}
	var slices discoveryv1.EndpointSliceList
	if err := r.Client.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: name}); err != nil {
		return nil, ok, "", err
	}
	p.backends[ns+"/"+name] = model.Member{Service: &svc, Slices: slices.Items}
	return &model.GatewayBackend{Namespace: ns, Name: name, Port: int32(*b.Port), Weight: 1}, ok, "", nil
}
