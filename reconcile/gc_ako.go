package reconcile

import (
	"context"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// akoOrphans picks, among AKO's objects of this cluster (listed when
// adoption is on), those whose Kubernetes owner is gone: AKO names it in
// its markers (Namespace with ServiceName, GatewayName for a shared VIP, or
// IngressName), and a VsVip of an L4 name no Service accounts for. Objects
// whose markers name no owner (an L7 shard's, an SNI child's) are left to the
// shard they hang off: its reconcile adopts or deletes them.
func (g *OrphanCollector) akoOrphans(ctx context.Context, objs []apply.Object, owners map[string]map[string]bool) ([]apply.Object, error) {
	ingresses, err := g.ownedIngresses(ctx)
	if err != nil {
		return nil, err
	}
	cluster := g.Settings.AKOSettings.ClusterName
	bases := map[string]map[string]bool{} // tenant → L4 VsVip names the owners account for
	for t, os := range owners {
		bases[t] = map[string]bool{}
		for o := range os {
			if _, ns, name, ok := ownership.SplitOwner(o); ok {
				bases[t][rules.VsVipName(cluster, ns, name)] = true
			}
		}
	}
	var out []apply.Object
	for _, o := range objs {
		if !o.AKO {
			continue
		}
		m := o.Markers
		ns := m["Namespace"]
		switch {
		case o.Type == model.TypeVsVip:
			if !model.IsShardName(cluster, o.Name) && !bases[o.Tenant][o.Name] {
				out = append(out, o)
			}
		case ns != "" && m["GatewayName"] != "":
			if !owners[o.Tenant][ownership.SharedVIPOwner(ns, m["GatewayName"])] {
				out = append(out, o)
			}
		case ns != "" && m["ServiceName"] != "" && m["IngressName"] == "":
			if !owners[o.Tenant][ownership.ServiceOwner(ns, m["ServiceName"])] {
				out = append(out, o)
			}
		case ns != "" && m["IngressName"] != "":
			if !slices.ContainsFunc(strings.Split(m["IngressName"], ","), func(n string) bool { return ingresses[ns+"/"+n] }) {
				out = append(out, o)
			}
		}
	}
	if len(out) > 0 && g.AKOGate != nil {
		if err := g.AKOGate(ctx); err != nil {
			logr.FromContextOrDiscard(ctx).Info("AKO's orphaned objects are kept for now", "count", len(out), "reason", err.Error())
			return nil, nil
		}
	}
	return out, nil
}

// ownedIngresses lists "ns/name" of the Ingresses vipgate owns and that are not being deleted.
func (g *OrphanCollector) ownedIngresses(ctx context.Context) (map[string]bool, error) {
	var list networkingv1.IngressList
	if err := g.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	classes, err := cluster.IngressClasses(ctx, g.Client)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for i := range list.Items {
		ing := &list.Items[i]
		if ing.DeletionTimestamp == nil && ownership.IngressClassFor(ing, classes, g.Settings) != nil {
			out[ing.Namespace+"/"+ing.Name] = true
		}
	}
	return out, nil
}
