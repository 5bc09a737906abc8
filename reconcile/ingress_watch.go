package reconcile

import (
	"context"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

// SetupWithManager watches what shards are made of: Ingresses (the shards
// their hosts map to, before and after a change), IngressClasses,
// AviInfraSettings, Namespaces (selection) and the default certificate
// (every shard), HostRules and HTTPRules (the shards of their hosts, status
// changes included: a verdict decides what is applied), Secrets (the shards
// of the Ingresses naming them), Services and EndpointSlices (the shards
// routing to them), Nodes in NodePort mode, and pods' port mappings in
// NodePortLocal mode. At start it also syncs every shard the controller holds for this
// cluster, so shards emptied while vipgate was down are removed.
func (r *IngressReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.setup()
	// An Ingress event is noted against its shards, whose syncs wait for
	// the changes to stop (ingress_settle.go); the queue holds the key
	// meanwhile instead of waking a worker per event.
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[ctrl.Request], objs ...client.Object) {
		settle := r.settle()
		for _, o := range objs {
			for _, s := range r.shardsOfIngress(ctx, o) {
				if settle <= 0 {
					q.Add(shardRequest(s))
					continue
				}
				r.arrivals.note(s, r.now())
				q.AddAfter(shardRequest(s), settle/5)
			}
		}
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("ingress").
		Watches(&networkingv1.Ingress{}, handler.Funcs{
			CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
				enqueue(ctx, q, e.Object)
			},
			UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
				if ingressChanged(e.ObjectOld, e.ObjectNew) {
					enqueue(ctx, q, e.ObjectOld, e.ObjectNew)
				}
			},
			DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
				enqueue(ctx, q, e.Object)
			},
		}).
		Watches(&networkingv1.IngressClass{}, handler.EnqueueRequestsFromMapFunc(r.everything)).
		Watches(&v1beta1.AviInfraSetting{}, handler.EnqueueRequestsFromMapFunc(r.everything)).
		Watches(&v1beta1.HostRule{}, handler.EnqueueRequestsFromMapFunc(r.hostRuleToShards)).
		Watches(&v1beta1.HTTPRule{}, handler.EnqueueRequestsFromMapFunc(r.httpRuleToShards)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.everything), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WatchesRawSource(r.FullSync.Source(r.everything)).
		// The typed Secret informer admission reads too (one watch on Secrets);
		// its objects carry no data, and the mapping needs only namespace/name.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToShards)).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			return r.byIndex(ctx, cluster.IndexIngressBackend, o.GetNamespace()+"/"+o.GetName())
		})).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			svc := o.GetLabels()[discoveryv1.LabelServiceName]
			if svc == "" {
				return nil
			}
			return r.byIndex(ctx, cluster.IndexIngressBackend, o.GetNamespace()+"/"+svc)
		})).
		WatchesRawSource(source.Func(r.startupShards)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8, RateLimiter: retryLimiter()})
	if model.NodePortMode(r.Settings) {
		b = b.Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.everything))
	}
	b = watchNPLPods(b, r.Settings, r.Client, func(ctx context.Context, ns, svc string) []ctrl.Request {
		return r.byIndex(ctx, cluster.IndexIngressBackend, ns+"/"+svc)
	})
	return b.Complete(r)
}

// ingressChanged ignores updates that change no shard: vipgate's own status
// patches, and finalizer edits.
func ingressChanged(o, n client.Object) bool {
	return o.GetGeneration() != n.GetGeneration() ||
		!mapsEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		(o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil)
}

func shardRequest(name string) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Name: name}}
}

// shardsOfIngress lists the shards an Ingress's hosts map to through its
// class, or, when it has none of vipgate's (any more), through every setting
// it could have been on, so the shards it left drop it.
func (r *IngressReconciler) shardsOfIngress(ctx context.Context, o client.Object) []string {
	ing, ok := o.(*networkingv1.Ingress)
	if !ok {
		return nil
	}
	classes, err := cluster.IngressClasses(ctx, r.Client)
	if err != nil {
		return nil
	}
	if c := ownership.IngressClassFor(ing, classes, r.Settings); c != nil {
		infra, err := r.infraOfClass(ctx, c)
		if err == nil {
			return model.ShardsOf(r.Settings, model.L7Ingress{Ingress: ing, Infra: infra, Subdomain: r.hostlessSubdomain()})
		}
	}
	var hosts []string
	for _, rule := range ing.Spec.Rules {
		if rule.Host != "" {
			hosts = append(hosts, rule.Host)
		}
	}
	out := model.ShardsOf(r.Settings, model.L7Ingress{Ingress: ing, Subdomain: r.hostlessSubdomain()})
	for _, infra := range r.infraSettings(ctx) {
		out = append(out, model.ShardsOf(r.Settings, model.L7Ingress{Ingress: ing, Infra: infra, Subdomain: r.hostlessSubdomain()})...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (r *IngressReconciler) infraSettings(ctx context.Context) []*v1beta1.AviInfraSetting {
	var list v1beta1.AviInfraSettingList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	out := make([]*v1beta1.AviInfraSetting, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out
}

// byIndex maps to the shards of the Ingresses found under an index value.
func (r *IngressReconciler) byIndex(ctx context.Context, index, value string) []ctrl.Request {
	var list networkingv1.IngressList
	if err := r.Client.List(ctx, &list, client.MatchingFields{index: value}); err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range list.Items {
		for _, s := range r.shardsOfIngress(ctx, &list.Items[i]) {
			out = append(out, shardRequest(s))
		}
	}
	return out
}

func (r *IngressReconciler) secretToShards(ctx context.Context, o client.Object) []ctrl.Request {
	if o.GetNamespace() == r.Namespace && o.GetName() == DefaultSecretName {
		return r.everything(ctx, o)
	}
	return r.byIndex(ctx, cluster.IndexIngressSecret, o.GetNamespace()+"/"+o.GetName())
}

// everything enqueues every shard that can exist under the current settings
// and AviInfraSettings: after an IngressClass, AviInfraSetting or namespace
// change any host may move.
func (r *IngressReconciler) everything(ctx context.Context, _ client.Object) []ctrl.Request {
	var list networkingv1.IngressList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var hosts []string
	for i := range list.Items {
		for _, rule := range list.Items[i].Spec.Rules {
			if rule.Host != "" {
				hosts = append(hosts, rule.Host)
			}
		}
	}
	var out []ctrl.Request
	for _, s := range model.CandidateShards(r.Settings, r.infraSettings(ctx), hosts) {
		out = append(out, shardRequest(s))
	}
	return out
}

// startupShards enqueues every shard: the candidates, and those the
// controller holds for this cluster (a shard of an AviInfraSetting deleted
// while vipgate was down, say).
func (r *IngressReconciler) startupShards(ctx context.Context, q workqueue.TypedRateLimitingInterface[ctrl.Request]) error {
	r.handoff.attach(q)
	for _, req := range r.everything(ctx, nil) {
		q.Add(req)
	}
	objs, err := r.Applier.ListOwned(ctx, r.Settings.CreatedBy(), r.Settings.ControllerSettings.TenantName, model.TypeVirtualService)
	if err != nil {
		// Not fatal: the candidates cover every shard current settings can
		// give; orphan collection at the next start covers the rest.
		ctrl.LoggerFrom(ctx).Info("listing L7 shards on the controller failed", "error", err.Error())
		return nil
	}
	for _, o := range objs {
		if !o.Child && model.IsShardName(r.Settings.AKOSettings.ClusterName, o.Name) {
			q.Add(shardRequest(o.Name))
		}
	}
	return nil
}

// ExpectedNames returns "type/name" of every controller object the current
// Ingresses account for, for start-up orphan collection.
func (r *IngressReconciler) ExpectedNames(ctx context.Context) (map[string]bool, error) {
	r.setup()
	w, err := r.loadWorld(ctx)
	if err != nil {
		return nil, err
	}
	names := model.L7Names(r.Settings, w.plan)
	for k := range model.HostRuleCertNames(r.Settings, w.plan) {
		names[k] = true
	}
	return names, nil
}

// shardHandoff passes shards to the Ingress controller's work queue from
// outside it (orphan collection), holding them until the queue exists.
type shardHandoff struct {
	mu      sync.Mutex
	q       workqueue.TypedRateLimitingInterface[ctrl.Request]
	pending []string
}

func (h *shardHandoff) attach(q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.q = q
	for _, s := range h.pending {
		q.Add(shardRequest(s))
	}
	h.pending = nil
}

// RemoveShard has the shard's own reconcile remove shard, which no Ingress
// routes to any more: it clears the Ingress status entries at the shard's
// addresses before it deletes the VsVip (once the VsVip is gone nothing
// tells which entries were its), and it is the shard's only writer. Orphan
// collection hands shard VsVips over here instead of deleting them.
func (r *IngressReconciler) RemoveShard(shard string) {
	h := &r.handoff
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.q != nil {
		h.q.Add(shardRequest(shard))
		return
	}
	h.pending = append(h.pending, shard)
}
