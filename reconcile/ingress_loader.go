package reconcile

import (
	"context"
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// world is one consistent view of every Ingress vipgate owns and the plan over them.
type world struct {
	plan *model.L7Plan
	// ings are vipgate's live Ingresses by "<ns>/<name>" (cached objects: read only).
	ings map[string]*networkingv1.Ingress
	// infras are the AviInfraSettings the Ingresses' classes name, by Ingress key.
	infras map[string]*v1beta1.AviInfraSetting
	// invalid maps an Ingress the rule book rejects (or whose AviInfraSetting
	// is missing) to the reason; it is served nowhere.
	invalid map[string]string
}

// loadWorld lists every Ingress vipgate owns (from the cache, without copies:
// they are only read), checks each with the rule book's static host checks
// and plans them.
func (r *IngressReconciler) loadWorld(ctx context.Context) (*world, error) {
	var list networkingv1.IngressList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	classes, err := cluster.IngressClasses(ctx, r.Client)
	if err != nil {
		return nil, err
	}
	w := &world{ings: map[string]*networkingv1.Ingress{}, infras: map[string]*v1beta1.AviInfraSetting{}, invalid: map[string]string{}}
	selected := map[string]bool{}
	var l7 []model.L7Ingress
	for i := range list.Items {
		ing := &list.Items[i]
		c := ownership.IngressClassFor(ing, classes, r.Settings)
		if ing.DeletionTimestamp != nil || c == nil {
			continue
		}
		sel, seen := selected[ing.Namespace]
		if !seen {
			if sel, err = cluster.NamespaceSelected(ctx, r.Client, ing.Namespace, r.Settings); err != nil {
				return nil, err
			}
			selected[ing.Namespace] = sel
		}
		if !sel {
			continue
		}
		key := ing.Namespace + "/" + ing.Name
		w.ings[key] = ing
		infra, err := r.infraOfClass(ctx, c)
		if err != nil {
			w.invalid[key] = err.Error()
			continue
		}
		w.infras[key] = infra
		if errs := rules.ValidateIngressHosts(ing); len(errs) > 0 {
			w.invalid[key] = errs.ToAggregate().Error()
			continue
		}
		l7 = append(l7, model.L7Ingress{Ingress: ing, Infra: infra, Subdomain: r.hostlessSubdomain()})
	}
	w.plan = model.PlanL7(r.Settings, l7)
	return w, nil
}

// infraOfClass returns the AviInfraSetting an IngressClass names (nil when
// none), or why the class cannot be served.
func (r *IngressReconciler) infraOfClass(ctx context.Context, c *networkingv1.IngressClass) (*v1beta1.AviInfraSetting, error) {
	name := ownership.InfraSettingOfClass(c)
	if name == "" {
		return nil, nil
	}
	var ais v1beta1.AviInfraSetting
	if err := r.Client.Get(ctx, types.NamespacedName{Name: name}, &ais); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, fmt.Errorf("IngressClass %s names AviInfraSetting %q, which does not exist; create it or fix spec.parameters", c.Name, name)
		}
		return nil, err
	}
	return &ais, nil
}

// planNotes lists what the plan could not give the Ingresses whose problems
// shard reports: an Ingress's plan-level problems (invalid, a host lost to
// another Ingress, unsupported parts) are reported by the first shard its
// hosts map to, so each is reported once.
func (r *IngressReconciler) planNotes(w *world, shard string) []note {
	var out []note
	reports := func(key string) bool {
		ing := w.ings[key]
		if ing == nil {
			return false
		}
		shards := model.ShardsOf(r.Settings, model.L7Ingress{Ingress: ing, Infra: w.infras[key], Subdomain: r.hostlessSubdomain()})
		return len(shards) > 0 && shards[0] == shard
	}
	for key, why := range w.invalid {
		if reports(key) {
			out = append(out, note{key, ReasonInvalid, "not served: " + why})
		}
	}
	for _, c := range w.plan.Conflicts {
		if reports(c.Ingress) {
			out = append(out, note{c.Ingress, ReasonHostConflict, "not served: " + c.Reason})
		}
	}
	for key, whys := range w.plan.Skipped {
		if reports(key) {
			for _, why := range whys {
				out = append(out, note{key, ReasonUnsupported, why})
			}
		}
	}
	return out
}

// members lists the Ingresses with a route on the shard and the hosts each
// is served on there.
func membersOf(w *world, shard string) map[string][]string {
	out := map[string][]string{}
	sp := w.plan.Shards[shard]
	if sp == nil {
		return out
	}
	for _, key := range sp.Ingresses {
		for _, h := range w.plan.IngressHosts[key] {
			if w.plan.HostShard[h] == shard {
				out[key] = append(out[key], h)
			}
		}
		slices.Sort(out[key])
	}
	return out
}

// hostlessSubdomain is what Ingress rules without a host are served under
// (model.HostlessSubdomain of the current inventory; "" before it loads).
func (r *IngressReconciler) hostlessSubdomain() string {
	if r.Inventory == nil {
		return ""
	}
	return model.HostlessSubdomain(r.Inventory.Snapshot())
}
