package reconcile

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
)

// NodePortLocal at the edge: the pods behind a Service's endpoints are read
// (metadata only: the port mappings are an annotation, and a metadata
// informer keeps no pod specs in memory) and watched, so a mapping Antrea
// adds, moves or drops reaches the pools.

// podMeta is the metadata-only view of a Pod the cache and watches use.
func podMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	return m
}

// withNPL fills m.NPL in NodePortLocal mode: the port mappings of every pod
// m's EndpointSlices point at. A pod gone from the cache, or one whose
// annotation does not parse (logged), has none.
func withNPL(ctx context.Context, c client.Reader, s *config.Settings, m *model.Member) error {
	if !model.NodePortLocalMode(s) || m.Service == nil {
		return nil
	}
	m.NPL = map[string][]model.NPLMapping{}
	for _, sl := range m.Slices {
		for _, ep := range sl.Endpoints {
			r := ep.TargetRef
			if r == nil || r.Kind != "Pod" || r.Name == "" {
				continue
			}
			if _, done := m.NPL[r.Name]; done {
				continue
			}
			pod := podMeta()
			if err := c.Get(ctx, types.NamespacedName{Namespace: sl.Namespace, Name: r.Name}, pod); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return err
			}
			v, ok := pod.Annotations[model.AnnotationNPL]
			if !ok {
				m.NPL[r.Name] = nil
				continue
			}
			mappings, err := model.ParseNPL(v)
			if err != nil {
				logr.FromContextOrDiscard(ctx).Info("pod port mappings ignored", "pod", sl.Namespace+"/"+r.Name, "why", err.Error())
			}
			m.NPL[r.Name] = mappings
		}
	}
	return nil
}

// watchNPLPods adds a metadata-only watch on pods to b in NodePortLocal mode:
// a pod whose port mappings change maps, through the EndpointSlices that
// point at it, to toRequests of their Services ("<ns>/<service>").
func watchNPLPods(b *builder.Builder, s *config.Settings, c client.Reader, toRequests func(ctx context.Context, namespace, service string) []ctrl.Request) *builder.Builder {
	if !model.NodePortLocalMode(s) {
		return b
	}
	return b.Watches(podMeta(), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		var slices discoveryv1.EndpointSliceList
		if err := c.List(ctx, &slices, client.InNamespace(o.GetNamespace()), client.MatchingFields{cluster.IndexSlicePod: o.GetName()}); err != nil {
			return nil
		}
		var out []ctrl.Request
		seen := map[string]bool{}
		for _, sl := range slices.Items {
			svc := sl.Labels[discoveryv1.LabelServiceName]
			if svc == "" || seen[svc] {
				continue
			}
			seen[svc] = true
			out = append(out, toRequests(ctx, o.GetNamespace(), svc)...)
		}
		return out
	}), builder.OnlyMetadata, builder.WithPredicates(nplPodPredicate{}))
}

// nplPodPredicate passes pod events that can change pools: a pod with
// mappings coming or going, and a change of its mappings. Status updates,
// which are most pod updates, carry none (readiness comes through the
// EndpointSlices).
type nplPodPredicate struct{ predicate.Funcs }

func (nplPodPredicate) Create(e event.CreateEvent) bool { return hasNPL(e.Object) }
func (nplPodPredicate) Delete(e event.DeleteEvent) bool { return hasNPL(e.Object) }
func (nplPodPredicate) Generic(event.GenericEvent) bool { return false }
func (nplPodPredicate) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetAnnotations()[model.AnnotationNPL] != e.ObjectNew.GetAnnotations()[model.AnnotationNPL]
}

func hasNPL(o client.Object) bool {
	_, ok := o.GetAnnotations()[model.AnnotationNPL]
	return ok
}
