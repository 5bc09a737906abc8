package reconcile

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

// SetupWithManager watches Services, their EndpointSlices, AviInfraSettings
// (Services using one are requeued when it changes), L4Rules (the Services
// naming one, status changes included), Namespaces (selection, tenant and
// AviInfraSetting annotations), in NodePort mode Nodes, and in NodePortLocal
// mode pods' port mappings (metadata only).
//
// A Service maps to the key that syncs it (serviceRequest): its shared-VIP
// group's, or its own; an update maps both the old and the new key, so a
// Service that joins, leaves or changes group is synced on both sides.
func (r *ServiceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("service").
		Watches(&corev1.Service{}, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
				q.Add(serviceRequest(e.Object.(*corev1.Service)))
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
				q.Add(serviceRequest(e.ObjectOld.(*corev1.Service)))
				q.Add(serviceRequest(e.ObjectNew.(*corev1.Service)))
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
				q.Add(serviceRequest(e.Object.(*corev1.Service)))
			},
		}, builder.WithPredicates(servicePredicate{s: r.Settings})).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.sliceToService)).
		Watches(&v1beta1.AviInfraSetting{}, handler.EnqueueRequestsFromMapFunc(r.infraToServices)).
		Watches(&v1alpha2.L4Rule{}, handler.EnqueueRequestsFromMapFunc(r.l4RuleToServices)).
		Watches(&corev1.Namespace{}, r.namespaceHandler()).
		WatchesRawSource(r.FullSync.Source(r.allOwned)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8, RateLimiter: retryLimiter()})
	if model.NodePortMode(r.Settings) {
		b = b.Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.allOwned))
	}
	b = watchNPLPods(b, r.Settings, r.Client, func(ctx context.Context, ns, name string) []ctrl.Request {
		var svc corev1.Service
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
			return nil
		}
		return []ctrl.Request{serviceRequest(&svc)}
	})
	return b.Complete(r)
}

// sliceToService maps an EndpointSlice to the key of its Service.
func (r *ServiceReconciler) sliceToService(ctx context.Context, o client.Object) []ctrl.Request {
	name := o.GetLabels()[discoveryv1.LabelServiceName]
	if name == "" {
		return nil
	}
	var svc corev1.Service
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: name}, &svc); err != nil {
		return nil // not ours to sync, or gone: its delete event was mapped
	}
	return []ctrl.Request{serviceRequest(&svc)}
}

// infraToServices maps an AviInfraSetting to the Services selecting it, on
// the Service or through their Namespace.
func (r *ServiceReconciler) infraToServices(ctx context.Context, o client.Object) []ctrl.Request {
	var out []ctrl.Request
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs, client.MatchingFields{cluster.IndexInfraSetting: o.GetName()}); err == nil {
		for i := range svcs.Items {
			out = append(out, serviceRequest(&svcs.Items[i]))
		}
	}
	var nss corev1.NamespaceList
	if err := r.Client.List(ctx, &nss, client.MatchingFields{cluster.IndexInfraSetting: o.GetName()}); err == nil {
		for _, ns := range nss.Items {
			out = append(out, r.servicesIn(ctx, ns.Name)...)
		}
	}
	return out
}

func (r *ServiceReconciler) allOwned(ctx context.Context, _ client.Object) []ctrl.Request {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs); err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range svcs.Items {
		if ownership.OwnsService(&svcs.Items[i], r.Settings) {
			out = append(out, serviceRequest(&svcs.Items[i]))
		}
	}
	return out
}

// servicesIn lists the Services of a namespace that are or were vipgate's.
func (r *ServiceReconciler) servicesIn(ctx context.Context, ns string) []ctrl.Request {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs, client.InNamespace(ns)); err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range svcs.Items {
		s := &svcs.Items[i]
		if ownership.OwnsService(s, r.Settings) || controllerutil.ContainsFinalizer(s, ownership.CleanupFinalizer) {
			out = append(out, serviceRequest(s))
		}
	}
	return out
}

// servicePredicate passes Services that are or were vipgate's, and only for
// changes that matter: spec, annotations, deletion. Our own status
// patches do not trigger another reconcile.
type servicePredicate struct {
	predicate.Funcs
	s *config.Settings
}

func (p servicePredicate) relevant(o client.Object) bool {
	svc, ok := o.(*corev1.Service)
	return ok && (ownership.OwnsService(svc, p.s) || controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer))
}

func (p servicePredicate) Create(e event.CreateEvent) bool { return p.relevant(e.Object) }
func (p servicePredicate) Delete(e event.DeleteEvent) bool { return p.relevant(e.Object) }
func (p servicePredicate) Generic(e event.GenericEvent) bool {
	return p.relevant(e.Object)
}
func (p servicePredicate) Update(e event.UpdateEvent) bool {
	if !p.relevant(e.ObjectNew) && !p.relevant(e.ObjectOld) {
		return false
	}
	o, n := e.ObjectOld.(*corev1.Service), e.ObjectNew.(*corev1.Service)
	// Services have no metadata.generation (it stays 0 on spec changes), so
	// the spec itself is compared: a port, type or IP change must reconcile.
	return !equality.Semantic.DeepEqual(o.Spec, n.Spec) ||
		!mapsEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		n.GetDeletionTimestamp() != nil ||
		// Status edited by someone else (or lost): put our VIP back.
		len(n.Status.LoadBalancer.Ingress) == 0 && len(o.Status.LoadBalancer.Ingress) > 0
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
