package check

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
)

// The rule CRDs' group kinds, as the webhooks name them in their errors.
var (
	HostRuleGK = schema.GroupKind{Group: v1beta1.GroupVersion.Group, Kind: KindHostRule}
	HTTPRuleGK = schema.GroupKind{Group: v1beta1.GroupVersion.Group, Kind: KindHTTPRule}
	L4RuleGK   = schema.GroupKind{Group: v1alpha2.GroupVersion.Group, Kind: KindL4Rule}
)

// ruleSet is the part of a Set holding HostRules, HTTPRules and L4Rules,
// with the indexes cluster.SetupIndexes keeps for them.
type ruleSet struct {
	hostRules   []*v1beta1.HostRule
	httpRules   []*v1beta1.HTTPRule
	l4Rules     map[string]*v1alpha2.L4Rule // by "ns/name"
	hrByHost    map[string][]*v1beta1.HostRule
	httpByHost  map[string][]*v1beta1.HTTPRule
	svcByL4Rule map[string][]*corev1.Service
}

// addRule records a rule object of the set (a copy without status); it
// reports false for any other object.
func (r *ruleSet) addRule(obj any) bool {
	switch v := obj.(type) {
	case *v1beta1.HostRule:
		c := v.DeepCopy()
		c.Status = v1beta1.RuleStatus{}
		r.hostRules = append(r.hostRules, c)
	case *v1beta1.HTTPRule:
		c := v.DeepCopy()
		c.Status = v1beta1.RuleStatus{}
		r.httpRules = append(r.httpRules, c)
	case *v1alpha2.L4Rule:
		c := v.DeepCopy()
		c.Status = v1beta1.RuleStatus{}
		if r.l4Rules == nil {
			r.l4Rules = map[string]*v1alpha2.L4Rule{}
		}
		r.l4Rules[c.Namespace+"/"+c.Name] = c
	default:
		return false
	}
	return true
}

// indexRules fills the rule indexes over the rules and services.
func (r *ruleSet) indexRules(services []*corev1.Service) {
	r.hrByHost = map[string][]*v1beta1.HostRule{}
	r.httpByHost = map[string][]*v1beta1.HTTPRule{}
	r.svcByL4Rule = map[string][]*corev1.Service{}
	for _, hr := range r.hostRules {
		for _, h := range cluster.HostRuleHosts(hr) {
			r.hrByHost[h] = append(r.hrByHost[h], hr)
		}
	}
	for _, hr := range r.httpRules {
		if h := hr.Spec.Fqdn; h != "" {
			r.httpByHost[h] = append(r.httpByHost[h], hr)
		}
	}
	for _, svc := range services {
		if key := rules.L4RuleKey(svc); key != "" {
			r.svcByL4Rule[key] = append(r.svcByL4Rule[key], svc)
		}
	}
}

// HostRulesByHost implements rules.Lookups.
func (r *ruleSet) HostRulesByHost(_ context.Context, host string) ([]*v1beta1.HostRule, error) {
	return r.hrByHost[host], nil
}

// HTTPRulesByHost implements rules.Lookups.
func (r *ruleSet) HTTPRulesByHost(_ context.Context, host string) ([]*v1beta1.HTTPRule, error) {
	return r.httpByHost[host], nil
}

// L4Rule implements rules.Lookups: nil when the set has no such L4Rule.
func (r *ruleSet) L4Rule(_ context.Context, namespace, name string) (*v1alpha2.L4Rule, error) {
	return r.l4Rules[namespace+"/"+name], nil
}

// ServicesByL4Rule implements rules.Lookups.
func (r *ruleSet) ServicesByL4Rule(_ context.Context, key string) ([]*corev1.Service, error) {
	return r.svcByL4Rule[key], nil
}

// judgeRule is the webhook's verdict on a rule object of the set; ok is
// false for any other object.
func judgeRule(obj Object, set *Set, env rules.Env) (res rules.Result, err error, ok bool) {
	key := obj.Namespace + "/" + obj.Name
	switch obj.Obj.(type) {
	case *v1beta1.HostRule:
		for _, hr := range set.hostRules {
			if hr.Namespace+"/"+hr.Name == key {
				res = rules.ValidateHostRule(hr, nil, env)
				return res, invalid(HostRuleGK, hr.Name, res), true
			}
		}
	case *v1beta1.HTTPRule:
		for _, hr := range set.httpRules {
			if hr.Namespace+"/"+hr.Name == key {
				res = rules.ValidateHTTPRule(hr, nil, env)
				return res, invalid(HTTPRuleGK, hr.Name, res), true
			}
		}
	case *v1alpha2.L4Rule:
		if lr := set.l4Rules[key]; lr != nil {
			res = rules.ValidateL4Rule(lr, nil, env)
			return res, invalid(L4RuleGK, lr.Name, res), true
		}
	}
	return res, nil, false
}
