// Package reconcile holds vipgate's controllers: Services of type
// LoadBalancer and Ingresses into Avi virtual services (with the VIP written
// back to status), AviInfraSetting status, static routes for pod networks,
// start-up collection of orphaned controller objects and AKO's deleteConfig
// teardown. Each Reconcile is idempotent: it derives what it needs from the
// cluster and the controller again every time (nothing that must survive a
// restart lives in memory), builds the desired model with avi/model, lets the
// applier send only what differs, and patches status only on change.
package reconcile

import (
	"context"
	"net/url"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
)

// Applier is every reconciler's way to the controller; avi/apply implements
// it, and the unit tests fake it.
type Applier interface {
	// Apply makes the controller hold exactly set; Result.VsVip is the VsVip as the controller has it.
	Apply(ctx context.Context, set *model.Set) (*apply.Result, error)
	// HoldL7 takes one of the slots that bound the L7 shards worked on at
	// once, for a shard's whole sync: the returned context carries it into
	// Apply, and the function frees it.
	HoldL7(ctx context.Context) (context.Context, func(), error)
	// Delete removes every object of owner.
	Delete(ctx context.Context, owner apply.Owner) (*apply.Result, error)
	// ListOwned lists the objects carrying createdBy in tenant, of the given types (all when none).
	ListOwned(ctx context.Context, createdBy, tenant string, types ...string) ([]apply.Object, error)
	// DeleteObjects deletes objects found by ListOwned, in reverse dependency order.
	DeleteObjects(ctx context.Context, objs []apply.Object) (*apply.Result, error)
	// Edit changes one object other writers share, read-merge-write with retries.
	Edit(ctx context.Context, typ, name, tenant string, q url.Values, edit apply.EditFunc) (bool, error)
}

var _ Applier = (*apply.Applier)(nil)

// lockedPatch is a merge patch that carries obj's resourceVersion, so it
// fails with a conflict instead of overwriting a change made since obj was
// read. Lists (finalizers, status entries) are replaced whole by a merge
// patch, and other writers edit them too.
func lockedPatch(obj client.Object) client.Patch {
	return client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
}
