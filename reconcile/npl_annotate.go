package reconcile

import (
	"context"
	"encoding/json"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
)

// NPLServiceAnnotator asks Antrea for NodePortLocal mappings (NodePortLocal
// mode only): Antrea maps the pods of a Service only when the Service
// carries nodeportlocal.antrea.io/enabled: "true", so it sets that on every
// Service vipgate sends traffic to, its LoadBalancer Services and its
// Ingresses' backends, as AKO does. It never removes the annotation: the
// Service's owner may want it for other reasons.
type NPLServiceAnnotator struct {
	Client   client.Client
	Settings *config.Settings
}

// Reconcile annotates one Service when vipgate uses it and it lacks the annotation.
func (r *NPLServiceAnnotator) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var svc corev1.Service
	if err := r.Client.Get(ctx, req.NamespacedName, &svc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if svc.DeletionTimestamp != nil || svc.Annotations[model.AnnotationNPLEnabled] == "true" {
		return ctrl.Result{}, nil
	}
	used, err := r.used(ctx, &svc)
	if err != nil || !used {
		return ctrl.Result{}, err
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{model.AnnotationNPLEnabled: "true"}}})
	if err := r.Client.Patch(ctx, &svc, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	logr.FromContextOrDiscard(ctx).Info("Service enabled for NodePortLocal", "service", req.String(), "annotation", model.AnnotationNPLEnabled)
	return ctrl.Result{}, nil
}

// used reports whether vipgate sends traffic to svc: a LoadBalancer Service
// of its own, or the backend of an Ingress of one of its classes.
func (r *NPLServiceAnnotator) used(ctx context.Context, svc *corev1.Service) (bool, error) {
	if ownership.OwnsService(svc, r.Settings) {
		return true, nil
	}
	var ings networkingv1.IngressList
	if err := r.Client.List(ctx, &ings, client.MatchingFields{cluster.IndexIngressBackend: svc.Namespace + "/" + svc.Name}); err != nil || len(ings.Items) == 0 {
		return false, err
	}
	classes, err := cluster.IngressClasses(ctx, r.Client)
	if err != nil {
		return false, err
	}
	for i := range ings.Items {
		if ownership.IngressClassFor(&ings.Items[i], classes, r.Settings) != nil {
			return true, nil
		}
	}
	return false, nil
}

// SetupWithManager registers the annotator in NodePortLocal mode: Services
// that lack the annotation, and the backends of every Ingress created or
// changed (an Ingress may start using an existing Service).
func (r *NPLServiceAnnotator) SetupWithManager(mgr ctrl.Manager) error {
	if !model.NodePortLocalMode(r.Settings) {
		return nil
	}
	lacks := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetAnnotations()[model.AnnotationNPLEnabled] != "true"
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("npl-annotator").
		For(&corev1.Service{}, builder.WithPredicates(lacks)).
		Watches(&networkingv1.Ingress{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			var out []ctrl.Request
			for _, b := range ingressBackendNames(o.(*networkingv1.Ingress)) {
				out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: b}})
			}
			return out
		})).
		Complete(r)
}

// ingressBackendNames are the Services an Ingress routes to.
func ingressBackendNames(ing *networkingv1.Ingress) []string {
	var out []string
	add := func(b *networkingv1.IngressServiceBackend) {
		if b != nil && b.Name != "" {
			out = append(out, b.Name)
		}
	}
	if ing.Spec.DefaultBackend != nil {
		add(ing.Spec.DefaultBackend.Service)
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			add(p.Backend.Service)
		}
	}
	return out
}
