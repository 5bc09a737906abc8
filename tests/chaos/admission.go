package chaos

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/vipgate/vipgate/avi/inventory"
	vgcluster "github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// The admission oracle answers every request as vipgate's webhooks must:
// the rule book (package rules) judging the request against the suite's own
// view of the cluster, read from the API server just before the request is
// sent, through vipgate's own lookups (cluster.CacheLookups over an
// in-memory client holding that view, with vipgate's field indexes) and the
// controller inventory as the simulator holds it now. The thin adapter the
// webhook handlers are (which objects they route, namespace selection,
// Service defaulting) is restated here; the rules are not.

// verdict is an admission answer.
type verdict struct {
	// routed is false when the webhooks do not see the request at all.
	routed   bool
	allowed  bool
	msg      string
	warnings []string
}

func (v verdict) String() string {
	switch {
	case !v.routed:
		return "not vipgate's"
	case v.allowed && len(v.warnings) > 0:
		return fmt.Sprintf("admit with %d warning(s)", len(v.warnings))
	case v.allowed:
		return "admit"
	}
	return "deny: " + v.msg
}

// verdicts are the rule book's answers with the current inventory, with
// none (what a replica without an inventory answers, failing open), and
// without the VIPs in use (what a replica whose inventory predates the
// latest allocations may answer).
type verdicts struct {
	full, noInv, noInUse verdict
}

// indexRecorder hands vipgate's field indexes (cluster.SetupIndexes) to the
// in-memory client builder.
type indexRecorder struct{ b *fake.ClientBuilder }

func (i indexRecorder) IndexField(_ context.Context, obj client.Object, field string, fn client.IndexerFunc) error {
	i.b.WithIndex(obj, field, fn)
	return nil
}

// view reads what the rule book may look up from cl's API server into an
// in-memory client with vipgate's indexes. Secrets are summarized as
// vipgate's cache holds them (ownership.TransformSecret).
func (r *run) view(ctx context.Context, cl *cluster) (client.Client, error) {
	var (
		svcs    corev1.ServiceList
		nss     corev1.NamespaceList
		ings    networkingv1.IngressList
		classes networkingv1.IngressClassList
		ais     v1beta1.AviInfraSettingList
		secrets corev1.SecretList
	)
	var objs []client.Object
	for _, l := range []client.ObjectList{&svcs, &nss, &ings, &classes, &ais, &secrets} {
		if err := cl.c.List(ctx, l); err != nil {
			return nil, err
		}
	}
	for i := range svcs.Items {
		objs = append(objs, &svcs.Items[i])
	}
	for i := range nss.Items {
		objs = append(objs, &nss.Items[i])
	}
	for i := range ings.Items {
		objs = append(objs, &ings.Items[i])
	}
	for i := range classes.Items {
		objs = append(objs, &classes.Items[i])
	}
	for i := range ais.Items {
		objs = append(objs, &ais.Items[i])
	}
	for i := range secrets.Items {
		t, err := ownership.TransformSecret(&secrets.Items[i])
		if err != nil {
			return nil, err
		}
		objs = append(objs, t.(*corev1.Secret))
	}
	for _, o := range objs {
		o.SetResourceVersion("")
		o.SetManagedFields(nil)
	}
	b := fake.NewClientBuilder().WithScheme(operator.Scheme()).WithObjects(objs...)
	if err := vgcluster.SetupIndexes(ctx, indexRecorder{b}); err != nil {
		return nil, err
	}
	return b.Build(), nil
}

// staticInventory is an inventory.Source holding one snapshot.
type staticInventory struct{ s *inventory.Snapshot }

func (s staticInventory) Snapshot() *inventory.Snapshot { return s.s }

// freshInventory is the oracle's inventory now: the static parts loaded at
// set-up, with the VIPs in use and the SE group labels as the simulator
// holds them this moment (read from its store, which faults do not touch).
func (r *run) freshInventory() *inventory.Snapshot {
	snap := &inventory.Snapshot{FetchedAt: time.Now(), Cloud: r.inv.Cloud,
		Networks: map[string]*inventory.Network{}, SEGroups: map[string]inventory.SEGroup{}, InUse: map[netip.Addr]inventory.Holder{},
		VsVips: map[string][]inventory.Holder{}}
	snap.Cloud.IPAMNetworks = slices.Clone(r.inv.Cloud.IPAMNetworks)
	for name, n := range r.inv.Networks {
		c := *n
		c.Subnets = slices.Clone(n.Subnets)
		snap.Networks[name] = &c
	}
	for _, g := range r.sim.Objects("admin", "serviceenginegroup") {
		sg := inventory.SEGroup{Name: str(g["name"]), UUID: str(g["uuid"])}
		if l, ok := g["labels"].([]any); ok {
			for _, x := range l {
				m, _ := x.(map[string]any)
				if sg.Labels == nil {
					sg.Labels = map[string]string{}
				}
				sg.Labels[str(m["key"])] = str(m["value"])
			}
		}
		snap.SEGroups[sg.Name] = sg
	}
	for _, tenant := range append([]string{"admin"}, extraTenants...) {
		for _, v := range r.sim.Objects(tenant, "vsvip") {
			// The holder as vipgate's inventory loader records it, markers
			// included: the rule book names a VsVip's owner from them and
			// refuses an Avi name a VsVip of another owner still holds (one
			// whose Service is gone but whose delete the controller has not
			// taken yet, say).
			h := inventory.Holder{VsVip: str(v["name"]), Tenant: tenant, CreatedBy: markerValue(v, "created_by"),
				ClusterID: markerValue(v, "vipgate-cluster-id"), Owner: markerValue(v, "vipgate-owner"), ClusterName: markerValue(v, "clustername")}
			snap.VsVips[h.VsVip] = append(snap.VsVips[h.VsVip], h)
			for _, a := range vipAddrs(v) {
				snap.InUse[a] = h
			}
		}
	}
	snap.ComputeFree()
	return snap
}

// withoutInUse is snap as a replica sees it before any VIP was allocated.
func withoutInUse(snap *inventory.Snapshot) *inventory.Snapshot {
	c := *snap
	c.InUse = map[netip.Addr]inventory.Holder{}
	c.VsVips = map[string][]inventory.Holder{}
	c.Networks = map[string]*inventory.Network{}
	for name, n := range snap.Networks {
		nc := *n
		nc.Subnets = slices.Clone(n.Subnets)
		c.Networks[name] = &nc
	}
	c.ComputeFree()
	return &c
}

// judge returns the oracle's verdicts on a request of verb ("create",
// "update", "delete") on obj (old is the stored object on update).
func (r *run) judge(cl *cluster, verb string, obj, old client.Object) (verdicts, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	view, err := r.view(ctx, cl)
	if err != nil {
		return verdicts{}, fmt.Errorf("reading the cluster for the oracle: %w", err)
	}
	lk := &vgcluster.CacheLookups{Cache: view, Settings: cl.s}
	inv := r.freshInventory()
	now := time.Now()
	envs := []rules.Env{
		rules.NewEnv(ctx, cl.s, staticInventory{inv}, lk, 0, now),
		rules.NewEnv(ctx, cl.s, nil, lk, 0, now),
		rules.NewEnv(ctx, cl.s, staticInventory{withoutInUse(inv)}, lk, 0, now),
	}
	var out [3]verdict
	for i, env := range envs {
		switch o := obj.(type) {
		case *corev1.Service:
			oldSvc, _ := old.(*corev1.Service)
			out[i] = serviceVerdict(ctx, cl.s, lk, env, verb, o.DeepCopy(), oldSvc)
		case *networkingv1.Ingress:
			oldIng, _ := old.(*networkingv1.Ingress)
			out[i] = ingressVerdict(ctx, cl.s, lk, env, verb, o, oldIng)
		case *v1beta1.AviInfraSetting:
			out[i] = infraVerdict(env, verb, o)
		default:
			out[i] = verdict{allowed: true}
		}
	}
	return verdicts{full: out[0], noInv: out[1], noInUse: out[2]}, nil
}

func fromResult(res rules.Result) verdict {
	v := verdict{routed: true, allowed: res.Allowed(), warnings: res.Warnings}
	if !v.allowed {
		v.msg = res.Err().Error()
	}
	return v
}

// serviceRouted restates the Service webhooks' match conditions (vipgate is
// the default L4 controller in the suite's webhook configurations).
func serviceRouted(svc, old *corev1.Service) bool {
	lb := svc.Spec.Type == corev1.ServiceTypeLoadBalancer || (old != nil && old.Spec.Type == corev1.ServiceTypeLoadBalancer)
	c := svc.Spec.LoadBalancerClass
	return lb && (c == nil || *c == ownership.LBClass)
}

// inScope restates the handlers' namespace selection: a Namespace that
// cannot be read is judged.
func inScope(ctx context.Context, s *config.Settings, lk rules.Lookups, namespace string) bool {
	if !ownership.SelectsNamespaces(s) {
		return true
	}
	ns, err := lk.Namespace(ctx, namespace)
	if err != nil {
		return true
	}
	if ns == nil {
		ns = &corev1.Namespace{}
		ns.Name = namespace
	}
	return ownership.NamespaceSelected(ns, s)
}

func serviceVerdict(ctx context.Context, s *config.Settings, lk rules.Lookups, env rules.Env, verb string, svc, old *corev1.Service) verdict {
	if verb == "delete" || !serviceRouted(svc, old) {
		return verdict{routed: verb != "delete" && serviceRouted(svc, old), allowed: true}
	}
	ok := verdict{routed: true, allowed: true}
	if verb == "create" && ownership.OwnsService(svc, s) && inScope(ctx, s, lk, svc.Namespace) {
		// The mutating webhook's defaults, which the validator then sees.
		if svc.Spec.LoadBalancerClass == nil {
			c := ownership.LBClass
			svc.Spec.LoadBalancerClass = &c
		}
		if c, good := rules.CanonicalIP(svc.Spec.LoadBalancerIP); good { //nolint:staticcheck // AKO's surface
			svc.Spec.LoadBalancerIP = c //nolint:staticcheck
		}
		if c, good := rules.CanonicalIP(svc.Annotations[rules.AnnLoadBalancerIP]); good {
			svc.Annotations[rules.AnnLoadBalancerIP] = c
		}
	}
	if verb == "update" && svc.DeletionTimestamp != nil {
		return ok
	}
	if !ownership.OwnsService(svc, s) || !inScope(ctx, s, lk, svc.Namespace) {
		return ok
	}
	return fromResult(rules.ValidateService(svc, old, env))
}

func ingressVerdict(ctx context.Context, s *config.Settings, lk rules.Lookups, env rules.Env, verb string, ing, old *networkingv1.Ingress) verdict {
	routed := ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName == ingressClass
	if verb == "delete" || !routed {
		return verdict{routed: routed && verb != "delete", allowed: true}
	}
	if verb == "update" && ing.DeletionTimestamp != nil {
		return verdict{routed: true, allowed: true}
	}
	if !inScope(ctx, s, lk, ing.Namespace) {
		return verdict{routed: true, allowed: true}
	}
	return fromResult(rules.ValidateIngress(ing, old, env))
}

func infraVerdict(env rules.Env, verb string, ais *v1beta1.AviInfraSetting) verdict {
	switch {
	case verb == "delete":
		return fromResult(rules.ValidateAviInfraSettingDelete(ais.Name, env))
	case verb == "update" && ais.DeletionTimestamp != nil:
		return verdict{routed: true, allowed: true}
	}
	return fromResult(rules.ValidateAviInfraSetting(ais, env))
}

// outcome kinds of a request.
const (
	outAllowed     = "admitted"
	outDenied      = "denied by vipgate"
	outUnavailable = "webhook unreachable"
	outOther       = "refused by the API server"
)

// classify says who answered a request.
func classify(err error) string {
	if err == nil {
		return outAllowed
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed calling webhook"):
		return outUnavailable
	case strings.Contains(msg, "admission webhook \"") && strings.Contains(msg, "vipgate") && strings.Contains(msg, "denied the request"):
		return outDenied
	}
	return outOther
}

// failOpenWarning reports whether a replica said it skipped its
// controller-dependent checks.
func failOpenWarning(ws []string) bool {
	for _, w := range ws {
		if strings.Contains(w, rules.WarnInventoryNotLoaded) || strings.Contains(w, rules.WarnInventoryStale) || strings.Contains(w, "could not check") {
			return true
		}
	}
	return false
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// markerValue reads a marker of a controller object (e.g. created_by on a VsVip).
func markerValue(o map[string]any, key string) string {
	ms, _ := o["markers"].([]any)
	for _, x := range ms {
		m, _ := x.(map[string]any)
		if str(m["key"]) != key {
			continue
		}
		if vs, _ := m["values"].([]any); len(vs) > 0 {
			return str(vs[0])
		}
	}
	return ""
}

// vipAddrs are the addresses of a VsVip's enabled vips, sorted.
func vipAddrs(v map[string]any) []netip.Addr {
	var out []netip.Addr
	vips, _ := v["vip"].([]any)
	for _, x := range vips {
		m, _ := x.(map[string]any)
		if e, ok := m["enabled"].(bool); ok && !e {
			continue
		}
		for _, f := range []string{"ip_address", "ip6_address"} {
			ip, _ := m[f].(map[string]any)
			if a, err := netip.ParseAddr(str(ip["addr"])); err == nil && !a.IsUnspecified() && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}
