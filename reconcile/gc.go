package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// OrphanCollector deletes, once at start-up (on the leader), the controller
// objects this cluster created that no Service or Ingress accounts for any
// more: those left behind while vipgate was down, or by a failure halfway.
type OrphanCollector struct {
	Client   client.Reader
	Cache    cache.Cache
	Applier  Applier
	Settings *config.Settings
	// L7Names, when set, returns "type/name" of every L7 object the current
	// Ingresses account for (IngressReconciler.ExpectedNames); without it every
	// L7 object of ours is kept, since nothing could tell which are orphans.
	L7Names func(ctx context.Context) (map[string]bool, error)
	// Done, when set, receives the result once (tests).
	Done func(deleted []string, err error)
}

// NeedLeaderElection: only the leader writes to the controller.
func (g *OrphanCollector) NeedLeaderElection() bool { return true }

// Start runs one collection and returns; the manager keeps running.
func (g *OrphanCollector) Start(ctx context.Context) error {
	deleted, err := g.Collect(ctx)
	log := logr.FromContextOrDiscard(ctx).WithName("orphans")
	if err != nil {
		log.Error(err, "orphan collection failed; it runs again at the next start")
	} else {
		log.Info("orphan collection done", "deleted", len(deleted))
	}
	if g.Done != nil {
		g.Done(deleted, err)
	}
	return nil
}

// Collect lists our objects on the controller first and the Services second, so
// an object created in between always belongs to a Service the second list sees.
func (g *OrphanCollector) Collect(ctx context.Context) ([]string, error) {
	if !g.Cache.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("caches did not sync")
	}
	objs, nsByName, err := listOwnedEverywhere(ctx, g.Client, g.Applier, g.Settings)
	if err != nil {
		return nil, err
	}
	var svcs corev1.ServiceList
	if err := g.Client.List(ctx, &svcs); err != nil {
		return nil, err
	}
	// owners and bases per tenant: a Service's objects are expected only in
	// the tenant its namespace names now.
	owners, bases := map[string]map[string]bool{}, map[string]map[string]bool{}
	cluster := g.Settings.AKOSettings.ClusterName
	for i := range svcs.Items {
		s := &svcs.Items[i]
		ns := nsByName[s.Namespace]
		if !ownership.OwnsService(s, g.Settings) || s.DeletionTimestamp != nil || !ownership.NamespaceSelected(ns, g.Settings) {
			continue
		}
		t := ownership.TenantFor(ns, g.Settings)
		if owners[t] == nil {
			owners[t], bases[t] = map[string]bool{}, map[string]bool{}
		}
		base := model.BaseName(cluster, s.Namespace, s.Name)
		bases[t][base] = true
		owners[t][base] = true
		if key := s.Annotations[rules.AnnSharedVIP]; key != "" {
			owners[t][model.BaseName(cluster, s.Namespace, key)] = true
		}
	}
	var l7 map[string]bool
	if g.L7Names != nil {
		var err error
		if l7, err = g.L7Names(ctx); err != nil {
			return nil, err
		}
	}
	var orphans []apply.Object
	for _, o := range objs {
		if expected(o, owners[o.Tenant], bases[o.Tenant]) {
			continue
		}
		// L7 shards live in the configured tenant; an L7-looking object in
		// another tenant is left alone rather than guessed at.
		if (l7 == nil || o.Tenant != g.Settings.ControllerSettings.TenantName) && isL7(o) || l7[o.Type+"/"+o.Name] {
			continue
		}
		orphans = append(orphans, o)
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

// isL7 reports whether o can only be an L7 shard's object: a type only L7
// uses, or a pool named the L7 way (with '_').
func isL7(o apply.Object) bool {
	switch o.Type {
	case model.TypePoolGroup, model.TypeHTTPPolicySet, model.TypeSSLKeyAndCertificate:
		return true
	case model.TypePool:
		return strings.Contains(o.Name, "_")
	}
	return false
}

func expected(o apply.Object, owners, bases map[string]bool) bool {
	if o.Type != model.TypePool {
		return owners[o.Name]
	}
	for b := range bases {
		if model.IsPoolOf(b, o.Name) {
			return true
		}
	}
	return false
}

// listOwnedEverywhere lists this cluster's objects in every tenant it may have
// written to: the configured one and those named by namespace annotations
// (ako.vmware.com/tenant-name). It also returns the Namespaces by name.
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
	var objs []apply.Object
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
