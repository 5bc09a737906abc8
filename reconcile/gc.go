package reconcile

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
)

// OrphanCollector deletes, at start-up (on the leader), the controller
// objects this cluster created that no Service or Ingress accounts for any
// more: those left behind while vipgate was down, or by a failure halfway.
// A collection the controller fails is tried again until one succeeds: a
// restart during an outage would otherwise leave the orphans (a tenant a
// namespace moved away from while no replica led, say) until the next start.
type OrphanCollector struct {
	Client   client.Reader
	Cache    cache.Cache
	Applier  Applier
	Settings *config.Settings
	// L7Names, when set, returns "type/name" of every L7 object the current
	// Ingresses account for (IngressReconciler.ExpectedNames); without it every
	// L7 object of ours is kept, since nothing could tell which are orphans.
	L7Names func(ctx context.Context) (map[string]bool, error)
	// AKOGate, when set, is asked before AKO's orphaned objects are deleted
	// (they are kept while AKO itself runs).
	AKOGate func(context.Context) error
	// Retry is the first wait after a failed collection, doubling up to
	// RetryCap (defaults 1s and 10s: an outage ends, and orphans go soon after).
	Retry, RetryCap time.Duration
	// Gateways, when set, returns the owner identities of the Gateways
	// vipgate serves (GatewayReconciler.ExpectedOwners); without it (Gateway
	// API off) Gateway objects are kept.
	Gateways func(ctx context.Context) (map[string]bool, error)
	// Shards, when set, takes over an orphan L7 shard's VsVip instead of it
	// being deleted here (IngressReconciler.RemoveShard): the shard's
	// reconcile clears the Ingress status entries at its addresses first,
	// which nothing could find once it is gone.
	Shards func(name string)
	// Done, when set, receives the result once: the collection that
	// succeeded, or the last error when the manager stops first (tests).
	Done func(deleted []string, err error)
}

// NeedLeaderElection: only the leader writes to the controller.
func (g *OrphanCollector) NeedLeaderElection() bool { return true }

// Start collects, retrying with backoff until a collection succeeds or the
// manager stops, and returns; the manager keeps running.
func (g *OrphanCollector) Start(ctx context.Context) error {
	// The manager gives runnables no logger in ctx: use the global one.
	log := ctrl.LoggerFrom(ctx).WithName("orphans")
	ctx = logr.NewContext(ctx, log)
	wait, cap := g.Retry, g.RetryCap
	if wait <= 0 {
		wait = time.Second
	}
	if cap < wait {
		cap = max(wait, 10*time.Second)
	}
	for {
		deleted, err := g.Collect(ctx)
		if err == nil {
			log.Info("orphan collection done", "deleted", len(deleted), "objects", deleted[:min(len(deleted), 50)])
			if g.Done != nil {
				g.Done(deleted, nil)
			}
			return nil
		}
		log.Error(err, "orphan collection failed; retrying", "in", wait.String(), "deletedSoFar", len(deleted))
		select {
		case <-ctx.Done():
			if g.Done != nil {
				g.Done(deleted, err)
			}
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, cap)
	}
}

// Collect lists our objects on the controller first and the Services second, so
// an object created in between always belongs to a Service the second list
// sees. Ownership is read from the objects' markers, never from names: an
// object is collected only when its cluster identity is this cluster's and
// the owner it names no longer accounts for it (gone, not vipgate's any
// more, moved to another tenant, or left its shared-VIP group). Objects of
// another cluster identity, and objects without identity markers (written
// before vipgate had them), are never collected. AKO's objects of this
// cluster, when adopted, are collected once the owner AKO's markers name is
// gone (see akoOrphans).
func (g *OrphanCollector) Collect(ctx context.Context) ([]string, error) {
	if !g.Cache.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("caches did not sync")
	}
	objs, nsByName, err := listOwnedEverywhere(ctx, g.Client, g.Applier, g.Settings)
	if err != nil {
		return nil, err
	}
	owners, err := g.expectedOwners(ctx, nsByName)
	if err != nil {
		return nil, err
	}
	var l7 map[string]bool
	if g.L7Names != nil {
		if l7, err = g.L7Names(ctx); err != nil {
			return nil, err
		}
	}
	var gateways map[string]bool
	if g.Gateways != nil {
		if gateways, err = g.Gateways(ctx); err != nil {
			return nil, err
		}
	}
	orphans, err := g.akoOrphans(ctx, objs, owners)
	if err != nil {
		return nil, err
	}
	unmarked, moving := 0, 0
	var handed []string
	for _, o := range objs {
		switch {
		case o.AKO:
			// AKO's objects: akoOrphans decided.
		case o.ClusterID == "":
			unmarked++
		case o.ClusterID != g.Settings.ClusterID:
			// Another cluster that shares the clusterName: never ours.
		case o.OwnedBy == ownership.OwnerL7:
			// L7 shards live in the configured tenant; without the plan
			// (L7Names unset) nothing tells which are orphans.
			if l7 != nil && !(o.Tenant == g.Settings.ControllerSettings.TenantName && l7[o.Type+"/"+o.Name]) {
				if o.Type == model.TypeVsVip && o.Tenant == g.Settings.ControllerSettings.TenantName && g.Shards != nil {
					g.Shards(o.Name)
					handed = append(handed, o.Name)
					continue
				}
				orphans = append(orphans, o)
			}
		case ownership.IsGatewayOwner(o.OwnedBy):
			// Gateways live in the configured tenant.
			if gateways != nil && !(o.Tenant == g.Settings.ControllerSettings.TenantName && gateways[o.OwnedBy]) {
				orphans = append(orphans, o)
			}
		case owners[o.Tenant][o.OwnedBy]:
		case movingFrom(o, owners, objs):
			moving++
		default:
			orphans = append(orphans, o)
		}
	}
	if moving > 0 {
		logr.FromContextOrDiscard(ctx).Info("objects in a tenant their namespace moved away from are kept until the owner's virtual service exists in the new tenant (its reconcile then removes them)",
			"count", moving)
	}
	if unmarked > 0 {
		logr.FromContextOrDiscard(ctx).Info("objects with this cluster's created_by but no cluster identity marker are left alone (written by an older vipgate, or by another cluster with the same clusterName); delete them by hand when they are orphans",
			"count", unmarked)
	}
	if len(handed) > 0 {
		logr.FromContextOrDiscard(ctx).Info("orphan L7 shards left to their reconcile, which clears the Ingress status at their addresses first", "shards", handed)
	}
	if len(orphans) == 0 {
		return nil, nil
	}
	res, err := g.Applier.DeleteObjects(ctx, orphans)
	if res == nil {
		return nil, err
	}
	return res.Deleted, err
}

// movingFrom reports whether o belongs to a live owner expected in another
// tenant (its namespace moved) whose virtual service is not there yet: o
// still serves the owner's traffic, and deleting it would cut that traffic
// while the new tenant cannot allocate (or is not written yet). Once the
// owner syncs in its new tenant, the reconcile removes what the old one
// holds (leaveOldTenants reads the tenants from the inventory).
func movingFrom(o apply.Object, owners map[string]map[string]bool, objs []apply.Object) bool {
	for t, set := range owners {
		if t == o.Tenant || !set[o.OwnedBy] {
			continue
		}
		return !slices.ContainsFunc(objs, func(x apply.Object) bool {
			return x.Type == "virtualservice" && x.Tenant == t && x.OwnedBy == o.OwnedBy && x.ClusterID == o.ClusterID
		})
	}
	return false
}

// expectedOwners returns, per tenant, the owner identities whose L4 objects
// should exist: every Service vipgate owns (or its shared-VIP group) in the
// tenant its namespace names now.
func (g *OrphanCollector) expectedOwners(ctx context.Context, nsByName map[string]*corev1.Namespace) (map[string]map[string]bool, error) {
	var svcs corev1.ServiceList
	if err := g.Client.List(ctx, &svcs); err != nil {
		return nil, err
	}
	owners := map[string]map[string]bool{}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		ns := nsByName[s.Namespace]
		if !ownership.OwnsService(s, g.Settings) || s.DeletionTimestamp != nil || !ownership.NamespaceSelected(ns, g.Settings) {
			continue
		}
		t := ownership.TenantFor(ns, g.Settings)
		if owners[t] == nil {
			owners[t] = map[string]bool{}
		}
		owners[t][ownership.OwnerOfService(s)] = true
	}
	return owners, nil
}

// listOwnedEverywhere lists this cluster's objects (by created_by) in every
// tenant: with one read across tenants where the account may ("*"), else in
// each tenant it may have written to (the configured one and those namespace
// annotations name), so objects left in a tenant a namespace moved away from
// are found after a restart too. It also returns the Namespaces by name.
func listOwnedEverywhere(ctx context.Context, c client.Reader, a Applier, s *config.Settings) ([]apply.Object, map[string]*corev1.Namespace, error) {
	var nss corev1.NamespaceList
	if err := c.List(ctx, &nss); err != nil {
		return nil, nil, err
	}
	nsByName := map[string]*corev1.Namespace{}
	tenants := []string{s.ControllerSettings.TenantName}
	for i := range nss.Items {
		ns := &nss.Items[i]
		nsByName[ns.Name] = ns
		if t := ownership.TenantFor(ns, s); !slices.Contains(tenants, t) {
			tenants = append(tenants, t)
		}
	}
	objs, err := a.ListOwned(ctx, s.CreatedBy(), "*")
	if err == nil {
		return objs, nsByName, nil
	}
	if session.IsRetryable(err) {
		return nil, nil, err
	}
	logr.FromContextOrDiscard(ctx).Info("cannot read across tenants; reading the tenants namespaces name", "error", session.Message(err))
	objs = nil
	for _, t := range tenants {
		in, err := a.ListOwned(ctx, s.CreatedBy(), t)
		if err != nil && t != s.ControllerSettings.TenantName && !session.IsRetryable(err) {
			// A tenant an annotation names but we cannot read (it does not
			// exist, or no permission) holds nothing of ours.
			logr.FromContextOrDiscard(ctx).Info("skipping a tenant", "tenant", t, "error", session.Message(err))
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("tenant %s: %w", t, err)
		}
		objs = append(objs, in...)
	}
	return objs, nsByName, nil
}
