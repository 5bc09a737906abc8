package reconcile

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/cluster"
)

// SetupWithManager watches Gateways, and what they are built from: their
// GatewayClass, the HTTPRoutes naming them, and the routes' backend
// Services and EndpointSlices (through the HTTPRoute field indexes).
func (r *GatewayReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).Named("gateway")
	if r.L4Routes {
		b = b.Watches(&gatewayv1.TCPRoute{}, handler.EnqueueRequestsFromMapFunc(r.parentsOfL4Route)).
			Watches(&gatewayv1.UDPRoute{}, handler.EnqueueRequestsFromMapFunc(r.parentsOfL4Route))
	}
	return b.
		For(&gatewayv1.Gateway{}).
		Watches(&gatewayv1.GatewayClass{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfClass)).
		Watches(&gatewayv1.HTTPRoute{}, handler.EnqueueRequestsFromMapFunc(r.parentsOfRoute)).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfBackend)).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfSlice)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfSecret)).
		Watches(&gatewayv1.ReferenceGrant{}, handler.EnqueueRequestsFromMapFunc(r.allGateways)).
		WatchesRawSource(r.FullSync.Source(r.allGateways)).
		Complete(r)
}

// gatewaysOfSecret lists the Gateways whose listeners name the Secret.
func (r *GatewayReconciler) gatewaysOfSecret(ctx context.Context, o client.Object) []ctrl.Request {
	var list gatewayv1.GatewayList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range list.Items {
		gw := &list.Items[i]
		for _, l := range gw.Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				ns := gw.Namespace
				if ref.Namespace != nil {
					ns = string(*ref.Namespace)
				}
				if ns == o.GetNamespace() && string(ref.Name) == o.GetName() {
					out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(gw)})
				}
			}
		}
	}
	return out
}

// allGateways requeues every Gateway: a ReferenceGrant can open or close
// any cross-namespace reference.
func (r *GatewayReconciler) allGateways(ctx context.Context, _ client.Object) []ctrl.Request {
	var list gatewayv1.GatewayList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	out := make([]ctrl.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

func (r *GatewayReconciler) gatewaysOfClass(ctx context.Context, o client.Object) []ctrl.Request {
	// Every class is mapped, not only vipgate's: a class whose
	// controllerName changes away from vipgate releases its Gateways.
	var list gatewayv1.GatewayList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range list.Items {
		if string(list.Items[i].Spec.GatewayClassName) == o.GetName() {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

func (r *GatewayReconciler) parentsOfRoute(_ context.Context, o client.Object) []ctrl.Request {
	rt, ok := o.(*gatewayv1.HTTPRoute)
	if !ok {
		return nil
	}
	var out []ctrl.Request
	for _, k := range cluster.HTTPRouteParents(rt) {
		out = append(out, keyRequest(k))
	}
	return out
}

func (r *GatewayReconciler) gatewaysOfBackend(ctx context.Context, o client.Object) []ctrl.Request {
	return r.gatewaysOfService(ctx, o.GetNamespace(), o.GetName())
}

func (r *GatewayReconciler) gatewaysOfSlice(ctx context.Context, o client.Object) []ctrl.Request {
	svc := o.GetLabels()[discoveryv1.LabelServiceName]
	if svc == "" {
		return nil
	}
	return r.gatewaysOfService(ctx, o.GetNamespace(), svc)
}

// gatewaysOfService lists the parents of the HTTPRoutes using a Service.
func (r *GatewayReconciler) gatewaysOfService(ctx context.Context, ns, name string) []ctrl.Request {
	var list gatewayv1.HTTPRouteList
	if err := r.Client.List(ctx, &list, client.MatchingFields{cluster.IndexHTTPRouteBackend: ns + "/" + name}); err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range list.Items {
		for _, k := range cluster.HTTPRouteParents(&list.Items[i]) {
			out = append(out, keyRequest(k))
		}
	}
	if r.L4Routes {
		routes, err := r.listL4Routes(ctx)
		if err != nil {
			return out
		}
		for _, rt := range routes {
			uses := false
			for _, bs := range rt.rules {
				for _, b := range bs {
					if bns, bname, ok := serviceBackend(rt.obj.GetNamespace(), b.BackendObjectReference); ok && bns == ns && bname == name {
						uses = true
					}
				}
			}
			if uses {
				out = append(out, l4Parents(rt)...)
			}
		}
	}
	return out
}

// parentsOfL4Route lists the Gateways a TCPRoute or UDPRoute names.
func (r *GatewayReconciler) parentsOfL4Route(_ context.Context, o client.Object) []ctrl.Request {
	switch rt := o.(type) {
	case *gatewayv1.TCPRoute:
		return l4Parents(l4Route{obj: rt, spec: &rt.Spec.CommonRouteSpec, st: &rt.Status.RouteStatus})
	case *gatewayv1.UDPRoute:
		return l4Parents(l4Route{obj: rt, spec: &rt.Spec.CommonRouteSpec, st: &rt.Status.RouteStatus})
	}
	return nil
}

// l4Parents lists the Gateways in a route's parentRefs and status.parents.
func l4Parents(rt l4Route) []ctrl.Request {
	var out []ctrl.Request
	add := func(ref gatewayv1.ParentReference) {
		if (ref.Group != nil && *ref.Group != gatewayv1.GroupName) || (ref.Kind != nil && *ref.Kind != "Gateway") {
			return
		}
		ns := rt.obj.GetNamespace()
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		out = append(out, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: string(ref.Name)}})
	}
	for _, ref := range rt.spec.ParentRefs {
		add(ref)
	}
	for _, ps := range rt.st.Parents {
		add(ps.ParentRef)
	}
	return out
}

// keyRequest turns "<ns>/<name>" into a request.
func keyRequest(k string) ctrl.Request {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return ctrl.Request{NamespacedName: client.ObjectKey{Namespace: k[:i], Name: k[i+1:]}}
		}
	}
	return ctrl.Request{NamespacedName: client.ObjectKey{Name: k}}
}
