package operator

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/reconcile"
)

// identityGate lets no write reach the controller before this cluster's
// identity has been checked against what the controller holds (checkIdentity
// on a loaded inventory). A controller that cannot be read at start-up does
// not stop vipgate (its webhooks fail open meanwhile), but it must not then
// write on an unchecked identity: a second cluster installed with the same
// clusterName would delete the first one's shards, routes and orphans as its
// own. So the first write checks, a write that cannot check fails and is
// retried as any controller error, and a clash stops the process. Reads pass.
type identityGate struct {
	reconcile.Applier
	snapshot func() *inventory.Snapshot
	refresh  func(context.Context) error
	settings *config.Settings
	// fatal receives the clash, once: the manager stops with it.
	fatal chan error

	verified atomic.Bool
	mu       sync.Mutex
}

// check verifies the identity once; nil once it has been verified.
func (g *identityGate) check(ctx context.Context) error {
	if g.verified.Load() {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.verified.Load() {
		return nil
	}
	snap := g.snapshot()
	if snap == nil {
		if err := g.refresh(ctx); err != nil {
			return fmt.Errorf("nothing is written before this cluster's identity is checked against the controller, and the controller could not be read: %w", err)
		}
		if snap = g.snapshot(); snap == nil {
			return fmt.Errorf("nothing is written before this cluster's identity is checked against the controller, and no inventory is loaded yet")
		}
	}
	if err := checkIdentity(snap, g.settings); err != nil {
		select {
		case g.fatal <- err:
		default:
		}
		return err
	}
	g.verified.Store(true)
	return nil
}

// Apply implements reconcile.Applier once the identity is verified.
func (g *identityGate) Apply(ctx context.Context, set *model.Set) (*apply.Result, error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	return g.Applier.Apply(ctx, set)
}

// Delete implements reconcile.Applier once the identity is verified.
func (g *identityGate) Delete(ctx context.Context, owner apply.Owner) (*apply.Result, error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	return g.Applier.Delete(ctx, owner)
}

// DeleteObjects implements reconcile.Applier once the identity is verified.
func (g *identityGate) DeleteObjects(ctx context.Context, objs []apply.Object) (*apply.Result, error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	return g.Applier.DeleteObjects(ctx, objs)
}

// Edit implements reconcile.Applier once the identity is verified.
func (g *identityGate) Edit(ctx context.Context, typ, name, tenant string, q url.Values, edit apply.EditFunc) (bool, error) {
	if err := g.check(ctx); err != nil {
		return false, err
	}
	return g.Applier.Edit(ctx, typ, name, tenant, q, edit)
}

// fatalRunnable stops the manager with the first error sent to it (every
// replica runs it; a clash found by the leader's gate ends the process).
type fatalRunnable chan error

// Start waits for an error or the end of ctx.
func (f fatalRunnable) Start(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-f:
		return err
	}
}

// NeedLeaderElection is false: the runnable only waits.
func (fatalRunnable) NeedLeaderElection() bool { return false }
