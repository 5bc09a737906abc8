package reconcile

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
)

// ruleWait is how long a sync waits for the status reconciler to judge a
// rule it would apply: building without it and applying it a moment later
// would, for a rule requesting a VIP, allocate one address and then move.
const ruleWait = time.Second

// applyL7Rules decorates a shard's set with the HostRules and HTTPRules of
// its hosts (and of the shard itself), read from the cache. pending is true
// when one of them has not been judged at its generation yet.
func (r *IngressReconciler) applyL7Rules(ctx context.Context, set *model.Set, sp *model.ShardPlan) (pending bool, err error) {
	in, pending, err := r.l7Rules(ctx, sp)
	if err != nil || pending {
		return pending, err
	}
	for _, e := range model.ApplyL7Rules(set, sp, r.Settings, in) {
		logr.FromContextOrDiscard(ctx).V(1).Info("rule CRD", "rule", e.Rule, "held", e.Held, "objects", e.Objects)
	}
	return false, nil
}

// l7Rules collects the candidate rules of a shard: HostRules by host (and
// shard name), the pattern HostRules, HTTPRules by host; only those in
// namespaces vipgate selects. A rule not judged yet makes pending true.
func (r *IngressReconciler) l7Rules(ctx context.Context, sp *model.ShardPlan) (model.L7Rules, bool, error) {
	var out model.L7Rules
	hosts := []string{sp.Name, cluster.RulePatternKey}
	for _, rt := range sp.Routes {
		hosts = append(hosts, rt.Host)
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	selected := map[string]bool{}
	inScope := func(ns string) (bool, error) {
		if sel, ok := selected[ns]; ok {
			return sel, nil
		}
		sel, err := cluster.NamespaceSelected(ctx, r.Client, ns, r.Settings)
		selected[ns] = sel
		return sel, err
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		var hrs v1beta1.HostRuleList
		if err := r.Client.List(ctx, &hrs, client.MatchingFields{cluster.IndexRuleHost: h}); err != nil {
			return out, false, err
		}
		for i := range hrs.Items {
			hr := &hrs.Items[i]
			key := hr.Namespace + "/" + hr.Name
			if seen["h"+key] || hr.DeletionTimestamp != nil {
				continue
			}
			seen["h"+key] = true
			if ok, err := inScope(hr.Namespace); err != nil || !ok {
				if err != nil {
					return out, false, err
				}
				continue
			}
			judged, accepted := ruleJudged(hr)
			if !judged {
				return out, true, nil
			}
			out.HostRules = append(out.HostRules, model.HostRuleInput{Rule: hr, Hold: !accepted})
			if accepted {
				if err := r.hostRuleCerts(ctx, hr, &out); err != nil {
					return out, false, err
				}
			}
		}
		var https v1beta1.HTTPRuleList
		if err := r.Client.List(ctx, &https, client.MatchingFields{cluster.IndexRuleHost: h}); err != nil {
			return out, false, err
		}
		for i := range https.Items {
			hr := &https.Items[i]
			if hr.DeletionTimestamp != nil {
				continue
			}
			if ok, err := inScope(hr.Namespace); err != nil || !ok {
				if err != nil {
					return out, false, err
				}
				continue
			}
			judged, accepted := ruleJudged(hr)
			if !judged {
				return out, true, nil
			}
			out.HTTPRules = append(out.HTTPRules, model.HTTPRuleInput{Rule: hr, Hold: !accepted})
		}
	}
	return out, false, nil
}

// hostRuleCerts reads the TLS Secrets an accepted HostRule names (type
// secret) from the API server (the cache keeps no key material). One that
// cannot be read leaves the host's own certificate in place.
func (r *IngressReconciler) hostRuleCerts(ctx context.Context, hr *v1beta1.HostRule, out *model.L7Rules) error {
	t := hr.Spec.VirtualHost.TLS
	if t == nil {
		return nil
	}
	names := []string{}
	if t.SSLKeyCertificate.Type == v1beta1.CertTypeSecret {
		names = append(names, t.SSLKeyCertificate.Name)
	}
	if a := t.SSLKeyCertificate.AlternateCertificate; a != nil && a.Type == v1beta1.CertTypeSecret {
		names = append(names, a.Name)
	}
	for _, n := range names {
		var sec corev1.Secret
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: hr.Namespace, Name: n}, &sec); err != nil {
			if client.IgnoreNotFound(err) != nil {
				return err
			}
			continue
		}
		if out.Certs == nil {
			out.Certs = map[string]*model.Cert{}
		}
		out.Certs[hr.Namespace+"/"+n] = &model.Cert{Certificate: sec.Data[corev1.TLSCertKey], Key: sec.Data[corev1.TLSPrivateKeyKey]}
	}
	return nil
}

// applyL4Rule decorates an L4 set with the L4Rule its Services name (the
// first member's, by name, that names one): applied when accepted, held
// when rejected; pending when not judged yet.
func (r *ServiceReconciler) applyL4Rule(ctx context.Context, set *model.Set, members []model.Member) (pending bool, err error) {
	var rule *v1alpha2.L4Rule
	for _, m := range members {
		key := rules.L4RuleKey(m.Service)
		if key == "" {
			continue
		}
		ns, name, _ := strings.Cut(key, "/")
		var lr v1alpha2.L4Rule
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &lr); err != nil {
			if client.IgnoreNotFound(err) != nil {
				return false, err
			}
			continue
		}
		if sel, err := cluster.NamespaceSelected(ctx, r.Client, ns, r.Settings); err != nil || !sel {
			if err != nil {
				return false, err
			}
			continue
		}
		if lr.DeletionTimestamp != nil {
			continue
		}
		rule = &lr
		break
	}
	if rule == nil {
		model.ApplyL4Rule(set, nil, false)
		return false, nil
	}
	judged, accepted := ruleJudged(rule)
	if !judged {
		return true, nil
	}
	for _, e := range model.ApplyL4Rule(set, rule, !accepted) {
		logr.FromContextOrDiscard(ctx).V(1).Info("rule CRD", "rule", e.Rule, "held", e.Held, "objects", e.Objects)
	}
	return false, nil
}

// ruleGate is what a sync returns when it stops at its rules: the error, or
// a short wait for a rule's verdict (its status update requeues it too).
func ruleGate(pending bool, err error) (ctrl.Result, error) {
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: ruleWait}, nil
}

// hostRuleToShards maps a HostRule to the shards it may decorate: those of
// the Ingresses serving its FQDN (Exact), the shard it names, or every
// shard for a Wildcard or Contains pattern.
func (r *IngressReconciler) hostRuleToShards(ctx context.Context, o client.Object) []ctrl.Request {
	vh := o.(*v1beta1.HostRule).Spec.VirtualHost
	if vh.FqdnType == v1beta1.FqdnTypeWildcard || vh.FqdnType == v1beta1.FqdnTypeContains {
		return r.everything(ctx, o)
	}
	out := r.byIndex(ctx, cluster.IndexIngressHost, vh.Fqdn)
	if model.IsShardName(r.Settings.AKOSettings.ClusterName, vh.Fqdn) {
		out = append(out, shardRequest(vh.Fqdn))
	}
	return out
}

// httpRuleToShards maps an HTTPRule to the shards of the Ingresses serving its FQDN.
func (r *IngressReconciler) httpRuleToShards(ctx context.Context, o client.Object) []ctrl.Request {
	return r.byIndex(ctx, cluster.IndexIngressHost, o.(*v1beta1.HTTPRule).Spec.Fqdn)
}

// l4RuleToServices maps an L4Rule to the keys of the Services naming it.
func (r *ServiceReconciler) l4RuleToServices(ctx context.Context, o client.Object) []ctrl.Request {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs, client.MatchingFields{cluster.IndexServiceL4Rule: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		return nil
	}
	out := make([]ctrl.Request, 0, len(svcs.Items))
	for i := range svcs.Items {
		out = append(out, serviceRequest(&svcs.Items[i]))
	}
	return out
}
