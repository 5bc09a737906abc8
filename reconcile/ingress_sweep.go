package reconcile

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/ownership"
)

// l7Sweep removes L7 objects that a shard write interrupted halfway left
// unreachable. The applier finds a shard's pools, pool groups, policy sets,
// certificates and SNI children by following references from its parent
// virtual service; a delete (of a shard, or of routes a shard dropped) that
// fails after removing the object referring to them leaves them where the
// next attempt cannot see them, until the next start's orphan collection.
// So after a shard write failed, the next successful one sweeps: every L7
// object of this cluster the current plan does not name goes.
type l7Sweep struct {
	// failures counts failed shard writes; swept is the count the last
	// complete sweep covered.
	failures, swept atomic.Int64
	running         sync.Mutex
}

// failed records a failed shard write.
func (s *l7Sweep) failed() { s.failures.Add(1) }

// sweepTypes are the L7 object types found only by reference (a shard's
// VsVip and parent virtual service are found by name).
var sweepTypes = []string{model.TypeHTTPPolicySet, model.TypePoolGroup, model.TypePool, model.TypeSSLKeyAndCertificate, model.TypeVirtualService}

// sweepIfNeeded runs a sweep when a shard write failed since the last one.
// One sweep runs at a time; a reconcile that finds one running leaves it to
// it (the failure count tells a later success whether it is still needed).
func (r *IngressReconciler) sweepIfNeeded(ctx context.Context) error {
	sw := &r.sweep
	n := sw.failures.Load()
	if n == sw.swept.Load() || !sw.running.TryLock() {
		return nil
	}
	defer sw.running.Unlock()
	s := r.Settings
	tenant := s.ControllerSettings.TenantName
	// Objects first, Ingresses second: an object created in between belongs
	// to an Ingress the second read sees (the same informer cache the
	// writing reconcile read).
	objs, err := r.Applier.ListOwned(ctx, s.CreatedBy(), tenant, sweepTypes...)
	if err != nil {
		return err
	}
	w, err := r.loadWorld(ctx)
	if err != nil {
		return err
	}
	names := model.L7Names(s, w.plan)
	var orphans []apply.Object
	for _, o := range objs {
		if o.OwnedBy != ownership.OwnerL7 || o.ClusterID != s.ClusterID || (o.Type == model.TypeVirtualService && !o.Child) {
			continue
		}
		if !names[o.Type+"/"+o.Name] {
			orphans = append(orphans, o)
		}
	}
	if len(orphans) > 0 {
		res, err := r.Applier.DeleteObjects(ctx, orphans)
		if res != nil && len(res.Deleted) > 0 {
			logr.FromContextOrDiscard(ctx).Info("removed L7 objects an interrupted shard write left behind", "deleted", res.Deleted)
		}
		if err != nil {
			return err
		}
	}
	sw.swept.Store(n)
	return nil
}
