package reconcile

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
)

// Teardown is AKO's deleteConfig: it runs on the leader instead of the
// reconcilers and removes everything this cluster created on the controller
// (in every tenant it used, static routes included), then releases the
// Services and Ingresses (finalizer, VIP status, condition), so vipgate can be
// uninstalled without leaving objects behind or Services stuck in deletion.
// It retries with backoff until it has fully succeeded.
type Teardown struct {
	Client   client.Client
	Cache    cache.Cache
	Applier  Applier
	Settings *config.Settings
	// Routes removes this cluster's static routes; nil when route sync is off.
	Routes func(ctx context.Context) error
	// Done, when set, receives the outcome of each attempt (tests).
	Done func(deleted []string, err error)
}

// NeedLeaderElection: only the leader writes.
func (t *Teardown) NeedLeaderElection() bool { return true }

// Start tears down, retrying until success or shutdown.
func (t *Teardown) Start(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithName("teardown")
	wait := time.Second
	for {
		deleted, err := t.Run(ctx)
		if t.Done != nil {
			t.Done(deleted, err)
		}
		if err == nil {
			log.Info("deleteConfig: everything this cluster created is removed; set deleteConfig false to resume", "deleted", len(deleted))
			return nil
		}
		log.Error(err, "deleteConfig: teardown incomplete; retrying", "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Minute)
	}
}

// Run does one full teardown: controller objects first, so a Service is
// released only once nothing of it is left on the controller.
func (t *Teardown) Run(ctx context.Context) ([]string, error) {
	if !t.Cache.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("caches did not sync")
	}
	all, _, err := listOwnedEverywhere(ctx, t.Client, t.Applier, t.Settings)
	if err != nil {
		return nil, err
	}
	// Another cluster with the same clusterName keeps its objects.
	objs := slices.DeleteFunc(all, func(o apply.Object) bool {
		return o.ClusterID != "" && t.Settings.ClusterID != "" && o.ClusterID != t.Settings.ClusterID
	})
	var deleted []string
	if len(objs) > 0 {
		res, err := t.Applier.DeleteObjects(ctx, objs)
		if res != nil {
			deleted = res.Deleted
		}
		if err != nil {
			return deleted, err
		}
	}
	if t.Routes != nil {
		if err := t.Routes(ctx); err != nil {
			return deleted, fmt.Errorf("removing static routes: %w", err)
		}
	}
	return deleted, t.release(ctx)
}

// release drops vipgate's finalizer, VIP status and condition from every
// Service and Ingress that still carries them.
func (t *Teardown) release(ctx context.Context) error {
	var svcs corev1.ServiceList
	if err := t.Client.List(ctx, &svcs); err != nil {
		return err
	}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		if meta.FindStatusCondition(s.Status.Conditions, ConditionSynced) != nil {
			patch := client.MergeFrom(s.DeepCopy())
			s.Status.LoadBalancer.Ingress = nil
			meta.RemoveStatusCondition(&s.Status.Conditions, ConditionSynced)
			if err := t.Client.Status().Patch(ctx, s, patch); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		if err := t.dropFinalizer(ctx, s); err != nil {
			return err
		}
	}
	var ings networkingv1.IngressList
	if err := t.Client.List(ctx, &ings); err != nil {
		return err
	}
	for i := range ings.Items {
		ing := &ings.Items[i]
		if !controllerutil.ContainsFinalizer(ing, ownership.CleanupFinalizer) {
			continue
		}
		if len(ing.Status.LoadBalancer.Ingress) > 0 {
			patch := client.MergeFrom(ing.DeepCopy())
			ing.Status.LoadBalancer.Ingress = nil
			if err := t.Client.Status().Patch(ctx, ing, patch); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		if err := t.dropFinalizer(ctx, ing); err != nil {
			return err
		}
	}
	return nil
}

func (t *Teardown) dropFinalizer(ctx context.Context, o client.Object) error {
	if !controllerutil.ContainsFinalizer(o, ownership.CleanupFinalizer) {
		return nil
	}
	patch := lockedPatch(o)
	controllerutil.RemoveFinalizer(o, ownership.CleanupFinalizer)
	return client.IgnoreNotFound(t.Client.Patch(ctx, o, patch))
}
